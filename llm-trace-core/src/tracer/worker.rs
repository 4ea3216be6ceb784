//! The background writer: one thread that drains the queue in batches into every sink.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use super::rate_limit::RateLimited;
use super::{SinkStats, Stats};
use crate::error::Error;
use crate::sink::{Sink, SinkError};
use crate::trace::LlmTrace;

/// Largest batch handed to the sinks at once.
const MAX_BATCH: usize = 1024;

pub(super) enum Msg {
    Trace(Box<LlmTrace>),
    /// Write everything before this message, flush the sinks, then acknowledge.
    Flush(Sender<()>),
    /// Like `Flush`, then shut the sinks down and stop.
    Shutdown(Sender<()>),
}

/// Counters shared by the callers and the writer.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) recorded: AtomicU64,
    pub(super) sampled_out: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) written: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) sink_errors: AtomicU64,
}

pub(super) struct Shared {
    pub(super) counters: Counters,
    sinks: Mutex<Vec<SinkStats>>,
}

impl Shared {
    pub(super) fn new(sinks: &[Box<dyn Sink>]) -> Shared {
        let stats = sinks
            .iter()
            .map(|s| SinkStats { name: s.name().into_owned(), ..SinkStats::default() })
            .collect();
        Shared { counters: Counters::default(), sinks: Mutex::new(stats) }
    }

    pub(super) fn stats(&self, queued: usize) -> Stats {
        let c = &self.counters;
        // Read the outcomes before `recorded`, so that `pending()` never goes negative.
        let written = c.written.load(Ordering::Acquire);
        let failed = c.failed.load(Ordering::Acquire);
        let dropped = c.dropped.load(Ordering::Acquire);
        let sampled_out = c.sampled_out.load(Ordering::Acquire);
        Stats {
            recorded: c.recorded.load(Ordering::Acquire),
            sampled_out,
            dropped,
            written,
            failed,
            sink_errors: c.sink_errors.load(Ordering::Acquire),
            queued: queued as u64,
            sinks: self.sinks.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            ..Stats::default()
        }
    }
}

pub(super) fn spawn(
    rx: Receiver<Msg>,
    sinks: Vec<Box<dyn Sink>>,
    shared: std::sync::Arc<Shared>,
    flush_interval: Duration,
) -> Result<std::thread::JoinHandle<()>, Error> {
    let warnings = sinks.iter().map(|_| RateLimited::new(Duration::from_secs(10))).collect();
    let worker = Worker { rx, sinks, shared, warnings, flush_interval, dirty: false };
    std::thread::Builder::new()
        .name("llm-trace-writer".into())
        .spawn(move || worker.run())
        .map_err(Error::Spawn)
}

struct Worker {
    rx: Receiver<Msg>,
    sinks: Vec<Box<dyn Sink>>,
    shared: std::sync::Arc<Shared>,
    warnings: Vec<RateLimited>,
    flush_interval: Duration,
    /// Something was written since the last flush.
    dirty: bool,
}

enum Op {
    Write,
    Flush,
    Shutdown,
}

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<LlmTrace> = Vec::with_capacity(MAX_BATCH);
        let mut last_flush = Instant::now();
        let mut idle = Idle::new();
        loop {
            // While traces keep coming, poll with short sleeps instead of blocking: a sender
            // only pays for waking the writer (a futex syscall, microseconds) when the writer
            // is blocked, so the writer blocks only after a quiet spell.
            let polled = match self.rx.try_recv() {
                Ok(msg) => Ok(msg),
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => match idle.next_sleep() {
                    Some(nap) => {
                        std::thread::sleep(nap);
                        if last_flush.elapsed() >= self.flush_interval {
                            self.flush_if_dirty();
                            last_flush = Instant::now();
                        }
                        continue;
                    }
                    None => {
                        let timeout = self.flush_interval.saturating_sub(last_flush.elapsed());
                        self.rx.recv_timeout(timeout)
                    }
                },
            };
            let first = match polled {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => {
                    self.flush_if_dirty();
                    last_flush = Instant::now();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.shutdown_sinks();
                    return;
                }
            };
            idle.reset();
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Trace(trace) => {
                        batch.push(*trace);
                        if batch.len() >= MAX_BATCH {
                            self.write(&mut batch);
                        }
                        next = self.rx.try_recv().ok();
                    }
                    Msg::Flush(ack) => {
                        self.write(&mut batch);
                        self.flush_all();
                        last_flush = Instant::now();
                        let _ = ack.send(());
                    }
                    Msg::Shutdown(ack) => {
                        self.write(&mut batch);
                        self.shutdown_sinks();
                        let _ = ack.send(());
                        return;
                    }
                }
            }
            // The queue ran dry: write what we have and make it visible.
            self.write(&mut batch);
            if self.dirty && last_flush.elapsed() >= self.flush_interval / 4 {
                self.flush_all();
                last_flush = Instant::now();
            }
        }
    }

    fn write(&mut self, batch: &mut Vec<LlmTrace>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let mut all_ok = true;
        for i in 0..self.sinks.len() {
            let ok = self.call(i, Op::Write, batch);
            let mut sinks = self.shared.sinks.lock().unwrap_or_else(|p| p.into_inner());
            if ok {
                sinks[i].written += n;
            } else {
                sinks[i].failed += n;
                all_ok = false;
            }
        }
        let outcome =
            if all_ok { &self.shared.counters.written } else { &self.shared.counters.failed };
        outcome.fetch_add(n, Ordering::AcqRel);
        self.dirty = true;
        batch.clear();
    }

    fn flush_if_dirty(&mut self) {
        if self.dirty {
            self.flush_all();
        }
    }

    fn flush_all(&mut self) {
        for i in 0..self.sinks.len() {
            self.call(i, Op::Flush, &[]);
        }
        self.dirty = false;
    }

    fn shutdown_sinks(&mut self) {
        for i in 0..self.sinks.len() {
            self.call(i, Op::Shutdown, &[]);
        }
    }

    /// Runs one sink operation, turning errors and panics into counters and warnings.
    fn call(&mut self, i: usize, op: Op, batch: &[LlmTrace]) -> bool {
        let sink = &mut self.sinks[i];
        let result = catch_unwind(AssertUnwindSafe(|| match op {
            Op::Write => sink.write(batch),
            Op::Flush => sink.flush(),
            Op::Shutdown => sink.shutdown(),
        }));
        let error: SinkError = match result {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => e,
            Err(panic) => panic_message(&panic).into(),
        };
        let message = error.to_string();
        self.shared.counters.sink_errors.fetch_add(1, Ordering::AcqRel);
        let name = {
            let mut sinks = self.shared.sinks.lock().unwrap_or_else(|p| p.into_inner());
            sinks[i].errors += 1;
            sinks[i].last_error = Some(message.clone());
            sinks[i].name.clone()
        };
        self.warnings[i].warn(|suppressed| {
            tracing::warn!(
                target: "llm_trace",
                sink = %name,
                suppressed_warnings = suppressed,
                "llm-trace sink failed: {message}"
            );
        });
        false
    }
}

/// How long the writer naps between polls of an empty queue: 50 µs doubling to 2 ms, then,
/// after 100 ms without a trace, it blocks until the next one.
struct Idle {
    since: Option<Instant>,
    nap: Duration,
}

impl Idle {
    const FIRST_NAP: Duration = Duration::from_micros(50);
    const LONGEST_NAP: Duration = Duration::from_millis(2);
    const QUIET: Duration = Duration::from_millis(100);

    fn new() -> Idle {
        Idle { since: None, nap: Self::FIRST_NAP }
    }

    fn reset(&mut self) {
        self.since = None;
        self.nap = Self::FIRST_NAP;
    }

    /// The next nap, or `None` once the queue has been quiet long enough to block.
    fn next_sleep(&mut self) -> Option<Duration> {
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() >= Self::QUIET {
            return None;
        }
        let nap = self.nap;
        self.nap = (self.nap * 2).min(Self::LONGEST_NAP);
        Some(nap)
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    format!("the sink panicked: {text}")
}
