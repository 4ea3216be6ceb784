//! Full request/response payloads, stored apart from the fast log and keyed by trace id.
//!
//! The JSON-lines log keeps short previews; the full request and response JSON of a call
//! (after redaction) go to a payload store: a local folder by default
//! (`$LLM_TRACE_DIR/payloads`, files 0600 in folders 0700), or S3, GCS or Azure Blob Storage
//! through the `object_store` crate (features `s3`, `gcs`, `azure`) with a URL such as
//! `s3://bucket/prefix` in `LLM_TRACE_PAYLOADS`. Each payload is one JSON document at
//! `YYYY/MM/DD/{trace_id}.json` under the store's root (the date is the call's, in UTC), and
//! the trace's `payload` field holds that key.
//!
//! Capture costs the caller little: [`CallRecorder::request_payload_owned`] (what
//! `TracedClient` uses) moves the value to a payload writer thread of its own, which serializes
//! it, cuts it to [`Config::payload_max_bytes`](crate::Config::payload_max_bytes), redacts and
//! writes it, several writes at a time, so a slow or unreachable store never delays the
//! JSON-lines log; [`CallRecorder::request_payload`] serializes a borrowed value on the
//! caller's thread instead. Payloads are best effort: when the payload queue is full, or the
//! store fails, the payload is counted in [`Stats`](crate::Stats) (`payloads_dropped`,
//! `payloads_failed`) and the trace itself is still written. Capture is independent of log
//! sampling: a sampled-out call's payload is still stored.
//!
//! [`CallRecorder::request_payload_owned`]: crate::CallRecorder::request_payload_owned
//! [`CallRecorder::request_payload`]: crate::CallRecorder::request_payload
//!
//! ```
//! # #[cfg(feature = "payloads")] {
//! use llm_trace_core::{payload::PayloadStore, Config, FinishReason, Payloads, Tracer};
//!
//! let dir = tempfile::tempdir()?;
//! let mut config = Config::default();
//! config.dir = dir.path().to_path_buf();
//! let tracer = Tracer::new(config.clone())?;
//!
//! let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
//! call.request_payload(&serde_json::json!({"messages": [{"role": "user", "content": "hi"}]}));
//! call.response_payload(&serde_json::json!({"choices": [{"message": {"content": "hello"}}]}));
//! let id = call.trace_id().unwrap();
//! call.finish(FinishReason::Stop);
//! tracer.flush()?;
//!
//! let store = PayloadStore::open(&config)?.expect("payloads are on by default");
//! let payload = store.fetch(&id)?.expect("stored");
//! assert_eq!(payload["response"]["choices"][0]["message"]["content"], "hello");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "payloads")]
mod store;
#[cfg(feature = "payloads")]
mod writer;

#[cfg(feature = "payloads")]
pub use store::PayloadStore;
#[cfg(feature = "payloads")]
pub(crate) use writer::{PayloadJob, PayloadWriter};

use crate::trace::TraceId;

/// The store key of a trace's payload: `YYYY/MM/DD/{trace_id}.json`, dated by the time part
/// of the UUIDv7 trace id (the call's start, UTC). Only ever built from a parsed
/// [`TraceId`], so it cannot contain a path separator or `..` of the caller's making.
///
/// ```
/// use llm_trace_core::{payload::key, TraceId};
///
/// let id: TraceId = "019dc0a6-8d47-7000-8000-000000000000".parse()?;
/// assert_eq!(key(&id), "2026/04/24/019dc0a6-8d47-7000-8000-000000000000.json");
/// # Ok::<(), llm_trace_core::trace::ParseTraceIdError>(())
/// ```
pub fn key(trace_id: &TraceId) -> String {
    let uuid = trace_id.as_uuid();
    let mut millis = [0u8; 8];
    millis[2..].copy_from_slice(&uuid.as_bytes()[..6]);
    let millis = i64::from_be_bytes(millis);
    // The RFC 3339 form of the time: the year always has four digits (ids past year 9999,
    // which only a hand-made id can have, stay in 9999 instead of becoming `+10889/…`).
    // Written by hand rather than with `format!`: this runs on the calling thread of every
    // call whose payload is kept, and the formatting machinery cost five times as much.
    let mut time = [0u8; 24];
    crate::trace::Timestamp::from_unix_millis(millis).write_rfc3339(&mut time);
    let mut id = uuid::Uuid::encode_buffer();
    let id = uuid.hyphenated().encode_lower(&mut id);
    let mut key = String::with_capacity(KEY_LEN);
    for part in [&time[..4], &time[5..7], &time[8..10]] {
        key.extend(part.iter().map(|&digit| char::from(digit)));
        key.push('/');
    }
    key.push_str(id);
    key.push_str(".json");
    key
}

/// `YYYY/MM/DD/` + a hyphenated UUID + `.json`.
const KEY_LEN: usize = 11 + 36 + 5;

/// A payload captured on the caller's thread.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    pub(crate) request: Option<Side>,
    pub(crate) response: Option<Side>,
}

impl Captured {
    /// The request and the response as JSON, serializing now what was left for later.
    #[cfg_attr(not(feature = "payloads"), allow(dead_code))]
    pub(crate) fn into_parts(self) -> [Option<Part>; 2] {
        [self.request.map(Side::into_part), self.response.map(Side::into_part)]
    }
}

/// One side of a payload as captured: serialized on the caller's thread, or a value to
/// serialize on the payload thread (cut to `max_bytes` then).
pub(crate) enum Side {
    Json(Part),
    Later { value: Box<dyn ToJson>, max_bytes: usize },
}

impl std::fmt::Debug for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Side::Json(part) => part.fmt(f),
            Side::Later { max_bytes, .. } => write!(f, "Later {{ max_bytes: {max_bytes} }}"),
        }
    }
}

impl Side {
    fn into_part(self) -> Part {
        match self {
            Side::Json(part) => part,
            Side::Later { value, max_bytes } => Part::cut(value.to_json(), max_bytes),
        }
    }
}

/// A value that can be serialized on another thread.
pub(crate) trait ToJson: Send {
    fn to_json(&self) -> Vec<u8>;
}

impl<T: serde::Serialize + Send> ToJson for T {
    fn to_json(&self) -> Vec<u8> {
        json_of(self)
    }
}

/// `value` as JSON; a value that cannot be serialized becomes the error's message, as a JSON
/// string, so the payload says why it is missing.
fn json_of(value: &(impl serde::Serialize + ?Sized)) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| {
        serde_json::to_vec(&format!("<unserializable: {e}>")).unwrap_or_default()
    })
}

/// One side of a payload.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "payloads"), allow(dead_code))]
pub(crate) struct Part {
    /// JSON text, or the first bytes of it when `original_bytes` is larger.
    pub(crate) json: Vec<u8>,
    pub(crate) original_bytes: usize,
}

impl Part {
    /// Serializes `value`, keeping at most `max_bytes` (cut on a character boundary).
    pub(crate) fn capture(value: &(impl serde::Serialize + ?Sized), max_bytes: usize) -> Part {
        Part::cut(json_of(value), max_bytes)
    }

    /// Keeps at most `max_bytes` of `json` (cut on a character boundary).
    fn cut(mut json: Vec<u8>, max_bytes: usize) -> Part {
        let original_bytes = json.len();
        if json.len() > max_bytes {
            let mut cut = max_bytes;
            // JSON text is UTF-8: back up to the start of a character.
            while cut > 0 && (json[cut] & 0b1100_0000) == 0b1000_0000 {
                cut -= 1;
            }
            json.truncate(cut);
        }
        Part { json, original_bytes }
    }

    #[cfg_attr(not(feature = "payloads"), allow(dead_code))]
    fn is_cut(&self) -> bool {
        self.json.len() < self.original_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_date_of_the_id_and_the_id() {
        let mut rng = fastrand::Rng::with_seed(5);
        // From the epoch to the last millisecond a v7 id holds (year 10889), and around it.
        let edges = [0, 1, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999];
        let millis = edges.into_iter().chain([253_402_300_800_000, (1 << 48) - 1]);
        for millis in millis.chain((0..10_000).map(|_| rng.u64(0..1 << 48))) {
            let id = TraceId::at_unix_millis(millis);
            let time = crate::trace::Timestamp::from_unix_millis(millis as i64).to_string();
            let expected = format!("{}/{}/{}/{id}.json", &time[..4], &time[5..7], &time[8..10]);
            assert_eq!(key(&id), expected, "{millis}");
            assert_eq!(key(&id).len(), KEY_LEN);
        }
    }
}
