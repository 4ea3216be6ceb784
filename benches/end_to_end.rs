//! End to end over HTTP: async-openai against the in-process mock server, traced
//! (`TracedClient`, JSON-lines log) vs untraced (issue 7: ratio ≤ 1.02).
//!
//! Besides criterion's measurements (which time each kind of call minutes apart, and on this
//! VM the time of a local HTTP call drifts more than that between minutes), two comparisons
//! that keep the kinds side by side:
//!
//! * `alternating`: untraced and traced calls one after the other, in a random order within
//!   each pair, each call timed. It prints each kind's median time per call and their ratio
//!   (the figure issue 7 asks for), the same ratio within each tenth of the run (how much it
//!   moves), and the median of the per-pair differences.
//! * `rounds`: untraced calls, traced calls and traced calls with the default payload store
//!   in rounds of 400 calls of one kind, with each traced round flushed before it ends. It
//!   prints, per kind, the wall and whole-process CPU time per call with the median per-round
//!   ratio to the untraced round beside it, and the CPU time per call of each thread (the
//!   calling thread, the mock server's, llm-trace's writer and payload thread, read from
//!   `/proc`) with the median per-round difference: what tracing costs the machine, and where
//!   that work lands.
//!
//! Run: `cargo bench --bench end_to_end`.

mod support;

use std::time::{Duration, Instant};

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
    let plain = support::mock_client(&server);
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
    let traced_default_call = || {
        rt.block_on(SCOPE.instrument(async {
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

    alternating(&untraced_call, &traced_call, &server);
    rounds(
        &[
            Kind { name: "untraced", call: &untraced_call, tracer: None },
            Kind { name: "traced, JSON-lines log", call: &traced_call, tracer: Some(&tracer) },
            Kind {
                name: "traced with the default payload store",
                call: &traced_default_call,
                tracer: Some(&default_tracer),
            },
        ],
        &server,
    );
    for tracer in [&tracer, &default_tracer] {
        tracer.flush().unwrap();
        let stats = tracer.stats();
        assert_eq!(stats.dropped + stats.failed, 0, "{stats:?}");
    }
}

/// Untraced and traced calls one after the other, in a random order within each pair (a call
/// may leave caches, the connection or the mock server in a state that helps or hinders the
/// next), each timed: neighbours share the machine's state of the moment, which on this VM
/// moves a local HTTP call between about 55 µs and 250 µs over seconds to minutes.
///
/// What this leaves out: the writer's work for the traced calls (about 3 µs of CPU per trace,
/// in one burst per nap) runs on the other core during calls of both kinds, so whatever it
/// slows is shared between them; and the payload store, whose thread's work for a call (a
/// file created, about 80 µs of CPU) would run during the calls after it. `rounds` measures
/// both.
fn alternating(untraced: &dyn Fn(), traced: &dyn Fn(), server: &MockServer) {
    const PAIRS: usize = 50_000;
    const TENTHS: usize = 10;
    let mut rng = fastrand::Rng::with_seed(7);
    // Seconds per call, per kind, in the order made.
    let mut times = [Vec::with_capacity(PAIRS), Vec::with_capacity(PAIRS)];
    for pair in 0..PAIRS {
        let first = rng.usize(0..2);
        for which in [first, 1 - first] {
            let call = if which == 0 { untraced } else { traced };
            let start = Instant::now();
            call();
            times[which].push(start.elapsed().as_secs_f64());
        }
        if pair % 1000 == 999 {
            server.clear_requests(); // the mock server keeps what it was sent
        }
    }
    // The two kinds' medians over `range` of the run.
    let medians = |range: std::ops::Range<usize>| {
        [0, 1].map(|which| median(&mut times[which][range.clone()].to_vec()))
    };
    let tenths: Vec<f64> = (0..TENTHS)
        .map(|t| medians(t * PAIRS / TENTHS..(t + 1) * PAIRS / TENTHS))
        .map(|[untraced, traced]| traced / untraced)
        .collect();
    let [untraced, traced] = medians(0..PAIRS);
    let mut differences: Vec<f64> = times[1].iter().zip(&times[0]).map(|(t, u)| t - u).collect();
    eprintln!(
        "end_to_end/alternating, {PAIRS} pairs: untraced {:.1} µs, traced (JSON-lines log) \
         {:.1} µs per call (medians): ratio {:.4} (within each tenth of the run {:.3}–{:.3}); \
         median per-pair difference {:+.2} µs",
        untraced * 1e6,
        traced * 1e6,
        traced / untraced,
        tenths.iter().copied().fold(f64::INFINITY, f64::min),
        tenths.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        median(&mut differences) * 1e6,
    );
}

/// The kinds of call in 120 rounds of `ROUND` calls of one kind (the order rotating), each
/// traced round flushed before its CPU time is read so that the writer's and payload thread's
/// work for its traces is counted in it. Reported per kind: the median per-call wall and
/// process CPU time, and for traced kinds the median (and quartiles) of the per-round ratios
/// to the untraced round beside it; then each thread's CPU time per call and the median
/// per-round difference from the untraced round.
fn rounds(kinds: &[Kind<'_>], server: &MockServer) {
    let n = kinds.len();
    // Per kind, per round: wall time and process CPU time per call, and the CPU time per call
    // of each thread in THREADS (read per thread from `/proc`).
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut threads: Vec<Vec<[f64; THREADS.len()]>> = vec![Vec::new(); n];
    // Long enough that the flush ending each traced round (one more wake-up and write for the
    // writer, about 100 µs of CPU on the benchmark VM, which an application that does not
    // flush never pays) is a small part of the round's CPU time: 0.2% at 400 calls.
    const ROUND: u32 = 400;
    let per_call = |seconds: f64| seconds / f64::from(ROUND);
    for round in 0..120 {
        for k in 0..n {
            let which = (round + k) % n;
            let Kind { call, tracer, .. } = kinds[which];
            let start = Instant::now();
            let cpu_start = ProcessTime::now();
            let threads_start = threads_cpu();
            for _ in 0..ROUND {
                call();
            }
            wall[which].push(per_call(start.elapsed().as_secs_f64()));
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
        let mut line = format!("end_to_end/rounds, {name}:");
        for (what, of) in [("wall", &wall), ("process CPU", &cpu)] {
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
}

/// One kind of call the rounds alternate.
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
