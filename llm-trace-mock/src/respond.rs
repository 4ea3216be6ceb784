//! Response building: JSON replies, OpenAI-style errors and scripted bodies
//! (SSE streams and faults) fed through a channel.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::script::{HttpError, Outcome};

/// How long the body task waits before aborting the connection, so that the
/// chunks before the abort are flushed to the client first.
const ABORT_FLUSH_DELAY: Duration = Duration::from_millis(20);

/// A JSON response with the given status.
pub(crate) fn json(status: StatusCode, value: &Value) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// The OpenAI error body `{"error":{"message","type","param","code"}}`.
pub(crate) fn error_body(
    message: &str,
    error_type: Option<&str>,
    param: Option<&str>,
    code: Option<&str>,
) -> Value {
    json!({
        "error": {
            "message": message,
            "type": error_type,
            "param": param,
            "code": code,
        }
    })
}

/// An OpenAI-style error response.
pub(crate) fn error(
    status: StatusCode,
    message: &str,
    error_type: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<Body> {
    json(status, &error_body(message, Some(error_type), param, code))
}

/// A 400 `invalid_request_error`.
pub(crate) fn bad_request(
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, message, "invalid_request_error", param, code)
}

/// A request rejected with a 400 `invalid_request_error` (kept small so
/// `Result`s carrying it stay cheap).
#[derive(Debug)]
pub(crate) struct Invalid {
    message: String,
    param: Option<String>,
    code: Option<&'static str>,
}

impl Invalid {
    pub(crate) fn new(
        message: impl Into<String>,
        param: Option<&str>,
        code: Option<&'static str>,
    ) -> Invalid {
        Invalid { message: message.into(), param: param.map(str::to_owned), code }
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        bad_request(&self.message, self.param.as_deref(), self.code)
    }
}

/// The response for a scripted HTTP error.
pub(crate) fn scripted_error(e: &HttpError) -> Response<Body> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = json(
        status,
        &error_body(&e.message, e.error_type.as_deref(), e.param.as_deref(), e.code.as_deref()),
    );
    if let Some(secs) = e.retry_after {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

/// How a scripted body ends after its last event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The body ends normally.
    Clean,
    /// The body fails, so hyper aborts the connection.
    Abort,
    /// Nothing more is sent; the body stays open until the client goes away.
    Stall,
}

/// A body sent piece by piece, with a delay before each piece.
#[derive(Debug)]
pub(crate) struct BodyPlan {
    pub(crate) pieces: Vec<(Duration, Bytes)>,
    pub(crate) ending: Ending,
}

impl BodyPlan {
    /// The plan for an SSE stream of `events` (each already a full
    /// `data: ...\n\n` event, in normal order, *without* `[DONE]`), with the
    /// script's stream fault and first-token delay applied.
    pub(crate) fn sse(
        events: Vec<String>,
        outcome: &Outcome,
        first_token_delay: Duration,
    ) -> BodyPlan {
        let n = events.len();
        let (keep, inserted, ending, done) = match *outcome {
            Outcome::Truncate { after_chunks } => (after_chunks.min(n), None, Ending::Clean, false),
            Outcome::Disconnect { after_chunks } => {
                (after_chunks.min(n), None, Ending::Abort, false)
            }
            Outcome::Stall { after_chunks } => (after_chunks.min(n), None, Ending::Stall, false),
            Outcome::MalformedChunk { after_chunks } => {
                (n, Some(after_chunks.min(n)), Ending::Clean, true)
            }
            Outcome::Ok | Outcome::HttpError(_) => (n, None, Ending::Clean, true),
        };
        let mut texts: Vec<String> = events.into_iter().take(keep).collect();
        if let Some(at) = inserted {
            texts.insert(at, "data: {not json\n\n".to_owned());
        }
        if done {
            texts.push("data: [DONE]\n\n".to_owned());
        }
        let pieces = texts
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let delay = if i == 1 { first_token_delay } else { Duration::ZERO };
                (delay, Bytes::from(t))
            })
            .collect();
        BodyPlan { pieces, ending }
    }

    /// The plan for a JSON body `body` under a stream-fault outcome (the
    /// non-streaming form of the faults). `None` for outcomes that do not
    /// alter the body.
    pub(crate) fn json_fault(body: &[u8], outcome: &Outcome) -> Option<BodyPlan> {
        let half = Bytes::copy_from_slice(&body[..body.len() / 2]);
        let (pieces, ending) = match outcome {
            Outcome::Truncate { .. } => (vec![(Duration::ZERO, half)], Ending::Clean),
            Outcome::Disconnect { .. } => (vec![(Duration::ZERO, half)], Ending::Abort),
            Outcome::MalformedChunk { .. } => {
                (vec![(Duration::ZERO, Bytes::from_static(b"{not json"))], Ending::Clean)
            }
            Outcome::Stall { .. } => (Vec::new(), Ending::Stall),
            Outcome::Ok | Outcome::HttpError(_) => return None,
        };
        Some(BodyPlan { pieces, ending })
    }

    /// Spawns the task that feeds this plan into a response body.
    /// Must be called inside the server's runtime.
    pub(crate) fn into_body(self) -> Body {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
        tokio::spawn(async move {
            for (delay, bytes) in self.pieces {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if tx.send(Ok(bytes)).await.is_err() {
                    return; // the client went away
                }
            }
            match self.ending {
                Ending::Clean => {}
                Ending::Abort => {
                    tokio::time::sleep(ABORT_FLUSH_DELAY).await;
                    let _ = tx
                        .send(Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "llm-trace-mock: scripted disconnect",
                        )))
                        .await;
                }
                Ending::Stall => tx.closed().await,
            }
        });
        Body::from_stream(ChannelStream(rx))
    }
}

/// A response with status 200, the given content type and a planned body.
pub(crate) fn planned(content_type: &'static str, plan: BodyPlan) -> Response<Body> {
    let mut res = Response::new(plan.into_body());
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// The receiving end of a body channel as a `Stream`.
struct ChannelStream(mpsc::Receiver<io::Result<Bytes>>);

impl futures_core::Stream for ChannelStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Standard base64 (with padding) of `bytes`.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    fn texts(plan: &BodyPlan) -> Vec<String> {
        plan.pieces.iter().map(|(_, b)| String::from_utf8(b.to_vec()).unwrap()).collect()
    }

    #[test]
    fn sse_plans() {
        let events: Vec<String> = (0..3).map(|i| format!("data: {i}\n\n")).collect();
        let ok = BodyPlan::sse(events.clone(), &Outcome::Ok, Duration::from_millis(5));
        assert_eq!(texts(&ok).len(), 4);
        assert_eq!(ok.pieces[1].0, Duration::from_millis(5));
        assert_eq!(ok.ending, Ending::Clean);

        let t =
            BodyPlan::sse(events.clone(), &Outcome::Truncate { after_chunks: 2 }, Duration::ZERO);
        assert_eq!(texts(&t), ["data: 0\n\n", "data: 1\n\n"]);

        let m = BodyPlan::sse(
            events.clone(),
            &Outcome::MalformedChunk { after_chunks: 1 },
            Duration::ZERO,
        );
        assert_eq!(texts(&m)[1], "data: {not json\n\n");
        assert_eq!(texts(&m).len(), 5);

        let s = BodyPlan::sse(events, &Outcome::Stall { after_chunks: 9 }, Duration::ZERO);
        assert_eq!(texts(&s).len(), 3);
        assert_eq!(s.ending, Ending::Stall);
    }
}
