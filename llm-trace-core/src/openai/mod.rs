//! Transparent tracing of the [`async-openai`](async_openai) client.
//!
//! Swap `async_openai::Client<C>` for [`TracedClient<C>`] and keep every call as it is:
//! `client.chat().create(req)`, `client.chat().create_stream(req)` and
//! `client.embeddings().create(req)` return exactly what they did, and each call is recorded
//! through the manual API ([`CallRecorder`]) with the context of the
//! enclosing `#[traced_llm]` functions. Everything else (`models()`, `files()`, …) is reached
//! through `Deref` to the wrapped client, untraced.
//!
//! ```no_run
//! use async_openai::types::chat::{ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs};
//! use llm_trace_core::openai::TracedClient;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = TracedClient::new(async_openai::Client::new());
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages([ChatCompletionRequestUserMessage::from("Is my invoice wrong?").into()])
//!     .build()?;
//! let response = client.chat().create(request).await?; // recorded
//! # Ok(()) }
//! ```
//!
//! Works with any OpenAI-compatible server (Azure, vLLM, llama.cpp, Ollama, OpenRouter…):
//! configure the wrapped client's base URL as usual, and name the provider with
//! [`TracedClient::with_provider`].
//!
//! ## What each call records
//! * chat: requested model, `temperature`, max tokens (`max_completion_tokens`, else the
//!   deprecated `max_tokens`), offered tool names, the stream flag; the response model,
//!   finish reason, usage with cached and reasoning tokens, latency (from the call to
//!   `create` to the response), cost, the last user message and the first choice's text as
//!   previews. Tool calls the model made are listed under `metadata.tool_calls` (names) and
//!   previewed when there is no text.
//! * streams: all of the above, plus time to first token. Unless the caller set it,
//!   `stream_options.include_usage` is turned on so the provider reports usage in a last chunk
//!   (opt out with [`TracedClient::with_stream_usage(false)`](TracedClient::with_stream_usage)).
//!   The trace is finished exactly once: at the end of the stream, at the first stream error,
//!   or when the stream is dropped early (`cancelled`, with the partial output). A stream that
//!   ends without a finish reason is recorded as a `stream` error. When the server sends no
//!   usage (llama.cpp's server ignores `include_usage`), tokens are counted with tiktoken
//!   (feature `tokens`) and the record says `usage_source: "estimated"`; without the feature,
//!   `usage_source` is `"none"` and the cost is unknown.
//! * embeddings: model, number of inputs (`metadata.input_count`), prompt tokens, cost.
//! * a future dropped before it completes (even one never polled, which sent nothing) is
//!   recorded once, as `cancelled`.
//! * errors: the caller gets the very `OpenAIError` it would have got untraced; the trace
//!   records a low-cardinality `error.kind` (see [`trace_error`]), the message (redacted) and
//!   the HTTP status.
//!
//! ## Retries
//! async-openai retries 429 and 5xx answers itself (up to 3 times, honouring
//! `retry-after`) inside one `create` call. A retried call is therefore **one** trace: its
//! latency includes the waits, its outcome is the last attempt's.

mod call;
mod chat;
mod embeddings;
mod error;
#[cfg(feature = "tokens")]
mod estimate;
mod extract;
mod stream;

pub use chat::TracedChat;
pub use embeddings::TracedEmbeddings;
pub use error::trace_error;

/// The async-openai crate this module is built against, for matching versions.
pub use async_openai;

use std::ops::Deref;

use async_openai::config::{Config, OpenAIConfig};
use async_openai::{Chat, Client, Embeddings};

use crate::macro_support::{Rewrite, ViaTraced};
use crate::recorder::CallRecorder;
use crate::trace::Name;
use crate::tracer::Tracer;

/// An `async_openai::Client` whose chat and embeddings calls are traced. Cheap to clone, like
/// the client it wraps.
///
/// ```
/// use llm_trace_core::openai::TracedClient;
///
/// let config = async_openai::config::OpenAIConfig::new()
///     .with_api_base("http://127.0.0.1:8080/v1") // a local vLLM, say
///     .with_api_key("unused");
/// let client = TracedClient::new(async_openai::Client::with_config(config)).with_provider("vllm");
/// assert_eq!(client.provider(), "vllm");
/// ```
#[derive(Clone)]
pub struct TracedClient<C: Config = OpenAIConfig> {
    client: Client<C>,
    settings: Settings,
}

/// How the calls of one client are recorded.
#[derive(Clone)]
pub(crate) struct Settings {
    /// `None`: the current tracer at the time of each call.
    pub(crate) tracer: Option<Tracer>,
    pub(crate) provider: Name,
    pub(crate) stream_usage: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { tracer: None, provider: Name::Borrowed("openai"), stream_usage: true }
    }
}

impl Settings {
    pub(crate) fn start(&self, operation: &'static str, model: &str) -> CallRecorder {
        let tracer = self.tracer.clone().or_else(Tracer::current);
        CallRecorder::start(tracer, self.provider.clone(), Name::Borrowed(operation), model)
    }
}

/// Hands a copy of the request to the payload store, serialized later on the payload thread;
/// the copy is made only when there is a store.
fn keep_request<T: Clone + serde::Serialize + Send + 'static>(rec: &mut CallRecorder, request: &T) {
    if rec.captures_payloads() {
        rec.request_payload_owned(request.clone());
    }
}

/// Hands a copy of the response to the payload store; see [`keep_request`].
fn keep_response<T: Clone + serde::Serialize + Send + 'static>(
    rec: &mut CallRecorder,
    response: &T,
) {
    if rec.captures_payloads() {
        rec.response_payload_owned(response.clone());
    }
}

impl<C: Config> TracedClient<C> {
    /// Wraps `client`. Calls are recorded on the current tracer ([`Tracer::current`]) at the
    /// time of each call, with provider `openai`.
    pub fn new(client: Client<C>) -> Self {
        TracedClient { client, settings: Settings::default() }
    }

    /// Records this client's calls on `tracer` instead of the current one.
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.settings.tracer = Some(tracer);
        self
    }

    /// Records `provider` instead of `openai` (for OpenAI-compatible servers: `"vllm"`,
    /// `"ollama"`, `"openrouter"`, `"azure"`, …).
    pub fn with_provider(mut self, provider: impl Into<Name>) -> Self {
        self.settings.provider = provider.into();
        self
    }

    /// Whether streamed requests get `stream_options.include_usage = true` when the caller did
    /// not set it (default `true`; without it OpenAI sends no usage for streams).
    pub fn with_stream_usage(mut self, inject: bool) -> Self {
        self.settings.stream_usage = inject;
        self
    }

    /// The provider name recorded.
    pub fn provider(&self) -> &str {
        &self.settings.provider
    }

    /// Traced chat completions.
    pub fn chat(&self) -> TracedChat<'_, C> {
        TracedChat::new(self.client.chat(), self.settings.clone())
    }

    /// Traced embeddings.
    pub fn embeddings(&self) -> TracedEmbeddings<'_, C> {
        TracedEmbeddings::new(self.client.embeddings(), self.settings.clone())
    }

    /// The wrapped client.
    pub fn inner(&self) -> &Client<C> {
        &self.client
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> Client<C> {
        self.client
    }
}

impl<C: Config> Deref for TracedClient<C> {
    type Target = Client<C>;

    fn deref(&self) -> &Client<C> {
        &self.client
    }
}

impl<C: Config> From<Client<C>> for TracedClient<C> {
    fn from(client: Client<C>) -> Self {
        TracedClient::new(client)
    }
}

impl<C: Config + std::fmt::Debug> std::fmt::Debug for TracedClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedClient")
            .field("client", &self.client)
            .field("provider", &self.settings.provider)
            .field("stream_usage", &self.settings.stream_usage)
            .finish_non_exhaustive()
    }
}

// `#[traced_llm]` rewrites `x.chat().create(..)` so that a plain client's `Chat` becomes the
// same `TracedChat` a `TracedClient` returns: one code path for both.
impl<'c, C: Config> ViaTraced for Rewrite<Chat<'c, C>> {
    type Traced = TracedChat<'c, C>;
    fn __llm_trace_rewrite(self) -> TracedChat<'c, C> {
        TracedChat::new(self.into_inner(), Settings::default())
    }
}

impl<'c, C: Config> ViaTraced for Rewrite<Embeddings<'c, C>> {
    type Traced = TracedEmbeddings<'c, C>;
    fn __llm_trace_rewrite(self) -> TracedEmbeddings<'c, C> {
        TracedEmbeddings::new(self.into_inner(), Settings::default())
    }
}
