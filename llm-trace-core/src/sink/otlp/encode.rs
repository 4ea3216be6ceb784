//! Traces as OTLP protobuf: one span per [`LlmTrace`], with the GenAI semantic conventions.
//!
//! Field numbers follow opentelemetry-proto (`opentelemetry/proto/collector/trace/v1/
//! trace_service.proto`, `trace/v1/trace.proto`, `common/v1/common.proto`,
//! `resource/v1/resource.proto`).

use serde_json::Value as Json;

use super::proto::Writer;
use crate::trace::{LlmTrace, UsageSource};

/// `ExportTraceServiceRequest.resource_spans`.
const REQUEST_RESOURCE_SPANS: u32 = 1;
/// `ResourceSpans.resource`, `.scope_spans`.
const RESOURCE_SPANS_RESOURCE: u32 = 1;
const RESOURCE_SPANS_SCOPE_SPANS: u32 = 2;
/// `Resource.attributes`.
const RESOURCE_ATTRIBUTES: u32 = 1;
/// `ScopeSpans.scope`, `.spans`.
const SCOPE_SPANS_SCOPE: u32 = 1;
const SCOPE_SPANS_SPANS: u32 = 2;
/// `InstrumentationScope.name`, `.version`.
const SCOPE_NAME: u32 = 1;
const SCOPE_VERSION: u32 = 2;
/// `Span` fields.
const SPAN_TRACE_ID: u32 = 1;
const SPAN_SPAN_ID: u32 = 2;
const SPAN_NAME: u32 = 5;
const SPAN_KIND: u32 = 6;
const SPAN_START_TIME_UNIX_NANO: u32 = 7;
const SPAN_END_TIME_UNIX_NANO: u32 = 8;
const SPAN_ATTRIBUTES: u32 = 9;
const SPAN_STATUS: u32 = 15;
const SPAN_FLAGS: u32 = 16;
/// `Span.SpanKind.SPAN_KIND_CLIENT`.
const SPAN_KIND_CLIENT: u64 = 3;
/// W3C trace flags: sampled.
const TRACE_FLAGS_SAMPLED: u32 = 0x01;
/// `Status.message`, `.code`; `Status.StatusCode.STATUS_CODE_ERROR`.
const STATUS_MESSAGE: u32 = 2;
const STATUS_CODE: u32 = 3;
const STATUS_CODE_ERROR: u64 = 2;
/// `KeyValue.key`, `.value`.
const KEY_VALUE_KEY: u32 = 1;
const KEY_VALUE_VALUE: u32 = 2;
/// `AnyValue` oneof members.
const ANY_STRING: u32 = 1;
const ANY_BOOL: u32 = 2;
const ANY_INT: u32 = 3;
const ANY_DOUBLE: u32 = 4;
const ANY_ARRAY: u32 = 5;
/// `ArrayValue.values`.
const ARRAY_VALUES: u32 = 1;

/// The name and version of this crate, used as the instrumentation scope and the SDK.
pub(super) const SCOPE: &str = "llm-trace";
pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The parts of every request that do not depend on the traces, encoded once.
#[derive(Debug, Clone)]
pub(super) struct Encoder {
    /// The encoded `Resource` message body.
    resource: Vec<u8>,
    /// Whether message contents become `gen_ai.input.messages` / `gen_ai.output.messages`.
    export_content: bool,
}

impl Encoder {
    /// `extra`: the user's resource attributes (`OTEL_RESOURCE_ATTRIBUTES`), after the service
    /// name and the SDK's own, which they do not replace; of a key given twice, the first.
    pub(super) fn new(
        service_name: &str,
        extra: &[(String, String)],
        export_content: bool,
    ) -> Encoder {
        let mut resource = Writer::with_capacity(128);
        let ours = [
            ("service.name", service_name),
            ("telemetry.sdk.name", SCOPE),
            ("telemetry.sdk.language", "rust"),
            ("telemetry.sdk.version", VERSION),
        ];
        let extra = extra.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let mut written: Vec<&str> = Vec::new();
        for (key, value) in ours.into_iter().chain(extra) {
            if written.contains(&key) {
                continue;
            }
            written.push(key);
            attribute(&mut resource, RESOURCE_ATTRIBUTES, key, |w| w.string(ANY_STRING, value));
        }
        Encoder { resource: resource.into_bytes(), export_content }
    }

    /// One `ExportTraceServiceRequest` holding a span for each trace.
    pub(super) fn request(&self, traces: &[Box<LlmTrace>]) -> Vec<u8> {
        let mut w = Writer::with_capacity(256 + traces.len() * 768);
        w.message(REQUEST_RESOURCE_SPANS, |w| {
            w.bytes(RESOURCE_SPANS_RESOURCE, &self.resource);
            w.message(RESOURCE_SPANS_SCOPE_SPANS, |w| {
                w.message(SCOPE_SPANS_SCOPE, |w| {
                    w.string(SCOPE_NAME, SCOPE);
                    w.string(SCOPE_VERSION, VERSION);
                });
                for trace in traces {
                    w.message(SCOPE_SPANS_SPANS, |w| self.span(w, trace));
                }
            });
        });
        w.into_bytes()
    }

    fn span(&self, w: &mut Writer, t: &LlmTrace) {
        let id = t.trace_id.as_uuid().as_bytes();
        w.bytes(SPAN_TRACE_ID, id);
        // The last 8 bytes: random bits, never all zero (the UUID variant bits are set).
        w.bytes(SPAN_SPAN_ID, &id[8..]);
        w.fixed32(SPAN_FLAGS, TRACE_FLAGS_SAMPLED);
        w.string(SPAN_NAME, &format!("{} {}", t.operation, t.model));
        w.uint64(SPAN_KIND, SPAN_KIND_CLIENT);
        let start = u64::try_from(t.timestamp.unix_millis()).unwrap_or(0).saturating_mul(1_000_000);
        let latency_ns = if t.latency_ms.is_finite() && t.latency_ms > 0.0 {
            (t.latency_ms * 1e6).round() as u64 // saturates on overflow
        } else {
            0
        };
        w.fixed64(SPAN_START_TIME_UNIX_NANO, start);
        w.fixed64(SPAN_END_TIME_UNIX_NANO, start.saturating_add(latency_ns));
        self.attributes(w, t);
        if let Some(error) = &t.error {
            w.message(SPAN_STATUS, |w| {
                w.string(STATUS_MESSAGE, error.kind.as_str());
                w.uint64(STATUS_CODE, STATUS_CODE_ERROR);
            });
        }
    }

    fn attributes(&self, w: &mut Writer, t: &LlmTrace) {
        let mut a = Attributes(w);
        a.string("gen_ai.operation.name", &t.operation);
        a.string("gen_ai.provider.name", &t.provider);
        a.string("gen_ai.request.model", &t.model);
        if let Some(model) = &t.response_model {
            a.string("gen_ai.response.model", model);
        }
        if let Some(temperature) = t.temperature {
            a.double("gen_ai.request.temperature", f32_as_decimal_f64(temperature));
        }
        if let Some(max_tokens) = t.max_tokens {
            a.int("gen_ai.request.max_tokens", i64::from(max_tokens));
        }
        a.strings("gen_ai.response.finish_reasons", [t.finish_reason.as_str()]);
        // Counts of 0 with no usage reported are unknown, not zero: leave them out.
        if t.usage_source != UsageSource::None {
            a.int("gen_ai.usage.input_tokens", saturating_i64(t.prompt_tokens));
            a.int("gen_ai.usage.output_tokens", saturating_i64(t.completion_tokens));
        }
        if let Some(cached) = t.cached_tokens {
            a.int("gen_ai.usage.cache_read.input_tokens", saturating_i64(cached));
        }
        if let Some(reasoning) = t.reasoning_tokens {
            a.int("gen_ai.usage.reasoning.output_tokens", saturating_i64(reasoning));
        }
        if !t.session_id.is_empty() {
            a.string("gen_ai.conversation.id", &t.session_id);
        }
        if let Some(ttft_ms) = t.ttft_ms {
            a.double("gen_ai.response.time_to_first_chunk", ttft_ms / 1000.0);
        }
        if let Some(error) = &t.error {
            a.string("error.type", error.kind.as_str());
            if let Some(status) = error.status {
                a.int("http.response.status_code", i64::from(status));
            }
        }
        a.string("llm_trace.function_name", &t.function_name);
        if !t.call_path.is_empty() {
            a.strings("llm_trace.call_path", t.call_path.iter().map(|n| &**n));
        }
        if !t.tags.is_empty() {
            a.strings("llm_trace.tags", t.tags.iter().map(|n| &**n));
        }
        if let Some(cost) = t.cost_usd {
            a.double("llm_trace.cost_usd", cost);
        }
        if let Some(payload) = &t.payload {
            a.string("llm_trace.payload", payload);
        }
        for (key, value) in t.metadata.iter() {
            a.json(&format!("llm_trace.metadata.{key}"), value);
        }
        if self.export_content {
            if !t.input_preview.is_empty() {
                let messages = serde_json::json!([{
                    "role": "user",
                    "parts": [{"type": "text", "content": t.input_preview}],
                }]);
                a.string("gen_ai.input.messages", &messages.to_string());
            }
            if !t.output_preview.is_empty() {
                let messages = serde_json::json!([{
                    "role": "assistant",
                    "parts": [{"type": "text", "content": t.output_preview}],
                    "finish_reason": t.finish_reason.as_str(),
                }]);
                a.string("gen_ai.output.messages", &messages.to_string());
            }
        }
    }
}

/// Writes `Span.attributes` entries.
struct Attributes<'w>(&'w mut Writer);

impl Attributes<'_> {
    fn string(&mut self, key: &str, value: &str) {
        attribute(self.0, SPAN_ATTRIBUTES, key, |w| w.string(ANY_STRING, value));
    }

    fn int(&mut self, key: &str, value: i64) {
        attribute(self.0, SPAN_ATTRIBUTES, key, |w| w.int64(ANY_INT, value));
    }

    fn double(&mut self, key: &str, value: f64) {
        attribute(self.0, SPAN_ATTRIBUTES, key, |w| w.double(ANY_DOUBLE, value));
    }

    fn bool(&mut self, key: &str, value: bool) {
        attribute(self.0, SPAN_ATTRIBUTES, key, |w| w.bool(ANY_BOOL, value));
    }

    fn strings<'a>(&mut self, key: &str, values: impl IntoIterator<Item = &'a str>) {
        attribute(self.0, SPAN_ATTRIBUTES, key, |w| {
            w.message(ANY_ARRAY, |w| {
                for value in values {
                    w.message(ARRAY_VALUES, |w| w.string(ANY_STRING, value));
                }
            });
        });
    }

    /// A metadata value: JSON scalars keep their type, arrays and objects become JSON text.
    fn json(&mut self, key: &str, value: &Json) {
        match value {
            Json::Null => {}
            Json::Bool(b) => self.bool(key, *b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => self.int(key, i),
                None => self.double(key, n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => self.string(key, s),
            Json::Array(_) | Json::Object(_) => self.string(key, &value.to_string()),
        }
    }
}

/// A `KeyValue` in field `field` of the message being written, whose `AnyValue` `value` writes.
fn attribute(w: &mut Writer, field: u32, key: &str, value: impl FnOnce(&mut Writer)) {
    w.message(field, |w| {
        w.string(KEY_VALUE_KEY, key);
        w.message(KEY_VALUE_VALUE, value);
    });
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `0.3f32` as `0.3f64` rather than `0.30000001192092896`: the shortest decimal that reads back
/// as the same `f32`, which is what the caller wrote.
fn f32_as_decimal_f64(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_keep_the_decimal_the_caller_wrote() {
        assert_eq!(f32_as_decimal_f64(0.3), 0.3);
        assert_eq!(f32_as_decimal_f64(1.0), 1.0);
        assert_eq!(f32_as_decimal_f64(0.7), 0.7);
    }

    #[test]
    fn a_request_is_one_resource_with_one_scope() {
        use super::super::proto::{Reader, Value};
        let encoder = Encoder::new("svc", &[], false);
        let body = encoder.request(&[Box::new(LlmTrace::example()), Box::new(LlmTrace::example())]);
        let top: Vec<_> = Reader::new(&body).collect();
        let [(1, Value::Len(resource_spans))] = top[..] else { panic!("{top:?}") };
        let fields: Vec<u32> = Reader::new(resource_spans).map(|(f, _)| f).collect();
        assert_eq!(fields, [1, 2]);
        let scope_spans = Reader::new(resource_spans)
            .find_map(|(f, v)| match (f, v) {
                (2, Value::Len(b)) => Some(b),
                _ => None,
            })
            .unwrap();
        let fields: Vec<u32> = Reader::new(scope_spans).map(|(f, _)| f).collect();
        assert_eq!(fields, [1, 2, 2]);
    }

    /// The `(key, string value)` attributes of an encoded `Resource`.
    fn resource_attributes(resource: &[u8]) -> Vec<(String, String)> {
        use super::super::proto::{Reader, Value};
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        Reader::new(resource)
            .filter_map(|(f, v)| match (f, v) {
                (1, Value::Len(kv)) => Some(kv),
                _ => None,
            })
            .map(|kv| {
                let mut key = String::new();
                let mut value = String::new();
                for (f, v) in Reader::new(kv) {
                    match (f, v) {
                        (1, Value::Len(k)) => key = text(k),
                        (2, Value::Len(any)) => {
                            for (f, v) in Reader::new(any) {
                                if let (1, Value::Len(s)) = (f, v) {
                                    value = text(s);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                (key, value)
            })
            .collect()
    }

    #[test]
    fn the_users_resource_attributes_follow_ours_without_replacing_them() {
        let extra = [
            ("deployment.environment".to_owned(), "staging".to_owned()),
            ("service.name".to_owned(), "not-this-one".to_owned()),
            ("telemetry.sdk.language".to_owned(), "cobol".to_owned()),
            ("service.version".to_owned(), "1.4.2".to_owned()),
            ("deployment.environment".to_owned(), "second".to_owned()),
        ];
        let encoder = Encoder::new("svc", &extra, false);
        let attributes = resource_attributes(&encoder.resource);
        let pairs: Vec<(&str, &str)> =
            attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("service.name", "svc"),
                ("telemetry.sdk.name", SCOPE),
                ("telemetry.sdk.language", "rust"),
                ("telemetry.sdk.version", VERSION),
                ("deployment.environment", "staging"),
                ("service.version", "1.4.2"),
            ]
        );
    }
}
