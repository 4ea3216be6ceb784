//! End to end over HTTP: async-openai against the in-process mock server, traced
//! (`TracedClient`, JSON-lines log) vs untraced (issue 7: ratio ≤ 1.02).
//!
//! Besides criterion's measurements, `interleaved` alternates untraced calls, traced calls,
//! traced calls whose traces are all sampled out (the caller's recording work without the
//! writer's) and traced calls with the default payload store in 150 short rounds (so all see
//! the same machine load) and prints the median per-call time of each and the median (and
//! quartiles) of the per-round ratios to the untraced round: of wall time, and of the CPU time
//! the whole process (caller, writer, payload thread, mock server) spent per call. It also
//! prints the CPU time per call of each thread (the calling thread, the mock server's,
//! llm-trace's writer and payload thread), read from `/proc`, with the median per-round
//! difference from the untraced round: where the work tracing adds lands.
//!
//! Run: `cargo bench --bench end_to_end`.

mod support;

use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use cpu_time::ProcessTime;
use criterion::{Criterion, criterion_group, criterion_main};
use llm_trace::openai::TracedClient;
use llm_trace::sink::JsonlSink;
use llm_trace::{StaticScope, Tracer};
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
    // The same, sampling every call out: the caller's recording work without the writer's.
    let mut sampled_out_config = llm_trace::Config::default();
    sampled_out_config.sample_rate = 0.0;
    let sampled_out_tracer = Tracer::builder()
        .config(sampled_out_config)
        .sink(JsonlSink::open(dir.path().join("sampled-out.jsonl")).unwrap())
        .build()
        .unwrap();
    let sampled_out = TracedClient::new(plain.clone()).with_tracer(sampled_out_tracer.clone());
    // What `llm_trace::init(Config::default())` gives: the log and the local payload store.
    let mut default_config = llm_trace::Config::default();
    default_config.dir = dir.path().join("default");
    let default_tracer = Tracer::new(default_config).unwrap();
    let traced_default = TracedClient::new(plain.clone()).with_tracer(default_tracer.clone());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let req = request();
    // What `#[traced_llm(tags = ["support"])] async fn classify_ticket` enters on every call.
    static SCOPE: StaticScope = StaticScope::new("classify_ticket", "bench", &["support"]);

    let untraced_call = || {
        rt.block_on(SCOPE.instrument(async {
            plain.chat().create(req.clone()).await.unwrap();
        }))
    };
    let traced_call = || {
        rt.block_on(SCOPE.instrument(async {
            traced.chat().create(req.clone()).await.unwrap();
        }))
    };
    let sampled_out_call = || {
        rt.block_on(SCOPE.instrument(async {
            sampled_out.chat().create(req.clone()).await.unwrap();
        }))
    };
    let traced_default_call = || {
        rt.block_on(SCOPE.instrument(async {
            traced_default.chat().create(req.clone()).await.unwrap();
        }))
    };
    // Warm up the connection pool.
    for _ in 0..50 {
        untraced_call();
        traced_call();
        sampled_out_call();
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

    // Alternate the kinds of call in 150 rounds of ROUND calls each (the order rotating). The
    // ratio of each round's mean to the same round's untraced mean is taken, and the median of
    // those ratios reported: on this VM the time of a local HTTP call drifts between regimes
    // (about 55 µs and about 230 µs per call), and rounds next to each other share a regime
    // where medians taken over the whole run may not.
    let kinds = [
        Kind { name: "untraced", call: &untraced_call, tracer: None },
        Kind { name: "traced, JSON-lines log", call: &traced_call, tracer: Some(&tracer) },
        Kind {
            name: "traced, every call sampled out (no writer work)",
            call: &sampled_out_call,
            tracer: Some(&sampled_out_tracer),
        },
        Kind {
            name: "traced with the default payload store",
            call: &traced_default_call,
            tracer: Some(&default_tracer),
        },
    ];
    let n = kinds.len();
    // Per kind, per round: wall time and process CPU time per call, and the CPU time per call
    // of each thread in THREADS (read per thread from `/proc`).
    let mut rounds: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut threads: Vec<Vec<[f64; THREADS.len()]>> = vec![Vec::new(); n];
    // Long enough that the flush ending each traced round (one more wake-up and write for the
    // writer, about 100 µs of CPU on the benchmark VM, which an application that does not
    // flush never pays) is a small part of the round's CPU time: 0.2% at 400 calls.
    const ROUND: u32 = 400;
    let per_call = |seconds: f64| seconds / f64::from(ROUND);
    for round in 0..150 {
        for k in 0..n {
            let which = (round + k) % n;
            let Kind { call, tracer, .. } = kinds[which];
            let start = Instant::now();
            let cpu_start = ProcessTime::now();
            let threads_start = threads_cpu();
            for _ in 0..ROUND {
                call();
            }
            rounds[which].push(per_call(start.elapsed().as_secs_f64()));
            // The writer's (and payload thread's) work for this round's traces is done within
            // the round's CPU time, not left to spill into the next round's.
            if let Some(tracer) = tracer {
                tracer.flush().unwrap();
            }
            cpu[which].push(per_call(cpu_start.elapsed().as_secs_f64()));
            let threads_end = threads_cpu();
            threads[which]
                .push(std::array::from_fn(|t| per_call(threads_end[t] - threads_start[t])));
        }
        server.clear_requests();
    }
    // The median per-round ratio to the untraced round and its quartiles.
    let ratios = |of: &[Vec<f64>], which: usize| {
        let mut r: Vec<f64> = of[which].iter().zip(&of[0]).map(|(t, u)| t / u).collect();
        r.sort_by(f64::total_cmp);
        (r[r.len() / 2], r[r.len() / 4], r[r.len() * 3 / 4])
    };
    for (which, Kind { name, .. }) in kinds.iter().enumerate() {
        let mut line = format!("end_to_end/interleaved, {name}:");
        for (what, of) in [("wall", &rounds), ("process CPU", &cpu)] {
            let mut own = of[which].clone();
            line += &format!(" {what} {:.1} µs per call", median(&mut own) * 1e6);
            if which > 0 {
                let (mid, q1, q3) = ratios(of, which);
                line += &format!(" (ratio {mid:.4}, quartiles {q1:.3}–{q3:.3})");
            }
            line += ";";
        }
        // Each thread's CPU time per call, and (for traced kinds) the median per-round
        // difference from the untraced round beside it.
        for (t, thread) in THREADS.iter().enumerate() {
            let mut own: Vec<f64> = threads[which].iter().map(|r| r[t]).collect();
            line += &format!(" {thread} {:.2} µs", median(&mut own) * 1e6);
            if which > 0 {
                let mut more: Vec<f64> =
                    threads[which].iter().zip(&threads[0]).map(|(a, u)| a[t] - u[t]).collect();
                line += &format!(" ({:+.2})", median(&mut more) * 1e6);
            }
            line += ",";
        }
        eprintln!("{}", line.trim_end_matches(','));
    }
    for tracer in [&tracer, &default_tracer, &sampled_out_tracer] {
        tracer.flush().unwrap();
        let stats = tracer.stats();
        assert_eq!(stats.dropped + stats.failed, 0, "{stats:?}");
    }
}

/// One kind of call the interleaved rounds alternate.
#[derive(Clone, Copy)]
struct Kind<'a> {
    name: &'static str,
    call: &'a dyn Fn(),
    /// Flushed at the end of each round, so that its threads' work is counted in the round.
    tracer: Option<&'a Tracer>,
}

/// The threads whose CPU time is read per round: this one (which makes the calls), the mock
/// server's, and llm-trace's writer and payload thread.
const THREADS: [&str; 4] = ["caller", "mock server", "writer", "payload thread"];

fn threads_cpu() -> [f64; THREADS.len()] {
    let of = |name| support::threads_cpu(name).unwrap_or(f64::NAN);
    [
        this_thread_cpu(),
        of("llm-trace-mock-server"),
        of("llm-trace-writer"),
        of("llm-trace-payloads"),
    ]
}

/// The CPU time of the calling thread, in seconds.
fn this_thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| support::schedstat_seconds(&stat))
        .unwrap_or(f64::NAN)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
