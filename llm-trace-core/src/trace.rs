//! The trace record: one [`LlmTrace`] per LLM call, schema version 1.
//!
//! The JSON form is one object per line with the fields in the order of DESIGN §4. The order
//! is the declaration order of [`LlmTrace`]'s fields, so it is stable across releases; new
//! fields are only ever appended (readers ignore fields they do not know).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The schema version written in every record's `schema` field.
pub const SCHEMA_VERSION: u32 = 1;

/// A string that is usually a `&'static str` (function names, providers, tags written in
/// source code) and only allocates when it has to.
pub type Name = Cow<'static, str>;

/// One LLM call, as written to the log.
///
/// Built by a [`CallRecorder`](crate::CallRecorder) when the call finishes; you read it back
/// from a sink such as [`MemorySink`](crate::sink::MemorySink) or from the JSON-lines log.
///
/// ```
/// use llm_trace_core::LlmTrace;
///
/// let line = r#"{"schema":1,"trace_id":"01936f3e-7c1a-7cc3-8a5e-3f1b2c4d5e6f","session_id":"s1",
///   "timestamp":"2026-11-26T10:00:00.123Z","function_name":"classify","module_path":"app",
///   "call_path":["classify"],"tags":["support"],"metadata":{},"provider":"openai",
///   "operation":"chat","model":"gpt-4o-mini","response_model":null,"temperature":null,
///   "max_tokens":null,"stream":false,"tools":[],"finish_reason":"stop","prompt_tokens":12,
///   "completion_tokens":3,"total_tokens":15,"cached_tokens":null,"reasoning_tokens":null,
///   "usage_source":"provider","cost_usd":0.0000036,"latency_ms":412.5,"ttft_ms":null,
///   "error":null,"input_preview":"hi","output_preview":"hello","payload":null}"#;
/// let trace: LlmTrace = serde_json::from_str(line)?;
/// assert_eq!(trace.function_name, "classify");
/// assert_eq!(trace.total_tokens, 15);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LlmTrace {
    /// Always [`SCHEMA_VERSION`] for records written by this crate.
    pub schema: u32,
    /// Time-ordered UUIDv7 identifying this call.
    pub trace_id: TraceId,
    /// The tracer's session, or the session set by the enclosing scope.
    pub session_id: Arc<str>,
    /// When the call started (UTC, millisecond precision).
    pub timestamp: Timestamp,
    /// The innermost annotated function, or `"unknown"`.
    pub function_name: Name,
    /// Module of the innermost annotated function, or `"unknown"`.
    pub module_path: Name,
    /// Every enclosing annotated function, outermost first.
    pub call_path: Arc<[Name]>,
    /// Union of the enclosing scopes' tags and the call's own, deduplicated.
    pub tags: Arc<[Name]>,
    /// Key/values from the enclosing scopes and the call.
    pub metadata: Metadata,
    /// Who served the call: `openai`, `anthropic`, ...
    pub provider: Name,
    /// What kind of call: `chat`, `embeddings`, ...
    pub operation: Name,
    /// The model that was requested.
    pub model: Arc<str>,
    /// The model the provider says answered (priced against this first).
    pub response_model: Option<Arc<str>>,
    /// Requested sampling temperature.
    pub temperature: Option<f32>,
    /// Requested output token limit.
    pub max_tokens: Option<u32>,
    /// Whether the response was streamed.
    pub stream: bool,
    /// Names of the tools offered to the model.
    pub tools: Vec<String>,
    /// Why the call ended.
    pub finish_reason: FinishReason,
    /// Input tokens, including cached ones, as the provider reported them.
    pub prompt_tokens: u64,
    /// Output tokens, including reasoning ones.
    pub completion_tokens: u64,
    /// `prompt_tokens + completion_tokens` unless the provider said otherwise.
    pub total_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_tokens: Option<u64>,
    /// Output tokens spent on hidden reasoning.
    pub reasoning_tokens: Option<u64>,
    /// Where the token counts come from.
    pub usage_source: UsageSource,
    /// Cost in US dollars from the price table; `None` when the model has no price.
    pub cost_usd: Option<f64>,
    /// Wall time of the call in milliseconds.
    pub latency_ms: f64,
    /// Time to the first token of a streamed response, in milliseconds.
    pub ttft_ms: Option<f64>,
    /// What went wrong, when the call failed.
    pub error: Option<TraceError>,
    /// The start of the input (last user message), redacted and cut to the preview length.
    pub input_preview: String,
    /// The start of the output, redacted and cut to the preview length.
    pub output_preview: String,
    /// Object-store key of the full request/response payload, when stored.
    pub payload: Option<String>,
}

impl LlmTrace {
    /// A trace with nothing recorded yet, for the recorder to fill in.
    pub(crate) fn blank(model: Arc<str>, session_id: Arc<str>, names: Arc<[Name]>) -> LlmTrace {
        LlmTrace {
            schema: SCHEMA_VERSION,
            trace_id: TraceId(uuid::Uuid::nil()),
            session_id,
            timestamp: Timestamp(0),
            function_name: Cow::Borrowed(""),
            module_path: Cow::Borrowed(""),
            call_path: names.clone(),
            tags: names,
            metadata: Metadata::default(),
            provider: Cow::Borrowed(""),
            operation: Cow::Borrowed(""),
            model,
            response_model: None,
            temperature: None,
            max_tokens: None,
            stream: false,
            tools: Vec::new(),
            finish_reason: FinishReason::Cancelled,
            prompt_tokens: 0,
            completion_tokens: 0,
            total_tokens: 0,
            cached_tokens: None,
            reasoning_tokens: None,
            usage_source: UsageSource::None,
            cost_usd: None,
            latency_ms: 0.0,
            ttft_ms: None,
            error: None,
            input_preview: String::new(),
            output_preview: String::new(),
            payload: None,
        }
    }

    /// Clears what a recycled trace recorded of its previous call, keeping the capacity of its
    /// strings. The shared fields (session, context, model, response model) are left for the
    /// recorder to replace only when they differ.
    pub(crate) fn reset(&mut self) {
        self.schema = SCHEMA_VERSION;
        self.temperature = None;
        self.max_tokens = None;
        self.stream = false;
        self.tools.clear();
        self.finish_reason = FinishReason::Cancelled;
        self.prompt_tokens = 0;
        self.completion_tokens = 0;
        self.total_tokens = 0;
        self.cached_tokens = None;
        self.reasoning_tokens = None;
        self.usage_source = UsageSource::None;
        self.cost_usd = None;
        self.latency_ms = 0.0;
        self.ttft_ms = None;
        self.error = None;
        self.input_preview.clear();
        self.output_preview.clear();
        self.payload = None;
    }

    /// Whether the call failed (it has an [`error`](Self::error)).
    ///
    /// ```
    /// # let trace = llm_trace_core::LlmTrace::example();
    /// assert!(!trace.is_error());
    /// ```
    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }

    /// A complete, plausible record, for documentation and tests.
    ///
    /// ```
    /// let trace = llm_trace_core::LlmTrace::example();
    /// assert_eq!(trace.schema, 1);
    /// ```
    pub fn example() -> LlmTrace {
        LlmTrace {
            schema: SCHEMA_VERSION,
            trace_id: TraceId::new(),
            session_id: Arc::from("example-session"),
            timestamp: Timestamp::now(),
            function_name: Cow::Borrowed("classify_ticket"),
            module_path: Cow::Borrowed("support::triage"),
            call_path: Arc::from([
                Cow::Borrowed("handle_ticket"),
                Cow::Borrowed("classify_ticket"),
            ]),
            tags: Arc::from([Cow::Borrowed("support"), Cow::Borrowed("classification")]),
            metadata: Metadata::default(),
            provider: Cow::Borrowed("openai"),
            operation: Cow::Borrowed("chat"),
            model: Arc::from("gpt-4o-mini"),
            response_model: Some(Arc::from("gpt-4o-mini-2024-07-18")),
            temperature: Some(0.2),
            max_tokens: Some(256),
            stream: false,
            tools: Vec::new(),
            finish_reason: FinishReason::Stop,
            prompt_tokens: 1200,
            completion_tokens: 80,
            total_tokens: 1280,
            cached_tokens: Some(1024),
            reasoning_tokens: None,
            usage_source: UsageSource::Provider,
            cost_usd: Some(0.0001344),
            latency_ms: 812.4,
            ttft_ms: None,
            error: None,
            input_preview: "My invoice is wrong, I was charged twice".into(),
            output_preview: "billing".into(),
            payload: None,
        }
    }
}

/// The JSON form of a trace, written without going through serde: the same bytes as
/// `serde_json::to_writer(trace)` (checked by the tests), in a fraction of the time, since the
/// field names are constants and strings are scanned eight bytes at a time for the rare
/// character that needs escaping. The background writer spends most of its time here.
mod json {
    use serde_json::ser::{CompactFormatter, Formatter};

    use super::{LlmTrace, TraceError, UsageSource};
    use crate::bytescan;

    impl LlmTrace {
        /// Appends the JSON object of this trace (no newline) to `out`.
        pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
            let t = self;
            out.extend_from_slice(b"{\"schema\":");
            u64_(out, u64::from(t.schema));
            out.extend_from_slice(b",\"trace_id\":\"");
            let mut id = uuid::Uuid::encode_buffer();
            out.extend_from_slice(t.trace_id.0.hyphenated().encode_lower(&mut id).as_bytes());
            out.extend_from_slice(b"\",\"session_id\":");
            str_(out, &t.session_id);
            out.extend_from_slice(b",\"timestamp\":\"");
            let mut time = [0u8; 24];
            t.timestamp.write_rfc3339(&mut time);
            out.extend_from_slice(&time);
            out.extend_from_slice(b"\",\"function_name\":");
            str_(out, &t.function_name);
            out.extend_from_slice(b",\"module_path\":");
            str_(out, &t.module_path);
            out.extend_from_slice(b",\"call_path\":");
            strings(out, &t.call_path);
            out.extend_from_slice(b",\"tags\":");
            strings(out, &t.tags);
            out.extend_from_slice(b",\"metadata\":");
            match &t.metadata.0 {
                None => out.extend_from_slice(b"{}"),
                Some(map) => serde(out, &**map),
            }
            out.extend_from_slice(b",\"provider\":");
            str_(out, &t.provider);
            out.extend_from_slice(b",\"operation\":");
            str_(out, &t.operation);
            out.extend_from_slice(b",\"model\":");
            str_(out, &t.model);
            out.extend_from_slice(b",\"response_model\":");
            match &t.response_model {
                Some(m) => str_(out, m),
                None => null(out),
            }
            out.extend_from_slice(b",\"temperature\":");
            match t.temperature {
                Some(v) if v.is_finite() => {
                    let _ = CompactFormatter.write_f32(out, v);
                }
                _ => null(out),
            }
            out.extend_from_slice(b",\"max_tokens\":");
            match t.max_tokens {
                Some(v) => u64_(out, u64::from(v)),
                None => null(out),
            }
            out.extend_from_slice(if t.stream {
                b",\"stream\":true"
            } else {
                b",\"stream\":false"
            });
            out.extend_from_slice(b",\"tools\":");
            strings(out, &t.tools);
            out.extend_from_slice(b",\"finish_reason\":");
            str_(out, t.finish_reason.as_str());
            out.extend_from_slice(b",\"prompt_tokens\":");
            u64_(out, t.prompt_tokens);
            out.extend_from_slice(b",\"completion_tokens\":");
            u64_(out, t.completion_tokens);
            out.extend_from_slice(b",\"total_tokens\":");
            u64_(out, t.total_tokens);
            out.extend_from_slice(b",\"cached_tokens\":");
            opt_u64(out, t.cached_tokens);
            out.extend_from_slice(b",\"reasoning_tokens\":");
            opt_u64(out, t.reasoning_tokens);
            out.extend_from_slice(match t.usage_source {
                UsageSource::Provider => b",\"usage_source\":\"provider\"",
                UsageSource::Estimated => b",\"usage_source\":\"estimated\"",
                UsageSource::None => b",\"usage_source\":\"none\"",
            });
            out.extend_from_slice(b",\"cost_usd\":");
            opt_f64(out, t.cost_usd);
            out.extend_from_slice(b",\"latency_ms\":");
            opt_f64(out, Some(t.latency_ms));
            out.extend_from_slice(b",\"ttft_ms\":");
            opt_f64(out, t.ttft_ms);
            out.extend_from_slice(b",\"error\":");
            match &t.error {
                None => null(out),
                Some(TraceError { kind, message, status }) => {
                    out.extend_from_slice(b"{\"kind\":");
                    str_(out, kind.as_str());
                    out.extend_from_slice(b",\"message\":");
                    str_(out, message);
                    out.extend_from_slice(b",\"status\":");
                    match status {
                        Some(s) => u64_(out, u64::from(*s)),
                        None => null(out),
                    }
                    out.push(b'}');
                }
            }
            out.extend_from_slice(b",\"input_preview\":");
            str_(out, &t.input_preview);
            out.extend_from_slice(b",\"output_preview\":");
            str_(out, &t.output_preview);
            out.extend_from_slice(b",\"payload\":");
            match &t.payload {
                Some(p) => str_(out, p),
                None => null(out),
            }
            out.push(b'}');
        }
    }

    fn null(out: &mut Vec<u8>) {
        out.extend_from_slice(b"null");
    }

    fn u64_(out: &mut Vec<u8>, v: u64) {
        let _ = CompactFormatter.write_u64(out, v);
    }

    fn opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
        match v {
            Some(v) => u64_(out, v),
            None => null(out),
        }
    }

    /// As serde_json writes an `f64`: `null` when not finite.
    fn opt_f64(out: &mut Vec<u8>, v: Option<f64>) {
        match v {
            Some(v) if v.is_finite() => {
                let _ = CompactFormatter.write_f64(out, v);
            }
            _ => null(out),
        }
    }

    fn serde<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
        // Writing to a Vec cannot fail, and these values have string keys only.
        let _ = serde_json::to_writer(&mut *out, value);
    }

    /// A JSON array of strings (names, tags, tools).
    fn strings(out: &mut Vec<u8>, items: &[impl AsRef<str>]) {
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            str_(out, item.as_ref());
        }
        out.push(b']');
    }

    /// A JSON string: copied as it is unless a byte needs escaping (a control character, `"`
    /// or `\\`), in which case serde_json writes it.
    fn str_(out: &mut Vec<u8>, s: &str) {
        if needs_escape(s.as_bytes()) {
            serde(out, s);
        } else {
            out.reserve(s.len() + 2);
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
    }

    fn needs_escape(b: &[u8]) -> bool {
        // A space pads a short text: it needs no escape. Bytes seen twice (the last window
        // may overlap) are no harm here.
        bytescan::windows(b, b' ')
            .any(|w| bytescan::bits(&w.bytes, |c| (c < 0x20) | (c == b'"') | (c == b'\\')) != 0)
    }
}

/// A trace id: a UUIDv7, written as the usual 36-character hyphenated string.
///
/// Ids are generated without a system call: 74 random bits from a fast generator seeded once
/// per thread from the operating system, after the 48-bit millisecond timestamp, so ids sort
/// by creation time and never collide in practice (1 M ids in one millisecond have a collision
/// chance below 10⁻¹⁰).
///
/// ```
/// use llm_trace_core::TraceId;
///
/// let id = TraceId::new();
/// let text = id.to_string();
/// assert_eq!(text.len(), 36);
/// assert_eq!(text.parse::<TraceId>()?, id);
/// assert!("../../etc/passwd".parse::<TraceId>().is_err());
/// # Ok::<(), llm_trace_core::trace::ParseTraceIdError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(uuid::Uuid);

impl TraceId {
    /// A new id for the current time.
    pub fn new() -> TraceId {
        TraceId::at(SystemTime::now())
    }

    /// A new id whose timestamp part is `time`.
    pub fn at(time: SystemTime) -> TraceId {
        let millis = time.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        TraceId::at_unix_millis(millis)
    }

    /// A new id whose timestamp part is `millis` since the Unix epoch.
    pub(crate) fn at_unix_millis(millis: u64) -> TraceId {
        // RFC 9562's layout: 48 bits of milliseconds, the version (7), 12 random bits, the
        // variant (0b10), 62 random bits. One draw of the generator for all 74.
        let random = fastrand::u128(..);
        let millis = u128::from(millis & 0xFFFF_FFFF_FFFF);
        let rand_a = (random >> 64) & 0xFFF;
        let rand_b = random & ((1 << 62) - 1);
        TraceId(uuid::Uuid::from_u128(
            (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b,
        ))
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }

    /// A 64-bit number drawn from the id's random bits, uniform over `u64`: the basis of
    /// deterministic sampling.
    pub fn random_part(&self) -> u64 {
        let bytes = self.0.as_bytes();
        // Bytes 8..16 hold the variant bits (2) and 62 random bits; byte 6..8 hold 12 more.
        let mut tail = [0u8; 8];
        tail.copy_from_slice(&bytes[8..16]);
        (u64::from_be_bytes(tail) << 2) | (u64::from(bytes[7]) & 0b11)
    }
}

impl Default for TraceId {
    fn default() -> Self {
        TraceId::new()
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.0.hyphenated())
    }
}

/// The text given was not a trace id (a 36-character hyphenated UUID).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a trace id: {input:?} (expected a UUID such as 01936f3e-7c1a-7cc3-8a5e-3f1b2c4d5e6f)")]
pub struct ParseTraceIdError {
    input: String,
}

impl FromStr for TraceId {
    type Err = ParseTraceIdError;

    /// Accepts only the canonical hyphenated form, so a trace id can safely become part of a
    /// file name or object key.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || ParseTraceIdError { input: s.chars().take(64).collect() };
        if s.len() != 36 {
            return Err(error());
        }
        uuid::Uuid::try_parse(s).map(TraceId).map_err(|_| error())
    }
}

impl Serialize for TraceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = uuid::Uuid::encode_buffer();
        serializer.serialize_str(self.0.hyphenated().encode_lower(&mut buf))
    }
}

impl<'de> Deserialize<'de> for TraceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A UTC instant with millisecond precision, written as RFC 3339 with a `Z`:
/// `2026-11-26T19:18:53.123Z`.
///
/// ```
/// use llm_trace_core::Timestamp;
///
/// let t: Timestamp = "2026-11-26T19:18:53.123Z".parse()?;
/// assert_eq!(t.to_string(), "2026-11-26T19:18:53.123Z");
/// assert_eq!(t.unix_millis(), 1_795_720_733_123);
/// # Ok::<(), llm_trace_core::trace::ParseTimestampError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// Milliseconds since the Unix epoch.
    pub fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.0
    }

    /// The same instant as a chrono date-time.
    pub fn to_datetime(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// Writes the RFC 3339 form into `out` without allocating.
    ///
    /// The traces of a batch were mostly made within the same minute: the date, hour and
    /// minute (`2026-11-27T02:30:`) of the last one written on this thread are kept and
    /// reused, so only the seconds and milliseconds are computed again.
    pub(crate) fn write_rfc3339(&self, out: &mut [u8; 24]) {
        const PREFIX: usize = 17;
        thread_local! {
            /// A minute (since the epoch) and its first 17 bytes.
            static MINUTE: Cell<(i64, [u8; PREFIX])> = const { Cell::new((i64::MIN, [0; PREFIX])) };
        }
        let minute = self.0.div_euclid(60_000);
        let cached = MINUTE.try_with(Cell::get).ok().filter(|(cached, _)| *cached == minute);
        let Some((_, prefix)) = cached else {
            self.write_rfc3339_uncached(out);
            let mut prefix = [0; PREFIX];
            prefix.copy_from_slice(&out[..PREFIX]);
            let _ = MINUTE.try_with(|m| m.set((minute, prefix)));
            return;
        };
        let ms = self.0.rem_euclid(60_000) as u32;
        out[..PREFIX].copy_from_slice(&prefix);
        let digit = |value: u32| b'0' + (value % 10) as u8;
        out[PREFIX..].copy_from_slice(&[
            digit(ms / 10_000),
            digit(ms / 1000),
            b'.',
            digit(ms / 100),
            digit(ms / 10),
            digit(ms),
            b'Z',
        ]);
    }

    fn write_rfc3339_uncached(&self, out: &mut [u8; 24]) {
        use chrono::{Datelike, Timelike};
        // Years 1970 to 9999 by arithmetic (the civil-from-days algorithm of H. Hinnant), any
        // other through chrono.
        const YEAR_10000: i64 = 253_402_300_800_000;
        let fields = if (0..YEAR_10000).contains(&self.0) {
            let (days, ms) = (self.0 / 86_400_000, (self.0 % 86_400_000) as u32);
            let z = days + 719_468;
            let era = z / 146_097;
            let doe = z - era * 146_097;
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
            let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
            let year = (yoe + era * 400 + i64::from(month <= 2)) as u32;
            [
                (0, 4, year),
                (5, 2, month),
                (8, 2, day),
                (11, 2, ms / 3_600_000),
                (14, 2, ms / 60_000 % 60),
                (17, 2, ms / 1000 % 60),
                (20, 3, ms % 1000),
            ]
        } else {
            let t = self.to_datetime();
            [
                (0, 4, t.year().clamp(0, 9999) as u32),
                (5, 2, t.month()),
                (8, 2, t.day()),
                (11, 2, t.hour()),
                (14, 2, t.minute()),
                (17, 2, t.second()),
                (20, 3, t.timestamp_subsec_millis()),
            ]
        };
        *out = *b"0000-00-00T00:00:00.000Z";
        for (start, width, mut value) in fields {
            for i in (start..start + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        let millis = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => after.as_millis() as i64,
            Err(before) => -(before.duration().as_millis() as i64),
        };
        Timestamp(millis)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        if t.0 >= 0 {
            UNIX_EPOCH + Duration::from_millis(t.0 as u64)
        } else {
            UNIX_EPOCH - Duration::from_millis(t.0.unsigned_abs())
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 24];
        self.write_rfc3339(&mut buf);
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// The text given was not an RFC 3339 date-time in years 0000 to 9999 UTC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a timestamp: {input:?} ({reason}; expected RFC 3339 such as 2026-11-26T19:18:53.123Z)"
)]
pub struct ParseTimestampError {
    input: String,
    reason: String,
}

impl FromStr for Timestamp {
    type Err = ParseTimestampError;

    /// Parses any RFC 3339 date-time (any offset) and keeps millisecond precision. Instants
    /// outside years 0000 to 9999 UTC are refused, since the record's form could not write
    /// them back.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use chrono::Datelike;
        let error =
            |reason: String| ParseTimestampError { input: s.chars().take(64).collect(), reason };
        let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| error(e.to_string()))?;
        let year = t.with_timezone(&chrono::Utc).year();
        if !(0..=9999).contains(&year) {
            return Err(error(format!("year {year} in UTC is outside 0000 to 9999")));
        }
        Ok(Timestamp(t.timestamp_millis()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        self.write_rfc3339(&mut buf);
        // The buffer only ever holds ASCII digits and separators.
        serializer.serialize_str(std::str::from_utf8(&buf).unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Key/value metadata attached to a trace; shared, so attaching a scope's metadata to every
/// call inside it costs a reference count, and empty metadata costs nothing.
///
/// ```
/// use llm_trace_core::Metadata;
///
/// let mut meta = Metadata::default();
/// meta.insert("customer", "acme");
/// meta.insert("attempt", 2);
/// assert_eq!(meta.get("attempt"), Some(&serde_json::json!(2)));
/// assert_eq!(serde_json::to_string(&meta)?, r#"{"attempt":2,"customer":"acme"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata(Option<Arc<serde_json::Map<String, serde_json::Value>>>);

impl Metadata {
    /// No entries, in a `const` (`Default` is not `const`).
    pub(crate) const EMPTY: Metadata = Metadata(None);

    /// Sets `key` to `value` (anything serializable; a value that cannot be serialized is
    /// stored as its error message rather than lost).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Serialize) {
        let value = serde_json::to_value(value)
            .unwrap_or_else(|e| serde_json::Value::String(format!("<unserializable: {e}>")));
        let map = self.0.get_or_insert_with(Default::default);
        Arc::make_mut(map).insert(key.into(), value);
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.as_ref()?.get(key)
    }

    /// Whether `self` and `other` are the very same shared map (or both empty).
    pub(crate) fn same(&self, other: &Metadata) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }

    /// The entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.0.iter().flat_map(|m| m.iter()).map(|(k, v)| (k.as_str(), v))
    }

    /// `self` with `other`'s entries added; `other` wins on equal keys. Shares `self` (or
    /// `other`) unchanged when the other side is empty.
    pub fn merged(&self, other: &Metadata) -> Metadata {
        match (&self.0, &other.0) {
            (_, None) => self.clone(),
            (None, _) => other.clone(),
            (Some(outer), Some(inner)) => {
                let mut map = (**outer).clone();
                map.extend(inner.iter().map(|(k, v)| (k.clone(), v.clone())));
                Metadata(Some(Arc::new(map)))
            }
        }
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.0 {
            Some(map) => map.serialize(serializer),
            None => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::deserialize(deserializer)?;
        Ok(Metadata((!map.is_empty()).then(|| Arc::new(map))))
    }
}

/// Why a call ended.
///
/// ```
/// use llm_trace_core::FinishReason;
///
/// assert_eq!(FinishReason::from("tool_calls"), FinishReason::ToolCalls);
/// assert_eq!(FinishReason::from("end_turn").as_str(), "end_turn");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// The output token limit was reached.
    Length,
    /// The model asked for tool calls.
    ToolCalls,
    /// The provider's content filter stopped the output.
    ContentFilter,
    /// The call failed; see the trace's `error`.
    Error,
    /// The caller dropped the call (or stream) before it finished.
    Cancelled,
    /// Any other reason a provider reports, kept verbatim.
    Other(Name),
}

impl FinishReason {
    /// The reason as written in the log.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Error => "error",
            FinishReason::Cancelled => "cancelled",
            FinishReason::Other(other) => other,
        }
    }
}

impl From<&str> for FinishReason {
    fn from(s: &str) -> Self {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            "error" => FinishReason::Error,
            "cancelled" => FinishReason::Cancelled,
            other => FinishReason::Other(Cow::Owned(other.to_owned())),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        Ok(FinishReason::from(&*text))
    }
}

/// Where a record's token counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// Reported by the provider.
    Provider,
    /// Counted locally with a tokenizer because the provider sent none.
    Estimated,
    /// Unknown: the provider sent none and nothing was estimated.
    #[default]
    None,
}

/// What went wrong in a failed call.
///
/// ```
/// use llm_trace_core::{ErrorKind, TraceError};
///
/// let e = TraceError::new(ErrorKind::RateLimit, "Rate limit reached").with_status(429);
/// assert_eq!(serde_json::to_string(&e)?,
///            r#"{"kind":"rate_limit","message":"Rate limit reached","status":429}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceError {
    /// Low-cardinality class of the failure, for grouping.
    pub kind: ErrorKind,
    /// The error's message (redacted).
    pub message: String,
    /// HTTP status, when the provider answered with one.
    pub status: Option<u16>,
}

impl TraceError {
    /// The longest message a record keeps, in characters; longer ones are cut, with `…`.
    pub const MAX_MESSAGE_CHARS: usize = 500;

    /// Cuts the message to [`MAX_MESSAGE_CHARS`](Self::MAX_MESSAGE_CHARS).
    pub(crate) fn cut_message(&mut self) {
        if let Some((cut, _)) = self.message.char_indices().nth(Self::MAX_MESSAGE_CHARS) {
            self.message.truncate(cut);
            self.message.push('…');
        }
    }

    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> TraceError {
        TraceError { kind, message: message.into(), status: None }
    }

    /// The same error with an HTTP status.
    pub fn with_status(mut self, status: u16) -> TraceError {
        self.status = Some(status);
        self
    }
}

/// The class of a failure: few values, so the log groups well.
///
/// ```
/// use llm_trace_core::ErrorKind;
///
/// assert_eq!(ErrorKind::from_status(429), ErrorKind::RateLimit);
/// assert_eq!(ErrorKind::from_status(503), ErrorKind::Server);
/// assert_eq!(ErrorKind::from("quota").as_str(), "quota");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 429: too many requests or tokens.
    RateLimit,
    /// 5xx: the provider failed.
    Server,
    /// The call took longer than allowed.
    Timeout,
    /// The connection could not be made or broke.
    Connection,
    /// 400/404/422: the request was refused as invalid.
    InvalidRequest,
    /// 401/403: bad or missing credentials.
    Auth,
    /// The response could not be decoded.
    Decode,
    /// A streamed response failed part way.
    Stream,
    /// The provider's content filter refused the request.
    ContentFilter,
    /// Anything else, kept verbatim (keep it low-cardinality).
    Other(Name),
}

impl ErrorKind {
    /// The kind as written in the log.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorKind::RateLimit => "rate_limit",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Auth => "auth",
            ErrorKind::Decode => "decode",
            ErrorKind::Stream => "stream",
            ErrorKind::ContentFilter => "content_filter",
            ErrorKind::Other(other) => other,
        }
    }

    /// The usual kind for an HTTP error status.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            429 => ErrorKind::RateLimit,
            401 | 403 => ErrorKind::Auth,
            408 | 504 => ErrorKind::Timeout,
            500..=599 => ErrorKind::Server,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::Other(Cow::Borrowed("http")),
        }
    }
}

impl From<&str> for ErrorKind {
    fn from(s: &str) -> Self {
        match s {
            "rate_limit" => ErrorKind::RateLimit,
            "server" => ErrorKind::Server,
            "timeout" => ErrorKind::Timeout,
            "connection" => ErrorKind::Connection,
            "invalid_request" => ErrorKind::InvalidRequest,
            "auth" => ErrorKind::Auth,
            "decode" => ErrorKind::Decode,
            "stream" => ErrorKind::Stream,
            "content_filter" => ErrorKind::ContentFilter,
            other => ErrorKind::Other(Cow::Owned(other.to_owned())),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        Ok(ErrorKind::from(&*text))
    }
}

/// The first `max_chars` characters of `text`, cut on a character boundary, with any cut
/// marked by a trailing `…`. Only the kept part is copied.
///
/// ```
/// use llm_trace_core::trace::preview;
///
/// assert_eq!(preview("hello", 10), "hello");
/// assert_eq!(preview("héllo wörld", 4), "héll…");
/// assert_eq!(preview("日本語のテキスト", 3), "日本語…");
/// ```
pub fn preview(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    push_preview(&mut out, text, max_chars);
    out
}

/// The byte offset of character `max` of `text`, `None` when it has no more than `max`
/// characters. Text that is ASCII up to there is not decoded.
pub(crate) fn char_cut(text: &str, max: usize) -> Option<usize> {
    if text.len() <= max {
        return None; // at most one character per byte
    }
    if text.as_bytes()[..max].is_ascii() {
        return Some(max);
    }
    text.char_indices().nth(max).map(|(cut, _)| cut)
}

/// Appends [`preview`]`(text, max)` to `out` (no allocation when `out`
/// has the room).
pub(crate) fn push_preview(out: &mut String, text: &str, max: usize) {
    match char_cut(text, max) {
        None => out.push_str(text),
        Some(cut) => {
            out.reserve(cut + '…'.len_utf8());
            out.push_str(&text[..cut]);
            out.push('…');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn record_round_trips_through_json() {
        let mut trace = LlmTrace::example();
        trace.metadata.insert("customer", "acme");
        trace.error = Some(TraceError::new(ErrorKind::RateLimit, "slow down").with_status(429));
        trace.finish_reason = FinishReason::Other("end_turn".into());
        trace.ttft_ms = Some(120.25);
        trace.tools = vec!["lookup_invoice".into()];
        trace.payload = Some("payloads/2026/11/26/x.json".into());
        let json = serde_json::to_string(&trace).unwrap();
        let back: LlmTrace = serde_json::from_str(&json).unwrap();
        assert_eq!(back, trace);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    fn fields_are_written_in_schema_order() {
        let json = serde_json::to_string(&LlmTrace::example()).unwrap();
        let order = [
            "schema",
            "trace_id",
            "session_id",
            "timestamp",
            "function_name",
            "module_path",
            "call_path",
            "tags",
            "metadata",
            "provider",
            "operation",
            "model",
            "response_model",
            "temperature",
            "max_tokens",
            "stream",
            "tools",
            "finish_reason",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "usage_source",
            "cost_usd",
            "latency_ms",
            "ttft_ms",
            "error",
            "input_preview",
            "output_preview",
            "payload",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|k| json.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("{k} missing")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(json.starts_with("{\"schema\":1,\"trace_id\":\""));
    }

    #[test]
    fn the_fast_json_form_is_what_serde_writes() {
        let mut rng = fastrand::Rng::with_seed(11);
        let texts = [
            "",
            "plain",
            "quote \" and \\ backslash",
            "tab\tnew\nline\r",
            "\u{1}\u{1f}\u{7f}",
            "é日😀",
            "exactly8",
            "seven77",
            "a longer text of more than eight bytes with a \" late",
        ];
        let pick = |rng: &mut fastrand::Rng| texts[rng.usize(..texts.len())];
        for _ in 0..2_000 {
            let mut t = LlmTrace::example();
            t.session_id = Arc::from(pick(&mut rng));
            t.function_name = Cow::Owned(pick(&mut rng).to_owned());
            t.call_path = Arc::from([Cow::Borrowed("a"), Cow::Owned(pick(&mut rng).to_owned())]);
            t.tags = if rng.bool() { Arc::from([]) } else { t.tags.clone() };
            if rng.bool() {
                t.metadata.insert(pick(&mut rng), pick(&mut rng));
                t.metadata.insert("n", rng.u32(..));
            }
            t.timestamp = Timestamp(rng.i64(-5_000_000_000_000..300_000_000_000_000));
            t.model = Arc::from(pick(&mut rng));
            t.response_model = rng.bool().then(|| Arc::from(pick(&mut rng)));
            t.temperature =
                [None, Some(0.2), Some(1.0), Some(f32::NAN), Some(1e-7)][rng.usize(..5)];
            t.max_tokens = rng.bool().then(|| rng.u32(..));
            t.stream = rng.bool();
            t.tools = (0..rng.usize(..3)).map(|_| pick(&mut rng).to_owned()).collect();
            t.finish_reason = FinishReason::from(pick(&mut rng));
            t.prompt_tokens = rng.u64(..);
            t.cached_tokens = rng.bool().then(|| rng.u64(..));
            t.reasoning_tokens = rng.bool().then(|| rng.u64(..100));
            t.usage_source =
                [UsageSource::Provider, UsageSource::Estimated, UsageSource::None][rng.usize(..3)];
            t.cost_usd = [None, Some(0.0001344), Some(f64::INFINITY), Some(12.5), Some(-0.0)]
                [rng.usize(..5)];
            t.latency_ms = [0.0, 812.4, f64::NAN, 1e300, rng.f64() * 1e4][rng.usize(..5)];
            t.ttft_ms = rng.bool().then(|| rng.f64() * 100.0);
            t.error = rng.bool().then(|| TraceError {
                kind: ErrorKind::from(pick(&mut rng)),
                message: pick(&mut rng).to_owned(),
                status: rng.bool().then(|| rng.u16(..)),
            });
            t.input_preview = pick(&mut rng).repeat(rng.usize(..40));
            t.output_preview = pick(&mut rng).to_owned();
            t.payload = rng.bool().then(|| pick(&mut rng).to_owned());
            let mut fast = Vec::new();
            t.write_json(&mut fast);
            let slow = serde_json::to_vec(&t).unwrap();
            assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap());
        }
    }

    #[test]
    fn timestamps_by_arithmetic_match_chrono() {
        let mut rng = fastrand::Rng::with_seed(3);
        let check = |ms: i64| {
            let t = Timestamp(ms);
            let expected = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
            let year = chrono::Datelike::year(&expected);
            if (0..=9999).contains(&year) {
                assert_eq!(
                    t.to_string(),
                    expected.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "{ms}"
                );
            }
        };
        for ms in [0, 1, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999, -1] {
            check(ms);
        }
        for _ in 0..200_000 {
            check(rng.i64(0..253_402_300_800_000));
        }
        // Runs within one minute, and back and forth across minutes (the cached prefix).
        let now = 1_795_720_733_123;
        for step in [1, 7, 999, 1000, 59_999, 60_000, 60_001] {
            for i in -200..200 {
                check(now + i * step);
            }
        }
        for i in 0..2_000 {
            check(now + if i % 2 == 0 { i } else { -i * 61_000 });
        }
    }

    #[test]
    fn unknown_fields_are_ignored_when_reading() {
        let mut value = serde_json::to_value(LlmTrace::example()).unwrap();
        value["added_in_a_later_release"] = serde_json::json!({"x": 1});
        let back: LlmTrace = serde_json::from_value(value).unwrap();
        assert_eq!(back.function_name, "classify_ticket");
    }

    #[test]
    fn trace_ids_are_unique_over_a_million() {
        let ids: HashSet<TraceId> = (0..1_000_000).map(|_| TraceId::new()).collect();
        assert_eq!(ids.len(), 1_000_000);
    }

    #[test]
    fn trace_ids_are_version_7_and_time_ordered_across_milliseconds() {
        let early = TraceId::at(UNIX_EPOCH + Duration::from_millis(1_000));
        let late = TraceId::at(UNIX_EPOCH + Duration::from_millis(1_001));
        assert_eq!(early.as_uuid().get_version_num(), 7);
        assert_eq!(early.as_uuid().get_variant(), uuid::Variant::RFC4122);
        let millis = |id: TraceId| id.as_uuid().get_timestamp().unwrap().to_unix();
        assert_eq!(millis(early), (1, 0));
        assert_eq!(millis(late), (1, 1_000_000));
        assert_eq!(millis(TraceId::at_unix_millis(0xFFFF_FFFF_FFFF)).0, 0xFFFF_FFFF_FFFF / 1000);
        assert!(early < late);
        assert!(early.to_string() < late.to_string());
    }

    #[test]
    fn trace_ids_only_parse_from_the_canonical_form() {
        let id = TraceId::new();
        assert_eq!(id.to_string().parse::<TraceId>().unwrap(), id);
        for bad in ["", "abc", "../../../etc/passwd", &id.simple_string(), &format!("{id}/x")] {
            assert!(bad.parse::<TraceId>().is_err(), "{bad:?} parsed");
        }
    }

    impl TraceId {
        fn simple_string(&self) -> String {
            self.0.simple().to_string()
        }
    }

    #[test]
    fn random_part_is_spread_over_the_whole_range() {
        let high = (0..10_000).filter(|_| TraceId::new().random_part() > u64::MAX / 2).count();
        assert!((4_000..6_000).contains(&high), "{high} of 10000 in the upper half");
    }

    #[test]
    fn timestamps_are_rfc3339_utc_milliseconds() {
        let t = Timestamp::from_unix_millis(1_795_720_733_123);
        assert_eq!(t.to_string(), "2026-11-26T19:18:53.123Z");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-11-26T19:18:53.123Z\"");
        assert_eq!(Timestamp::from_unix_millis(0).to_string(), "1970-01-01T00:00:00.000Z");
        let parsed: Timestamp = "2026-11-26T20:18:53.123+01:00".parse().unwrap();
        assert_eq!(parsed, t);
        let now = Timestamp::now();
        assert_eq!(
            now.to_string(),
            now.to_datetime().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }

    #[test]
    fn previews_cut_multibyte_text_on_char_boundaries() {
        let mixed = "aé日😀".repeat(60); // 1-, 2-, 3- and 4-byte characters
        for max in 0..=240 {
            let cut = preview(&mixed, max);
            let kept = cut.trim_end_matches('…');
            assert_eq!(kept.chars().count(), max.min(240));
            assert!(mixed.starts_with(kept));
        }
        let long = "é".repeat(150);
        assert_eq!(preview(&long, 100).chars().count(), 101);
        assert_eq!(preview("", 100), "");
        assert_eq!(preview("short", 100), "short");
    }

    #[test]
    fn metadata_merge_lets_the_inner_value_win() {
        let mut outer = Metadata::default();
        outer.insert("a", 1);
        outer.insert("b", 1);
        let mut inner = Metadata::default();
        inner.insert("b", 2);
        let merged = outer.merged(&inner);
        assert_eq!(merged.get("a"), Some(&serde_json::json!(1)));
        assert_eq!(merged.get("b"), Some(&serde_json::json!(2)));
        assert_eq!(outer.merged(&Metadata::default()), outer);
    }

    #[test]
    fn error_kinds_round_trip_and_map_statuses() {
        for kind in [
            "rate_limit",
            "server",
            "timeout",
            "connection",
            "invalid_request",
            "auth",
            "decode",
            "stream",
            "content_filter",
            "quota",
        ] {
            assert_eq!(ErrorKind::from(kind).as_str(), kind);
        }
        assert_eq!(ErrorKind::from_status(401), ErrorKind::Auth);
        assert_eq!(ErrorKind::from_status(400), ErrorKind::InvalidRequest);
        assert_eq!(ErrorKind::from_status(500), ErrorKind::Server);
    }
}
