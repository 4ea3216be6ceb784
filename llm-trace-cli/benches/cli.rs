//! The `llm-trace` command on a generated log, run as a user runs it: a fresh process per
//! question, timed from spawn to exit (reading, parsing, grouping and printing). Issue 7;
//! `scripts/bench-compare.sh` compares `summary` with jq and DuckDB on 1,000,000 lines.
//!
//! Run: `cargo bench -p llm-trace-cli --bench cli` (`LLM_TRACE_BENCH_LINES` sets the size of
//! the log, 200,000 lines by default).

use std::path::Path;
use std::process::{Command, Stdio};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CLI: &str = env!("CARGO_BIN_EXE_llm-trace");

/// Runs the command to completion, failing the bench if it fails.
fn run(args: &[&str], log: &Path) {
    let status = Command::new(CLI)
        .args(args)
        .arg(log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the llm-trace binary runs");
    assert!(status.success(), "llm-trace {args:?} failed: {status}");
}

fn cli(c: &mut Criterion) {
    let lines: u64 =
        std::env::var("LLM_TRACE_BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traces.jsonl");
    let generated = Command::new(CLI)
        .args(["gen", "--lines", &lines.to_string(), "--end", "2026-11-26T12:00:00Z", "--out"])
        .arg(&log)
        .status()
        .unwrap();
    assert!(generated.success());

    let mut group = c.benchmark_group("cli");
    group.sample_size(10);
    group.throughput(Throughput::Elements(lines));
    let questions: [(&str, &[&str]); 6] = [
        ("summary_by_function", &["summary"]),
        ("summary_by_model_json", &["summary", "--by", "model", "--format", "json"]),
        ("summary_by_tag", &["summary", "--by", "tag"]),
        ("summary_by_day", &["summary", "--by", "day"]),
        ("errors", &["errors"]),
        ("slow", &["slow"]),
    ];
    for (name, args) in questions {
        group.bench_function(name, |b| b.iter(|| run(args, &log)));
    }
    group.finish();
}

criterion_group!(benches, cli);
criterion_main!(benches);
