//! Scripted behaviour: what the next matching request gets instead of the
//! default deterministic reply.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which API endpoint a [`Script`] may be consumed by.
///
/// Scripts are only ever consumed by `POST /v1/chat/completions` and
/// `POST /v1/embeddings`; every other path leaves the queue alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    /// Either endpoint (the default).
    #[default]
    Any,
    /// `POST /v1/chat/completions` only.
    Chat,
    /// `POST /v1/embeddings` only.
    Embeddings,
}

impl Endpoint {
    /// Whether a script restricted to `self` may be used for a request to `target`.
    pub(crate) fn accepts(self, target: Endpoint) -> bool {
        self == Endpoint::Any || self == target
    }
}

/// An HTTP error reply with an OpenAI-style body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpError {
    pub(crate) status: u16,
    pub(crate) message: String,
    pub(crate) error_type: Option<String>,
    pub(crate) param: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) retry_after: Option<u64>,
}

/// The main outcome of a scripted request. Mutually exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Outcome {
    /// The normal reply (possibly modified by the other script fields).
    #[default]
    Ok,
    /// An HTTP error status with an OpenAI-style error body.
    HttpError(HttpError),
    /// The body ends cleanly after `after_chunks` SSE chunks (no usage chunk, no `[DONE]`).
    Truncate { after_chunks: usize },
    /// The connection is aborted after `after_chunks` SSE chunks.
    Disconnect { after_chunks: usize },
    /// A `data: {not json` event is inserted after `after_chunks` SSE chunks.
    MalformedChunk { after_chunks: usize },
    /// Nothing more is sent after `after_chunks` SSE chunks; the connection stays open.
    Stall { after_chunks: usize },
}

/// One scripted behaviour, applied to exactly one request: the next request to
/// the chat completions or embeddings endpoint that it matches (see
/// [`Script::only_for`]). Queue it with [`MockServer::push`](crate::MockServer::push)
/// or `POST /__mock/script`.
///
/// A script has one *outcome* (chosen by its constructor: a normal reply, an
/// HTTP error, or one of the stream faults) and any number of *modifiers*
/// (the `with_*` methods), which combine freely:
///
/// ```
/// use std::time::Duration;
/// use llm_trace_mock::Script;
///
/// // A normal reply with a fixed text that reports 12 cached prompt tokens and
/// // arrives after 50 ms.
/// let script = Script::reply("Hello!")
///     .with_cached_tokens(12)
///     .with_delay(Duration::from_millis(50));
/// assert_eq!(script.kind(), "ok");
///
/// // A stream that is cut off after its third chunk.
/// assert_eq!(Script::disconnect_after(3).kind(), "disconnect");
/// ```
///
/// # Stream chunks
///
/// For the stream faults, a *chunk* is one `data: {...}` SSE event of the
/// normal stream, counted from the first one (the one that carries the
/// `assistant` role). The normal stream is: the role chunk, the content chunks
/// (or two tool-call argument chunks), the chunk with `finish_reason`, then the
/// usage chunk (only when `stream_options.include_usage` is true) and finally
/// `data: [DONE]`. When `after_chunks` is larger than the number of chunks, the
/// fault happens after the last chunk, before `[DONE]`.
///
/// On a non-streaming request (and on embeddings) the stream faults apply to
/// the JSON body instead and `after_chunks` is ignored: `truncate` sends the
/// first half of the JSON and ends the body cleanly, `disconnect` sends the
/// first half and aborts the connection, `malformed_chunk` sends `{not json`
/// with status 200, and `stall` sends the headers and never the body.
///
/// # JSON form (control endpoint)
///
/// `POST /__mock/script` takes one JSON object (or an array of them, queued in
/// order). Every field is optional; `kind` defaults to `"ok"`. Unknown fields
/// and fields that do not fit the kind are rejected with a 400.
///
/// ```json
/// {
///   "kind": "ok",              // "ok" | "http_error" | "truncate" | "disconnect"
///                              // | "malformed_chunk" | "stall"
///                              // shorthands for http_error with preset fields:
///                              // "rate_limited" | "insufficient_quota"
///                              // | "server_error" | "invalid_api_key" | "bad_request"
///   "endpoint": "any",         // "any" | "chat" | "embeddings"
///
///   "status": 429,             // http_error only (400..=599; required for "http_error")
///   "message": "Rate limit reached for requests",
///   "type": "requests",        // the error body's "type"
///   "param": null,
///   "code": "rate_limit_exceeded",
///   "retry_after": 0,          // seconds, sent as the `retry-after` header
///
///   "after_chunks": 2,         // truncate | disconnect | malformed_chunk | stall (default 0)
///
///   "delay_ms": 250,           // any kind: wait before sending the response headers
///   "first_token_delay_ms": 100, // streams: wait before the first chunk after the role chunk
///   "ignore_include_usage": true, // streams: never send the usage chunk
///   "cached_tokens": 12,       // usage.prompt_tokens_details.cached_tokens
///   "reasoning_tokens": 30,    // usage.completion_tokens_details.reasoning_tokens
///   "reply": "fixed text"      // the reply content (never a tool call then)
/// }
/// ```
///
/// For example `{"kind":"rate_limited","retry_after":0}` queues one 429, and
/// `[{"kind":"server_error"},{"reply":"after the retry"}]` queues a 500
/// followed by a fixed reply. [`Script`] implements `Serialize` and
/// `Deserialize` with exactly this shape, so
/// `serde_json::to_string(&Script::rate_limited(0))` produces a valid body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "ScriptWire", into = "ScriptWire")]
pub struct Script {
    pub(crate) outcome: Outcome,
    pub(crate) endpoint: Endpoint,
    pub(crate) delay: Option<Duration>,
    pub(crate) first_token_delay: Option<Duration>,
    pub(crate) ignore_include_usage: bool,
    pub(crate) cached_tokens: Option<u32>,
    pub(crate) reasoning_tokens: Option<u32>,
    pub(crate) reply: Option<String>,
}

impl Script {
    // ----- outcomes -------------------------------------------------------

    /// The normal deterministic reply, unchanged. Useful as a base for the
    /// `with_*` modifiers, or to let one request through untouched while
    /// later scripts wait in the queue.
    pub fn ok() -> Script {
        Script::default()
    }

    /// A normal reply whose content is exactly `text` (never a tool call).
    /// Usage is computed from `text` as for any reply.
    pub fn reply(text: impl Into<String>) -> Script {
        Script::ok().with_reply(text)
    }

    /// A normal reply whose usage reports
    /// `prompt_tokens_details.cached_tokens = cached_tokens` and
    /// `completion_tokens_details.reasoning_tokens = reasoning_tokens`.
    pub fn usage_details(cached_tokens: u32, reasoning_tokens: u32) -> Script {
        Script::ok().with_cached_tokens(cached_tokens).with_reasoning_tokens(reasoning_tokens)
    }

    /// A normal stream that sends no usage chunk (and no `usage` fields) even
    /// when `stream_options.include_usage` is true, like llama.cpp's server.
    pub fn ignore_include_usage() -> Script {
        Script::ok().with_ignore_include_usage()
    }

    /// A normal reply sent after waiting `delay` before the response headers
    /// (for client timeouts).
    pub fn delay(delay: Duration) -> Script {
        Script::ok().with_delay(delay)
    }

    /// A normal reply whose first token is slow: on a stream, the role chunk
    /// is sent at once and the next chunk after `delay`; on a non-streaming
    /// request the whole response waits `delay`.
    pub fn slow_first_token(delay: Duration) -> Script {
        Script::ok().with_first_token_delay(delay)
    }

    /// An HTTP error with the given status and message. The error `type` is
    /// derived from the status (`invalid_request_error` for 4xx,
    /// `server_error` for 5xx); change it with [`Script::with_error_type`].
    ///
    /// Note that async-openai retries 429 and 5xx replies (3 retries by
    /// default), so a test that wants the client to see the error must queue
    /// four of them.
    ///
    /// # Panics
    ///
    /// If `status` is not in `400..=599`.
    pub fn http_error(status: u16, message: impl Into<String>) -> Script {
        assert!(
            (400..=599).contains(&status),
            "http_error status must be in 400..=599, got {status}"
        );
        let error_type = if status >= 500 { "server_error" } else { "invalid_request_error" };
        Script {
            outcome: Outcome::HttpError(HttpError {
                status,
                message: message.into(),
                error_type: Some(error_type.to_owned()),
                param: None,
                code: None,
                retry_after: None,
            }),
            ..Script::default()
        }
    }

    /// A 429 rate-limit error (`type` `requests`, `code`
    /// `rate_limit_exceeded`) with a `retry-after: <retry_after_secs>` header.
    ///
    /// async-openai honours `retry-after` (whole seconds) and retries up to 3
    /// times, so queue four of these with `0` to make the client give up
    /// at once.
    pub fn rate_limited(retry_after_secs: u64) -> Script {
        Script::http_error(
            429,
            "Rate limit reached for requests per min (RPM). Please try again later.",
        )
        .with_error_type("requests")
        .with_error_code("rate_limit_exceeded")
        .with_retry_after(retry_after_secs)
    }

    /// A 429 with `type` and `code` `insufficient_quota`, which async-openai
    /// treats as permanent (it does not retry it).
    pub fn insufficient_quota() -> Script {
        Script::http_error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
        )
        .with_error_type("insufficient_quota")
        .with_error_code("insufficient_quota")
    }

    /// A 500 server error (`type` `server_error`).
    pub fn server_error() -> Script {
        Script::http_error(
            500,
            "The server had an error while processing your request. Sorry about that!",
        )
    }

    /// A 401 with `code` `invalid_api_key`.
    pub fn invalid_api_key() -> Script {
        Script::http_error(
            401,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        )
        .with_error_code("invalid_api_key")
    }

    /// A 400 `invalid_request_error` with the given message.
    pub fn bad_request(message: impl Into<String>) -> Script {
        Script::http_error(400, message)
    }

    /// The stream ends cleanly after `after_chunks` chunks, without the
    /// finish/usage chunks that would follow and without `[DONE]`.
    pub fn truncate_after(after_chunks: usize) -> Script {
        Script::with_outcome(Outcome::Truncate { after_chunks })
    }

    /// The connection is aborted after `after_chunks` chunks (the response
    /// body fails, so the client sees a transport error mid-stream).
    pub fn disconnect_after(after_chunks: usize) -> Script {
        Script::with_outcome(Outcome::Disconnect { after_chunks })
    }

    /// After `after_chunks` chunks the stream sends a `data: {not json`
    /// event, then carries on normally (remaining chunks, usage, `[DONE]`).
    pub fn malformed_after(after_chunks: usize) -> Script {
        Script::with_outcome(Outcome::MalformedChunk { after_chunks })
    }

    /// After `after_chunks` chunks the stream sends nothing more but keeps the
    /// connection open (for read timeouts and cancellation).
    pub fn stall_after(after_chunks: usize) -> Script {
        Script::with_outcome(Outcome::Stall { after_chunks })
    }

    fn with_outcome(outcome: Outcome) -> Script {
        Script { outcome, ..Script::default() }
    }

    // ----- modifiers ------------------------------------------------------

    /// Use `text` as the reply content (and never a tool call).
    pub fn with_reply(mut self, text: impl Into<String>) -> Script {
        self.reply = Some(text.into());
        self
    }

    /// Wait `delay` before sending the response headers.
    pub fn with_delay(mut self, delay: Duration) -> Script {
        self.delay = Some(delay);
        self
    }

    /// Wait `delay` before the first chunk after the role chunk (streams), or
    /// before the response (non-streaming requests).
    pub fn with_first_token_delay(mut self, delay: Duration) -> Script {
        self.first_token_delay = Some(delay);
        self
    }

    /// Report `usage.prompt_tokens_details.cached_tokens = n`. The reported
    /// `prompt_tokens` is raised to `n` if the estimate is smaller.
    pub fn with_cached_tokens(mut self, n: u32) -> Script {
        self.cached_tokens = Some(n);
        self
    }

    /// Report `usage.completion_tokens_details.reasoning_tokens = n`. As with
    /// OpenAI, `completion_tokens` includes them: it becomes the reply's
    /// tokens plus `n`.
    pub fn with_reasoning_tokens(mut self, n: u32) -> Script {
        self.reasoning_tokens = Some(n);
        self
    }

    /// Never send the usage chunk on a stream, even when asked.
    pub fn with_ignore_include_usage(mut self) -> Script {
        self.ignore_include_usage = true;
        self
    }

    /// Only apply this script to requests to `endpoint`; requests to the other
    /// endpoint skip it (it stays queued, and later scripts may be used first).
    pub fn only_for(mut self, endpoint: Endpoint) -> Script {
        self.endpoint = endpoint;
        self
    }

    /// Set the `retry-after` header (seconds) of an HTTP error. No effect on
    /// other kinds.
    pub fn with_retry_after(mut self, seconds: u64) -> Script {
        if let Outcome::HttpError(e) = &mut self.outcome {
            e.retry_after = Some(seconds);
        }
        self
    }

    /// Set the error body's `type` of an HTTP error. No effect on other kinds.
    pub fn with_error_type(mut self, error_type: impl Into<String>) -> Script {
        if let Outcome::HttpError(e) = &mut self.outcome {
            e.error_type = Some(error_type.into());
        }
        self
    }

    /// Set the error body's `code` of an HTTP error. No effect on other kinds.
    pub fn with_error_code(mut self, code: impl Into<String>) -> Script {
        if let Outcome::HttpError(e) = &mut self.outcome {
            e.code = Some(code.into());
        }
        self
    }

    /// Set the error body's `param` of an HTTP error. No effect on other kinds.
    pub fn with_error_param(mut self, param: impl Into<String>) -> Script {
        if let Outcome::HttpError(e) = &mut self.outcome {
            e.param = Some(param.into());
        }
        self
    }

    // ----- accessors ------------------------------------------------------

    /// The script's kind as used in its JSON form: `"ok"`, `"http_error"`,
    /// `"truncate"`, `"disconnect"`, `"malformed_chunk"` or `"stall"`.
    pub fn kind(&self) -> &'static str {
        match self.outcome {
            Outcome::Ok => "ok",
            Outcome::HttpError(_) => "http_error",
            Outcome::Truncate { .. } => "truncate",
            Outcome::Disconnect { .. } => "disconnect",
            Outcome::MalformedChunk { .. } => "malformed_chunk",
            Outcome::Stall { .. } => "stall",
        }
    }

    /// The HTTP status of an `http_error` script, `None` for other kinds.
    pub fn status(&self) -> Option<u16> {
        match &self.outcome {
            Outcome::HttpError(e) => Some(e.status),
            _ => None,
        }
    }

    /// The endpoint this script is restricted to.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }
}

/// The flat JSON form of a [`Script`].
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after_chunks: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_token_delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ignore_include_usage: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cached_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reasoning_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply: Option<String>,
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<Script> for ScriptWire {
    fn from(s: Script) -> ScriptWire {
        let mut w = ScriptWire {
            kind: Some(s.kind().to_owned()),
            endpoint: (s.endpoint != Endpoint::Any).then_some(s.endpoint),
            delay_ms: s.delay.map(duration_ms),
            first_token_delay_ms: s.first_token_delay.map(duration_ms),
            ignore_include_usage: s.ignore_include_usage.then_some(true),
            cached_tokens: s.cached_tokens,
            reasoning_tokens: s.reasoning_tokens,
            reply: s.reply,
            ..ScriptWire::default()
        };
        match s.outcome {
            Outcome::Ok => {}
            Outcome::HttpError(e) => {
                w.status = Some(e.status);
                w.message = Some(e.message);
                w.error_type = e.error_type;
                w.param = e.param;
                w.code = e.code;
                w.retry_after = e.retry_after;
            }
            Outcome::Truncate { after_chunks }
            | Outcome::Disconnect { after_chunks }
            | Outcome::MalformedChunk { after_chunks }
            | Outcome::Stall { after_chunks } => w.after_chunks = Some(after_chunks),
        }
        w
    }
}

impl TryFrom<ScriptWire> for Script {
    type Error = String;

    fn try_from(w: ScriptWire) -> Result<Script, String> {
        let kind = w.kind.as_deref().unwrap_or("ok");
        let error_fields = [
            ("status", w.status.is_some()),
            ("message", w.message.is_some()),
            ("type", w.error_type.is_some()),
            ("param", w.param.is_some()),
            ("code", w.code.is_some()),
            ("retry_after", w.retry_after.is_some()),
        ];
        let reject = |fields: &[(&str, bool)]| -> Result<(), String> {
            match fields.iter().find(|(_, present)| *present) {
                Some((name, _)) => Err(format!("field `{name}` is not valid for kind `{kind}`")),
                None => Ok(()),
            }
        };

        let base = match kind {
            "ok" => {
                reject(&error_fields)?;
                reject(&[("after_chunks", w.after_chunks.is_some())])?;
                Script::ok()
            }
            "truncate" | "disconnect" | "malformed_chunk" | "stall" => {
                reject(&error_fields)?;
                let n = w.after_chunks.unwrap_or(0);
                match kind {
                    "truncate" => Script::truncate_after(n),
                    "disconnect" => Script::disconnect_after(n),
                    "malformed_chunk" => Script::malformed_after(n),
                    _ => Script::stall_after(n),
                }
            }
            "http_error" | "rate_limited" | "insufficient_quota" | "server_error"
            | "invalid_api_key" | "bad_request" => {
                reject(&[("after_chunks", w.after_chunks.is_some())])?;
                let preset = match kind {
                    "http_error" => {
                        let status = w
                            .status
                            .ok_or_else(|| "kind `http_error` needs a `status`".to_owned())?;
                        if !(400..=599).contains(&status) {
                            return Err(format!("`status` must be in 400..=599, got {status}"));
                        }
                        Script::http_error(status, "Scripted error from llm-trace-mock.")
                    }
                    "rate_limited" => Script::rate_limited(0),
                    "insufficient_quota" => Script::insufficient_quota(),
                    "server_error" => Script::server_error(),
                    "invalid_api_key" => Script::invalid_api_key(),
                    _ => Script::bad_request("Scripted bad request from llm-trace-mock."),
                };
                let Outcome::HttpError(mut e) = preset.outcome else {
                    unreachable!("presets are http errors")
                };
                if let Some(status) = w.status {
                    if !(400..=599).contains(&status) {
                        return Err(format!("`status` must be in 400..=599, got {status}"));
                    }
                    e.status = status;
                }
                if let Some(message) = w.message {
                    e.message = message;
                }
                if w.error_type.is_some() {
                    e.error_type = w.error_type;
                }
                if w.param.is_some() {
                    e.param = w.param;
                }
                if w.code.is_some() {
                    e.code = w.code;
                }
                if w.retry_after.is_some() {
                    e.retry_after = w.retry_after;
                }
                Script::with_outcome(Outcome::HttpError(e))
            }
            other => return Err(format!("unknown script kind `{other}`")),
        };

        Ok(Script {
            endpoint: w.endpoint.unwrap_or_default(),
            delay: w.delay_ms.map(Duration::from_millis),
            first_token_delay: w.first_token_delay_ms.map(Duration::from_millis),
            ignore_include_usage: w.ignore_include_usage.unwrap_or(false),
            cached_tokens: w.cached_tokens,
            reasoning_tokens: w.reasoning_tokens,
            reply: w.reply,
            ..base
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let scripts = [
            Script::ok(),
            Script::reply("hi").with_cached_tokens(3).only_for(Endpoint::Chat),
            Script::rate_limited(2),
            Script::invalid_api_key().with_delay(Duration::from_millis(7)),
            Script::truncate_after(2),
            Script::disconnect_after(1).with_first_token_delay(Duration::from_millis(5)),
            Script::malformed_after(0),
            Script::stall_after(4).with_ignore_include_usage(),
            Script::usage_details(1, 2),
        ];
        for s in scripts {
            let json = serde_json::to_value(&s).unwrap();
            let back: Script = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(back, s, "{json}");
        }
    }

    #[test]
    fn json_defaults_and_presets() {
        let s: Script = serde_json::from_str(r#"{"reply":"x"}"#).unwrap();
        assert_eq!(s, Script::reply("x"));
        let s: Script = serde_json::from_str(r#"{"kind":"rate_limited","retry_after":0}"#).unwrap();
        assert_eq!(s, Script::rate_limited(0));
        let s: Script =
            serde_json::from_str(r#"{"kind":"server_error","message":"boom"}"#).unwrap();
        assert_eq!(s.status(), Some(500));
        let s: Script = serde_json::from_str(r#"{"kind":"http_error","status":503}"#).unwrap();
        assert_eq!(s.status(), Some(503));
    }

    #[test]
    fn json_rejects_mistakes() {
        for bad in [
            r#"{"kind":"nope"}"#,
            r#"{"kind":"http_error"}"#,
            r#"{"kind":"http_error","status":200}"#,
            r#"{"kind":"stall","status":500}"#,
            r#"{"kind":"ok","after_chunks":1}"#,
            r#"{"kind":"server_error","after_chunks":1}"#,
            r#"{"delay":5}"#,
        ] {
            assert!(serde_json::from_str::<Script>(bad).is_err(), "{bad}");
        }
    }
}
