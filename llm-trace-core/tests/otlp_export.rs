//! OTLP export against a local OTLP/HTTP receiver: every request body is decoded with the
//! official protobuf definitions (opentelemetry-proto + prost), not with the sink's encoder.

#![cfg(feature = "otlp")]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use llm_trace_core::config::OtlpConfig;
use llm_trace_core::context::Scope;
use llm_trace_core::pricing::{Price, PriceTable};
use llm_trace_core::sink::{MemorySink, OtlpOptions, OtlpSink, Sink};
use llm_trace_core::{
    Config, ErrorKind, FinishReason, LlmTrace, TraceError, Tracer, Usage, UsageSource,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;

// ---------------------------------------------------------------------------------------------
// The receiver

/// How the collector answers one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Ok,
    Status(u16, Option<&'static str>),
    /// Answers 200, but only after this long.
    Slow(Duration),
}

/// One request as the collector saw it.
struct Received {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    request: ExportTraceServiceRequest,
}

impl Received {
    fn spans(&self) -> Vec<&Span> {
        self.request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .collect()
    }
}

/// A minimal OTLP/HTTP receiver on 127.0.0.1: reads HTTP/1.1 requests with a Content-Length
/// body (several per connection), decodes them, hands them to the test and answers as the
/// script says (200 once the script is used up).
struct Collector {
    url: String,
    received: mpsc::Receiver<Received>,
}

impl Collector {
    fn start(script: &[Reply]) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (tx, received) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (tx, script) = (tx.clone(), script.clone());
                thread::spawn(move || serve(stream, &tx, &script));
            }
        });
        Collector { url, received }
    }

    fn config(&self) -> OtlpConfig {
        let mut config = OtlpConfig::default();
        config.endpoint = Some(self.url.clone());
        config
    }

    fn sink(&self, options: OtlpOptions) -> OtlpSink {
        OtlpSink::new(&self.config(), options).unwrap()
    }

    fn next(&self) -> Received {
        self.received
            .recv_timeout(Duration::from_secs(10))
            .expect("no request reached the collector")
    }

    fn count(&self) -> usize {
        self.received.try_iter().count()
    }
}

fn serve(stream: TcpStream, tx: &mpsc::Sender<Received>, script: &Mutex<VecDeque<Reply>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return; // the client closed the connection
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
        let length: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let request = ExportTraceServiceRequest::decode(&body[..]).expect("a valid OTLP request");
        let _ = tx.send(Received { method, path, headers, request });

        let reply = script.lock().unwrap().pop_front().unwrap_or(Reply::Ok);
        let answer = match reply {
            Reply::Ok => ok(),
            Reply::Slow(delay) => {
                thread::sleep(delay);
                ok()
            }
            Reply::Status(code, retry_after) => {
                let retry =
                    retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
                let text = "unavailable";
                format!(
                    "HTTP/1.1 {code} Error\r\nContent-Type: text/plain\r\n{retry}Content-Length: {}\r\n\r\n{text}",
                    text.len()
                )
            }
        };
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// 200 with an empty `ExportTraceServiceResponse`.
fn ok() -> String {
    "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n".into()
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn tracer_with(sink: OtlpSink) -> (Tracer, MemorySink) {
    let memory = MemorySink::new();
    let mut prices = PriceTable::empty();
    prices.insert("test-model", Price::new(2.0, 8.0).with_cached_input(0.5));
    let tracer = Tracer::builder().sink(memory.clone()).sink(sink).prices(prices).build().unwrap();
    (tracer, memory)
}

fn attributes(attrs: &[KeyValue]) -> HashMap<&str, &Value> {
    let map: HashMap<&str, &Value> = attrs
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_ref().unwrap().value.as_ref().unwrap()))
        .collect();
    assert_eq!(map.len(), attrs.len(), "attribute keys must be unique");
    map
}

fn s(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

fn strings(values: &[&str]) -> Value {
    Value::ArrayValue(ArrayValue {
        values: values.iter().map(|v| AnyValue { value: Some(s(v)) }).collect(),
    })
}

const DEPRECATED: &[&str] = &[
    "gen_ai.system",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.usage.total_tokens",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.openai.request.seed",
    "gen_ai.openai.response.service_tier",
];

fn assert_no_deprecated_names(span: &Span) {
    for kv in &span.attributes {
        assert!(!DEPRECATED.contains(&kv.key.as_str()), "deprecated attribute {}", kv.key);
        assert!(!kv.key.starts_with("gen_ai.prompt.") && !kv.key.starts_with("gen_ai.completion."));
    }
}

fn only_span(received: &Received) -> &Span {
    let spans = received.spans();
    assert_eq!(spans.len(), 1);
    spans[0]
}

// ---------------------------------------------------------------------------------------------
// What is exported

#[test]
fn a_call_becomes_a_client_span_with_the_genai_attributes() {
    let collector = Collector::start(&[]);
    let mut otlp = collector.config();
    otlp.headers.push(("x-api-key".into(), "abc=".into()));
    otlp.service_name = Some("support-bot".into());
    let (tracer, memory) = tracer_with(OtlpSink::new(&otlp, OtlpOptions::default()).unwrap());
    let _default = tracer.set_default();

    Scope::new("handle_ticket", "app", &["support"]).in_scope(|| {
        Scope::new("classify", "app::triage", &["classification"]).with_session("s-42").in_scope(
            || {
                let mut rec = llm_trace_core::call("openai", "chat", "test-model");
                rec.temperature(0.3)
                    .max_tokens(256)
                    .stream(true)
                    .input("Why was I charged twice?")
                    .response_model("test-model-2026-01-01")
                    .first_token()
                    .append_output("You were charged once.")
                    .usage(Usage::new(1000, 100).cached(600).reasoning(20));
                thread::sleep(Duration::from_millis(5));
                rec.finish(FinishReason::Stop);
            },
        )
    });
    tracer.flush().unwrap();
    let t = memory.take().remove(0);
    let received = collector.next();

    // The request.
    assert_eq!((received.method.as_str(), received.path.as_str()), ("POST", "/v1/traces"));
    assert_eq!(received.headers["content-type"], "application/x-protobuf");
    assert_eq!(received.headers["x-api-key"], "abc=");
    assert_eq!(received.request.resource_spans.len(), 1);

    // Resource and scope.
    let resource_spans = &received.request.resource_spans[0];
    let resource = attributes(&resource_spans.resource.as_ref().unwrap().attributes);
    assert_eq!(resource["service.name"], &s("support-bot"));
    assert_eq!(resource["telemetry.sdk.name"], &s("llm-trace"));
    assert_eq!(resource["telemetry.sdk.language"], &s("rust"));
    assert_eq!(resource["telemetry.sdk.version"], &s(env!("CARGO_PKG_VERSION")));
    assert_eq!(resource_spans.scope_spans.len(), 1);
    let scope = resource_spans.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("llm-trace", env!("CARGO_PKG_VERSION"))
    );

    // The span.
    let span = only_span(&received);
    assert_eq!(span.name, "chat test-model");
    assert_eq!(span.kind(), SpanKind::Client);
    assert_eq!(span.trace_id, t.trace_id.as_uuid().as_bytes());
    assert_eq!(span.span_id, t.trace_id.as_uuid().as_bytes()[8..]);
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.flags & 0xff, 1, "sampled");
    let start = t.timestamp.unix_millis() as u64 * 1_000_000;
    assert_eq!(span.start_time_unix_nano, start);
    assert_eq!(span.end_time_unix_nano - start, (t.latency_ms * 1e6).round() as u64);
    assert!(span.end_time_unix_nano - start >= 5_000_000);
    assert!(span.status.as_ref().is_none_or(|s| s.code() == StatusCode::Unset));

    let a = attributes(&span.attributes);
    let expected: HashMap<&str, Value> = HashMap::from([
        ("gen_ai.operation.name", s("chat")),
        ("gen_ai.provider.name", s("openai")),
        ("gen_ai.request.model", s("test-model")),
        ("gen_ai.response.model", s("test-model-2026-01-01")),
        ("gen_ai.request.temperature", Value::DoubleValue(0.3)),
        ("gen_ai.request.max_tokens", Value::IntValue(256)),
        ("gen_ai.response.finish_reasons", strings(&["stop"])),
        ("gen_ai.usage.input_tokens", Value::IntValue(1000)),
        ("gen_ai.usage.output_tokens", Value::IntValue(100)),
        ("gen_ai.usage.cache_read.input_tokens", Value::IntValue(600)),
        ("gen_ai.usage.reasoning.output_tokens", Value::IntValue(20)),
        ("gen_ai.conversation.id", s("s-42")),
        ("gen_ai.response.time_to_first_chunk", Value::DoubleValue(t.ttft_ms.unwrap() / 1000.0)),
        ("llm_trace.function_name", s("classify")),
        ("llm_trace.call_path", strings(&["handle_ticket", "classify"])),
        ("llm_trace.tags", strings(&["support", "classification"])),
        ("llm_trace.cost_usd", Value::DoubleValue(t.cost_usd.unwrap())),
    ]);
    for (key, value) in &expected {
        assert_eq!(a.get(key).copied(), Some(value), "{key}");
    }
    let mut extra: Vec<&&str> = a.keys().filter(|k| !expected.contains_key(**k)).collect();
    extra.sort();
    assert!(extra.is_empty(), "unexpected attributes {extra:?}");
    assert_no_deprecated_names(span);

    // Message contents stay home by default.
    let body = format!("{:?}", received.request);
    assert!(!body.contains("charged"), "content was exported: {body}");
}

#[test]
fn a_failed_call_has_error_status_error_type_and_http_status() {
    let collector = Collector::start(&[]);
    let (tracer, memory) = tracer_with(collector.sink(OtlpOptions::default()));
    let rec = tracer.call("openai", "chat", "test-model");
    rec.fail(TraceError::new(ErrorKind::RateLimit, "Rate limit reached").with_status(429));
    tracer.flush().unwrap();
    let t = memory.take().remove(0);
    assert_eq!(t.usage_source, UsageSource::None);

    let received = collector.next();
    let span = only_span(&received);
    let status = span.status.as_ref().unwrap();
    assert_eq!(status.code(), StatusCode::Error);
    assert_eq!(status.message, "rate_limit");
    let a = attributes(&span.attributes);
    assert_eq!(a["error.type"], &s("rate_limit"));
    assert_eq!(a["http.response.status_code"], &Value::IntValue(429));
    assert_eq!(a["gen_ai.response.finish_reasons"], &strings(&["error"]));
    // No usage was reported: the counts are unknown, not zero.
    assert!(!a.contains_key("gen_ai.usage.input_tokens"));
    assert!(!a.contains_key("gen_ai.usage.output_tokens"));
    // Unknown call site: no call path or tags, function "unknown".
    assert_eq!(a["llm_trace.function_name"], &s("unknown"));
    assert!(!a.contains_key("llm_trace.call_path") && !a.contains_key("llm_trace.tags"));
    assert_no_deprecated_names(span);
}

#[test]
fn every_optional_field_of_a_record_is_exported_with_its_type() {
    let collector = Collector::start(&[]);
    let (tracer, _memory) = tracer_with(collector.sink(OtlpOptions::default()));
    let mut t = LlmTrace::example();
    t.ttft_ms = Some(250.0);
    t.reasoning_tokens = Some(7);
    t.payload = Some("payloads/2026/11/26/x.json".into());
    t.metadata.insert("customer", "acme");
    t.metadata.insert("retries", 2);
    t.metadata.insert("score", 0.5);
    t.metadata.insert("vip", true);
    t.metadata.insert("nothing", serde_json::Value::Null);
    t.metadata.insert("ids", [1, 2]);
    t.error = Some(TraceError::new(ErrorKind::Connection, "connection reset"));
    tracer.record(t.clone());
    tracer.flush().unwrap();

    let received = collector.next();
    let span = only_span(&received);
    let a = attributes(&span.attributes);
    assert_eq!(a["gen_ai.response.time_to_first_chunk"], &Value::DoubleValue(0.25));
    assert_eq!(a["gen_ai.request.temperature"], &Value::DoubleValue(0.2));
    assert_eq!(a["gen_ai.usage.cache_read.input_tokens"], &Value::IntValue(1024));
    assert_eq!(a["gen_ai.usage.reasoning.output_tokens"], &Value::IntValue(7));
    assert_eq!(a["gen_ai.conversation.id"], &s("example-session"));
    assert_eq!(a["llm_trace.payload"], &s("payloads/2026/11/26/x.json"));
    assert_eq!(a["llm_trace.cost_usd"], &Value::DoubleValue(0.0001344));
    assert_eq!(a["llm_trace.call_path"], &strings(&["handle_ticket", "classify_ticket"]));
    assert_eq!(a["llm_trace.metadata.customer"], &s("acme"));
    assert_eq!(a["llm_trace.metadata.retries"], &Value::IntValue(2));
    assert_eq!(a["llm_trace.metadata.score"], &Value::DoubleValue(0.5));
    assert_eq!(a["llm_trace.metadata.vip"], &Value::BoolValue(true));
    assert_eq!(a["llm_trace.metadata.ids"], &s("[1,2]"));
    assert!(!a.contains_key("llm_trace.metadata.nothing"));
    // An error without an HTTP status.
    assert_eq!(a["error.type"], &s("connection"));
    assert!(!a.contains_key("http.response.status_code"));
    assert!(!a.contains_key("llm_trace.trace_id"), "the span's trace id is the record's");
}

#[test]
fn message_contents_are_exported_only_when_opted_in() {
    let collector = Collector::start(&[]);
    let mut options = OtlpOptions::default();
    options.export_content = true;
    let (tracer, _memory) = tracer_with(collector.sink(options));
    let mut rec = tracer.call("openai", "chat", "test-model");
    rec.input("Why was I charged twice?").output("You were charged once.");
    rec.finish(FinishReason::Length);
    tracer.flush().unwrap();

    let received = collector.next();
    let a = attributes(&only_span(&received).attributes);
    let json = |key: &str| match a[key] {
        Value::StringValue(text) => serde_json::from_str::<serde_json::Value>(text).unwrap(),
        other => panic!("{key} is {other:?}"),
    };
    assert_eq!(
        json("gen_ai.input.messages"),
        serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": "Why was I charged twice?"}]}])
    );
    assert_eq!(
        json("gen_ai.output.messages"),
        serde_json::json!([{
            "role": "assistant",
            "parts": [{"type": "text", "content": "You were charged once."}],
            "finish_reason": "length",
        }])
    );

    // A call with no output has no output message.
    let rec = tracer.call("openai", "chat", "test-model");
    rec.fail(TraceError::new(ErrorKind::Server, "boom"));
    tracer.flush().unwrap();
    let received = collector.next();
    let a = attributes(&only_span(&received).attributes);
    assert!(!a.contains_key("gen_ai.output.messages") && !a.contains_key("gen_ai.input.messages"));
}

#[test]
fn settings_come_from_the_otel_variables() {
    let collector = Collector::start(&[]);
    let vars = HashMap::from([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("{}/", collector.url)),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t0ken,team=ml".to_owned()),
    ]);
    let config = Config::from_vars(|name| vars.get(name).cloned()).unwrap();
    let sink = OtlpSink::from_config(&config.otlp).unwrap().expect("an endpoint is configured");
    assert_eq!(sink.url(), format!("{}/v1/traces", collector.url));
    let (tracer, _memory) = tracer_with(sink);
    tracer.call("openai", "chat", "m").finish(FinishReason::Stop);
    tracer.flush().unwrap();

    let received = collector.next();
    assert_eq!(received.path, "/v1/traces");
    assert_eq!(received.headers["authorization"], "Bearer t0ken");
    assert_eq!(received.headers["team"], "ml");
    let resource = &received.request.resource_spans[0].resource.as_ref().unwrap().attributes;
    let Value::StringValue(service) = attributes(resource)["service.name"] else { panic!() };
    // No OTEL_SERVICE_NAME: `unknown_service:` and the executable (this test binary).
    assert!(service.starts_with("unknown_service:otlp_export"), "{service}");
}

#[test]
fn resource_attributes_and_the_timeout_come_from_the_otel_variables() {
    let collector = Collector::start(&[]);
    let vars = HashMap::from([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.clone()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attributes,deployment.environment=staging,service.version=1.4.2"
                .to_owned(),
        ),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1500".to_owned()),
    ]);
    let config = Config::from_vars(|name| vars.get(name).cloned()).unwrap();
    let sink = OtlpSink::from_config(&config.otlp).unwrap().expect("an endpoint is configured");
    assert!(format!("{sink:?}").contains("timeout: 1.5s"), "{sink:?}");
    let (tracer, _memory) = tracer_with(sink);
    tracer.call("openai", "chat", "m").finish(FinishReason::Stop);
    tracer.flush().unwrap();

    let received = collector.next();
    let resource = &received.request.resource_spans[0].resource.as_ref().unwrap().attributes;
    let resource = attributes(resource);
    // No OTEL_SERVICE_NAME: the service.name among the attributes.
    assert_eq!(resource["service.name"], &s("from-attributes"));
    assert_eq!(resource["deployment.environment"], &s("staging"));
    assert_eq!(resource["service.version"], &s("1.4.2"));
    assert_eq!(resource["telemetry.sdk.name"], &s("llm-trace"));
    let names = &received.request.resource_spans[0].resource.as_ref().unwrap().attributes;
    assert_eq!(names.iter().filter(|kv| kv.key == "service.name").count(), 1);
}

#[test]
fn large_batches_are_split_into_requests_of_at_most_512_spans() {
    let collector = Collector::start(&[]);
    let mut sink = collector.sink(OtlpOptions::default());
    let traces: Vec<Box<LlmTrace>> = (0..1100).map(|_| Box::new(LlmTrace::example())).collect();
    sink.write(&traces).unwrap();
    let sizes: Vec<usize> = (0..3).map(|_| collector.next().spans().len()).collect();
    assert_eq!(sizes, [512, 512, 76]);
    assert_eq!(collector.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Collectors that misbehave

#[test]
fn a_503_is_retried_after_its_retry_after() {
    let collector = Collector::start(&[Reply::Status(503, Some("1"))]);
    let (tracer, _memory) = tracer_with(collector.sink(OtlpOptions::default()));
    tracer.call("openai", "chat", "m").finish(FinishReason::Stop);
    let started = Instant::now();
    tracer.flush().unwrap();
    let elapsed = started.elapsed();

    let first = collector.next();
    let second = collector.next();
    assert_eq!(first.spans()[0].trace_id, second.spans()[0].trace_id);
    assert!(elapsed >= Duration::from_millis(950), "Retry-After: 1 not honoured: {elapsed:?}");
    let stats = tracer.stats();
    assert_eq!((stats.sink_errors, stats.written), (0, 1), "{stats:?}");
}

#[test]
fn retries_are_bounded_and_only_for_transient_statuses() {
    let collector = Collector::start(&[
        Reply::Status(502, None),
        Reply::Status(504, None),
        Reply::Status(429, None),
        Reply::Status(503, None),
    ]);
    let mut sink = collector.sink(OtlpOptions::default());
    let started = Instant::now();
    let err = sink.write(&[Box::new(LlmTrace::example())]).unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(err.contains("429") && err.contains("3 attempts"), "{err}");
    assert_eq!(collector.count(), 3, "one try and two retries");

    let collector = Collector::start(&[Reply::Status(400, None)]);
    let mut sink = collector.sink(OtlpOptions::default());
    let err = sink.write(&[Box::new(LlmTrace::example())]).unwrap_err().to_string();
    assert!(err.contains("400") && err.contains("unavailable"), "{err}");
    assert_eq!(collector.count(), 1, "a 400 is not retried");
}

#[test]
fn a_retry_after_beyond_the_timeout_fails_at_once() {
    let collector = Collector::start(&[Reply::Status(429, Some("60"))]);
    let mut options = OtlpOptions::default();
    options.timeout = Duration::from_secs(2);
    let mut sink = collector.sink(options);
    let started = Instant::now();
    let err = sink.write(&[Box::new(LlmTrace::example())]).unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(err.contains("429"), "{err}");
    assert_eq!(collector.count(), 1);
}

#[test]
fn a_collector_that_is_down_is_counted_and_the_other_sinks_get_every_trace() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut otlp = OtlpConfig::default();
    otlp.endpoint = Some(format!("http://127.0.0.1:{port}")); // nothing listens there now
    let (tracer, memory) = tracer_with(OtlpSink::new(&otlp, OtlpOptions::default()).unwrap());
    for _ in 0..5 {
        tracer.call("openai", "chat", "test-model").finish(FinishReason::Stop);
        tracer.flush().unwrap();
    }
    assert_eq!(memory.len(), 5);
    let stats = tracer.stats();
    assert!(stats.sink_errors > 0, "{stats:?}");
    let otlp = stats.sinks.iter().find(|s| s.name == "otlp").unwrap();
    assert_eq!((otlp.written, otlp.failed), (0, 5), "{stats:?}");
    let error = otlp.last_error.as_deref().unwrap();
    assert!(error.contains("OTLP export") && error.contains(&port.to_string()), "{error}");
    let memory_stats = stats.sinks.iter().find(|s| s.name != "otlp").unwrap();
    assert_eq!((memory_stats.written, memory_stats.errors), (5, 0));
}

#[test]
fn a_slow_collector_costs_a_write_at_most_the_timeout() {
    let collector = Collector::start(&[Reply::Slow(Duration::from_secs(5))]);
    let mut options = OtlpOptions::default();
    options.timeout = Duration::from_millis(500);
    let (tracer, memory) = tracer_with(collector.sink(options));
    tracer.call("openai", "chat", "test-model").finish(FinishReason::Stop);
    let started = Instant::now();
    tracer.flush().unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(1500), "the write took {elapsed:?}");
    assert_eq!(collector.count(), 1);
    assert_eq!(memory.len(), 1);
    let stats = tracer.stats();
    assert_eq!(stats.sink_errors, 1, "{stats:?}");
    let otlp = stats.sinks.iter().find(|s| s.name == "otlp").unwrap();
    let error = otlp.last_error.as_deref().unwrap();
    assert!(error.contains("no answer within"), "{error}");

    // Right after, the sink does not wait on the collector again: the batch is skipped at
    // once (and counted) for a pause of 1 s.
    tracer.call("openai", "chat", "test-model").finish(FinishReason::Stop);
    let started = Instant::now();
    tracer.flush().unwrap();
    assert!(started.elapsed() < Duration::from_millis(300), "{:?}", started.elapsed());
    assert_eq!(collector.count(), 0, "nothing more reached the collector");
    let stats = tracer.stats();
    assert_eq!(stats.sink_errors, 2, "{stats:?}");
    let otlp = stats.sinks.iter().find(|s| s.name == "otlp").unwrap();
    assert!(otlp.last_error.as_deref().unwrap().contains("next attempt in"), "{otlp:?}");
    assert_eq!(memory.len(), 2, "the other sink got both");

    // After the pause, the next write goes through once the collector is itself again.
    std::thread::sleep(Duration::from_millis(1100));
    tracer.call("openai", "chat", "test-model").finish(FinishReason::Stop);
    tracer.flush().unwrap();
    assert_eq!(collector.next().spans().len(), 1);
    assert_eq!(tracer.stats().sink_errors, 2);
}

#[test]
fn a_tracer_from_the_environment_exports_next_to_the_log() {
    let collector = Collector::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let vars = HashMap::from([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.clone()),
        ("OTEL_SERVICE_NAME", "support-bot".to_owned()),
        ("LLM_TRACE_DIR", dir.path().display().to_string()),
    ]);
    let config = Config::from_vars(|name| vars.get(name).cloned()).unwrap();
    let tracer = llm_trace_core::Tracer::new(config.clone()).unwrap();
    tracer.call("openai", "chat", "m").finish(FinishReason::Stop);
    tracer.flush().unwrap();
    assert_eq!(collector.next().spans().len(), 1);
    let log = std::fs::read_to_string(config.log_path()).unwrap();
    assert_eq!(log.lines().count(), 1, "the JSON-lines log is written as well");
    let names: Vec<String> = tracer.stats().sinks.iter().map(|s| s.name.clone()).collect();
    assert!(names[0].starts_with("jsonl:") && names[1] == "otlp", "{names:?}");
}
