//! `llm-trace show TRACE_ID`: one trace, every field.

use std::io::Write;

use llm_trace_core::summary::{format_cost, format_count, format_ms};
use std::path::PathBuf;

use llm_trace_core::payload::{PayloadStore, key as payload_key};
use llm_trace_core::{Config, LlmTrace, Payloads, TraceId};
use memchr::memmem::Finder;

use super::stdout;
use crate::args::{ShowArgs, TextFormat};
use crate::failure::{Failure, Result};
use crate::filter::Filter;
use crate::scan::{self, Collector, Pos, Record};
use crate::text;

/// Finds the records of one trace id: lines that do not contain the id's text are not parsed.
struct Find {
    id: TraceId,
    finder: Finder<'static>,
    first: Option<(Pos, Vec<u8>)>,
    count: u64,
}

impl Collector for Find {
    fn wants(&self, raw: &[u8]) -> bool {
        self.finder.find(raw).is_some()
    }

    fn add(&mut self, r: &Record<'_>) {
        if r.row.trace_id.parse::<TraceId>().ok() != Some(self.id) {
            return; // the id only appeared in some other field
        }
        self.count += 1;
        if self.first.as_ref().is_none_or(|(pos, _)| r.pos < *pos) {
            self.first = Some((r.pos, r.raw.to_vec()));
        }
    }

    fn merge(&mut self, other: Find) {
        self.count += other.count;
        if let Some((pos, raw)) = other.first {
            if self.first.as_ref().is_none_or(|(mine, _)| pos < *mine) {
                self.first = Some((pos, raw));
            }
        }
    }
}

pub(crate) fn run(args: ShowArgs) -> Result<()> {
    // The id was validated by the argument parser (TraceId::from_str): it is a canonical UUID,
    // so it is only ever compared with the log's contents, never used as a path.
    let id = args.trace_id;
    let needle = id.to_string();
    let sources = scan::open_inputs(&args.input.paths)?;
    let make =
        || Find { id, finder: Finder::new(needle.as_bytes()).into_owned(), first: None, count: 0 };
    let (found, _) = scan::scan(sources, &Filter::default(), make)?;
    let Some((_, raw)) = found.first else {
        return Err(Failure::NoMatch(format!("trace {id} not found")));
    };
    if found.count > 1 {
        eprintln!(
            "llm-trace: trace {id} appears {} times in the log; showing the first",
            found.count
        );
    }
    let trace: LlmTrace = serde_json::from_slice(&raw).map_err(|e| {
        Failure::Runtime(format!("the record of trace {id} cannot be read: {}", scan::describe(&e)))
    })?;
    let mut out = stdout();
    match args.format {
        TextFormat::Json => {
            // The line as logged (fields this version does not know included), indented.
            let value: serde_json::Value =
                serde_json::from_slice(&raw).map_err(std::io::Error::from)?;
            serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        TextFormat::Text => {
            write_trace(&mut out, &trace)?;
            out.flush()?;
            write_payload(&mut out, &trace, &args.input.paths)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Writes the call's full request/response payload, read from the payload store configured
/// as for the library (`LLM_TRACE_PAYLOADS`: a folder, or `s3://`, `gs://`, `az://` with the
/// CLI's matching feature). When it is not set and one log folder or file was named, the
/// default store is that log's `payloads` folder (the library's default next to its log).
fn write_payload(out: &mut impl Write, trace: &LlmTrace, inputs: &[PathBuf]) -> Result<()> {
    writeln!(out)?;
    if trace.payload.is_none() {
        field(out, "payload", "- (not stored for this call)")?;
        return Ok(());
    }
    let mut config = Config::from_env().map_err(|e| Failure::Usage(e.to_string()))?;
    if config.payloads == Payloads::Default {
        if let [input] = inputs {
            if input.as_os_str() != "-" {
                let dir = if input.is_dir() {
                    input.clone()
                } else {
                    input.parent().map(PathBuf::from).unwrap_or_default()
                };
                config.dir = dir;
            }
        }
    }
    let store = PayloadStore::open(&config).map_err(|e| Failure::Runtime(e.to_string()))?;
    let Some(store) = store else {
        field(out, "payload", "- (payloads are off: LLM_TRACE_PAYLOADS=off)")?;
        return Ok(());
    };
    // The key comes from the validated trace id, never from the log's text.
    let payload = store.fetch(&trace.trace_id).map_err(|e| Failure::Runtime(e.to_string()))?;
    match payload {
        None => Err(Failure::Runtime(format!(
            "the payload of trace {} is not in the payload store at {}",
            trace.trace_id,
            store.location()
        ))),
        Some(payload) => {
            field(
                out,
                "payload",
                &format!("{} ({})", payload_key(&trace.trace_id), store.location()),
            )?;
            let pretty = serde_json::to_string_pretty(&payload).map_err(std::io::Error::from)?;
            for line in pretty.lines() {
                writeln!(out, "  {}", text::clean(line))?;
            }
            Ok(())
        }
    }
}

const LABEL: usize = 19;

fn field(out: &mut impl Write, label: &str, value: &str) -> std::io::Result<()> {
    writeln!(out, "{label:<LABEL$}{value}")
}

/// Text that may span lines: each line cleaned of control characters and indented.
fn block(text: &str) -> String {
    if text.is_empty() {
        return "-".into();
    }
    text.lines()
        .map(|line| text::clean(line).into_owned())
        .collect::<Vec<_>>()
        .join(&format!("\n{:LABEL$}", ""))
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn write_trace(out: &mut impl Write, t: &LlmTrace) -> Result<()> {
    let c = |s: &str| text::clean(s).into_owned();
    field(out, "trace id", &t.trace_id.to_string())?;
    field(out, "time", &t.timestamp.to_string())?;
    field(out, "session", &c(&t.session_id))?;
    field(out, "function", &c(&t.function_name))?;
    field(out, "module", &c(&t.module_path))?;
    let path: Vec<String> = t.call_path.iter().map(|p| c(p)).collect();
    field(out, "call path", &if path.is_empty() { "-".into() } else { path.join(" › ") })?;
    let tags: Vec<String> = t.tags.iter().map(|p| c(p)).collect();
    field(out, "tags", &if tags.is_empty() { "-".into() } else { tags.join(", ") })?;
    match serde_json::to_value(&t.metadata) {
        Ok(serde_json::Value::Object(map)) if !map.is_empty() => {
            for (i, (key, value)) in map.iter().enumerate() {
                let label = if i == 0 { "metadata" } else { "" };
                field(out, label, &format!("{} = {}", c(key), c(&value.to_string())))?;
            }
        }
        _ => field(out, "metadata", "-")?,
    }
    field(out, "provider", &c(&t.provider))?;
    field(out, "operation", &c(&t.operation))?;
    field(out, "model", &c(&t.model))?;
    field(out, "response model", &or_dash(t.response_model.as_deref().map(c)))?;
    field(out, "temperature", &or_dash(t.temperature))?;
    field(out, "max tokens", &or_dash(t.max_tokens))?;
    field(out, "stream", if t.stream { "yes" } else { "no" })?;
    let tools: Vec<String> = t.tools.iter().map(|p| c(p)).collect();
    field(out, "tools", &if tools.is_empty() { "-".into() } else { tools.join(", ") })?;
    field(out, "finish reason", &c(t.finish_reason.as_str()))?;
    field(out, "prompt tokens", &format_count(t.prompt_tokens))?;
    field(out, "cached tokens", &or_dash(t.cached_tokens.map(format_count)))?;
    field(out, "completion", &format_count(t.completion_tokens))?;
    field(out, "reasoning", &or_dash(t.reasoning_tokens.map(format_count)))?;
    field(out, "total tokens", &format_count(t.total_tokens))?;
    let source = serde_json::to_value(t.usage_source).ok();
    field(out, "usage source", source.as_ref().and_then(|v| v.as_str()).unwrap_or("-"))?;
    field(out, "cost", &t.cost_usd.map_or_else(|| "unpriced".to_owned(), format_cost))?;
    field(out, "latency", &format_ms(Some(t.latency_ms)))?;
    field(out, "time to 1st token", &format_ms(t.ttft_ms))?;
    match &t.error {
        Some(e) => {
            let status = e.status.map(|s| format!(" (status {s})")).unwrap_or_default();
            field(out, "error", &format!("{}{status}", c(e.kind.as_str())))?;
            field(out, "error message", &block(&e.message))?;
        }
        None => field(out, "error", "-")?,
    }
    field(out, "input preview", &block(&t.input_preview))?;
    field(out, "output preview", &block(&t.output_preview))?;
    field(out, "payload key", &or_dash(t.payload.as_deref().map(c)))?;
    field(out, "schema", &t.schema.to_string())?;
    Ok(())
}
