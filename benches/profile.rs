//! Instruction counts per call under callgrind: stable on a noisy machine where timings are
//! not. Does nothing unless `LLM_TRACE_PROFILE` names a workload; `scripts/profile.sh` runs
//! every workload under `valgrind --tool=callgrind` and prints instructions per call on the
//! caller's thread and on the writer's.
//!
//! Workloads: `manual`, `annotated_manual`, `bare`, `traced_client`,
//! `traced_client_payloads`, `tracing_json`, `otel`, `otel_openai`, `macro_sync_plain`,
//! `macro_sync_annotated`, `macro_sync_floor`, `macro_async_plain`, `macro_async_annotated`,
//! `macro_async_floor`;
//! and, run only when named (a call over HTTP takes about 13 ms under callgrind:
//! `N1=500 N2=2500 scripts/profile.sh e2e_untraced e2e_traced`), `e2e_untraced` and
//! `e2e_traced`, async-openai calls to the mock server, untraced and through `TracedClient`.

mod support;

use std::hint::black_box;
use std::time::Duration;

use llm_trace::sink::JsonlSink;
use llm_trace::{Config, FinishReason, Scope, Tracer};
use support::macro_fns::{
    annotated_async, annotated_sync, block_on, floor_async, floor_sync, plain_async, plain_sync,
};

/// The calls counted: everything inside runs on the caller's thread.
#[inline(never)]
fn measured(n: u64, f: &mut dyn FnMut()) {
    for _ in 0..n {
        f();
    }
}

fn main() {
    let Ok(workload) = std::env::var("LLM_TRACE_PROFILE") else { return };
    let n: u64 = std::env::var("LLM_TRACE_PROFILE_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    let tracer = Tracer::builder()
        .sink(JsonlSink::open(dir.path().join("traces.jsonl")).unwrap())
        .build()
        .unwrap();
    let scope = || Scope::new("classify_ticket", "bench", &["support", "classification"]);
    // Recorded calls are drained every 4,096 so that no caller waits for room.
    let chunks = |f: &mut dyn FnMut(), drain: &dyn Fn()| {
        let mut left = n;
        while left > 0 {
            let k = left.min(support::CHUNK);
            measured(k, f);
            drain();
            left -= k;
        }
    };
    let drain = || tracer.flush().unwrap();
    match workload.as_str() {
        "manual" => scope().in_scope(|| chunks(&mut || support::record_manual(&tracer), &drain)),
        "annotated_manual" => chunks(&mut || support::classify_ticket(&tracer), &drain),
        "bare" => chunks(
            &mut || tracer.call("openai", "chat", "gpt-4o-mini").finish(FinishReason::Stop),
            &drain,
        ),
        "traced_client" | "traced_client_payloads" => {
            let tracer = if workload == "traced_client" {
                tracer.clone()
            } else {
                let mut config = Config::default();
                config.dir = dir.path().join("default");
                Tracer::new(config).unwrap()
            };
            let (request, response) = support::openai_values();
            let client = llm_trace::openai::TracedClient::new(async_openai::Client::new())
                .with_tracer(tracer.clone());
            let chat = client.chat();
            let drain = || tracer.flush().unwrap();
            scope().in_scope(|| {
                let mut left = n;
                while left > 0 {
                    let k = left.min(256);
                    measured(k, &mut || chat.__record_without_sending(&request, &response));
                    drain();
                    left -= k;
                }
            });
            let _ = tracer.shutdown(Duration::from_secs(60));
        }
        "e2e_untraced" | "e2e_traced" => {
            // Whole calls over HTTP to the mock server, on a current-thread runtime: the
            // recording work in situ, between the transport's code and data.
            let server = llm_trace_mock::MockServer::start().unwrap();
            let plain = support::mock_client(&server);
            let traced =
                llm_trace::openai::TracedClient::new(plain.clone()).with_tracer(tracer.clone());
            let (request, _) = support::openai_values();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut made = 0u64;
            let mut after_each = || {
                made += 1;
                if made % 1000 == 0 {
                    server.clear_requests(); // the mock server keeps what it was sent
                }
            };
            let traced_calls = workload == "e2e_traced";
            measured(n, &mut || {
                if traced_calls {
                    rt.block_on(traced.chat().create(request.clone())).unwrap();
                } else {
                    rt.block_on(plain.chat().create(request.clone())).unwrap();
                }
                after_each();
            });
        }
        "tracing_json" => {
            let peer = support::TracingPeer::new(dir.path());
            peer.scoped(|| chunks(&mut || peer.record(), &|| peer.drain()));
        }
        "otel" => {
            let peer = support::OtelPeer::new(dir.path());
            chunks(&mut || peer.record(), &|| peer.drain());
            peer.provider.shutdown().unwrap();
        }
        "otel_openai" => {
            let peer = support::OtelPeer::new(dir.path());
            let (request, response) = support::openai_values();
            chunks(&mut || peer.record_openai(&request, &response), &|| peer.drain());
            peer.provider.shutdown().unwrap();
        }
        "macro_sync_plain" => measured(n, &mut || {
            black_box(plain_sync(black_box(7)));
        }),
        "macro_sync_annotated" => measured(n, &mut || {
            black_box(annotated_sync(black_box(7)));
        }),
        "macro_sync_floor" => measured(n, &mut || {
            black_box(floor_sync(black_box(7)));
        }),
        "macro_async_plain" => measured(n, &mut || {
            black_box(block_on(async { plain_async(black_box(7)).await }));
        }),
        "macro_async_floor" => measured(n, &mut || {
            black_box(block_on(async { floor_async(black_box(7)).await }));
        }),
        "macro_async_annotated" => measured(n, &mut || {
            black_box(block_on(async { annotated_async(black_box(7)).await }));
        }),
        other => panic!("unknown workload {other}"),
    }
    let _ = tracer.shutdown(Duration::from_secs(60));
}
