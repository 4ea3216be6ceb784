//! The payload writer: its own thread and queue, so a slow store never delays the log.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::{Captured, Part, PayloadStore};
use crate::redact::Redaction;
use crate::trace::{Timestamp, TraceId};
use crate::tracer::RateLimited;

/// Payloads waiting to be written; past this, new ones are dropped (and counted).
const QUEUE: usize = 4096;
/// Documents written in one go (concurrently).
const BATCH: usize = 64;

pub(crate) struct PayloadJob {
    pub(crate) key: String,
    pub(crate) trace_id: TraceId,
    pub(crate) timestamp: Timestamp,
    pub(crate) captured: Captured,
}

enum Msg {
    Job(Box<PayloadJob>),
    Flush(Sender<()>),
    Shutdown(Sender<()>),
}

#[derive(Default)]
pub(crate) struct PayloadCounters {
    pub(crate) written: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

/// The handle callers use: a bounded queue to the payload thread.
pub(crate) struct PayloadWriter {
    tx: Sender<Msg>,
    pub(crate) counters: Arc<PayloadCounters>,
    dropped_warning: RateLimited,
}

impl PayloadWriter {
    pub(crate) fn start(
        store: PayloadStore,
        redaction: Redaction,
    ) -> std::io::Result<PayloadWriter> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let counters = Arc::new(PayloadCounters::default());
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("llm-trace-payloads".into())
            .spawn(move || run(rx, store, redaction, thread_counters))?;
        Ok(PayloadWriter {
            tx,
            counters,
            dropped_warning: RateLimited::new(Duration::from_secs(10)),
        })
    }

    /// Queues a payload; never waits.
    pub(crate) fn submit(&self, job: PayloadJob) {
        match self.tx.try_send(Msg::Job(Box::new(job))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                self.dropped_warning.warn(|suppressed| {
                    tracing::warn!(
                        target: "llm_trace",
                        payloads_dropped = dropped,
                        suppressed_warnings = suppressed,
                        "llm-trace dropped a payload: the payload store is not keeping up"
                    );
                });
            }
        }
    }

    /// Waits until everything queued before now is written, until `deadline`.
    pub(crate) fn flush(&self, deadline: Instant) -> bool {
        self.control(Msg::Flush, deadline)
    }

    /// Writes what is queued and stops the thread, until `deadline`.
    pub(crate) fn shutdown(&self, deadline: Instant) -> bool {
        self.control(Msg::Shutdown, deadline)
    }

    fn control(&self, msg: fn(Sender<()>) -> Msg, deadline: Instant) -> bool {
        let (ack, done) = crossbeam_channel::bounded(1);
        self.tx.send_deadline(msg(ack), deadline).is_ok() && done.recv_deadline(deadline).is_ok()
    }
}

fn run(
    rx: Receiver<Msg>,
    store: PayloadStore,
    redaction: Redaction,
    counters: Arc<PayloadCounters>,
) {
    let failure_warning = RateLimited::new(Duration::from_secs(10));
    let mut batch = Vec::with_capacity(BATCH);
    let write = |batch: &mut Vec<(String, Vec<u8>)>| {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let (failed, error) = store.put_all(std::mem::take(batch));
        counters.written.fetch_add(n - failed as u64, Ordering::AcqRel);
        counters.failed.fetch_add(failed as u64, Ordering::AcqRel);
        if let Some(error) = error {
            failure_warning.warn(|suppressed| {
                tracing::warn!(
                    target: "llm_trace",
                    store = store.location(),
                    suppressed_warnings = suppressed,
                    "llm-trace could not store a payload: {error}"
                );
            });
        }
    };
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Job(job) => {
                    batch.push((job.key.clone(), document(&job, &redaction)));
                    if batch.len() >= BATCH {
                        write(&mut batch);
                    }
                    next = rx.try_recv().ok();
                }
                Msg::Flush(ack) => {
                    write(&mut batch);
                    let _ = ack.send(());
                }
                Msg::Shutdown(ack) => {
                    write(&mut batch);
                    let _ = ack.send(());
                    return;
                }
            }
        }
        write(&mut batch);
    }
    write(&mut batch);
}

/// The stored JSON document: the request and response as JSON (redacted), or, when cut to
/// the size limit, the first bytes of their JSON text as a string, with the original size.
fn document(job: &PayloadJob, redaction: &Redaction) -> Vec<u8> {
    let side = |part: &Option<Part>| -> (serde_json::Value, Option<usize>) {
        let Some(part) = part else { return (serde_json::Value::Null, None) };
        let text = String::from_utf8_lossy(&part.json);
        let clean = redaction.apply(&text);
        if part.is_cut() {
            (serde_json::Value::String(clean.into_owned()), Some(part.original_bytes))
        } else {
            // Redaction only replaces text inside tokens with `[REDACTED:…]`, which keeps
            // JSON valid; fall back to a string if a user hook broke it.
            let value = serde_json::from_str(&clean)
                .unwrap_or_else(|_| serde_json::Value::String(clean.into_owned()));
            (value, None)
        }
    };
    let (request, request_cut) = side(&job.captured.request);
    let (response, response_cut) = side(&job.captured.response);
    let mut doc = serde_json::json!({
        "trace_id": job.trace_id,
        "timestamp": job.timestamp,
        "request": request,
        "response": response,
    });
    if request_cut.is_some() || response_cut.is_some() {
        doc["truncated"] = serde_json::json!({
            "request_original_bytes": request_cut,
            "response_original_bytes": response_cut,
        });
    }
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}
