//! The payload writer: its own thread and queue, so a slow store never delays the log.

use std::borrow::Cow;
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
        // The payload thread blocks on its queue, so the message itself wakes it.
        crate::tracer::control(&self.tx, msg, deadline, || ()).is_ok()
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
                    let PayloadJob { key, trace_id, timestamp, captured } = *job;
                    let sides = captured.into_parts();
                    batch.push((key, document(&trace_id, &timestamp, &sides, &redaction)));
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

/// The stored JSON document, compact: `{"trace_id", "timestamp", "request", "response"}`,
/// with `"truncated": {"request_original_bytes", "response_original_bytes"}` when a side was
/// cut. Each side is the captured JSON as it is (redacted), or, when cut to the size limit,
/// the first bytes of its JSON text as a string. Built by concatenation: the captured JSON is
/// not parsed again unless redaction changed it.
fn document(
    trace_id: &TraceId,
    timestamp: &Timestamp,
    [request, response]: &[Option<Part>; 2],
    redaction: &Redaction,
) -> Vec<u8> {
    let size = |p: &Option<Part>| p.as_ref().map_or(4, |p| p.json.len());
    let mut out = Vec::with_capacity(128 + size(request) + size(response));
    out.extend_from_slice(b"{\"trace_id\":\"");
    out.extend_from_slice(trace_id.to_string().as_bytes());
    out.extend_from_slice(b"\",\"timestamp\":\"");
    out.extend_from_slice(timestamp.to_string().as_bytes());
    out.extend_from_slice(b"\",\"request\":");
    let request_cut = write_side(&mut out, request, redaction);
    out.extend_from_slice(b",\"response\":");
    let response_cut = write_side(&mut out, response, redaction);
    if request_cut.is_some() || response_cut.is_some() {
        let truncated = serde_json::json!({
            "request_original_bytes": request_cut,
            "response_original_bytes": response_cut,
        });
        out.extend_from_slice(b",\"truncated\":");
        out.extend_from_slice(truncated.to_string().as_bytes());
    }
    out.push(b'}');
    out
}

/// Writes one side of the document; returns its original size when it was cut.
fn write_side(out: &mut Vec<u8>, part: &Option<Part>, redaction: &Redaction) -> Option<usize> {
    let Some(part) = part else {
        out.extend_from_slice(b"null");
        return None;
    };
    let text = String::from_utf8_lossy(&part.json);
    let clean = redact_json_text(&text, redaction);
    let as_string = |out: &mut Vec<u8>, text: &str| {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    };
    if part.is_cut() {
        as_string(out, &clean);
        return Some(part.original_bytes);
    }
    match &clean {
        // Unchanged: the JSON serde wrote at capture.
        Cow::Borrowed(_) if matches!(text, Cow::Borrowed(_)) => out.extend_from_slice(&part.json),
        // Changed: a card or phone number rule may have replaced a JSON number, and a user
        // hook may do anything; keep it as JSON only if it still is.
        _ if serde_json::from_str::<serde::de::IgnoredAny>(&clean).is_ok() => {
            out.extend_from_slice(clean.as_bytes());
        }
        _ => as_string(out, &clean),
    }
    None
}

/// Marks where a JSON escape sequence ends while the built-in rules scan JSON text. Valid JSON
/// text (and any prefix of it) never holds a raw NUL, so the marker cannot clash with content.
const ESCAPE_END: char = '\u{0}';

/// Redacts JSON text as the built-in rules would redact the strings it encodes.
///
/// The rules only match at a word boundary, and an escape such as `\n` ends in a letter: a key
/// pasted after a line break (`"credentials:\nsk-…"`) would not be at a boundary in the JSON
/// text although it is in the string. So the end of every escape that ends in a letter or a
/// digit (`\b \f \n \r \t \uXXXX`) is marked with [`ESCAPE_END`] while the rules run, and
/// the marks are removed afterwards. The user's hook then sees the JSON text, as before.
/// Borrows when nothing changed.
fn redact_json_text<'a>(text: &'a str, redaction: &Redaction) -> Cow<'a, str> {
    if redaction.hook.is_none() && !text.contains('\\') {
        // No escapes to mark: the rules see the text as it is.
        return redaction.apply(text);
    }
    let mut marked = String::with_capacity(text.len() + text.len() / 16);
    let mut chars = text.chars();
    let mut any = false;
    while let Some(c) = chars.next() {
        marked.push(c);
        if c != '\\' {
            continue;
        }
        let Some(escaped) = chars.next() else { break };
        marked.push(escaped);
        let ends_in_word = match escaped {
            'b' | 'f' | 'n' | 'r' | 't' => true,
            'u' => {
                marked.extend(chars.by_ref().take(4));
                true
            }
            _ => false,
        };
        if ends_in_word {
            marked.push(ESCAPE_END);
            any = true;
        }
    }
    let builtin = Redaction { hook: None, ..redaction.clone() };
    let scanned = match builtin.apply(&marked) {
        // Nothing redacted and no hook: the text is unchanged.
        Cow::Borrowed(_) if redaction.hook.is_none() => return Cow::Borrowed(text),
        scanned if any => scanned.replace(ESCAPE_END, ""),
        scanned => scanned.into_owned(),
    };
    match &redaction.hook {
        Some(hook) => Cow::Owned(hook(&scanned)),
        None => Cow::Owned(scanned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_right_after_a_json_escape_are_redacted() {
        let r = Redaction::default();
        let json = serde_json::to_string(&serde_json::json!({
            "content": "key:\nsk-proj-AbCdEfGhIjKlMnOpQrStUvWx\tcard\t4111 1111 1111 1111\u{e9}x",
            "tab": "\tBearer abcdefgh12345678",
        }))
        .unwrap();
        let clean = redact_json_text(&json, &r);
        let value: serde_json::Value = serde_json::from_str(&clean).unwrap();
        assert_eq!(value["content"], "key:\n[REDACTED:api_key]\tcard\t[REDACTED:card]\u{e9}x",);
        assert_eq!(value["tab"], "\t[REDACTED:bearer]");
        let control = serde_json::to_string("\u{1}sk-proj-AbCdEfGhIjKlMnOpQrStUvWx").unwrap();
        assert_eq!(control, r#""\u0001sk-proj-AbCdEfGhIjKlMnOpQrStUvWx""#);
        assert_eq!(redact_json_text(&control, &r), r#""\u0001[REDACTED:api_key]""#);
        // A cut document (not valid JSON) and a dangling escape at the cut.
        let cut = &json[..json.len() - 20];
        assert!(!redact_json_text(cut, &r).contains("4111"));
        assert_eq!(redact_json_text("\"a\\", &r), "\"a\\");
        assert_eq!(redact_json_text("\"\\u00", &r), "\"\\u00");
    }

    #[test]
    fn the_hook_sees_the_json_text_without_marks() {
        let r = Redaction::default().with_hook(|t| {
            assert!(!t.contains(ESCAPE_END));
            t.replace("ACME", "[client]")
        });
        assert_eq!(redact_json_text("\"ACME\\nx\"", &r), "\"[client]\\nx\"");
    }
}
