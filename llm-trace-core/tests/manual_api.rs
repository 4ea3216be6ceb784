//! The manual API records exactly what it is told, exactly once.

use std::time::Duration;

use llm_trace_core::context::Scope;
use llm_trace_core::pricing::{Price, PriceTable};
use llm_trace_core::sink::MemorySink;
use llm_trace_core::{
    ErrorKind, FinishReason, LlmTrace, TraceError, Tracer, Usage, UsageSource, call,
};

fn tracer() -> (Tracer, MemorySink) {
    let memory = MemorySink::new();
    let mut prices = PriceTable::empty();
    prices.insert("test-model", Price::new(2.0, 8.0).with_cached_input(0.5));
    let tracer = Tracer::builder().sink(memory.clone()).prices(prices).build().unwrap();
    (tracer, memory)
}

fn only(tracer: &Tracer, memory: &MemorySink) -> LlmTrace {
    tracer.flush().unwrap();
    let mut traces = memory.take();
    assert_eq!(traces.len(), 1, "exactly one trace per call");
    traces.remove(0)
}

#[test]
fn a_finished_call_carries_everything_it_was_given() {
    let (tracer, memory) = tracer();
    let mut rec = tracer.call("openai", "chat", "test-model");
    rec.temperature(0.3)
        .max_tokens(256)
        .stream(true)
        .tools(["lookup_invoice", "refund"])
        .tag("billing")
        .metadata("customer", "acme")
        .input("Why was I charged twice?")
        .response_model("test-model-2026-01-01")
        .first_token()
        .append_output("You were ")
        .append_output("charged once.")
        .usage(Usage::new(1000, 100).cached(600).reasoning(20));
    std::thread::sleep(Duration::from_millis(5));
    rec.finish(FinishReason::Stop);

    let t = only(&tracer, &memory);
    assert_eq!(t.schema, 1);
    assert_eq!(&*t.session_id, &**tracer.session_id());
    assert_eq!(
        (t.provider.as_ref(), t.operation.as_ref(), t.model.as_ref()),
        ("openai", "chat", "test-model")
    );
    assert_eq!(t.response_model.as_deref(), Some("test-model-2026-01-01"));
    assert_eq!((t.temperature, t.max_tokens, t.stream), (Some(0.3), Some(256), true));
    assert_eq!(t.tools, ["lookup_invoice", "refund"]);
    assert_eq!(t.tags.as_ref(), ["billing"]);
    assert_eq!(t.metadata.get("customer"), Some(&serde_json::json!("acme")));
    assert_eq!(t.input_preview, "Why was I charged twice?");
    assert_eq!(t.output_preview, "You were charged once.");
    assert_eq!((t.prompt_tokens, t.completion_tokens, t.total_tokens), (1000, 100, 1100));
    assert_eq!((t.cached_tokens, t.reasoning_tokens), (Some(600), Some(20)));
    assert_eq!(t.usage_source, UsageSource::Provider);
    assert_eq!(t.finish_reason, FinishReason::Stop);
    assert!(t.latency_ms >= 5.0, "{}", t.latency_ms);
    let ttft = t.ttft_ms.unwrap();
    assert!(ttft <= t.latency_ms && ttft < 5.0);
    // The response model is unpriced, so the requested one is used:
    // 400 uncached at $2/M + 600 cached at $0.5/M + 100 out at $8/M.
    let expected = (400.0 * 2.0 + 600.0 * 0.5 + 100.0 * 8.0) / 1e6;
    assert!((t.cost_usd.unwrap() - expected).abs() < 1e-12, "{:?}", t.cost_usd);
    assert_eq!(t.function_name, "unknown");
    assert!(t.call_path.is_empty());
    assert!(t.error.is_none());
}

#[test]
fn a_failed_call_records_the_error() {
    let (tracer, memory) = tracer();
    let rec = tracer.call("openai", "chat", "test-model");
    rec.fail(TraceError::new(ErrorKind::RateLimit, "Rate limit reached").with_status(429));
    let t = only(&tracer, &memory);
    assert_eq!(t.finish_reason, FinishReason::Error);
    let error = t.error.unwrap();
    assert_eq!((error.kind, error.status), (ErrorKind::RateLimit, Some(429)));
    assert_eq!(t.usage_source, UsageSource::None);
}

#[test]
fn dropping_an_unfinished_call_records_it_once_as_cancelled() {
    let (tracer, memory) = tracer();
    {
        let mut rec = tracer.call("openai", "chat", "test-model");
        rec.stream(true).first_token().append_output("partial ans");
    }
    let t = only(&tracer, &memory);
    assert_eq!(t.finish_reason, FinishReason::Cancelled);
    assert_eq!(t.output_preview, "partial ans");
}

#[test]
fn an_unpriced_model_has_no_cost_never_a_guess() {
    let (tracer, memory) = tracer();
    let mut rec = tracer.call("openai", "chat", "test-model-mini");
    rec.usage(Usage::new(10, 10));
    rec.finish(FinishReason::Stop);
    let t = only(&tracer, &memory);
    assert_eq!(t.cost_usd, None);
    assert_eq!(tracer.summary().total.unpriced, 1);
}

#[test]
fn previews_are_cut_to_the_configured_length() {
    let memory = MemorySink::new();
    let mut config = llm_trace_core::Config::default();
    config.preview_chars = 10;
    let tracer = Tracer::builder().config(config).sink(memory.clone()).build().unwrap();
    let mut rec = tracer.call("openai", "chat", "m");
    rec.input(&"é".repeat(1000));
    for _ in 0..100 {
        rec.append_output("日本語");
    }
    rec.finish(FinishReason::Length);
    let t = only(&tracer, &memory);
    assert_eq!(t.input_preview, format!("{}…", "é".repeat(10)));
    assert_eq!(t.output_preview, format!("{}…", "日本語日本語日本語日"));
}

#[test]
fn the_enclosing_scope_names_the_call() {
    let (tracer, memory) = tracer();
    let _default = tracer.set_default();
    Scope::new("handle_ticket", "app", &["support"]).in_scope(|| {
        Scope::new("classify", "app::triage", &["classification"]).with_session("s-42").in_scope(
            || {
                let mut rec = call("openai", "chat", "test-model");
                rec.tag("support").tag("extra");
                rec.finish(FinishReason::Stop);
            },
        )
    });
    let t = only(&tracer, &memory);
    assert_eq!(t.function_name, "classify");
    assert_eq!(t.module_path, "app::triage");
    assert_eq!(t.call_path.as_ref(), ["handle_ticket", "classify"]);
    assert_eq!(t.tags.as_ref(), ["support", "classification", "extra"]);
    assert_eq!(&*t.session_id, "s-42");
}

#[test]
fn the_summary_breaks_calls_down_by_function_model_and_tag() {
    let (tracer, _memory) = tracer();
    let _default = tracer.set_default();
    for (function, model, tags, latency) in [
        ("a", "test-model", &["x"][..], 10),
        ("a", "test-model", &["x", "y"][..], 20),
        ("b", "other", &["y"][..], 30),
    ] {
        let tags: &'static [&'static str] = Box::leak(tags.to_vec().into_boxed_slice());
        Scope::new(function, "m", tags).in_scope(|| {
            let mut rec = call("openai", "chat", model);
            rec.usage(Usage::new(100, 10));
            std::thread::sleep(Duration::from_millis(latency));
            rec.finish(FinishReason::Stop);
        });
    }
    let s = tracer.summary();
    assert_eq!(s.total.calls, 3);
    assert_eq!(s.total.unpriced, 1);
    let calls = |groups: &[llm_trace_core::summary::GroupStats], key: &str| {
        groups.iter().find(|g| g.key == key).map(|g| g.calls)
    };
    assert_eq!(calls(&s.by_function, "a"), Some(2));
    assert_eq!(calls(&s.by_function, "b"), Some(1));
    assert_eq!(calls(&s.by_model, "test-model"), Some(2));
    assert_eq!(calls(&s.by_tag, "x"), Some(2));
    assert_eq!(calls(&s.by_tag, "y"), Some(2));
    assert!(s.total.latency_ms.p50.unwrap() >= 20.0);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["total"]["calls"], 3);
    let table = s.to_string();
    assert!(table.contains("function") && table.contains("test-model"), "{table}");
}

#[test]
fn secrets_are_redacted_from_previews_and_error_messages() {
    let (tracer, memory) = tracer();
    let key = "sk-proj-PLANTEDsecretKEY1234567890abcdef";
    let mut rec = tracer.call("openai", "chat", "test-model");
    rec.input(&format!("my key is {key}, card 4111 1111 1111 1111"));
    // A key split across stream chunks is still caught.
    rec.append_output("echo sk-proj-PLANTED").append_output("secretKEY1234567890abcdef done");
    rec.fail(TraceError::new(ErrorKind::Auth, format!("Incorrect API key provided: {key}")));
    let t = only(&tracer, &memory);
    let json = serde_json::to_string(&t).unwrap();
    assert!(!json.contains("PLANTED"), "{json}");
    assert!(!json.contains("4111"), "{json}");
    assert_eq!(t.input_preview, "my key is [REDACTED:api_key], card [REDACTED:card]");
    assert_eq!(t.output_preview, "echo [REDACTED:api_key] done");
    assert_eq!(t.error.unwrap().message, "Incorrect API key provided: [REDACTED:api_key]");
}

#[test]
fn a_secret_across_the_preview_cut_is_still_redacted() {
    let memory = MemorySink::new();
    let mut config = llm_trace_core::Config::default();
    config.preview_chars = 20;
    let tracer = Tracer::builder().config(config).sink(memory.clone()).build().unwrap();
    let mut rec = tracer.call("openai", "chat", "m");
    rec.input("0123456789 sk-abcdefghijklmnopqrstuvwxyz0123456789 tail");
    rec.finish(FinishReason::Stop);
    let t = only(&tracer, &memory);
    assert!(!t.input_preview.contains("sk-abc"), "{}", t.input_preview);
    assert_eq!(t.input_preview, "0123456789 [REDACTED…");
}

#[test]
fn a_long_key_starting_just_before_the_cut_leaves_no_fragment() {
    // The recorder keeps a little more than the preview; the writer redacts, then cuts.
    let (tracer, memory) = tracer();
    let key = format!("sk-proj-{}", "Ab1Cd2Ef3Gh4".repeat(14)); // 176 characters
    let prefix = "x".repeat(190);
    let mut rec = tracer.call("openai", "chat", "test-model");
    rec.input(&format!("{prefix} {key} and more text after it"));
    rec.output(&format!("{}{key}", "y".repeat(199)));
    rec.finish(FinishReason::Stop);
    let t = only(&tracer, &memory);
    for preview in [&t.input_preview, &t.output_preview] {
        assert!(!preview.contains("sk-"), "{preview}");
        assert!(!preview.contains("Ab1Cd2"), "{preview}");
        assert!(preview.ends_with('…'), "{preview}");
        assert_eq!(preview.chars().count(), 201, "200 characters and the ellipsis: {preview}");
    }
    assert!(t.input_preview.starts_with(&format!("{prefix} [REDACTED")), "{}", t.input_preview);
}

/// Keeps a copy of every trace written and the address of the box it came in.
#[derive(Clone, Default)]
struct BoxWatcher(std::sync::Arc<std::sync::Mutex<Vec<(usize, LlmTrace)>>>);

impl llm_trace_core::sink::Sink for BoxWatcher {
    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), llm_trace_core::sink::SinkError> {
        let mut seen = self.0.lock().unwrap();
        seen.extend(batch.iter().map(|b| (&**b as *const LlmTrace as usize, LlmTrace::clone(b))));
        Ok(())
    }
}

#[test]
fn a_recycled_trace_carries_nothing_of_the_call_before_it() {
    let watcher = BoxWatcher::default();
    let tracer = Tracer::builder().sink(watcher.clone()).build().unwrap();
    // Calls with everything set, written, and their boxes sent back to this thread...
    for _ in 0..256 {
        let mut rec = tracer.call("openai", "chat", "test-model");
        rec.temperature(0.3)
            .max_tokens(256)
            .stream(true)
            .tools(["lookup_invoice"])
            .metadata("customer", "acme")
            .input("Why was I charged twice?")
            .response_model("test-model-2026-01-01")
            .first_token()
            .append_output("You were charged once.")
            .usage(Usage::new(1000, 100).cached(600).reasoning(20));
        rec.fail(TraceError::new(ErrorKind::RateLimit, "slow down"));
    }
    tracer.flush().unwrap();
    let full: std::collections::HashSet<usize> =
        std::mem::take(&mut *watcher.0.lock().unwrap()).into_iter().map(|(at, _)| at).collect();
    // ...then bare calls, which fill those boxes again.
    for _ in 0..256 {
        tracer.call("openai", "chat", "other-model").finish(FinishReason::Stop);
    }
    tracer.flush().unwrap();
    let bare = std::mem::take(&mut *watcher.0.lock().unwrap());
    let reused = bare.iter().filter(|(at, _)| full.contains(at)).count();
    assert!(reused >= 64, "the writer's boxes came back to this thread: {reused} reused");
    for (_, t) in &bare {
        assert_eq!(&*t.model, "other-model");
        assert_eq!((t.temperature, t.max_tokens, t.stream), (None, None, false));
        assert!(t.tools.is_empty() && t.metadata.is_empty(), "{t:?}");
        assert!(t.input_preview.is_empty() && t.output_preview.is_empty(), "{t:?}");
        assert_eq!((t.response_model.as_deref(), t.ttft_ms, t.error.as_ref()), (None, None, None));
        assert_eq!((t.prompt_tokens, t.completion_tokens, t.cached_tokens), (0, 0, None));
        assert_eq!((t.usage_source, &t.finish_reason), (UsageSource::None, &FinishReason::Stop));
    }
}
