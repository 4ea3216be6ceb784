//! The tracer: takes finished traces from callers and hands them to a background writer
//! through a bounded queue.
//!
//! The caller's cost ends at the queue: a counter and a channel send. Redaction of the
//! previews, the session summary, serialization and I/O happen on the writer thread (see
//! [`worker`]).

mod global;
mod rate_limit;
mod worker;

pub use global::{DefaultGuard, Guard, init, install};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};

use crate::config::{Config, Overflow};
use crate::error::Error;
use crate::payload::Captured;
use crate::pricing::{Price, PriceTable};
use crate::recent::Recent;
use crate::recorder::{CallRecorder, Unfinished};
use crate::sink::{JsonlSink, Sink};
use crate::summary::Summary;
use crate::trace::{LlmTrace, Name, TraceId};

pub(crate) use rate_limit::RateLimited;
pub(crate) use worker::panic_message;
use worker::{Msg, Shared};

/// Records traces. Cheap to clone (one shared instance); most applications use the global one
/// installed by [`init`], tests and libraries build their own.
///
/// ```
/// use llm_trace_core::{sink::MemorySink, FinishReason, Tracer, Usage};
///
/// let memory = MemorySink::new();
/// let tracer = Tracer::builder().sink(memory.clone()).build()?;
///
/// let mut call = tracer.call("anthropic", "chat", "claude-sonnet-4-5");
/// call.input("Summarize this ticket").usage(Usage::new(1200, 150));
/// call.finish(FinishReason::Stop);
///
/// tracer.flush()?;
/// assert_eq!(memory.len(), 1);
/// assert_eq!(tracer.stats().written, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

struct Inner {
    /// Unique among the tracers of this process (keys per-thread caches).
    id: u64,
    session_id: Arc<str>,
    preview_chars: usize,
    sample_rate: f64,
    overflow: Overflow,
    max_wait: Duration,
    shutdown_timeout: Duration,
    prices: Arc<PriceTable>,
    shared: Arc<Shared>,
    tx: Sender<Msg>,
    /// Ends the writer's nap when a message cannot wait for it.
    waker: worker::Waker,
    /// Traces the writer is done with, in batches, for callers to fill again.
    recycled: Receiver<worker::Boxes>,
    closed: AtomicBool,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Shared by every call outside any annotated function.
    empty_names: Arc<[Name]>,
    #[cfg(feature = "payloads")]
    payloads: Option<crate::payload::PayloadWriter>,
    payload_max_bytes: usize,
    dropped_warning: RateLimited,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("session_id", &self.inner.session_id)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Tracer {
    /// A tracer configured by `config`, writing to the JSON-lines log in `config.dir`.
    /// Fails (naming the path) if the log cannot be opened, or if the price file is bad.
    pub fn new(config: Config) -> Result<Tracer, Error> {
        Tracer::builder().config(config).sinks_from_config().build()
    }

    /// A builder with default settings and no sinks.
    pub fn builder() -> TracerBuilder {
        TracerBuilder {
            config: Config::default(),
            sinks: Vec::new(),
            from_config: false,
            prices: None,
            #[cfg(feature = "payloads")]
            payload_store: None,
        }
    }

    /// Starts recording a call to `provider`'s `operation` with `model`. See [`CallRecorder`].
    pub fn call(
        &self,
        provider: impl Into<Name>,
        operation: impl Into<Name>,
        model: impl AsRef<str>,
    ) -> CallRecorder {
        CallRecorder::start(Some(self.clone()), provider.into(), operation.into(), model.as_ref())
    }

    /// Records a finished trace: counts it in the summary and queues it for the sinks.
    /// Never blocks on I/O; under [`Overflow::Wait`] it may wait for room in a full queue.
    pub fn record(&self, trace: LlmTrace) {
        self.record_boxed(Box::new(trace), None, None);
    }

    /// Whether calls recorded by this tracer capture full payloads.
    pub fn captures_payloads(&self) -> bool {
        #[cfg(feature = "payloads")]
        return self.inner.payloads.is_some();
        #[cfg(not(feature = "payloads"))]
        false
    }

    pub(crate) fn payload_max_bytes(&self) -> usize {
        self.inner.payload_max_bytes
    }

    /// Queues `trace` for the writer, which finishes it (when `unfinished` says how), counts
    /// it in the summary and writes it. A trace that does not reach the writer (sampled out,
    /// dropped) is priced and counted in the summary here.
    pub(crate) fn record_boxed(
        &self,
        mut trace: Box<LlmTrace>,
        captured: Option<Box<Captured>>,
        unfinished: Option<Unfinished>,
    ) {
        let inner = &*self.inner;
        inner.shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "payloads")]
        if let (Some(writer), Some(captured), Some(key)) =
            (&inner.payloads, captured, &trace.payload)
        {
            // Independent of sampling: the payload of a sampled-out call is still stored.
            writer.submit(crate::payload::PayloadJob {
                key: key.clone(),
                trace_id: trace.trace_id,
                timestamp: trace.timestamp,
                captured: *captured,
            });
        }
        #[cfg(not(feature = "payloads"))]
        let _ = captured;
        if !inner.sampled(&trace) {
            inner.shared.counters.sampled_out.fetch_add(1, Ordering::Relaxed);
            if let Some(mut unfinished) = unfinished {
                unfinished.set_cost(&mut trace, |r, m| inner.price_of(r, m));
            }
            inner.shared.lock_summary().add(&trace);
            give_back(trace);
            return;
        }
        let msg = Msg::Trace(trace, unfinished);
        if inner.closed.load(Ordering::Acquire) {
            return inner.count_dropped(msg, "the tracer was shut down");
        }
        let (msg, why) = match inner.tx.try_send(msg) {
            Ok(()) => return,
            Err(TrySendError::Disconnected(msg)) => (msg, "the writer thread has stopped"),
            Err(TrySendError::Full(msg)) => {
                // The writer may be napping: wake it before waiting for room (or dropping).
                inner.waker.wake();
                match inner.overflow {
                    Overflow::Drop => (msg, "the queue is full (overflow policy: drop)"),
                    Overflow::Wait => match inner.tx.send_timeout(msg, inner.max_wait) {
                        Ok(()) => return,
                        Err(SendTimeoutError::Timeout(msg)) => {
                            (msg, "the queue stayed full for max_wait")
                        }
                        Err(SendTimeoutError::Disconnected(msg)) => {
                            (msg, "the writer thread has stopped")
                        }
                    },
                }
            }
        };
        inner.count_dropped(msg, why);
    }

    /// Waits until every trace recorded before this call has been written and the sinks
    /// flushed, for at most the configured shutdown timeout.
    pub fn flush(&self) -> Result<(), FlushError> {
        self.flush_timeout(self.inner.shutdown_timeout)
    }

    /// [`flush`](Self::flush) with an explicit time limit.
    pub fn flush_timeout(&self, timeout: Duration) -> Result<(), FlushError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(FlushError::Closed);
        }
        let deadline = Instant::now() + timeout;
        let timed_out = || FlushError::Timeout { pending: self.stats().pending() };
        match self.inner.control(Msg::Flush, deadline) {
            Ok(()) => {}
            Err(Unanswered::TimedOut) => return Err(timed_out()),
            Err(Unanswered::Closed) => return Err(FlushError::Closed),
        }
        #[cfg(feature = "payloads")]
        if let Some(writer) = &self.inner.payloads {
            if !writer.flush(deadline) {
                return Err(timed_out());
            }
        }
        Ok(())
    }

    /// Writes everything queued, shuts the sinks down and stops the writer thread, waiting at
    /// most `timeout`. Traces recorded afterwards are counted as dropped. Calling it again
    /// returns the same accounting without waiting.
    ///
    /// ```
    /// # let tracer = llm_trace_core::Tracer::builder().build().unwrap();
    /// let report = tracer.shutdown(std::time::Duration::from_secs(5));
    /// assert!(report.is_complete(), "{report}");
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let inner = &*self.inner;
        let deadline = Instant::now() + timeout;
        let first = !inner.closed.swap(true, Ordering::AcqRel);
        let mut timed_out = false;
        if first {
            timed_out = inner.control(Msg::Shutdown, deadline).is_err();
        }
        if !timed_out {
            if let Some(worker) = inner.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = worker.join();
            }
        }
        #[cfg(feature = "payloads")]
        if first {
            if let Some(writer) = &inner.payloads {
                timed_out |= !writer.shutdown(deadline);
            }
        }
        let stats = self.stats();
        ShutdownReport {
            timed_out: timed_out || stats.pending() > 0,
            written: stats.written,
            lost: stats.dropped + stats.failed,
            unwritten: stats.pending(),
        }
    }

    /// Counters since the tracer started.
    pub fn stats(&self) -> Stats {
        #[allow(unused_mut)]
        let mut stats = self.inner.shared.stats(self.inner.tx.len());
        #[cfg(feature = "payloads")]
        if let Some(writer) = &self.inner.payloads {
            let c = &writer.counters;
            stats.payloads_written = c.written.load(Ordering::Acquire);
            stats.payloads_failed = c.failed.load(Ordering::Acquire);
            stats.payloads_dropped = c.dropped.load(Ordering::Acquire);
        }
        stats
    }

    /// A snapshot of the session summary: every call recorded so far, sampled out or not.
    ///
    /// The writer thread keeps the summary; this first waits until it has counted every call
    /// recorded before (at most the configured shutdown timeout, in case a sink hangs).
    pub fn summary(&self) -> Summary {
        let inner = &*self.inner;
        if !inner.closed.load(Ordering::Acquire) && !worker::on_writer_thread() {
            let _ = inner.control(Msg::Count, Instant::now() + inner.shutdown_timeout);
        }
        inner.shared.lock_summary().summary(&inner.session_id)
    }

    /// The default session id of calls recorded by this tracer.
    pub fn session_id(&self) -> &Arc<str> {
        &self.inner.session_id
    }

    /// The price table used for `cost_usd`.
    pub fn prices(&self) -> &PriceTable {
        &self.inner.prices
    }

    pub(crate) fn preview_chars(&self) -> usize {
        self.inner.preview_chars
    }

    pub(crate) fn empty_names(&self) -> Arc<[Name]> {
        self.inner.empty_names.clone()
    }

    /// A trace the writer is done with, to be filled again by this thread, if one is at hand.
    pub(crate) fn recycled_trace(&self) -> Option<Box<LlmTrace>> {
        STASH
            .try_with(|stash| {
                let mut stash = stash.borrow_mut();
                if let Some(trace) = stash.pop() {
                    return Some(trace);
                }
                *stash = self.inner.recycled.try_recv().ok()?;
                stash.pop()
            })
            .ok()
            .flatten()
    }

    /// The price of a call to `model` answered by `response_model`: the response model's
    /// price, else the requested model's. The last few lookups are cached per thread.
    pub(crate) fn price_of(
        &self,
        response_model: Option<&Arc<str>>,
        model: &Arc<str>,
    ) -> Option<Price> {
        self.inner.price_of(response_model, model)
    }

    /// The tracer calls use when none is given: the innermost [`set_default`](Self::set_default)
    /// on this thread, else the global one from [`init`], else none.
    pub fn current() -> Option<Tracer> {
        global::current()
    }

    /// The global tracer installed by [`init`], if any.
    pub fn global() -> Option<&'static Tracer> {
        global::global()
    }

    /// Makes this tracer the default for calls on this thread until the guard is dropped
    /// (for tests and for libraries with their own tracer).
    pub fn set_default(&self) -> DefaultGuard {
        global::set_default(self.clone())
    }
}

impl Inner {
    fn price_of(&self, response_model: Option<&Arc<str>>, model: &Arc<str>) -> Option<Price> {
        cached_price(&self.prices, self.id, response_model, model)
    }
}

/// The price in `prices` (tracer `tracer`'s table) of a call to `model` answered by
/// `response_model`: the response model's price, else the requested model's. The last few
/// lookups are cached per thread: on the callers, and on the writer, which prices most calls.
pub(crate) fn cached_price(
    prices: &PriceTable,
    tracer: u64,
    response_model: Option<&Arc<str>>,
    model: &Arc<str>,
) -> Option<Price> {
    let resolve = || {
        response_model
            .and_then(|m| prices.resolve(m))
            .or_else(|| prices.resolve(model))
            .map(|found| *found.price)
    };
    let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b) || **a == **b;
    PRICES
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            let hit = cache.find(|e| {
                e.tracer == tracer
                    && same(&e.model, model)
                    && match (&e.response_model, response_model) {
                        (None, None) => true,
                        (Some(a), Some(b)) => same(a, b),
                        _ => false,
                    }
            });
            if let Some(entry) = hit {
                return entry.price;
            }
            let price = resolve();
            cache.insert(PriceEntry {
                tracer,
                response_model: response_model.cloned(),
                model: model.clone(),
                price,
            });
            price
        })
        .unwrap_or_else(|_| resolve())
}

/// Recycled traces a thread keeps at hand (one batch from the writer).
const STASH_MAX: usize = worker::RECYCLE_BATCH;

/// Price lookups cached per thread.
const PRICE_SLOTS: usize = 4;

struct PriceEntry {
    tracer: u64,
    response_model: Option<Arc<str>>,
    model: Arc<str>,
    price: Option<Price>,
}

thread_local! {
    static STASH: std::cell::RefCell<worker::Boxes> = const { std::cell::RefCell::new(Vec::new()) };
    static PRICES: std::cell::RefCell<Recent<PriceEntry, PRICE_SLOTS>> =
        const { std::cell::RefCell::new(Recent::new()) };
}

/// Keeps a trace that never reached the writer for this thread's next call.
fn give_back(trace: Box<LlmTrace>) {
    let _ = STASH.try_with(|stash| {
        let mut stash = stash.borrow_mut();
        if stash.len() < STASH_MAX {
            stash.push(trace);
        }
    });
}

static NEXT_TRACER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Inner {
    fn sampled(&self, trace: &LlmTrace) -> bool {
        if self.sample_rate >= 1.0 {
            return true;
        }
        if self.sample_rate <= 0.0 {
            return false;
        }
        trace.is_error() || sample_keeps(&trace.trace_id, self.sample_rate)
    }

    /// Sends the writer a control message and waits for its answer (see [`control`]).
    fn control(&self, msg: fn(Sender<()>) -> Msg, deadline: Instant) -> Result<(), Unanswered> {
        control(&self.tx, msg, deadline, || self.waker.wake())
    }

    /// Counts a trace that will not be written (it still counts in the summary).
    fn count_dropped(&self, msg: Msg, why: &str) {
        if let Msg::Trace(mut trace, unfinished) = msg {
            if let Some(mut unfinished) = unfinished {
                unfinished.set_cost(&mut trace, |r, m| self.price_of(r, m));
            }
            self.shared.lock_summary().add(&trace);
        }
        let dropped = self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        self.dropped_warning.warn(|suppressed| {
            tracing::warn!(
                target: "llm_trace",
                dropped_total = dropped,
                suppressed_warnings = suppressed,
                "llm-trace dropped a trace: {why}"
            );
        });
    }
}

/// Sends a background thread a control message carrying an acknowledgement channel (flush,
/// shutdown, …), wakes it (`wake`: for a thread that naps rather than blocks on its queue)
/// and waits until it answers, at most until `deadline`. Shared by the trace writer and the
/// payload writer.
pub(crate) fn control<M>(
    tx: &Sender<M>,
    msg: fn(Sender<()>) -> M,
    deadline: Instant,
    wake: impl Fn(),
) -> Result<(), Unanswered> {
    let (ack, done) = crossbeam_channel::bounded(1);
    match tx.send_deadline(msg(ack), deadline) {
        Ok(()) => wake(),
        Err(SendTimeoutError::Timeout(_)) => return Err(Unanswered::TimedOut),
        Err(SendTimeoutError::Disconnected(_)) => return Err(Unanswered::Closed),
    }
    done.recv_deadline(deadline).map_err(|e| match e {
        crossbeam_channel::RecvTimeoutError::Timeout => Unanswered::TimedOut,
        crossbeam_channel::RecvTimeoutError::Disconnected => Unanswered::Closed,
    })
}

/// Why a background thread did not acknowledge a control message.
pub(crate) enum Unanswered {
    TimedOut,
    /// The writer has stopped.
    Closed,
}

/// Deterministic sampling: the same trace id is always kept or always left out at a given
/// rate, so several services sampling one id agree.
pub(crate) fn sample_keeps(id: &TraceId, rate: f64) -> bool {
    (id.random_part() as f64) < rate * (u64::MAX as f64)
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: write what is queued before the writer stops.
        if !self.closed.swap(true, Ordering::AcqRel) {
            let _ = self.control(Msg::Shutdown, Instant::now() + self.shutdown_timeout);
        }
    }
}

/// Builds a [`Tracer`].
///
/// ```
/// use llm_trace_core::{sink::MemorySink, Config, Tracer};
///
/// let mut config = Config::default();
/// config.preview_chars = 80;
/// let tracer = Tracer::builder()
///     .config(config)            // settings
///     .sink(MemorySink::new())   // and exactly these sinks
///     .build()?;
/// # Ok::<(), llm_trace_core::Error>(())
/// ```
#[must_use]
pub struct TracerBuilder {
    config: Config,
    sinks: Vec<Box<dyn Sink>>,
    from_config: bool,
    prices: Option<PriceTable>,
    #[cfg(feature = "payloads")]
    payload_store: Option<crate::payload::PayloadStore>,
}

impl TracerBuilder {
    /// Takes the settings of `config` (session, previews, sampling, queue, prices...). Sinks
    /// are only taken from it with [`sinks_from_config`](Self::sinks_from_config).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Also writes to the sinks the configuration names: the JSON-lines log in
    /// `config.dir` (and, with their features, payloads and OTLP export).
    pub fn sinks_from_config(mut self) -> Self {
        self.from_config = true;
        self
    }

    /// Adds a sink.
    pub fn sink(mut self, sink: impl Sink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Stores full payloads in `store` (instead of, or without, the one `config.payloads`
    /// names).
    #[cfg(feature = "payloads")]
    pub fn payload_store(mut self, store: crate::payload::PayloadStore) -> Self {
        self.payload_store = Some(store);
        self
    }

    /// Uses `prices` instead of the built-in table (and of `config.prices`).
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Starts the writer thread. Fails if a configured sink cannot be opened or the price
    /// file cannot be loaded.
    pub fn build(self) -> Result<Tracer, Error> {
        // The clock's rate is measured now (a quarter of a millisecond), not on the first call.
        crate::clock::init();
        #[cfg(feature = "payloads")]
        let payload_store = match self.payload_store {
            Some(store) => Some(store),
            None if self.from_config => crate::payload::PayloadStore::open(&self.config)?,
            None => None,
        };
        #[cfg(feature = "payloads")]
        let payloads = match payload_store {
            Some(store) => Some(
                crate::payload::PayloadWriter::start(store, self.config.redaction.clone())
                    .map_err(Error::Spawn)?,
            ),
            None => None,
        };
        let TracerBuilder { config, mut sinks, from_config, prices, .. } = self;
        config.validate()?;
        let prices = match (prices, &config.prices) {
            (Some(prices), _) => prices,
            (None, Some(path)) => PriceTable::builtin_extended_with(path)?,
            (None, None) => PriceTable::builtin(),
        };
        if from_config {
            let mut log = JsonlSink::open(config.log_path())?;
            if let Some(rotation) = config.rotation {
                log = log.with_rotation(rotation);
            }
            sinks.insert(0, Box::new(log));
            #[cfg(feature = "otlp")]
            {
                let mut options = crate::sink::OtlpOptions::for_config(&config.otlp);
                // A write must fit in a flush, or shutdown would give up on it.
                options.timeout = options.timeout.min(config.shutdown_timeout);
                if config.otlp.traces_url().is_some() {
                    sinks.push(Box::new(crate::sink::OtlpSink::new(&config.otlp, options)?));
                }
            }
        }
        let session_id: Arc<str> = match &config.session_id {
            Some(session) => Arc::from(session.as_str()),
            None => Arc::from(TraceId::new().to_string()),
        };
        let (tx, rx) = crossbeam_channel::bounded(config.queue_capacity);
        let (recycle, recycled) = crossbeam_channel::bounded(worker::RECYCLED_BATCHES);
        let shared = Arc::new(Shared::new(&sinks));
        let id = NEXT_TRACER_ID.fetch_add(1, Ordering::Relaxed);
        let prices = Arc::new(prices);
        let finishing = worker::Finishing {
            redaction: config.redaction.clone(),
            preview_chars: config.preview_chars,
            prices: prices.clone(),
            tracer: id,
        };
        let worker =
            worker::spawn(rx, recycle, sinks, shared.clone(), finishing, config.flush_interval)?;
        let waker = worker::Waker::of(&worker);
        Ok(Tracer {
            inner: Arc::new(Inner {
                id,
                session_id,
                preview_chars: config.preview_chars,
                sample_rate: config.sample_rate,
                overflow: config.overflow,
                max_wait: config.max_wait,
                shutdown_timeout: config.shutdown_timeout,
                prices,
                shared,
                tx,
                waker,
                recycled,
                closed: AtomicBool::new(false),
                worker: Mutex::new(Some(worker)),
                empty_names: Arc::from([]),
                #[cfg(feature = "payloads")]
                payloads,
                payload_max_bytes: config.payload_max_bytes,
                dropped_warning: RateLimited::new(Duration::from_secs(10)),
            }),
        })
    }
}

/// Counters of a tracer. Every recorded trace ends up in exactly one of `sampled_out`,
/// `dropped`, `written`, `failed`, or is still pending in the queue.
///
/// ```
/// # let tracer = llm_trace_core::Tracer::builder().build().unwrap();
/// let stats = tracer.stats();
/// assert_eq!(stats.recorded, stats.sampled_out + stats.dropped + stats.written + stats.failed + stats.pending());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Calls finished and handed to the tracer.
    pub recorded: u64,
    /// Left out of the sinks by sampling (still in the summary).
    pub sampled_out: u64,
    /// Never queued: the queue was full (see [`Overflow`]) or the tracer was shut down.
    pub dropped: u64,
    /// Written by every sink.
    pub written: u64,
    /// Rejected by at least one sink (see `sinks` for which).
    pub failed: u64,
    /// Failed sink operations (writes, flushes, panics).
    pub sink_errors: u64,
    /// Traces waiting in the queue now.
    pub queued: u64,
    /// Per sink.
    pub sinks: Vec<SinkStats>,
    /// Payloads written to the payload store.
    pub payloads_written: u64,
    /// Payloads the store failed to write.
    pub payloads_failed: u64,
    /// Payloads dropped because the payload queue was full.
    pub payloads_dropped: u64,
}

impl Stats {
    /// Traces recorded but not yet accounted for (in the queue or being written).
    pub fn pending(&self) -> u64 {
        self.recorded.saturating_sub(self.sampled_out + self.dropped + self.written + self.failed)
    }
}

/// Counters of one sink.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SinkStats {
    /// The sink's [`name`](crate::sink::Sink::name).
    pub name: String,
    /// Traces it wrote.
    pub written: u64,
    /// Traces in batches it failed to write.
    pub failed: u64,
    /// Failed operations (writes, flushes, panics).
    pub errors: u64,
    /// The latest error message.
    pub last_error: Option<String>,
}

/// Why [`Tracer::flush`] did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The writer did not finish in time (a sink is slow or stuck).
    #[error("llm-trace flush timed out with {pending} traces still pending")]
    Timeout {
        /// Traces not yet written when the time ran out.
        pending: u64,
    },
    /// The tracer was shut down.
    #[error("llm-trace was shut down; nothing more is written")]
    Closed,
}

/// What [`Tracer::shutdown`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// The writer did not finish within the timeout.
    pub timed_out: bool,
    /// Traces written by every sink.
    pub written: u64,
    /// Traces dropped or rejected by a sink.
    pub lost: u64,
    /// Traces still queued or being written when the time ran out.
    pub unwritten: u64,
}

impl ShutdownReport {
    /// Whether everything recorded was written.
    pub fn is_complete(&self) -> bool {
        !self.timed_out && self.lost == 0 && self.unwritten == 0
    }
}

impl std::fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} traces written, {} lost, {} unwritten",
            self.written, self.lost, self.unwritten
        )?;
        if self.timed_out {
            f.write_str(" (timed out)")?;
        }
        Ok(())
    }
}
