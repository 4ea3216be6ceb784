//! The tracer delivers every trace to the sinks, off the caller's thread, and accounts for
//! every one it could not deliver.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use llm_trace_core::pricing::TokenCounts;
use llm_trace_core::sink::{JsonlSink, MemorySink, Sink, SinkError};
use llm_trace_core::{Config, FinishReason, LlmTrace, Overflow, Tracer, Usage};

fn finish_one(tracer: &Tracer, i: u64) {
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.usage(Usage::new(100 + i, 10)).input("hello");
    call.finish(FinishReason::Stop);
}

/// What the calls `finish_one(tracer, i)` for `i` in `calls` cost, from the price table.
fn cost_of_calls(tracer: &Tracer, calls: std::ops::Range<u64>) -> f64 {
    let price = |i| tracer.prices().cost("gpt-4o-mini", &TokenCounts::new(100 + i, 10));
    calls.map(|i| price(i).expect("gpt-4o-mini is priced")).sum()
}

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12 && a > 0.0, "{a} vs {b}");
}

#[test]
fn ten_thousand_traces_from_eight_threads_are_ten_thousand_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.jsonl");
    let tracer = Tracer::builder().sink(JsonlSink::open(&path).unwrap()).build().unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let tracer = tracer.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..1250 {
                    finish_one(&tracer, t * 10_000 + i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    tracer.flush().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    let traces: Vec<LlmTrace> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is a whole trace"))
        .collect();
    assert_eq!(traces.len(), 10_000);
    let ids: HashSet<_> = traces.iter().map(|t| t.trace_id).collect();
    assert_eq!(ids.len(), 10_000);
    let prompt_tokens: u64 = traces.iter().map(|t| t.prompt_tokens).sum();

    let summary = tracer.summary();
    assert_eq!(summary.total.calls, 10_000);
    assert_eq!(summary.total.prompt_tokens, prompt_tokens);
    assert_eq!(summary.by_model[0].calls, 10_000);
    let stats = tracer.stats();
    assert_eq!(
        (stats.recorded, stats.written, stats.dropped, stats.failed),
        (10_000, 10_000, 0, 0)
    );
}

struct FailingSink;

impl Sink for FailingSink {
    fn write(&mut self, _: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        Err("disk on fire".into())
    }
}

#[test]
fn a_failing_sink_is_counted_and_does_not_stop_the_others() {
    let memory = MemorySink::new();
    let tracer = Tracer::builder().sink(FailingSink).sink(memory.clone()).build().unwrap();
    let results: Vec<u64> = (0..5)
        .map(|i| {
            finish_one(&tracer, i);
            i * 2 // the caller's own work carries on untouched
        })
        .collect();
    assert_eq!(results, [0, 2, 4, 6, 8]);
    tracer.flush().unwrap();

    assert_eq!(memory.len(), 5);
    let stats = tracer.stats();
    assert_eq!(stats.recorded, 5);
    assert_eq!(stats.failed, 5);
    assert_eq!(stats.written, 0);
    assert!(stats.sink_errors >= 1);
    let failing = &stats.sinks[0];
    assert_eq!(failing.failed, 5);
    assert_eq!(failing.last_error.as_deref(), Some("disk on fire"));
    assert_eq!(stats.sinks[1].written, 5);
}

struct PanickingSink;

impl Sink for PanickingSink {
    fn write(&mut self, _: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        panic!("user sink bug");
    }
}

#[test]
fn a_panicking_sink_is_contained_and_counted() {
    let memory = MemorySink::new();
    let tracer = Tracer::builder().sink(PanickingSink).sink(memory.clone()).build().unwrap();
    for i in 0..3 {
        finish_one(&tracer, i);
        tracer.flush().unwrap();
    }
    assert_eq!(memory.len(), 3, "the other sink still gets everything");
    let stats = tracer.stats();
    assert_eq!(stats.failed, 3);
    assert!(stats.sinks[0].last_error.as_deref().unwrap().contains("user sink bug"));
}

/// Blocks every write until the test opens the gate.
#[derive(Clone)]
struct GatedSink {
    gate: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    written: Arc<AtomicUsize>,
}

impl GatedSink {
    fn new() -> GatedSink {
        GatedSink { gate: Arc::default(), written: Arc::default() }
    }
    fn open(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
}

impl Sink for GatedSink {
    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        let mut open = self.gate.0.lock().unwrap();
        while !*open {
            open = self.gate.1.wait(open).unwrap();
        }
        self.written.fetch_add(batch.len(), Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn the_drop_policy_counts_every_drop_exactly() {
    let sink = GatedSink::new();
    let mut config = Config::default();
    config.queue_capacity = 8;
    config.overflow = Overflow::Drop;
    let tracer = Tracer::builder().config(config).sink(sink.clone()).build().unwrap();
    for i in 0..100 {
        finish_one(&tracer, i);
    }
    sink.open();
    tracer.flush().unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.recorded, 100);
    assert!(stats.dropped > 0);
    assert_eq!(stats.written + stats.dropped, 100);
    assert_eq!(sink.written.load(Ordering::SeqCst) as u64, stats.written);
}

/// 100 times slower than a producer: every write sleeps.
struct SlowSink(MemorySink);

impl Sink for SlowSink {
    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        std::thread::sleep(Duration::from_micros(200 * batch.len() as u64));
        self.0.write(batch)
    }
}

#[test]
fn the_wait_policy_applies_backpressure_and_loses_nothing() {
    let memory = MemorySink::new();
    let mut config = Config::default();
    config.queue_capacity = 4;
    let tracer = Tracer::builder().config(config).sink(SlowSink(memory.clone())).build().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let tracer = tracer.clone();
            std::thread::spawn(move || (0..100).for_each(|i| finish_one(&tracer, t * 1000 + i)))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    tracer.flush().unwrap();
    assert_eq!(memory.len(), 400);
    assert_eq!(tracer.stats().dropped, 0);
}

#[test]
fn shutdown_with_a_stuck_sink_returns_after_the_timeout_and_reports_what_is_unwritten() {
    let sink = GatedSink::new();
    let tracer = Tracer::builder().sink(sink.clone()).build().unwrap();
    for i in 0..10 {
        finish_one(&tracer, i);
    }
    let started = Instant::now();
    let report = tracer.shutdown(Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown must not hang");
    assert!(report.timed_out);
    assert!(!report.is_complete());
    assert_eq!(report.written + report.lost + report.unwritten, 10, "{report}");
    assert!(report.unwritten > 0);
    // Calls after shutdown are counted, never queued forever.
    finish_one(&tracer, 11);
    assert_eq!(tracer.stats().dropped, 1);
    sink.open();
}

#[test]
fn dropping_the_last_handle_writes_everything_queued() {
    let memory = MemorySink::new();
    let tracer = Tracer::builder().sink(memory.clone()).build().unwrap();
    for i in 0..50 {
        finish_one(&tracer, i);
    }
    drop(tracer);
    assert_eq!(memory.len(), 50);
}

#[test]
fn sampling_keeps_a_deterministic_share_and_every_error() {
    let memory = MemorySink::new();
    let mut config = Config::default();
    config.sample_rate = 0.25;
    let tracer = Tracer::builder().config(config).sink(memory.clone()).build().unwrap();
    for i in 0..4000 {
        finish_one(&tracer, i);
    }
    for _ in 0..20 {
        tracer
            .call("openai", "chat", "gpt-4o")
            .fail(llm_trace_core::TraceError::new(llm_trace_core::ErrorKind::Server, "boom"));
    }
    tracer.flush().unwrap();
    let kept = memory.traces();
    let ok = kept.iter().filter(|t| !t.is_error()).count();
    assert!((800..1200).contains(&ok), "kept {ok} of 4000 at rate 0.25");
    assert_eq!(kept.iter().filter(|t| t.is_error()).count(), 20);
    let stats = tracer.stats();
    assert_eq!(stats.sampled_out + stats.written, 4020);
    assert_eq!(tracer.summary().total.calls, 4020, "the summary counts sampled-out calls");
}

#[test]
fn sample_rate_zero_records_only_the_summary() {
    let memory = MemorySink::new();
    let mut config = Config::default();
    config.sample_rate = 0.0;
    let tracer = Tracer::builder().config(config).sink(memory.clone()).build().unwrap();
    for i in 0..10 {
        finish_one(&tracer, i);
    }
    tracer.flush().unwrap();
    assert!(memory.is_empty());
    let total = tracer.summary().total;
    assert_eq!(total.calls, 10);
    // Priced on the caller: these calls never reach the writer, which prices the others.
    assert_eq!(total.unpriced, 0);
    assert_close(total.cost_usd, cost_of_calls(&tracer, 0..10));
}

#[test]
fn an_unwritable_log_folder_is_a_clear_error_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let mut config = Config::default();
    config.dir = file.join("logs");
    let err = Tracer::new(config).unwrap_err().to_string();
    assert!(err.contains("plain-file"), "{err}");
    assert!(err.contains("LLM_TRACE_DIR"), "{err}");
}

#[test]
fn a_bad_config_value_is_an_error_naming_the_setting() {
    let mut config = Config::default();
    config.sample_rate = 3.0;
    let err = Tracer::builder().config(config).build().unwrap_err().to_string();
    assert!(err.contains("sample_rate"), "{err}");
}

#[test]
fn the_summary_counts_calls_still_on_their_way_to_the_writer() {
    // The writer keeps the summary; `summary()` waits until it has counted every call
    // recorded before, without a flush.
    let tracer = Tracer::builder().sink(MemorySink::new()).build().unwrap();
    for i in 0..2_000 {
        finish_one(&tracer, i);
    }
    let summary = tracer.summary();
    assert_eq!(summary.total.calls, 2_000);
    assert_eq!(summary.total.prompt_tokens, (0..2_000).map(|i| 100 + i).sum::<u64>());
}

#[test]
fn calls_dropped_by_a_full_queue_still_count_in_the_summary() {
    let sink = GatedSink::new();
    let mut config = Config::default();
    config.queue_capacity = 4;
    config.overflow = Overflow::Drop;
    config.shutdown_timeout = Duration::from_secs(30);
    let tracer = Tracer::builder().config(config).sink(sink.clone()).build().unwrap();
    for i in 0..100 {
        finish_one(&tracer, i);
    }
    let dropped = tracer.stats().dropped;
    assert!(dropped > 0, "the queue of 4 behind a stuck sink must overflow");
    sink.open();
    let total = tracer.summary().total;
    assert_eq!(total.calls, 100, "{dropped} dropped");
    // The dropped calls are priced on the caller, the others on the writer.
    assert_eq!(total.unpriced, 0);
    assert_close(total.cost_usd, cost_of_calls(&tracer, 0..100));
}

#[test]
fn a_sink_may_ask_for_the_summary_from_the_writer_thread() {
    // Waiting for the writer from the writer would never end: the summary is read as it is.
    struct Asking {
        tracer: Arc<std::sync::OnceLock<Tracer>>,
        seen: Arc<AtomicUsize>,
        waited: Arc<std::sync::Mutex<Duration>>,
    }
    impl Sink for Asking {
        fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
            let start = Instant::now();
            let calls = self.tracer.get().map_or(0, |t| t.summary().total.calls);
            *self.waited.lock().unwrap() += start.elapsed();
            self.seen.fetch_max(calls as usize, Ordering::SeqCst);
            assert!(calls as usize >= batch.len(), "the batch is counted before it is written");
            Ok(())
        }
    }
    let cell = Arc::new(std::sync::OnceLock::new());
    let seen = Arc::new(AtomicUsize::new(0));
    let waited = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let mut config = Config::default();
    config.shutdown_timeout = Duration::from_secs(120);
    let sink = Asking { tracer: cell.clone(), seen: seen.clone(), waited: waited.clone() };
    let tracer = Tracer::builder().config(config).sink(sink).build().unwrap();
    cell.set(tracer.clone()).unwrap();
    for i in 0..10 {
        finish_one(&tracer, i);
    }
    tracer.flush().unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 10);
    // Not a timing figure: a writer waiting for itself would sit out the 120 s timeout.
    assert!(*waited.lock().unwrap() < Duration::from_secs(60));
    assert_eq!(tracer.stats().failed, 0);
    let _ = tracer.shutdown(Duration::from_secs(10));
}

#[test]
fn a_panicking_redaction_hook_costs_the_previews_not_the_call() {
    let memory = MemorySink::new();
    let mut config = Config::default();
    config.redaction = llm_trace_core::redact::Redaction::default().with_hook(|text| {
        assert!(!text.contains("boom"), "the hook refuses this text");
        text.replace("ACME", "[client]")
    });
    let tracer = Tracer::builder().config(config).sink(memory.clone()).build().unwrap();
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.input("boom from ACME").output("a reply for ACME");
    call.fail(llm_trace_core::TraceError::new(llm_trace_core::ErrorKind::Server, "boom"));
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.input("hello from ACME").output("hi ACME");
    call.finish(FinishReason::Stop);
    tracer.flush().unwrap();
    let traces = memory.take();
    assert_eq!(traces.len(), 2, "both calls are written");
    assert_eq!((traces[0].input_preview.as_str(), traces[0].output_preview.as_str()), ("", ""));
    let message = &traces[0].error.as_ref().unwrap().message;
    assert!(message.contains("redaction hook panicked"), "{message}");
    assert_eq!(traces[1].input_preview, "hello from [client]");
    assert_eq!(traces[1].output_preview, "hi [client]");
    assert_eq!(tracer.stats().failed + tracer.stats().dropped, 0);
}

#[test]
fn traces_reach_the_log_without_a_flush_while_calls_trickle_in_and_after_a_quiet_spell() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.jsonl");
    let tracer = Tracer::builder().sink(JsonlSink::open(&path).unwrap()).build().unwrap();
    let lines = || std::fs::read_to_string(&path).unwrap_or_default().lines().count();
    // Waits for the writer alone (no flush), with a deadline far beyond any nap.
    let await_lines = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while lines() < n {
            assert!(Instant::now() < deadline, "{} of {n} lines without a flush", lines());
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    // A trickle: the writer's naps grow while each wake-up finds a trace or two.
    for i in 0..20 {
        finish_one(&tracer, i);
        std::thread::sleep(Duration::from_millis(3));
    }
    await_lines(20);
    // A quiet spell long enough for the writer to block on the queue, then one more call.
    std::thread::sleep(Duration::from_millis(300));
    finish_one(&tracer, 20);
    await_lines(21);
    assert_eq!(tracer.stats().written, 21);
}
