//! Sinks and stores that fail, panic, hang or vanish never change what the caller gets, and
//! every recorded trace is accounted for in `stats()`:
//! `recorded = sampled_out + dropped + written + failed + pending`, per sink and overall.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use llm_trace_core::reader::{LineProblem, LogReader};
use llm_trace_core::sink::{JsonlSink, MemorySink, Sink, SinkError};
use llm_trace_core::{Config, FinishReason, LlmTrace, Stats, Tracer, Usage};

#[cfg(feature = "s3")]
mod common;

/// One traced call; returns what the "application" computed, which tracing must not change.
fn traced_call(tracer: &Tracer, i: u64) -> u64 {
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.usage(Usage::new(100 + i, 10)).input("hello").output("hi");
    call.finish(FinishReason::Stop);
    i * 3 + 1
}

/// Every recorded trace is in exactly one bucket.
fn assert_accounted(stats: &Stats) {
    assert_eq!(
        stats.recorded,
        stats.sampled_out + stats.dropped + stats.written + stats.failed + stats.pending(),
        "{stats:?}"
    );
    let outcomes = stats.sampled_out + stats.dropped + stats.written + stats.failed;
    assert!(outcomes <= stats.recorded, "more outcomes than traces: {stats:?}");
}

// ---------------------------------------------------------------------------------------------
// A full disk

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_fails_every_batch_exactly_and_never_reaches_the_caller() {
    let memory = MemorySink::new();
    let tracer = Tracer::builder()
        .sink(JsonlSink::open("/dev/full").unwrap())
        .sink(memory.clone())
        .build()
        .unwrap();
    let results: Vec<u64> = (0..40).map(|i| traced_call(&tracer, i)).collect();
    assert_eq!(results, (0..40).map(|i| i * 3 + 1).collect::<Vec<_>>(), "calls unaffected");
    tracer.flush().expect("a failing sink does not fail a flush");

    let stats = tracer.stats();
    assert_eq!((stats.recorded, stats.written, stats.failed, stats.dropped), (40, 0, 40, 0));
    let log = &stats.sinks[0];
    assert!(log.name.starts_with("jsonl:/dev/full"), "{log:?}");
    assert_eq!((log.written, log.failed), (0, 40));
    assert!(log.errors >= 1);
    let error = log.last_error.as_deref().unwrap();
    assert!(error.to_lowercase().contains("no space"), "{error}");
    assert_eq!((stats.sinks[1].written, stats.sinks[1].failed), (40, 0));
    assert_eq!(memory.len(), 40, "the other sink got everything");
    assert_accounted(&stats);

    let report = tracer.shutdown(Duration::from_secs(5));
    assert!(!report.timed_out, "{report}");
    assert_eq!((report.written, report.lost, report.unwritten), (0, 40, 0), "{report}");
}

// ---------------------------------------------------------------------------------------------
// A sink that fails every other batch

/// Fails every second batch and keeps its own tally of the traces in the batches it failed.
#[derive(Clone, Default)]
struct EveryOtherBatchFails {
    batches: Arc<AtomicU64>,
    ok_traces: Arc<AtomicU64>,
    failed_traces: Arc<AtomicU64>,
}

impl Sink for EveryOtherBatchFails {
    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        let n = batch.len() as u64;
        if self.batches.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
            self.failed_traces.fetch_add(n, Ordering::SeqCst);
            return Err(format!("batch of {n} refused").into());
        }
        self.ok_traces.fetch_add(n, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_sink_failing_every_other_batch_is_counted_exactly_with_one_trace_per_batch() {
    let flaky = EveryOtherBatchFails::default();
    let memory = MemorySink::new();
    let tracer = Tracer::builder().sink(memory.clone()).sink(flaky.clone()).build().unwrap();
    for i in 0..20 {
        assert_eq!(traced_call(&tracer, i), i * 3 + 1);
        tracer.flush().unwrap(); // one trace per batch
    }
    let stats = tracer.stats();
    assert_eq!((stats.recorded, stats.written, stats.failed, stats.pending()), (20, 10, 10, 0));
    assert_eq!((stats.sinks[0].written, stats.sinks[0].failed), (20, 0));
    assert_eq!((stats.sinks[1].written, stats.sinks[1].failed), (10, 10));
    assert_eq!(stats.sinks[1].errors, 10);
    assert_eq!(stats.sink_errors, 10);
    assert_eq!(stats.sinks[1].last_error.as_deref(), Some("batch of 1 refused"));
    assert_eq!(memory.len(), 20);
    assert_accounted(&stats);
}

#[test]
fn a_sink_failing_every_other_batch_under_concurrent_load_is_counted_exactly() {
    let flaky = EveryOtherBatchFails::default();
    let memory = MemorySink::new();
    let tracer = Tracer::builder().sink(flaky.clone()).sink(memory.clone()).build().unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (tracer, barrier) = (tracer.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..2_500).map(|i| traced_call(&tracer, t * 10_000 + i)).sum::<u64>()
            })
        })
        .collect();
    let sums: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let expected: u64 =
        (0..4u64).flat_map(|t| (0..2_500).map(move |i| (t * 10_000 + i) * 3 + 1)).sum();
    assert_eq!(sums, expected, "the callers' results are untouched");
    tracer.flush().unwrap();

    let stats = tracer.stats();
    let failed = flaky.failed_traces.load(Ordering::SeqCst);
    let ok = flaky.ok_traces.load(Ordering::SeqCst);
    assert_eq!(ok + failed, 10_000);
    assert!(flaky.batches.load(Ordering::SeqCst) >= 2, "at least one batch failed");
    // Per sink: exactly the sink's own tally.
    assert_eq!((stats.sinks[0].written, stats.sinks[0].failed), (ok, failed), "{stats:?}");
    assert_eq!((stats.sinks[1].written, stats.sinks[1].failed), (10_000, 0));
    // Overall: a trace is `failed` when at least one sink rejected it.
    assert_eq!((stats.recorded, stats.written, stats.failed), (10_000, ok, failed));
    assert_eq!(stats.sink_errors, flaky.batches.load(Ordering::SeqCst) / 2);
    assert_eq!(memory.len(), 10_000, "the healthy sink got every trace");
    assert_accounted(&stats);
}

// ---------------------------------------------------------------------------------------------
// A panicking sink between two good ones

/// Panics in every operation.
struct PanicsAlways;

impl Sink for PanicsAlways {
    fn name(&self) -> std::borrow::Cow<'static, str> {
        "panics".into()
    }
    fn write(&mut self, _: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        panic!("user sink bug in write");
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        panic!("user sink bug in flush");
    }
    fn shutdown(&mut self) -> Result<(), SinkError> {
        panic!("user sink bug in shutdown");
    }
}

#[test]
fn a_panicking_sink_between_two_good_ones_costs_them_nothing() {
    let (first, last) = (MemorySink::new(), MemorySink::new());
    let tracer = Tracer::builder()
        .sink(first.clone())
        .sink(PanicsAlways)
        .sink(last.clone())
        .build()
        .unwrap();
    let mut results = Vec::new();
    for i in 0..30 {
        results.push(traced_call(&tracer, i));
        if i % 10 == 9 {
            tracer.flush().expect("flush survives a sink panicking in flush");
        }
    }
    assert_eq!(results, (0..30).map(|i| i * 3 + 1).collect::<Vec<_>>());
    let ids = |m: &MemorySink| m.traces().iter().map(|t| t.trace_id).collect::<Vec<_>>();
    assert_eq!(first.len(), 30);
    assert_eq!(ids(&first), ids(&last), "both good sinks got every trace, in order");

    let stats = tracer.stats();
    assert_eq!((stats.recorded, stats.written, stats.failed), (30, 0, 30));
    assert_eq!((stats.sinks[0].written, stats.sinks[0].failed), (30, 0));
    assert_eq!((stats.sinks[1].written, stats.sinks[1].failed), (0, 30));
    assert_eq!((stats.sinks[2].written, stats.sinks[2].failed), (30, 0));
    assert_eq!((stats.sinks[0].errors, stats.sinks[2].errors), (0, 0));
    let panicked = stats.sinks[1].last_error.as_deref().unwrap();
    assert!(panicked.contains("panicked") && panicked.contains("user sink bug"), "{panicked}");
    assert_accounted(&stats);

    // The writer thread survived every panic: later calls are still delivered, and shutdown
    // (which panics in that sink too) completes.
    traced_call(&tracer, 99);
    let report = tracer.shutdown(Duration::from_secs(5));
    assert!(!report.timed_out, "{report}");
    assert_eq!((report.lost, report.unwritten), (31, 0), "{report}");
    assert_eq!((first.len(), last.len()), (31, 31));
}

#[test]
fn a_panic_in_the_callers_code_while_a_call_is_in_flight_records_it_as_cancelled() {
    let memory = MemorySink::new();
    let tracer = Tracer::builder().sink(memory.clone()).build().unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
        call.input("half way");
        panic!("the application failed mid-call");
    }));
    assert!(outcome.is_err(), "the panic reaches the caller unchanged");
    traced_call(&tracer, 1);
    tracer.flush().unwrap();
    let traces = memory.take();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0].finish_reason, FinishReason::Cancelled);
    assert_eq!(traces[0].input_preview, "half way");
    assert_eq!(traces[1].finish_reason, FinishReason::Stop);
    assert_eq!(tracer.summary().total.calls, 2);
}

// ---------------------------------------------------------------------------------------------
// A writer killed in the middle of its work

/// Runs as a child process of the next test (and does nothing otherwise): writes traces to the
/// log named by `LLM_TRACE_FAULTS_KILL_LOG` until it is killed, or for at most 60 s.
#[test]
fn helper_child_process_that_writes_until_killed() {
    let Some(path) = std::env::var_os("LLM_TRACE_FAULTS_KILL_LOG") else { return };
    let mut config = Config::default();
    config.preview_chars = 2_000;
    let tracer =
        Tracer::builder().config(config).sink(JsonlSink::open(path).unwrap()).build().unwrap();
    let long = "ünïcödé text 😀 ".repeat(200);
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < Duration::from_secs(60) {
        let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
        call.usage(Usage::new(i, 1)).input(&long).output(&long);
        call.finish(FinishReason::Stop);
        i += 1;
        if i % 64 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn a_writer_killed_mid_write_leaves_every_complete_line_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.jsonl");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["helper_child_process_that_writes_until_killed", "--exact", "--nocapture"])
        .env("LLM_TRACE_FAULTS_KILL_LOG", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&path).map_or(0, |m| m.len()) < 4 << 20 {
        assert!(Instant::now() < deadline, "the child wrote too little");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush
    child.wait().unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let complete_lines = bytes.iter().filter(|b| **b == b'\n').count();
    let items: Vec<_> = LogReader::new(bytes.as_slice()).collect();
    let ok = items.iter().filter(|i| i.is_ok()).count();
    assert!(ok >= complete_lines && ok > 100, "{ok} traces from {complete_lines} lines");
    for (n, item) in items.iter().enumerate() {
        if let Err(e) = item {
            assert_eq!(n, items.len() - 1, "only the last line may be bad: {e}");
            assert_eq!(e.problem, LineProblem::Torn);
        }
    }
    let tokens: Vec<u64> = items.iter().flatten().map(|t| t.prompt_tokens).collect();
    assert_eq!(tokens, (0..tokens.len() as u64).collect::<Vec<_>>(), "no line lost or doubled");
}

// ---------------------------------------------------------------------------------------------
// Stores and collectors that are down or hang

#[cfg(feature = "s3")]
mod stores {
    use super::*;
    use common::free_port;
    use std::io::BufReader;
    use std::net::TcpListener;

    fn read_log(path: &std::path::Path) -> Vec<LlmTrace> {
        let file = std::fs::File::open(path).unwrap();
        LogReader::new(BufReader::new(file))
            .map(|line| line.expect("every line is a trace"))
            .collect()
    }

    /// Payloads in `s3://bucket/payloads` at `endpoint`, with requests given up after
    /// `timeout`.
    fn s3_config(dir: &std::path::Path, endpoint: &str, timeout: &str) -> Config {
        let mut config = common::s3_config(dir, endpoint, "s3://bucket/payloads");
        for option in ["timeout", "connect_timeout"] {
            config.payload_options.push((option.to_string(), timeout.to_string()));
        }
        config.shutdown_timeout = Duration::from_secs(60);
        config
    }

    fn call_with_payload(tracer: &Tracer, i: u64) -> u64 {
        let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
        call.request_payload(&serde_json::json!({"messages": [{"role": "user", "content": "hi"}]}));
        call.response_payload(&serde_json::json!({"choices": [{"message": {"content": "yo"}}]}));
        call.usage(Usage::new(10, 2));
        call.finish(FinishReason::Stop);
        i + 1
    }

    /// Accepts connections on 127.0.0.1 and never answers; keeps them open.
    fn black_hole() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => held.push(stream),
                    Err(_) => return,
                }
            }
        });
        url
    }

    fn wait_for_lines(path: &std::path::Path, n: usize, within: Duration) -> Vec<LlmTrace> {
        let deadline = Instant::now() + within;
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.lines().count() >= n {
                return read_log(path);
            }
            assert!(Instant::now() < deadline, "the log has {} of {n} lines", text.lines().count());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_payload_store_that_never_answers_delays_neither_the_calls_nor_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let config = s3_config(dir.path(), &black_hole(), "60s");
        let tracer = Tracer::new(config.clone()).unwrap();
        let started = Instant::now();
        let results: Vec<u64> = (0..5).map(|i| call_with_payload(&tracer, i)).collect();
        assert_eq!(results, [1, 2, 3, 4, 5]);
        assert!(started.elapsed() < Duration::from_secs(5), "the calls waited for the store");

        let log = wait_for_lines(&config.log_path(), 5, Duration::from_secs(10));
        assert_eq!(log.len(), 5);
        assert!(log.iter().all(|t| t.payload.is_some()), "the log points at the payloads");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tracer.stats().written < 5 {
            assert!(Instant::now() < deadline, "{:?}", tracer.stats());
            std::thread::sleep(Duration::from_millis(10));
        }
        let stats = tracer.stats();
        // The store cannot have answered: its client waits up to 60 s.
        assert_eq!((stats.payloads_written, stats.payloads_failed), (0, 0), "{stats:?}");
        assert_eq!(stats.written, 5, "{stats:?}");

        // Shutdown gives up on the store after its timeout and says so; the log was complete.
        let started = Instant::now();
        let report = tracer.shutdown(Duration::from_secs(1));
        assert!(started.elapsed() < Duration::from_secs(10), "shutdown must not hang");
        assert!(report.timed_out, "{report}");
        assert_eq!((report.written, report.lost, report.unwritten), (5, 0, 0), "{report}");
    }

    #[test]
    fn a_slow_payload_store_times_out_and_every_payload_is_counted_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let config = s3_config(dir.path(), &black_hole(), "200ms");
        let tracer = Tracer::new(config.clone()).unwrap();
        let results: Vec<u64> = (0..5).map(|i| call_with_payload(&tracer, i)).collect();
        assert_eq!(results, [1, 2, 3, 4, 5]);
        tracer.flush_timeout(Duration::from_secs(60)).unwrap();
        let stats = tracer.stats();
        assert_eq!((stats.payloads_written, stats.payloads_failed), (0, 5), "{stats:?}");
        assert_eq!((stats.written, stats.failed, stats.dropped), (5, 0, 0));
        assert_eq!(read_log(&config.log_path()).len(), 5);
        assert_accounted(&stats);
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn with_the_collector_and_the_payload_store_both_down_the_log_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let dead = format!("http://127.0.0.1:{}", free_port());
        let mut config = s3_config(dir.path(), &dead, "5s");
        config.otlp.endpoint = Some(format!("http://127.0.0.1:{}", free_port()));
        let tracer = Tracer::new(config.clone()).unwrap();
        let mut results = Vec::new();
        for i in 0..12 {
            results.push(call_with_payload(&tracer, i));
            if i % 4 == 3 {
                tracer.flush().unwrap();
            }
        }
        assert_eq!(results, (1..=12).collect::<Vec<_>>());
        tracer.flush().unwrap();

        let log = read_log(&config.log_path());
        assert_eq!(log.len(), 12, "the JSON-lines log is complete");
        let stats = tracer.stats();
        let names: Vec<&str> = stats.sinks.iter().map(|s| s.name.as_str()).collect();
        assert!(names[0].starts_with("jsonl:") && names[1] == "otlp", "{names:?}");
        assert_eq!((stats.sinks[0].written, stats.sinks[0].failed), (12, 0));
        assert_eq!((stats.sinks[1].written, stats.sinks[1].failed), (0, 12));
        // Overall a trace rejected by one sink is `failed`, never silently `written`.
        assert_eq!((stats.recorded, stats.written, stats.failed, stats.dropped), (12, 0, 12, 0));
        assert_eq!((stats.payloads_written, stats.payloads_failed), (0, 12), "{stats:?}");
        assert_accounted(&stats);
    }
}
