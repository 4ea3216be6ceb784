//! Caller-side cost of recording one finished LLM call, against the peers doing the same work
//! in the same binary (issue 7).
//!
//! Every caller-side figure is timed in chunks of 4,096 calls with the background writer
//! drained (untimed) between chunks, so the caller never waits for room in a queue: the
//! figure is the caller's own cost with the writer thread running, not the writer's
//! throughput (see `benches/throughput.rs` for that).
//!
//! Run: `cargo bench --bench recording` (add `-- caller/` for the main comparison only).

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use llm_trace::sink::JsonlSink;
use llm_trace::{Config, FinishReason, Scope, Tracer, Usage};
use support::{ANSWER, OtelPeer, PROMPT, TracingPeer, chunked, record_manual};

fn jsonl_tracer(dir: &std::path::Path) -> Tracer {
    Tracer::builder().sink(JsonlSink::open(dir.join("traces.jsonl")).unwrap()).build().unwrap()
}

/// The tracer `llm_trace::init(Config::default())` builds: the JSON-lines log and the local
/// payload store.
fn default_tracer(dir: &std::path::Path) -> Tracer {
    let mut config = Config::default();
    config.dir = dir.to_path_buf();
    Tracer::new(config).unwrap()
}

fn caller(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let tracer = jsonl_tracer(dir.path());
    let drain = || support::drain(&tracer, dir.path());
    let mut group = c.benchmark_group("caller");

    // The headline: a finished call with previews, inside an annotated function's scope.
    group.bench_function("llm_trace_manual", |b| {
        Scope::new("classify_ticket", "bench", &["support", "classification"])
            .in_scope(|| b.iter_custom(|iters| chunked(iters, || record_manual(&tracer), drain)))
    });

    // The same call made by an annotated function entered once per call.
    group.bench_function("llm_trace_annotated_fn", |b| {
        b.iter_custom(|iters| chunked(iters, || support::classify_ticket(&tracer), drain))
    });

    // The recorder work TracedClient adds to a chat call, with a prebuilt request and response
    // (no HTTP): without and with the payload store the default configuration has.
    let (request, response) = support::openai_values();
    let traced = llm_trace::openai::TracedClient::new(async_openai::Client::new())
        .with_tracer(tracer.clone());
    group.bench_function("llm_trace_traced_client", |b| {
        Scope::new("classify_ticket", "bench", &["support", "classification"]).in_scope(|| {
            let chat = traced.chat();
            b.iter_custom(|iters| {
                chunked(iters, || chat.__record_without_sending(&request, &response), drain)
            })
        })
    });
    let payload_dir = tempfile::tempdir().unwrap();
    let with_payloads = default_tracer(payload_dir.path());
    let traced_payloads = llm_trace::openai::TracedClient::new(async_openai::Client::new())
        .with_tracer(with_payloads.clone());
    group.bench_function("llm_trace_traced_client_with_payloads", |b| {
        Scope::new("classify_ticket", "bench", &["support", "classification"]).in_scope(|| {
            let chat = traced_payloads.chat();
            b.iter_custom(|iters| {
                // Payloads are written one file each: drain after every 256 calls, so the
                // payload queue (4,096) never overflows and nothing is dropped.
                let mut total = std::time::Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(256);
                    total +=
                        chunked(n, || chat.__record_without_sending(&request, &response), || ());
                    support::drain(&with_payloads, payload_dir.path());
                    left -= n;
                }
                total
            })
        })
    });

    let peer_dir = tempfile::tempdir().unwrap();
    let tracing_peer = TracingPeer::new(peer_dir.path());
    group.bench_function("tracing_json", |b| {
        tracing_peer.scoped(|| {
            b.iter_custom(|iters| chunked(iters, || tracing_peer.record(), || tracing_peer.drain()))
        })
    });
    let otel_peer = OtelPeer::new(peer_dir.path());
    group.bench_function("otel_sdk", |b| {
        b.iter_custom(|iters| chunked(iters, || otel_peer.record(), || otel_peer.drain()))
    });
    // The same span built from the request and response TracedClient records (above).
    group.bench_function("otel_sdk_from_openai_values", |b| {
        b.iter_custom(|iters| {
            chunked(iters, || otel_peer.record_openai(&request, &response), || otel_peer.drain())
        })
    });
    group.finish();

    let stats = tracer.stats();
    assert_eq!(stats.dropped + stats.failed, 0, "{stats:?}");
    let stats = with_payloads.stats();
    assert_eq!(stats.dropped + stats.failed + stats.payloads_dropped, 0, "{stats:?}");
    let _ = tracer.shutdown(std::time::Duration::from_secs(30));
    let _ = with_payloads.shutdown(std::time::Duration::from_secs(30));
    otel_peer.provider.shutdown().unwrap();
}

/// Variants of the manual API, to see what each part of a call costs.
fn variants(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let tracer = jsonl_tracer(dir.path());
    let drain = || support::drain(&tracer, dir.path());
    let mut group = c.benchmark_group("record");
    group.bench_function("bare_call_finish", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || tracer.call("openai", "chat", "gpt-4o-mini").finish(FinishReason::Stop),
                drain,
            )
        })
    });
    group.bench_function("with_usage_no_previews", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
                    call.usage(Usage::new(1200, 80).cached(1024));
                    call.finish(FinishReason::Stop)
                },
                drain,
            )
        })
    });
    group.bench_function("previews_only", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
                    call.input(black_box(PROMPT)).output(black_box(ANSWER));
                    call.finish(FinishReason::Stop)
                },
                drain,
            )
        })
    });
    group.bench_function("manual_outside_any_scope", |b| {
        b.iter_custom(|iters| chunked(iters, || record_manual(&tracer), drain))
    });
    group.bench_function("manual_global_tracer_free_fn", |b| {
        let _default = tracer.set_default();
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    let mut call = llm_trace::call("openai", "chat", "gpt-4o-mini");
                    call.input(black_box(PROMPT)).output(black_box(ANSWER));
                    call.usage(Usage::new(1200, 80));
                    call.finish(FinishReason::Stop)
                },
                drain,
            )
        })
    });
    group.finish();

    let mut parts = c.benchmark_group("parts");
    let redaction = llm_trace::redact::Redaction::default();
    parts.bench_function("redact_300_chars_clean", |b| {
        b.iter(|| redaction.apply(black_box(PROMPT)).len())
    });
    let secret = format!("{} key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234 end", &PROMPT[..250]);
    parts.bench_function("redact_300_chars_with_key", |b| {
        b.iter(|| redaction.apply(black_box(&secret)).len())
    });
    parts.bench_function("preview_300_chars", |b| {
        b.iter(|| llm_trace::trace::preview(black_box(PROMPT), 200).len())
    });
    parts.bench_function("trace_id", |b| b.iter(llm_trace::TraceId::new));
    parts.bench_function("summary_add", |b| {
        let mut s = llm_trace::summary::Summarizer::default();
        let t = llm_trace::LlmTrace::example();
        b.iter(|| s.add(black_box(&t)))
    });
    parts.bench_function("cost_lookup", |b| {
        let t = tracer.prices();
        let tokens = llm_trace::pricing::TokenCounts::new(1200, 80).with_cached(1024);
        b.iter(|| t.cost(black_box("gpt-4o-mini-2024-07-18"), &tokens))
    });
    parts.bench_function("serialize_trace_json", |b| {
        let mut t = llm_trace::LlmTrace::example();
        t.input_preview = PROMPT[..200].to_owned();
        t.output_preview = ANSWER[..200].to_owned();
        let mut buf = Vec::with_capacity(2048);
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&t)).unwrap();
            buf.len()
        })
    });
    parts.finish();
    let stats = tracer.stats();
    assert_eq!(stats.dropped + stats.failed, 0, "{stats:?}");
}

criterion_group!(benches, caller, variants);
criterion_main!(benches);
