//! Users' own `tracing` pipelines see every call as a span with GenAI fields, and the
//! optional sink emits one event per finished trace.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use llm_trace_core::context::Scope;
use llm_trace_core::sink::TracingSink;
use llm_trace_core::{ErrorKind, FinishReason, TraceError, Tracer, Usage};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What the test subscriber saw: spans (name, fields, parent) and events (fields).
#[derive(Default)]
struct Seen {
    spans: Vec<(String, BTreeMap<String, String>, Option<u64>)>,
    events: Vec<(String, BTreeMap<String, String>)>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

thread_local! {
    static CURRENT: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = CURRENT.with(|c| c.borrow().last().copied());
        let mut seen = self.0.lock().unwrap();
        seen.spans.push((attrs.metadata().name().to_owned(), fields, parent));
        Id::from_u64(seen.spans.len() as u64)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut seen = self.0.lock().unwrap();
        let span = &mut seen.spans[id.into_u64() as usize - 1];
        values.record(&mut Fields(&mut span.1));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().events.push((event.metadata().target().to_owned(), fields));
    }
    fn enter(&self, id: &Id) {
        CURRENT.with(|c| c.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, _: &Id) {
        CURRENT.with(|c| c.borrow_mut().pop());
    }
}

#[test]
fn each_call_is_a_span_under_the_callers_span_with_genai_fields() {
    let capture = Capture::default();
    let tracer = Tracer::builder().build().unwrap();
    tracing::subscriber::with_default(capture.clone(), || {
        let outer = tracing::info_span!("handle_request");
        let _entered = outer.enter();
        Scope::new("classify", "app", &[]).with_session("s-1").in_scope(|| {
            let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
            call.temperature(0.5).max_tokens(64).response_model("gpt-4o-mini-2024-07-18");
            call.usage(Usage::new(100, 20).cached(64).reasoning(5));
            call.finish(FinishReason::Stop);
            tracer
                .call("openai", "embeddings", "text-embedding-3-small")
                .fail(TraceError::new(ErrorKind::RateLimit, "slow down").with_status(429));
        });
    });
    let seen = capture.0.lock().unwrap();
    let (name, fields, parent) = &seen.spans[1];
    assert_eq!(name, "chat");
    assert_eq!(*parent, Some(1), "the call's span is a child of the caller's span");
    for (key, value) in [
        ("otel.name", "chat gpt-4o-mini"),
        ("otel.kind", "client"),
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "gpt-4o-mini"),
        ("gen_ai.request.temperature", "0.5"),
        ("gen_ai.request.max_tokens", "64"),
        ("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
        ("gen_ai.response.finish_reasons", "stop"),
        ("gen_ai.usage.input_tokens", "100"),
        ("gen_ai.usage.output_tokens", "20"),
        ("gen_ai.usage.cache_read.input_tokens", "64"),
        ("gen_ai.usage.reasoning.output_tokens", "5"),
        ("gen_ai.conversation.id", "s-1"),
        ("llm_trace.function_name", "classify"),
    ] {
        assert_eq!(fields.get(key).map(String::as_str), Some(value), "{key} in {fields:?}");
    }
    assert!(fields.contains_key("llm_trace.cost_usd"));
    let (name, fields, _) = &seen.spans[2];
    assert_eq!(name, "embeddings");
    assert_eq!(fields.get("error.type").map(String::as_str), Some("rate_limit"));
}

#[test]
fn the_tracing_sink_emits_one_event_per_trace() {
    let capture = Capture::default();
    let dispatch = tracing::Dispatch::new(capture.clone());
    // The sink runs on the writer thread: make the capture the global default for it.
    let _ = tracing::dispatcher::set_global_default(dispatch);
    let tracer = Tracer::builder().sink(TracingSink::new()).build().unwrap();
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.usage(Usage::new(10, 2));
    call.finish(FinishReason::Stop);
    tracer.flush().unwrap();
    let seen = capture.0.lock().unwrap();
    let events: Vec<_> =
        seen.events.iter().filter(|(target, _)| target == "llm_trace::trace").collect();
    assert_eq!(events.len(), 1);
    let fields = &events[0].1;
    assert_eq!(fields.get("gen_ai.request.model").map(String::as_str), Some("gpt-4o-mini"));
    assert_eq!(fields.get("gen_ai.usage.input_tokens").map(String::as_str), Some("10"));
    assert!(fields.get("message").unwrap().contains("chat gpt-4o-mini stop"));
}
