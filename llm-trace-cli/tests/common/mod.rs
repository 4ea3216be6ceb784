//! Helpers shared by the integration tests: a log of known calls, and running the binary.

#![allow(dead_code, unreachable_pub)]

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use llm_trace_core::{ErrorKind, FinishReason, LlmTrace, Timestamp, TraceError, TraceId};

pub const BIN: &str = env!("CARGO_BIN_EXE_llm-trace");

/// One call of a test log.
#[derive(Clone)]
pub struct Call {
    pub function: &'static str,
    pub model: &'static str,
    pub response_model: Option<&'static str>,
    pub tags: &'static [&'static str],
    pub session: &'static str,
    pub time: String,
    pub prompt: u64,
    pub completion: u64,
    pub cached: Option<u64>,
    pub cost: Option<f64>,
    pub latency: f64,
    pub ttft: Option<f64>,
    pub error: Option<(&'static str, Option<u16>, &'static str)>,
}

impl Call {
    pub fn new(function: &'static str, model: &'static str, time: &str) -> Call {
        Call {
            function,
            model,
            response_model: None,
            tags: &[],
            session: "s1",
            time: time.to_owned(),
            prompt: 100,
            completion: 10,
            cached: None,
            cost: Some(0.001),
            latency: 100.0,
            ttft: None,
            error: None,
        }
    }

    /// The record as the library writes it.
    pub fn trace(&self) -> LlmTrace {
        let mut t = LlmTrace::example();
        let timestamp: Timestamp = self.time.parse().expect("test timestamps are RFC 3339");
        t.trace_id =
            TraceId::at(UNIX_EPOCH + Duration::from_millis(timestamp.unix_millis() as u64));
        t.timestamp = timestamp;
        t.session_id = Arc::from(self.session);
        t.function_name = Cow::Borrowed(self.function);
        t.call_path = Arc::from([Cow::Borrowed(self.function)]);
        t.tags = self.tags.iter().map(|t| Cow::Borrowed(*t)).collect();
        t.model = Arc::from(self.model);
        t.response_model = self.response_model.map(Arc::from);
        t.prompt_tokens = self.prompt;
        t.completion_tokens = self.completion;
        t.total_tokens = self.prompt + self.completion;
        t.cached_tokens = self.cached;
        t.reasoning_tokens = None;
        t.cost_usd = self.cost;
        t.latency_ms = self.latency;
        t.ttft_ms = self.ttft;
        t.stream = self.ttft.is_some();
        t.error = self.error.map(|(kind, status, message)| {
            let e = TraceError::new(ErrorKind::from(kind), message);
            match status {
                Some(s) => e.with_status(s),
                None => e,
            }
        });
        if t.error.is_some() {
            t.finish_reason = FinishReason::Error;
        }
        t
    }

    pub fn line(&self) -> String {
        serde_json::to_string(&self.trace()).unwrap()
    }
}

/// The known log most tests use. Totals: 6 calls, 2 errors, 6,900 prompt, 650 completion,
/// 200 cached tokens, $0.08 over 4 priced calls, 2 unpriced.
pub fn known_calls() -> Vec<Call> {
    let mut calls = Vec::new();
    let mut c = Call::new("classify", "gpt-4o-mini", "2026-11-20T10:00:00.000Z");
    c.tags = &["support", "classification"];
    c.prompt = 1000;
    c.completion = 100;
    c.cached = Some(200);
    c.cost = Some(0.01);
    c.latency = 100.0;
    calls.push(c);

    let mut c = Call::new("classify", "gpt-4o-mini", "2026-11-20T11:30:00.000Z");
    c.tags = &["support"];
    c.prompt = 2000;
    c.completion = 200;
    c.cost = Some(0.02);
    c.latency = 300.0;
    c.ttft = Some(50.0);
    calls.push(c);

    let mut c = Call::new("summarize", "gpt-4o", "2026-11-21T09:00:00.000Z");
    c.response_model = Some("gpt-4o-2024-08-06");
    c.tags = &["support", "summarization"];
    c.session = "s2";
    c.prompt = 3000;
    c.completion = 300;
    c.cost = Some(0.05);
    c.latency = 1000.0;
    calls.push(c);

    let mut c = Call::new("summarize", "local-llama", "2026-11-21T09:15:00.000Z");
    c.session = "s2";
    c.prompt = 500;
    c.completion = 50;
    c.cost = None;
    c.latency = 200.0;
    calls.push(c);

    let mut c = Call::new("classify", "gpt-4o-mini", "2026-11-21T10:00:00.000Z");
    c.tags = &["support", "classification"];
    c.session = "s2";
    c.prompt = 0;
    c.completion = 0;
    c.cost = Some(0.0);
    c.latency = 20.0;
    c.error = Some(("rate_limit", Some(429), "Rate limit reached, retry in 1s"));
    calls.push(c);

    let mut c = Call::new("embed", "text-embedding-3-small", "2026-11-22T08:00:00.000Z");
    c.tags = &["rag"];
    c.session = "s3";
    c.prompt = 400;
    c.completion = 0;
    c.cost = None;
    c.latency = 30_000.0;
    c.error = Some(("timeout", None, "request timed out after 30s"));
    calls.push(c);
    calls
}

/// Writes `calls` as a log file, one line each.
pub fn write_log(path: &Path, calls: &[Call]) {
    let text: String = calls.iter().map(|c| c.line() + "\n").collect();
    std::fs::write(path, text).unwrap();
}

/// A temporary folder holding `traces.jsonl` with the known calls.
pub fn known_log() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.jsonl");
    write_log(&path, &known_calls());
    (dir, path)
}

/// The result of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// The binary with a clean environment: no `LLM_TRACE_*` variables, run in `cwd`.
pub fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LLM_TRACE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub fn run(cwd: &Path, args: &[&str]) -> Run {
    command(cwd, args).stdin(Stdio::null()).output().unwrap().into()
}

pub fn run_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = command(cwd, args);
    cmd.envs(env.iter().copied());
    cmd.stdin(Stdio::null()).output().unwrap().into()
}

pub fn run_stdin(cwd: &Path, args: &[&str], input: &str) -> Run {
    let mut child = command(cwd, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap().into()
}

/// The group named `key` of a summary JSON document.
pub fn group<'a>(doc: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {doc:#}"))
}

#[track_caller]
pub fn assert_close(actual: &serde_json::Value, expected: f64) {
    let value = actual.as_f64().unwrap_or_else(|| panic!("{actual} is not a number"));
    assert!((value - expected).abs() <= 1e-9 + expected.abs() * 0.02, "{value} vs {expected}");
}
