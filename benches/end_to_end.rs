//! End to end over HTTP: async-openai against the in-process mock server, traced
//! (`TracedClient`, JSON-lines log) vs untraced (issue 7: ratio ≤ 1.02).
//!
//! Besides criterion's two measurements, `interleaved` alternates traced and untraced calls in
//! one loop (so both see the same machine load) and prints the median of each and their
//! ratio.
//!
//! Run: `cargo bench --bench end_to_end`.

mod support;

use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use criterion::{Criterion, criterion_group, criterion_main};
use llm_trace::openai::TracedClient;
use llm_trace::sink::JsonlSink;
use llm_trace::{Scope, Tracer};
use llm_trace_mock::MockServer;

fn request() -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .temperature(0.2)
        .max_completion_tokens(256u32)
        .messages([ChatCompletionRequestUserMessage::from(support::PROMPT).into()])
        .build()
        .unwrap()
}

fn end_to_end(c: &mut Criterion) {
    let server = MockServer::start().unwrap();
    let config = OpenAIConfig::new().with_api_base(server.base_url()).with_api_key("sk-test");
    let plain = Client::with_config(config);
    let dir = tempfile::tempdir().unwrap();
    let tracer = Tracer::builder()
        .sink(JsonlSink::open(dir.path().join("traces.jsonl")).unwrap())
        .build()
        .unwrap();
    let traced = TracedClient::new(plain.clone()).with_tracer(tracer.clone());
    // What `llm_trace::init(Config::default())` gives: the log and the local payload store.
    let mut default_config = llm_trace::Config::default();
    default_config.dir = dir.path().join("default");
    let default_tracer = Tracer::new(default_config).unwrap();
    let traced_default = TracedClient::new(plain.clone()).with_tracer(default_tracer.clone());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let req = request();
    let scope = || Scope::new("classify_ticket", "bench", &["support"]);

    let untraced_call = || {
        rt.block_on(scope().instrument(async {
            plain.chat().create(req.clone()).await.unwrap();
        }))
    };
    let traced_call = || {
        rt.block_on(scope().instrument(async {
            traced.chat().create(req.clone()).await.unwrap();
        }))
    };
    let traced_default_call = || {
        rt.block_on(scope().instrument(async {
            traced_default.chat().create(req.clone()).await.unwrap();
        }))
    };
    // Warm up the connection pool.
    for _ in 0..50 {
        untraced_call();
        traced_call();
        traced_default_call();
    }

    let mut group = c.benchmark_group("end_to_end");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("untraced", |b| {
        b.iter(untraced_call);
        server.clear_requests();
    });
    group.bench_function("traced", |b| {
        b.iter(traced_call);
        server.clear_requests();
    });
    group.bench_function("traced_with_payloads", |b| {
        b.iter(traced_default_call);
        server.clear_requests();
    });
    group.finish();

    // Alternate the three, 30 rounds of 200 calls each (the order rotating), and compare the
    // medians of the rounds' means.
    let calls: [&dyn Fn(); 3] = [&untraced_call, &traced_call, &traced_default_call];
    let mut rounds = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..30 {
        for k in 0..3 {
            let which = (round + k) % 3;
            let start = Instant::now();
            for _ in 0..200 {
                calls[which]();
            }
            rounds[which].push(start.elapsed().as_secs_f64() / 200.0);
        }
        server.clear_requests();
    }
    let [p, t, d] = rounds.map(|mut r| median(&mut r));
    eprintln!(
        "end_to_end/interleaved: untraced {:.1} µs, traced {:.1} µs (ratio {:.4}), \
         traced with payloads {:.1} µs (ratio {:.4})",
        p * 1e6,
        t * 1e6,
        t / p,
        d * 1e6,
        d / p
    );
    for tracer in [&tracer, &default_tracer] {
        tracer.flush().unwrap();
        let stats = tracer.stats();
        assert_eq!(stats.dropped + stats.failed, 0, "{stats:?}");
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
