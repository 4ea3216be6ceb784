//! An OpenAI-compatible HTTP server on `127.0.0.1`, for tests, examples,
//! benchmarks and offline runs of code that uses an OpenAI client (it is
//! tested against `async-openai` 0.43).
//!
//! [`MockServer::start`] binds a free port and serves on its own thread with
//! its own tokio runtime, so it works from sync code and under any executor.
//! Point the client at [`MockServer::base_url`]. Without scripts every reply
//! is deterministic (the same request gets the same text and usage); with
//! [`MockServer::push`] a test queues [`Script`]s — HTTP errors, delays,
//! stream faults, usage details, fixed texts — each of which applies to
//! exactly one later request.
//!
//! # Example
//!
//! ```
//! use async_openai::types::chat::{
//!     ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs, FinishReason,
//! };
//! use async_openai::{Client, config::OpenAIConfig};
//! use llm_trace_mock::{MockServer, Script};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockServer::start()?;
//! let client = Client::with_config(
//!     OpenAIConfig::new()
//!         .with_api_base(server.base_url())
//!         .with_api_key("sk-test"),
//! );
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages([ChatCompletionRequestUserMessage::from("Say hello").into()])
//!     .build()?;
//!
//! // The default reply is derived from the request.
//! let response = client.chat().create(request.clone()).await?;
//! assert_eq!(response.model, "gpt-4o-mini-2024-07-18");
//! let text = response.choices[0].message.content.clone().unwrap();
//! assert!(text.contains("Say hello"));
//! assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
//!
//! // Script the next request: a 500, which async-openai retries, then a fixed
//! // reply that reports cached prompt tokens.
//! server.push(Script::server_error().with_retry_after(0));
//! server.push(Script::reply("Hello!").with_cached_tokens(4));
//! let response = client.chat().create(request).await?;
//! assert_eq!(response.choices[0].message.content.as_deref(), Some("Hello!"));
//! let usage = response.usage.unwrap();
//! assert_eq!(usage.prompt_tokens_details.unwrap().cached_tokens, Some(4));
//!
//! // Every request is recorded (header names only, never their values).
//! let requests = server.requests();
//! assert_eq!(requests.len(), 3);
//! assert_eq!(requests[0].path, "/v1/chat/completions");
//! assert!(requests[0].header_names.iter().any(|h| h == "authorization"));
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! | Method and path | Reply |
//! | --- | --- |
//! | `POST /v1/chat/completions` | a chat completion, or an SSE stream when `"stream": true` |
//! | `POST /v1/embeddings` | one deterministic unit-norm vector per input |
//! | `GET /v1/models`, `GET /v1/models/{id}` | a few well-known models |
//! | `POST /__mock/script` | queue one script (JSON object) or several (JSON array); see [`Script`] |
//! | `GET /__mock/script` | `{"pending": N, "scripts": [...]}` |
//! | `DELETE /__mock/script` | clear the queued scripts |
//! | `GET /__mock/requests` | the [`RecordedRequest`]s as a JSON array |
//! | `DELETE /__mock/requests` | forget the recorded requests |
//!
//! Anything else gets a 404 (405 for a wrong method on a known path) with an
//! OpenAI-style error body `{"error":{"message","type","param","code"}}`, and
//! so do bad requests (400: invalid JSON, no `model`, no or empty `messages`,
//! `stream_options` without `stream`, `max_tokens` of 0, bad embedding input).
//! Every `/v1` response carries an `x-request-id: req_mock_<n>` header, `n`
//! being the request's [`RecordedRequest::seq`].
//!
//! # Chat completions
//!
//! * The reply mentions the first six words of the last user message:
//!   `This is a mock reply to "<words>" from llm-trace-mock. The same request
//!   always gets the same answer.` After a `tool` message it quotes the tool
//!   result instead. A scripted [`Script::reply`] replaces the text.
//! * `id` is `chatcmpl-mock-<n>` (n counts chat requests from 1), `object`
//!   `chat.completion`, `created` the current Unix time, `service_tier`
//!   `default`, `system_fingerprint` `fp_11m7r4c3m0`, and `model` the
//!   requested model with the snapshot suffix `-2024-07-18` appended unless it
//!   already ends with a date (`-YYYY-MM-DD` or `-MMDD`); see [`snapshot_model`].
//! * Tokens: the reply is counted with [`count_tokens`] (words cut into
//!   pieces of at most 4 characters). When `max_tokens` or
//!   `max_completion_tokens` (the smaller of the two) is below the reply's
//!   count, the reply is cut to that many tokens and `finish_reason` is
//!   `length`; otherwise it is `stop`.
//! * `usage.prompt_tokens` is `3 + Σ (3 + ceil(chars(content) / 4))` over the
//!   messages, where an array content counts the `text` of its parts joined by
//!   newlines, and each tool call of an assistant message adds
//!   `ceil(chars(name) / 4) + ceil(chars(arguments) / 4)`.
//!   `completion_tokens` = the reply's tokens (+ scripted reasoning tokens),
//!   `total_tokens` = their sum. `prompt_tokens_details.cached_tokens` and
//!   `completion_tokens_details.reasoning_tokens` are always present, 0 unless
//!   scripted.
//! * Tools: when function `tools` are offered and `tool_choice` is not
//!   `"none"`, the reply is one call to the first tool (or to the one named by
//!   `tool_choice`) with id `call_mock_<n>`, arguments a small JSON object
//!   with a placeholder value per required parameter (`"mock"`, `1`, `true`,
//!   `[]`, `{}` or the first `enum` value), `content` null and `finish_reason`
//!   `tool_calls`. Its completion tokens are `count_tokens(name) +
//!   count_tokens(arguments)`. When the last message is a tool result, the
//!   mock answers with text instead, unless `tool_choice` is `"required"` or
//!   names a function, so agent loops end.
//! * Streaming (`"stream": true`): `text/event-stream` with `data: <chunk>`
//!   events: a first chunk with `role: assistant` and empty content, the
//!   content in chunks of three words, a chunk with an empty delta and
//!   `finish_reason`, then, when `stream_options.include_usage` is true, a
//!   chunk with `"choices": []` and the `usage`, and finally `data: [DONE]`.
//!   With `include_usage` every chunk carries `"usage": null` but the last.
//!   A tool call streams as a first delta with id and name and empty
//!   arguments, then the arguments in two halves. The concatenated content
//!   equals the non-streamed reply to the same request.
//! * `n`, `stop`, `temperature` and the other sampling fields are ignored
//!   (there is always exactly one choice).
//!
//! # Embeddings
//!
//! `input` may be a string, an array of strings, an array of token ids or an
//! array of arrays of token ids (none of them empty). Each vector is unit-norm
//! and derived from a hash of its input, of size `dimensions` (default 1536,
//! at most 16384). `encoding_format: "base64"` returns the little-endian
//! `f32` bytes in base64, as OpenAI does; async-openai sends no
//! `encoding_format` by default (floats). `usage.prompt_tokens` and
//! `total_tokens` are `Σ max(1, ceil(chars / 4))` over text inputs (token-id
//! inputs count their length). `model` is echoed unchanged.
//!
//! # Scripts and async-openai's retries
//!
//! async-openai 0.43 retries 429 and 5xx replies (and connection errors) up
//! to 3 times, waiting `retry-after` seconds when the header is present and
//! 100 ms, 200 ms, 400 ms... otherwise. A 429 whose error `type` is
//! `insufficient_quota` is not retried. So a test that wants the client to
//! see a 429 queues four [`Script::rate_limited`]`(0)`, and a test of the
//! retry queues one [`Script::server_error`] followed by nothing (or a
//! normal script). See [`Script`] for every scriptable behaviour and the
//! JSON shape of `POST /__mock/script`.

#![warn(missing_docs)]

mod chat;
mod embeddings;
mod respond;
mod script;
mod server;
mod text;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::Router;
use axum::serve::ListenerExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

pub use script::{Endpoint, Script};

/// One request the server received (control-endpoint requests excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Position in arrival order, from 1.
    pub seq: u64,
    /// The HTTP method, e.g. `"POST"`.
    pub method: String,
    /// The path, e.g. `"/v1/chat/completions"`.
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// The names of the request headers, lower-case. Header values are never
    /// recorded, so `authorization` shows only that a key was sent.
    pub header_names: Vec<String>,
    /// The JSON body; `null` when the body was empty or not JSON.
    pub body: serde_json::Value,
    /// When the body was not valid JSON: its first 4 KiB, lossily decoded.
    pub raw_body: Option<String>,
    /// The script that was applied to this request, if one was.
    pub script: Option<Script>,
}

/// A running mock server. Shuts down when dropped.
///
/// See the [crate documentation](crate) for the endpoints and an example.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts a server on `127.0.0.1` with a port chosen by the OS.
    ///
    /// # Errors
    ///
    /// If the socket cannot be bound or the server thread cannot start.
    pub fn start() -> std::io::Result<MockServer> {
        MockServer::start_on(0)
    }

    /// Starts a server on `127.0.0.1:port` (`0` lets the OS choose).
    ///
    /// # Errors
    ///
    /// If the socket cannot be bound (e.g. the port is taken) or the server
    /// thread cannot start.
    pub fn start_on(port: u16) -> std::io::Result<MockServer> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let shared = Arc::new(server::Shared::default());
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let app = Router::new().fallback(server::handle).with_state(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name(format!("llm-trace-mock-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let listener = listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = shutdown_rx => {}
                    }
                });
                // Dropping the runtime here cancels every open connection,
                // including stalled streams.
                drop(runtime);
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(std::io::Error::other("llm-trace-mock server thread died"));
            }
        }
        Ok(MockServer { addr, shared, shutdown: Some(shutdown_tx), thread: Some(thread) })
    }

    /// The address the server listens on (always `127.0.0.1`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`, the value for async-openai's
    /// `OpenAIConfig::with_api_base`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`, the root of the server (the control endpoint
    /// is under `/__mock/`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues `script`. Scripts are used in FIFO order: each applies to the
    /// next chat-completions or embeddings request that it matches (see
    /// [`Script::only_for`]), and only to that one.
    pub fn push(&self, script: Script) {
        self.shared.push(script);
    }

    /// Removes every queued script (recorded requests are kept; see
    /// [`MockServer::clear_requests`] and [`MockServer::reset`]).
    pub fn clear(&self) {
        self.shared.clear_scripts();
    }

    /// The scripts still queued, in order.
    pub fn pending_scripts(&self) -> Vec<Script> {
        self.shared.pending()
    }

    /// Every request received so far, in arrival order (requests to the
    /// control endpoint `/__mock/` are not recorded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Clears both the queued scripts and the recorded requests.
    pub fn reset(&self) {
        self.shared.clear_scripts();
        self.shared.clear_requests();
    }

    /// Stops the server and waits for its thread to end. Open connections
    /// (including stalled streams) are closed. Dropping the server does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The number of tokens the mock counts for `text`: the text is cut into words
/// (leading whitespace plus a run of non-whitespace) and each word into pieces
/// of at most 4 characters. A reply's `completion_tokens` is this count.
///
/// ```
/// assert_eq!(llm_trace_mock::count_tokens("Hello world"), 4); // "Hell" "o" " wor" "ld"
/// ```
pub fn count_tokens(text: &str) -> u32 {
    text::count(text)
}

/// The `model` the mock reports for a requested model: `model` with
/// `-2024-07-18` appended, unless it already ends with a date (`-YYYY-MM-DD`
/// or `-MMDD`).
///
/// ```
/// assert_eq!(llm_trace_mock::snapshot_model("gpt-4o-mini"), "gpt-4o-mini-2024-07-18");
/// assert_eq!(llm_trace_mock::snapshot_model("gpt-4o-2024-08-06"), "gpt-4o-2024-08-06");
/// ```
pub fn snapshot_model(model: &str) -> String {
    text::snapshot(model)
}
