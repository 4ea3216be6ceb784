//! The background writer: one thread that drains the queue in batches, finishes each trace
//! (redaction of its previews, the session summary) and writes the batches into every sink.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use super::rate_limit::RateLimited;
use super::{SinkStats, Stats};
use crate::error::Error;
use crate::pricing::PriceTable;
use crate::recorder::Unfinished;
use crate::redact::Redaction;
use crate::sink::{Sink, SinkError};
use crate::summary::Summarizer;
use crate::trace::LlmTrace;

/// Largest batch handed to the sinks at once.
const MAX_BATCH: usize = 1024;

/// Written traces go back to the callers in batches of this many, to be filled again.
pub(super) const RECYCLE_BATCH: usize = 64;

/// Batches of written traces waiting for callers (4,096 traces, about 4 MB with 200-character
/// previews); past this, written traces are freed.
pub(super) const RECYCLED_BATCHES: usize = 64;

/// Traces in their boxes: boxed on purpose, the boxes are what is recycled.
#[allow(clippy::vec_box)]
pub(super) type Boxes = Vec<Box<LlmTrace>>;

/// A recycled trace's preview keeps at most this much capacity.
const RECYCLE_MAX_BYTES: usize = 8 * 1024;

pub(super) enum Msg {
    /// A trace to write; with `Some`, it still has to be finished (priced, its previews
    /// redacted and cut).
    Trace(Box<LlmTrace>, Option<Unfinished>),
    /// Write (and so count in the summary) everything before this message, then acknowledge.
    Count(Sender<()>),
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
    /// The session summary: the writer adds what it receives, callers what never reaches it.
    summary: Mutex<Summarizer>,
}

impl Shared {
    pub(super) fn new(sinks: &[Box<dyn Sink>]) -> Shared {
        let stats = sinks
            .iter()
            .map(|s| SinkStats { name: s.name().into_owned(), ..SinkStats::default() })
            .collect();
        Shared {
            counters: Counters::default(),
            sinks: Mutex::new(stats),
            summary: Mutex::new(Summarizer::default()),
        }
    }

    pub(super) fn lock_summary(&self) -> MutexGuard<'_, Summarizer> {
        // The summary is only ever updated by whole additions; a panic elsewhere while the
        // lock was held cannot have left it inconsistent.
        self.summary.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// What the writer needs to finish the traces of [`CallRecorder`](crate::CallRecorder)s.
pub(super) struct Finishing {
    pub(super) redaction: Redaction,
    pub(super) preview_chars: usize,
    pub(super) prices: std::sync::Arc<PriceTable>,
    /// The tracer's id (keys the per-thread price cache).
    pub(super) tracer: u64,
}

thread_local! {
    static ON_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this is a writer thread (where waiting for the writer would wait forever).
pub(super) fn on_writer_thread() -> bool {
    ON_WRITER.try_with(std::cell::Cell::get).unwrap_or(false)
}

pub(super) fn spawn(
    rx: Receiver<Msg>,
    recycle: Sender<Boxes>,
    sinks: Vec<Box<dyn Sink>>,
    shared: std::sync::Arc<Shared>,
    finishing: Finishing,
    flush_interval: Duration,
) -> Result<std::thread::JoinHandle<()>, Error> {
    let warnings = sinks.iter().map(|_| RateLimited::new(Duration::from_secs(10))).collect();
    let recycler = Recycler { tx: recycle, pending: Vec::with_capacity(RECYCLE_BATCH) };
    let worker = Worker {
        rx,
        sinks,
        shared,
        warnings,
        finishing,
        hook_warning: RateLimited::new(Duration::from_secs(10)),
        flush_interval,
        dirty: false,
        recycler,
    };
    std::thread::Builder::new()
        .name("llm-trace-writer".into())
        .spawn(move || {
            ON_WRITER.with(|on| on.set(true));
            worker.run()
        })
        .map_err(Error::Spawn)
}

struct Worker {
    rx: Receiver<Msg>,
    sinks: Vec<Box<dyn Sink>>,
    shared: std::sync::Arc<Shared>,
    warnings: Vec<RateLimited>,
    finishing: Finishing,
    hook_warning: RateLimited,
    flush_interval: Duration,
    /// Something was written since the last flush.
    dirty: bool,
    recycler: Recycler,
}

/// Sends written traces back to the callers instead of freeing them here: the allocations of
/// a trace (its box, its preview strings) are reused by the thread that made them, and the
/// reference counts of its shared fields are never touched by this thread. Freeing them here
/// (memory another thread allocated, counts other threads update) is what limits a writer
/// otherwise.
///
/// The writer only reads a trace (the redaction of its previews aside): the sinks get the
/// boxes as they came. So the caller that fills a recycled trace again finds its memory as it
/// left it, shared with this core's cache rather than modified in it, and nothing is copied.
struct Recycler {
    tx: Sender<Boxes>,
    /// Written traces waiting to be sent back.
    pending: Boxes,
}

impl Recycler {
    /// Sends the written traces back to the callers, in batches.
    fn recycle(&mut self, batch: &mut Boxes) {
        for mut trace in batch.drain(..) {
            for preview in [&mut trace.input_preview, &mut trace.output_preview] {
                if preview.capacity() > RECYCLE_MAX_BYTES {
                    *preview = String::new();
                }
            }
            self.pending.push(trace);
            if self.pending.len() >= RECYCLE_BATCH {
                let full = std::mem::replace(&mut self.pending, Vec::with_capacity(RECYCLE_BATCH));
                // When the callers have enough at hand, the traces are freed here.
                let _ = self.tx.try_send(full);
            }
        }
    }
}

enum Op {
    Write,
    Flush,
    Shutdown,
}

impl Worker {
    fn run(mut self) {
        let mut batch: Boxes = Vec::with_capacity(MAX_BATCH);
        let mut last_flush = Instant::now();
        let mut idle = Idle::new();
        loop {
            // While traces keep coming, poll with naps instead of blocking: a sender only
            // pays for waking the writer (a futex syscall, microseconds) when the writer is
            // blocked, so the writer blocks only after a quiet spell. A nap ends early when
            // someone needs the writer now (see `Idle`).
            let polled = match self.rx.try_recv() {
                Ok(msg) => Ok(msg),
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => match idle.next_sleep() {
                    Some(nap) => {
                        std::thread::park_timeout(nap);
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
            let mut traces = 0;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Trace(mut trace, unfinished) => {
                        traces += 1;
                        if let Some(unfinished) = unfinished {
                            self.finish(&mut trace, unfinished);
                        }
                        batch.push(trace);
                        if batch.len() >= MAX_BATCH {
                            self.write(&mut batch);
                        }
                        next = self.rx.try_recv().ok();
                    }
                    Msg::Count(ack) => {
                        self.write(&mut batch);
                        let _ = ack.send(());
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
            idle.worked(traces);
            self.write(&mut batch);
            if self.dirty && last_flush.elapsed() >= self.flush_interval / 4 {
                self.flush_all();
                last_flush = Instant::now();
            }
        }
    }

    /// Prices a trace from a `CallRecorder` and redacts and cuts its previews.
    fn finish(&mut self, trace: &mut LlmTrace, mut unfinished: Unfinished) {
        let Finishing { redaction, preview_chars, prices, tracer } = &self.finishing;
        unfinished.set_cost(trace, |r, m| super::cached_price(prices, *tracer, r, m));
        if let Err(panic) = unfinished.finish(trace, redaction, *preview_chars) {
            self.hook_warning.warn(|suppressed| {
                tracing::warn!(
                    target: "llm_trace",
                    suppressed_warnings = suppressed,
                    "llm-trace dropped a trace's previews: the redaction hook {panic}"
                );
            });
        }
    }

    fn write(&mut self, batch: &mut Boxes) {
        if batch.is_empty() {
            return;
        }
        {
            let mut summary = self.shared.lock_summary();
            batch.iter().for_each(|trace| summary.add(trace));
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
        self.recycler.recycle(batch);
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
    fn call(&mut self, i: usize, op: Op, batch: &[Box<LlmTrace>]) -> bool {
        let sink = &mut self.sinks[i];
        let result = catch_unwind(AssertUnwindSafe(|| match op {
            Op::Write => sink.write(batch),
            Op::Flush => sink.flush(),
            Op::Shutdown => sink.shutdown(),
        }));
        let error: SinkError = match result {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => e,
            Err(panic) => format!("the sink {}", panic_message(&panic)).into(),
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

/// How long the writer naps between polls of an empty queue, and when it blocks instead.
///
/// Every wake-up costs a context switch and a cold cache, taken from the application on a
/// small machine: on the 2-vCPU VM of the benchmarks a thread waking from `park_timeout`
/// spends 60–70 µs of CPU time per wake-up before doing anything, against about 1.5 µs of
/// work per trace. So a nap is sized to find about [`TARGET`](Self::TARGET) traces at the
/// rate the last one saw: it at most doubles after a wake-up that found fewer (from 1 ms, up
/// to 50 ms), and shrinks in proportion after one that found more, down to 1 ms for a burst.
/// With a call every 200 µs (`benches/end_to_end.rs`) that is ~20 wake-ups a second instead
/// of ~100 with naps of at most 10 ms. After 100 ms without a trace the writer blocks until
/// the next one. Traces wait in the queue meanwhile, which holds far more than a nap's worth
/// of them, and the log is flushed on its own interval whatever the naps. Whoever needs the
/// writer at once unparks it ([`Waker`]): a flush, a shutdown, a summary sync, a caller that
/// finds the queue full.
struct Idle {
    since: Option<Instant>,
    /// The next nap.
    nap: Duration,
    /// The nap just taken.
    last: Duration,
}

impl Idle {
    const SHORT_NAP: Duration = Duration::from_millis(1);
    const LONG_NAP: Duration = Duration::from_millis(50);
    /// Traces a wake-up should find.
    const TARGET: u32 = 256;
    const QUIET: Duration = Duration::from_millis(100);

    fn new() -> Idle {
        Idle { since: None, nap: Self::SHORT_NAP, last: Self::SHORT_NAP }
    }

    /// After a wake-up that found `traces` traces (and other messages).
    fn worked(&mut self, traces: usize) {
        self.since = None;
        if traces == 0 {
            return; // a control message: it says nothing about the flow of traces
        }
        let traces = u32::try_from(traces).unwrap_or(u32::MAX);
        // What would have found TARGET traces at this rate, at most twice the last nap (the
        // flow may pick up).
        let fit = self.last * Self::TARGET / traces;
        self.nap = fit.min(self.last * 2).clamp(Self::SHORT_NAP, Self::LONG_NAP);
    }

    /// The next nap, or `None` once the queue has been quiet long enough to block.
    fn next_sleep(&mut self) -> Option<Duration> {
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() >= Self::QUIET {
            self.nap = Self::SHORT_NAP;
            self.last = Self::SHORT_NAP;
            return None;
        }
        self.last = self.nap;
        // Should this nap find nothing, the next is longer.
        self.nap = (self.nap * 2).min(Self::LONG_NAP);
        Some(self.last)
    }
}

/// Ends the writer's nap early (a no-op when it is working or blocked on the queue, where a
/// message wakes it anyway).
#[derive(Debug, Clone)]
pub(super) struct Waker(std::thread::Thread);

impl Waker {
    pub(super) fn of(writer: &std::thread::JoinHandle<()>) -> Waker {
        Waker(writer.thread().clone())
    }

    pub(super) fn wake(&self) {
        self.0.unpark();
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    format!("panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naps(idle: &mut Idle, n: usize) -> Vec<u64> {
        (0..n).map(|_| idle.next_sleep().unwrap().as_millis() as u64).collect()
    }

    #[test]
    fn naps_lengthen_while_traces_trickle_and_shorten_after_a_burst() {
        let mut idle = Idle::new();
        // Wake-ups that find nothing: each nap twice the last, up to the longest.
        assert_eq!(naps(&mut idle, 8), [1, 2, 4, 8, 16, 32, 50, 50]);
        idle.worked(5); // a trickle: the naps stay long
        assert_eq!(naps(&mut idle, 1), [50]);
        idle.worked(100_000); // a burst: the next one is likely soon
        assert_eq!(naps(&mut idle, 1), [1]);
        idle.worked(8); // a few: at most twice as long
        assert_eq!(naps(&mut idle, 1), [2]);
    }

    #[test]
    fn naps_settle_where_a_wake_up_finds_about_the_target() {
        let mut idle = Idle::new();
        // A steady 10 traces per millisecond: the naps grow until one finds more than the
        // target, then settle on the nap that finds it (25.6 ms).
        let per_ms = |nap: Duration, rate: u128| (nap.as_micros() * rate / 1000) as usize;
        let mut taken = Vec::new();
        for _ in 0..12 {
            let nap = idle.next_sleep().unwrap();
            taken.push(nap.as_millis() as u64);
            idle.worked(per_ms(nap, 10));
        }
        assert_eq!(taken, [1, 2, 4, 8, 16, 25, 25, 25, 25, 25, 25, 25]);
        // The flow doubles: the next nap halves.
        let nap = idle.next_sleep().unwrap();
        idle.worked(per_ms(nap, 20));
        assert_eq!(naps(&mut idle, 1), [12]);
    }

    #[test]
    fn a_quiet_queue_is_waited_on_and_the_naps_start_short_again() {
        let mut idle = Idle::new();
        assert_eq!(naps(&mut idle, 4), [1, 2, 4, 8]);
        idle.since = Instant::now().checked_sub(Idle::QUIET);
        assert_eq!(idle.next_sleep(), None, "blocks after a quiet spell");
        idle.worked(1); // the call that ended the wait
        assert_eq!(naps(&mut idle, 2), [2, 4]);
    }
}
