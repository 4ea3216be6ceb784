//! Shared by the benchmarks: fixtures, chunked timing, and the two peers llm-trace is measured
//! against (issue 7):
//!
//! * `tracing-json`: `tracing::info!` with 24 fields → tracing-subscriber's JSON formatter →
//!   tracing-appender's `non_blocking` writer (lossless, so nothing is dropped) → a file.
//! * `otel`: an OpenTelemetry SDK span with 24 attributes → `BatchSpanProcessor` with a queue
//!   large enough to drop nothing in these runs → an exporter writing one JSON line per span to
//!   a file (the SDK ships no file exporter; this one does what a file/stdout exporter does).
//!
//! Both do the work llm-trace does for one call: a start and an end time, an id, the request
//! parameters, usage, cost, latency and 200-character previews, written as one JSON line by a
//! background thread.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod macro_fns;

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use llm_trace::{FinishReason, Tracer, Usage};

/// An async-openai client for `server` (the bundled mock OpenAI-compatible server).
pub fn mock_client(
    server: &llm_trace_mock::MockServer,
) -> async_openai::Client<async_openai::config::OpenAIConfig> {
    let config = async_openai::config::OpenAIConfig::new()
        .with_api_base(server.base_url())
        .with_api_key("sk-test");
    async_openai::Client::with_config(config)
}

/// A 300-character user message (the input preview keeps 200).
pub const PROMPT: &str = "My invoice for March shows a double charge of 49.90 EUR, can you check it? \
My invoice for March shows a double charge of 49.90 EUR, can you check it? \
My invoice for March shows a double charge of 49.90 EUR, can you check it? \
My invoice for March shows a double charge of 49.90 EUR, can you check it?";

/// A 300-character answer.
pub const ANSWER: &str = "I checked your invoice and you were charged twice for the March \
subscription; the duplicate charge of 49.90 EUR has been reversed and the refund is on its way \
to your card. It usually shows up within three to five business days, depending on your bank. \
Is there anything else I can help you with today?";

/// Calls timed between two drains of the background writer. Below every queue's capacity, so
/// a caller never waits for room: what is timed is the caller's own work (with the writer
/// thread running at the same time), not the writer's throughput.
pub const CHUNK: u64 = 4096;

/// Empties the log at `path` (untimed, between samples). Without it every bench writes
/// gigabytes: the page cache fills, and on this VM each fresh page costs a host fault, which
/// made the file-writing figures vary by 2–3× between runs. The writers keep their handles;
/// writers in append mode continue at the new end, the others leave a hole (no memory).
pub fn truncate(path: &Path) {
    if !path.is_file() {
        return; // not created yet, or /dev/null
    }
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file.set_len(0).unwrap(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot truncate {}: {e}", path.display()),
    }
}

/// Waits until `tracer` has written everything, then empties its log, `dir/traces.jsonl`.
pub fn drain(tracer: &Tracer, dir: &Path) {
    tracer.flush().unwrap();
    truncate(&dir.join("traces.jsonl"));
}

/// Times `iters` calls of `one`, in chunks of [`CHUNK`]; `drain` (untimed) runs after each
/// chunk and waits until the background writer has written everything.
pub fn chunked(iters: u64, mut one: impl FnMut(), mut drain: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            one();
        }
        total += start.elapsed();
        drain();
        left -= n;
    }
    total
}

/// One finished chat call through the manual API: what a provider wrapper records.
#[inline(never)]
pub fn record_manual(tracer: &Tracer) {
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.temperature(0.2).max_tokens(256).input(black_box(PROMPT));
    call.response_model("gpt-4o-mini-2024-07-18");
    call.usage(Usage::new(1200, 80).cached(1024));
    call.output(black_box(ANSWER));
    call.finish(FinishReason::Stop);
}

/// What an application does: an annotated function that makes one LLM call per invocation
/// (so its scope is entered, and its context found, once per call).
#[llm_trace::traced_llm(tags = ["support", "classification"])]
#[inline(never)]
pub fn classify_ticket(tracer: &Tracer) {
    record_manual(tracer)
}

/// CPU time (seconds) used so far by this process's threads whose name starts with `prefix`
/// (`llm-trace-writer`, `llm-trace-payloads`), from `/proc`: Linux only, `None` elsewhere.
pub fn threads_cpu(prefix: &str) -> Option<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        // A thread that exited meanwhile has no files left: skip it.
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else { continue };
        if !prefix.starts_with(name.trim_end()) {
            continue; // `comm` keeps 15 bytes of the name
        }
        let Ok(stat) = std::fs::read_to_string(path.join("schedstat")) else { continue };
        total += schedstat_seconds(&stat)?;
    }
    Some(total)
}

/// The CPU time (seconds) in the text of a `/proc/…/schedstat` file: its first field, in
/// nanoseconds.
pub fn schedstat_seconds(stat: &str) -> Option<f64> {
    let nanos: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

/// Counts the lines written through it.
pub struct CountingWriter<W> {
    inner: W,
    lines: Arc<AtomicU64>,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let lines = buf[..n].iter().filter(|b| **b == b'\n').count();
        self.lines.fetch_add(lines as u64, Ordering::Release);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Waits until `lines` reaches `expected` (at most 60 s).
pub fn wait_for(lines: &AtomicU64, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines.load(Ordering::Acquire) < expected {
        assert!(Instant::now() < deadline, "the peer's writer never caught up");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The tracing-json peer.
pub struct TracingPeer {
    pub dispatch: tracing::Dispatch,
    pub lines: Arc<AtomicU64>,
    pub sent: std::cell::Cell<u64>,
    path: std::path::PathBuf,
    _guard: tracing_appender::non_blocking::WorkerGuard,
}

impl TracingPeer {
    pub fn new(dir: &Path) -> TracingPeer {
        use tracing_subscriber::layer::SubscriberExt;
        let lines = Arc::new(AtomicU64::new(0));
        let file = tracing_appender::rolling::never(dir, "tracing-json.log");
        let counting = CountingWriter { inner: file, lines: lines.clone() };
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false) // wait for room rather than drop, like llm-trace's default
            .finish(counting);
        let layer = tracing_subscriber::fmt::layer().json().with_writer(writer);
        // Only the peer's own events: llm-trace's spans stay disabled, as without a subscriber.
        let filter =
            tracing_subscriber::filter::Targets::new().with_target("peer", tracing::Level::INFO);
        let subscriber = tracing_subscriber::registry().with(layer).with(filter);
        TracingPeer {
            dispatch: tracing::Dispatch::new(subscriber),
            lines,
            sent: std::cell::Cell::new(0),
            path: dir.join("tracing-json.log"),
            _guard: guard,
        }
    }

    /// Runs `f` with this peer as the thread's subscriber.
    pub fn scoped<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// One call: what an application logging its LLM calls with `tracing` does. Call inside
    /// [`scoped`](Self::scoped).
    #[inline(never)]
    pub fn record(&self) {
        let start = Instant::now();
        let id = uuid_v7_like();
        let prompt = preview(black_box(PROMPT));
        let answer = preview(black_box(ANSWER));
        let latency_ms = start.elapsed().as_secs_f64() * 1e3;
        tracing::info!(
            target: "peer",
            trace_id = %id,
            session_id = "019a7a4e-0d3c-7a51-9a2b-2f1e8c4d5b6a",
            function_name = "classify_ticket",
            module_path = "bench",
            call_path = "classify_ticket",
            tags = "support,classification",
            provider = "openai",
            operation = "chat",
            model = "gpt-4o-mini",
            response_model = "gpt-4o-mini-2024-07-18",
            temperature = 0.2,
            max_tokens = 256,
            stream = false,
            finish_reason = "stop",
            prompt_tokens = 1200,
            completion_tokens = 80,
            total_tokens = 1280,
            cached_tokens = 1024,
            usage_source = "provider",
            cost_usd = 0.0001344,
            latency_ms,
            input_preview = prompt,
            output_preview = answer,
            "llm call"
        );
        self.sent.set(self.sent.get() + 1);
    }

    /// Waits until every line is written, then empties the file.
    pub fn drain(&self) {
        self.wait();
        self.truncate();
    }

    /// Waits until every line is written.
    pub fn wait(&self) {
        wait_for(&self.lines, self.sent.get());
    }

    /// Empties the file (see [`truncate`]).
    pub fn truncate(&self) {
        truncate(&self.path);
    }
}

fn preview(text: &str) -> &str {
    &text[..text.len().min(200)]
}

/// A random 128-bit id printed as a UUID (what a peer would log as its call id).
pub fn uuid_v7_like() -> Uuid128 {
    Uuid128(fastrand::u128(..))
}

pub struct Uuid128(u128);

impl std::fmt::Display for Uuid128 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            (v as u64) & 0xffff_ffff_ffff
        )
    }
}

/// The OpenTelemetry SDK peer.
pub struct OtelPeer {
    pub provider: opentelemetry_sdk::trace::SdkTracerProvider,
    pub tracer: opentelemetry_sdk::trace::SdkTracer,
    pub lines: Arc<AtomicU64>,
    pub sent: std::cell::Cell<u64>,
    path: std::path::PathBuf,
}

/// Spans the batch processor can hold: more than any run here sends between two drains, so
/// it drops nothing (its default, 2048, drops most spans under load).
pub const OTEL_QUEUE: usize = 65_536;

impl OtelPeer {
    pub fn new(dir: &Path) -> OtelPeer {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor};
        let lines = Arc::new(AtomicU64::new(0));
        let exporter = JsonLinesExporter {
            out: Mutex::new(BufWriter::with_capacity(
                256 * 1024,
                File::options().create(true).append(true).open(dir.join("otel.jsonl")).unwrap(),
            )),
            lines: lines.clone(),
        };
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(OTEL_QUEUE)
            .with_max_export_batch_size(1024)
            .build();
        let processor = BatchSpanProcessor::builder(exporter).with_batch_config(config).build();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        let tracer = provider.tracer("peer");
        let path = dir.join("otel.jsonl");
        OtelPeer { provider, tracer, lines, sent: std::cell::Cell::new(0), path }
    }

    /// One call: a client span with the GenAI attributes known at the start, the rest set at
    /// the end. The values an instrumentation would take from the request and the response
    /// are constants here (`&'static str`, the cheapest form for the SDK).
    #[inline(never)]
    pub fn record(&self) {
        self.span(SpanValues {
            model: "gpt-4o-mini".into(),
            temperature: 0.2,
            max_tokens: 256,
            input_preview: preview(black_box(PROMPT)).to_owned(),
            response_model: "gpt-4o-mini-2024-07-18".into(),
            finish_reason: "stop",
            usage: (1200, 80, 1024),
            output_preview: preview(black_box(ANSWER)).to_owned(),
        });
    }

    /// The same call with the values taken from an async-openai request and response, as an
    /// OpenTelemetry instrumentation of the client would (and as `TracedClient` does): the
    /// model names are copied out of them.
    #[inline(never)]
    pub fn record_openai(
        &self,
        request: &async_openai::types::chat::CreateChatCompletionRequest,
        response: &async_openai::types::chat::CreateChatCompletionResponse,
    ) {
        use async_openai::types::chat::{
            ChatCompletionRequestMessage, ChatCompletionRequestUserMessageContent, FinishReason,
        };
        let input = request.messages.iter().rev().find_map(|m| match m {
            ChatCompletionRequestMessage::User(u) => match &u.content {
                ChatCompletionRequestUserMessageContent::Text(t) => Some(t.as_str()),
                ChatCompletionRequestUserMessageContent::Array(_) => None,
            },
            _ => None,
        });
        let choice = response.choices.first();
        let usage = response.usage.as_ref().map_or((0, 0, 0), |u| {
            let cached = u.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens);
            (
                i64::from(u.prompt_tokens),
                i64::from(u.completion_tokens),
                i64::from(cached.unwrap_or(0)),
            )
        });
        #[allow(deprecated)]
        let max_tokens = request.max_completion_tokens.or(request.max_tokens);
        self.span(SpanValues {
            model: request.model.clone().into(),
            temperature: f64::from(request.temperature.unwrap_or(1.0)),
            max_tokens: i64::from(max_tokens.unwrap_or(0)),
            input_preview: preview(input.unwrap_or_default()).to_owned(),
            response_model: response.model.clone().into(),
            finish_reason: match choice.and_then(|c| c.finish_reason) {
                Some(FinishReason::Stop) => "stop",
                Some(FinishReason::Length) => "length",
                Some(FinishReason::ToolCalls) => "tool_calls",
                Some(FinishReason::ContentFilter) => "content_filter",
                Some(FinishReason::FunctionCall) => "function_call",
                None => "unknown",
            },
            usage,
            output_preview: preview(
                choice.and_then(|c| c.message.content.as_deref()).unwrap_or_default(),
            )
            .to_owned(),
        });
    }

    // Inlined into each caller, so that `record`'s constants reach the SDK as before.
    #[inline(always)]
    fn span(&self, v: SpanValues) {
        use opentelemetry::KeyValue;
        use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
        let mut span = self
            .tracer
            .span_builder("chat gpt-4o-mini")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.provider.name", "openai"),
                KeyValue::new("gen_ai.request.model", v.model),
                KeyValue::new("gen_ai.request.temperature", v.temperature),
                KeyValue::new("gen_ai.request.max_tokens", v.max_tokens),
                KeyValue::new("gen_ai.conversation.id", "019a7a4e-0d3c-7a51-9a2b-2f1e8c4d5b6a"),
                KeyValue::new("code.function", "classify_ticket"),
                KeyValue::new("code.namespace", "bench"),
                KeyValue::new("llm.call_path", "classify_ticket"),
                KeyValue::new("llm.tags", "support,classification"),
                KeyValue::new("llm.stream", false),
                KeyValue::new("llm.input_preview", v.input_preview),
            ])
            .start(&self.tracer);
        let (input_tokens, output_tokens, cached_tokens) = v.usage;
        span.set_attributes([
            KeyValue::new("gen_ai.response.model", v.response_model),
            KeyValue::new("gen_ai.response.finish_reasons", v.finish_reason),
            KeyValue::new("gen_ai.usage.input_tokens", input_tokens),
            KeyValue::new("gen_ai.usage.output_tokens", output_tokens),
            KeyValue::new("gen_ai.usage.total_tokens", input_tokens + output_tokens),
            KeyValue::new("gen_ai.usage.cache_read.input_tokens", cached_tokens),
            KeyValue::new("llm.usage_source", "provider"),
            KeyValue::new("llm.cost_usd", 0.0001344),
            KeyValue::new("llm.output_preview", v.output_preview),
            KeyValue::new("llm.finish_reason", v.finish_reason),
            KeyValue::new("llm.session", "019a7a4e-0d3c-7a51-9a2b-2f1e8c4d5b6a"),
            KeyValue::new("llm.schema", 1),
        ]);
        span.end();
        self.sent.set(self.sent.get() + 1);
    }

    /// Waits until every span is written, then empties the file.
    pub fn drain(&self) {
        self.wait();
        self.truncate();
    }

    /// Waits until every span is written.
    pub fn wait(&self) {
        self.provider.force_flush().unwrap();
        wait_for(&self.lines, self.sent.get());
    }

    /// Empties the file (see [`truncate`]).
    pub fn truncate(&self) {
        truncate(&self.path);
    }
}

/// What one OTel span takes from the call.
struct SpanValues {
    model: opentelemetry::Value,
    temperature: f64,
    max_tokens: i64,
    input_preview: String,
    response_model: opentelemetry::Value,
    finish_reason: &'static str,
    /// Input, output and cached input tokens.
    usage: (i64, i64, i64),
    output_preview: String,
}

/// Writes each span as one JSON line.
#[derive(Debug)]
struct JsonLinesExporter {
    out: Mutex<BufWriter<File>>,
    lines: Arc<AtomicU64>,
}

impl opentelemetry_sdk::trace::SpanExporter for JsonLinesExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let mut out = self.out.lock().unwrap();
        let n = batch.len() as u64;
        for span in &batch {
            serde_json::to_writer(&mut *out, &SpanLine(span)).unwrap();
            out.write_all(b"\n").unwrap();
        }
        out.flush().unwrap();
        self.lines.fetch_add(n, Ordering::Release);
        Ok(())
    }
}

struct SpanLine<'a>(&'a opentelemetry_sdk::trace::SpanData);

impl serde::Serialize for SpanLine<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let span = self.0;
        let nanos = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64
        };
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("trace_id", &span.span_context.trace_id().to_string())?;
        m.serialize_entry("span_id", &span.span_context.span_id().to_string())?;
        m.serialize_entry("name", &*span.name)?;
        m.serialize_entry("kind", "client")?;
        m.serialize_entry("start_unix_nano", &nanos(span.start_time))?;
        m.serialize_entry("end_unix_nano", &nanos(span.end_time))?;
        m.serialize_entry("attributes", &Attributes(&span.attributes))?;
        m.end()
    }
}

struct Attributes<'a>(&'a [opentelemetry::KeyValue]);

impl serde::Serialize for Attributes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use opentelemetry::Value;
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for kv in self.0 {
            m.serialize_key(kv.key.as_str())?;
            match &kv.value {
                Value::Bool(b) => m.serialize_value(b)?,
                Value::I64(i) => m.serialize_value(i)?,
                Value::F64(f) => m.serialize_value(f)?,
                Value::String(text) => m.serialize_value(text.as_str())?,
                other => m.serialize_value(&other.to_string())?,
            }
        }
        m.end()
    }
}

/// A chat request and the response the mock server would send, built once.
pub fn openai_values() -> (
    async_openai::types::chat::CreateChatCompletionRequest,
    async_openai::types::chat::CreateChatCompletionResponse,
) {
    use async_openai::types::chat::{
        ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
        CreateChatCompletionRequestArgs,
    };
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .temperature(0.2)
        .max_completion_tokens(256u32)
        .messages([
            ChatCompletionRequestSystemMessage::from("You classify support tickets.").into(),
            ChatCompletionRequestUserMessage::from(PROMPT).into(),
        ])
        .build()
        .unwrap();
    let response = serde_json::from_value(serde_json::json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_795_720_733u32,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER},
            "finish_reason": "stop",
            "logprobs": null
        }],
        "usage": {
            "prompt_tokens": 1200,
            "completion_tokens": 80,
            "total_tokens": 1280,
            "prompt_tokens_details": {"cached_tokens": 1024},
            "completion_tokens_details": {"reasoning_tokens": 0}
        }
    }))
    .unwrap();
    (request, response)
}
