//! Caller-side cost of recording one finished LLM call.
use criterion::{Criterion, criterion_group, criterion_main};
use llm_trace::sink::JsonlSink;
use llm_trace::{FinishReason, Scope, Tracer, Usage};

fn manual_api(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let tracer = Tracer::builder()
        .sink(JsonlSink::open(dir.path().join("traces.jsonl")).unwrap())
        .build()
        .unwrap();
    let prompt =
        "My invoice for March shows a double charge of 49.90 EUR, can you check it?".repeat(4);
    let answer = "I checked your invoice and you were charged twice; the refund is on its way.";
    let mut group = c.benchmark_group("record");
    group.bench_function("manual_api_in_scope", |b| {
        Scope::new("classify_ticket", "bench", &["support", "classification"]).in_scope(|| {
            b.iter(|| {
                let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
                call.temperature(0.2).max_tokens(256).input(&prompt);
                call.response_model("gpt-4o-mini-2024-07-18");
                call.usage(Usage::new(1200, 80).cached(1024));
                call.output(answer);
                call.finish(FinishReason::Stop);
            })
        })
    });
    group.bench_function("bare_call_finish", |b| {
        b.iter(|| tracer.call("openai", "chat", "gpt-4o-mini").finish(FinishReason::Stop))
    });
    group.bench_function("with_usage_no_previews", |b| {
        b.iter(|| {
            let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
            call.usage(Usage::new(1200, 80).cached(1024));
            call.finish(FinishReason::Stop)
        })
    });
    group.bench_function("previews_only", |b| {
        b.iter(|| {
            let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
            call.input(&prompt).output(answer);
            call.finish(FinishReason::Stop)
        })
    });
    group.finish();
    let mut parts = c.benchmark_group("parts");
    let redaction = llm_trace::redact::Redaction::default();
    parts.bench_function("redact_300_chars", |b| {
        b.iter(|| redaction.apply(std::hint::black_box(&prompt)).len())
    });
    parts.bench_function("preview_300_chars", |b| {
        b.iter(|| llm_trace::trace::preview(std::hint::black_box(&prompt), 200).len())
    });
    parts.bench_function("trace_id", |b| b.iter(llm_trace::TraceId::new));
    parts.bench_function("summary_add", |b| {
        let mut s = llm_trace::summary::Summarizer::default();
        let t = llm_trace::LlmTrace::example();
        b.iter(|| s.add(&t))
    });
    parts.bench_function("cost_lookup", |b| {
        let t = tracer.prices();
        let tokens = llm_trace::pricing::TokenCounts {
            prompt_tokens: 1200,
            completion_tokens: 80,
            cached_tokens: 1024,
            cache_write_tokens: 0,
        };
        b.iter(|| t.cost(std::hint::black_box("gpt-4o-mini-2024-07-18"), &tokens))
    });
    parts.finish();
    tracer.flush().unwrap();
}

criterion_group!(benches, manual_api);
criterion_main!(benches);
