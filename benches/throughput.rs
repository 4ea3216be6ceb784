//! Background sink throughput: traces written per second to the JSON-lines file, against the
//! peers' lines per second (issue 7).
//!
//! Each sample records 50,000 finished calls from one thread and waits until the last one is
//! in the file: with the caller faster than the writer, the time is the writer's. 50,000 is
//! below every queue's capacity, so nothing is dropped (checked). `sink_only` is the JSON-lines
//! sink alone on this thread (serialization and `write`), the ceiling of the writer, and
//! `sink_only_dev_null` the same writing to `/dev/null` (serialization alone). Logs are
//! emptied between samples (untimed; see `support::truncate`).
//!
//! Run: `cargo bench --bench throughput`.

mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use llm_trace::sink::{JsonlSink, Sink};
use llm_trace::{Overflow, Scope, Tracer};
use support::{ANSWER, OtelPeer, PROMPT, TracingPeer, record_manual};

const N: u64 = 50_000;

/// Times `iters` runs of `work`; `reset` (untimed) runs after each, to empty the log.
fn samples(iters: u64, mut work: impl FnMut(), mut reset: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        work();
        total += start.elapsed();
        reset();
    }
    total
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("writer");
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));

    let dir = tempfile::tempdir().unwrap();
    let tracer = Tracer::builder()
        .sink(JsonlSink::open(dir.path().join("traces.jsonl")).unwrap())
        .build()
        .unwrap();
    group.bench_function("llm_trace_jsonl", |b| {
        Scope::new("classify_ticket", "bench", &["support", "classification"]).in_scope(|| {
            b.iter_custom(|iters| {
                samples(
                    iters,
                    || {
                        for _ in 0..N {
                            record_manual(&tracer);
                        }
                        tracer.flush().unwrap();
                    },
                    || support::truncate(&dir.path().join("traces.jsonl")),
                )
            })
        })
    });
    let stats = tracer.stats();
    assert_eq!(stats.dropped + stats.failed, 0, "{stats:?}");
    assert!(matches!(llm_trace::Config::default().overflow, Overflow::Wait));

    for (name, path) in [
        ("llm_trace_sink_only", dir.path().join("sink-only.jsonl")),
        ("llm_trace_sink_only_dev_null", std::path::PathBuf::from("/dev/null")),
    ] {
        group.bench_function(name, |b| {
            let mut sink = JsonlSink::open(&path).unwrap();
            let batch: Vec<_> = (0..1024)
                .map(|i| {
                    let mut t = llm_trace::LlmTrace::example();
                    t.input_preview = PROMPT[..200].to_owned();
                    t.output_preview = ANSWER[..200].to_owned();
                    t.prompt_tokens = i;
                    Box::new(t)
                })
                .collect();
            b.iter_custom(|iters| {
                samples(
                    iters,
                    || {
                        let mut left = N as usize;
                        while left > 0 {
                            let n = left.min(batch.len());
                            sink.write(&batch[..n]).unwrap();
                            left -= n;
                        }
                    },
                    || support::truncate(&path),
                )
            })
        });
    }

    let peer_dir = tempfile::tempdir().unwrap();
    let tracing_peer = TracingPeer::new(peer_dir.path());
    group.bench_function("tracing_json", |b| {
        tracing_peer.scoped(|| {
            b.iter_custom(|iters| {
                samples(
                    iters,
                    || {
                        for _ in 0..N {
                            tracing_peer.record();
                        }
                        tracing_peer.wait();
                    },
                    || tracing_peer.truncate(),
                )
            })
        })
    });
    let otel_peer = OtelPeer::new(peer_dir.path());
    group.bench_function("otel_sdk", |b| {
        b.iter_custom(|iters| {
            samples(
                iters,
                || {
                    for _ in 0..N {
                        otel_peer.record();
                    }
                    otel_peer.wait();
                },
                || otel_peer.truncate(),
            )
        })
    });
    group.finish();
    let _ = tracer.shutdown(Duration::from_secs(30));
    otel_peer.provider.shutdown().unwrap();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
