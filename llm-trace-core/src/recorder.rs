//! The manual API: record any provider's call with a [`CallRecorder`].

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::clock::Tick;
use crate::context::{CallContext, UNKNOWN};
use crate::payload::{Captured, Part, Side};
use crate::pricing::{Price, TokenCounts};
use crate::recent::Recent;
use crate::redact::Redaction;
use crate::trace::{
    FinishReason, LlmTrace, Metadata, Name, Timestamp, TraceError, TraceId, UsageSource, char_cut,
    push_preview,
};
use crate::tracer::Tracer;

/// Starts recording a call on the current tracer (see [`Tracer::current`]).
///
/// `provider` and `operation` are usually string literals (`"anthropic"`, `"chat"`), `model`
/// the model requested. The call's start time is now; it is recorded exactly once, when you
/// call [`finish`](CallRecorder::finish) or [`fail`](CallRecorder::fail), or as `cancelled`
/// when the recorder is dropped unfinished (the future making the call was dropped).
///
/// ```
/// use llm_trace_core::{call, sink::MemorySink, ErrorKind, FinishReason, TraceError, Tracer, Usage};
///
/// # let memory = MemorySink::new();
/// # let tracer = Tracer::builder().sink(memory.clone()).build()?;
/// # let _default = tracer.set_default();
/// # struct Reply { text: String, input_tokens: u64, output_tokens: u64, stop: &'static str }
/// # fn my_provider_send(_: &str) -> Result<Reply, (u16, String)> {
/// #     Ok(Reply { text: "Refund approved.".into(), input_tokens: 812, output_tokens: 40, stop: "end_turn" })
/// # }
/// let prompt = "Can I get a refund?";
/// let mut call = call("anthropic", "chat", "claude-sonnet-4-5");
/// call.temperature(0.2).max_tokens(1024).input(prompt);
/// match my_provider_send(prompt) {
///     Ok(reply) => {
///         call.usage(Usage::new(reply.input_tokens, reply.output_tokens)).output(&reply.text);
///         call.finish(FinishReason::from(reply.stop));
///     }
///     Err((status, message)) => {
///         call.fail(TraceError::new(ErrorKind::from_status(status), message).with_status(status));
///     }
/// }
/// # tracer.flush()?;
/// # let trace = &memory.traces()[0];
/// # assert_eq!(trace.completion_tokens, 40);
/// # assert_eq!(trace.finish_reason.as_str(), "end_turn");
/// # assert!(trace.cost_usd.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn call(
    provider: impl Into<Name>,
    operation: impl Into<Name>,
    model: impl AsRef<str>,
) -> CallRecorder {
    CallRecorder::start(Tracer::current(), provider.into(), operation.into(), model.as_ref())
}

/// Token usage of one call, as the provider reported it (or as estimated).
///
/// `prompt_tokens` includes cached and cache-write tokens (OpenAI's convention; for Anthropic,
/// add `cache_read_input_tokens` and `cache_creation_input_tokens` to `input_tokens`).
/// `completion_tokens` includes reasoning tokens.
///
/// ```
/// use llm_trace_core::Usage;
///
/// let usage = Usage::new(1200, 80).cached(1024).reasoning(30);
/// assert_eq!(usage.total(), 1280);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Input tokens, including cached ones.
    pub prompt_tokens: u64,
    /// Output tokens, including reasoning ones.
    pub completion_tokens: u64,
    /// The provider's total, when it differs from the sum.
    pub total_tokens: Option<u64>,
    /// Input tokens read from the prompt cache.
    pub cached_tokens: Option<u64>,
    /// Input tokens written to the prompt cache (billed at the cache-write rate).
    pub cache_write_tokens: Option<u64>,
    /// Hidden reasoning tokens.
    pub reasoning_tokens: Option<u64>,
    /// Reported by the provider, or estimated.
    pub source: UsageSource,
}

impl Usage {
    /// Usage reported by the provider.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: None,
            cached_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
            source: UsageSource::Provider,
        }
    }

    /// With the provider's own total.
    pub fn total_tokens(mut self, total: u64) -> Usage {
        self.total_tokens = Some(total);
        self
    }

    /// With cached input tokens.
    pub fn cached(mut self, tokens: u64) -> Usage {
        self.cached_tokens = Some(tokens);
        self
    }

    /// With input tokens written to the cache.
    pub fn cache_write(mut self, tokens: u64) -> Usage {
        self.cache_write_tokens = Some(tokens);
        self
    }

    /// With reasoning tokens.
    pub fn reasoning(mut self, tokens: u64) -> Usage {
        self.reasoning_tokens = Some(tokens);
        self
    }

    /// Marks the counts as estimated locally rather than reported.
    pub fn estimated(mut self) -> Usage {
        self.source = UsageSource::Estimated;
        self
    }

    /// The total: the provider's, or prompt + completion.
    pub fn total(&self) -> u64 {
        self.total_tokens.unwrap_or(self.prompt_tokens + self.completion_tokens)
    }
}

/// Records one LLM call. Create it with [`call`] (or [`Tracer::call`]) just before sending the
/// request; set what you know as you learn it; end it with [`finish`](Self::finish) or
/// [`fail`](Self::fail). Dropping it unfinished records the call as `cancelled`.
///
/// Setters take `&mut self` and return it, so they chain. Of the text given to
/// [`input`](Self::input) and [`output`](Self::output), only a window of bytes is copied (four
/// per character of the preview length and a margin, not read here); the writer thread cuts
/// it to characters, redacts it and cuts it to the preview length before any sink sees it.
#[derive(Debug)]
#[must_use = "a call is recorded when it is finished, failed, or dropped"]
pub struct CallRecorder {
    tracer: Option<Tracer>,
    /// `None` once the call has been recorded.
    trace: Option<Box<LlmTrace>>,
    start: Tick,
    first_token: Option<Tick>,
    cache_write_tokens: u64,
    /// The most bytes of text kept for a preview (see [`window_bytes`]).
    window_bytes: usize,
    /// Output kept so far, unredacted, at most `window_bytes`; it becomes the trace's
    /// `output_preview`, which the writer redacts and cuts.
    output: String,
    /// The input given was longer than what was kept.
    input_cut: bool,
    /// Whether `response_model` was set for this call (a recycled trace still holds the
    /// previous call's until then).
    response_model_set: bool,
    output_cut: bool,
    span: tracing::Span,
    /// Full payloads, when the tracer stores them.
    captured: Option<Box<Captured>>,
}

/// Characters kept past the preview length for redaction, so that a secret crossing the cut
/// is still recognized: the built-in rules recognize a secret from its first 64 characters (a
/// key's prefix and minimum length: at most 41; a card or phone number: at most 40 bytes;
/// `Bearer`, a few spaces and 8 token characters). The one exception, an opt-in e-mail address
/// whose local part is over 60 characters, can only be missed when it starts in the last few
/// characters of the preview, which then shows those few. Text that had a long secret
/// replaced can make a preview shorter than the preview length.
const REDACT_MARGIN: usize = 64;

/// The bytes of text a recorder keeps for a preview of `preview_chars` characters: enough for
/// the preview and [`REDACT_MARGIN`] whatever the characters (at most four bytes each). The
/// caller copies bytes without looking at them; the writer counts the characters.
fn window_bytes(preview_chars: usize) -> usize {
    preview_chars.saturating_add(REDACT_MARGIN).saturating_mul(4)
}

impl CallRecorder {
    pub(crate) fn start(
        tracer: Option<Tracer>,
        provider: Name,
        operation: Name,
        model: &str,
    ) -> CallRecorder {
        // One clock read: the wall-clock time is derived from it (see `clock`).
        let (start, millis) = crate::clock::now();
        let model = shared_str(model);
        // A trace recycled by the writer when there is one: its strings keep their capacity
        // and its shared fields are only replaced when they differ, so recording allocates
        // nothing and leaves the writer nothing to free.
        let recycled = tracer.as_ref().and_then(Tracer::recycled_trace);
        let mut trace = match recycled {
            Some(mut trace) => {
                trace.reset();
                trace
            }
            None => Box::new(LlmTrace::blank(model.clone(), unknown_session(), Arc::from([]))),
        };
        {
            let t = &mut *trace;
            t.trace_id = TraceId::at_unix_millis(millis);
            t.timestamp = Timestamp::from_unix_millis(millis as i64);
            set_arc(&mut t.model, &model);
            t.provider = provider;
            t.operation = operation;
            CallContext::with_current(|context| {
                // The scope's session, else the tracer's.
                let session = context
                    .and_then(|ctx| ctx.session.as_ref())
                    .or_else(|| tracer.as_ref().map(Tracer::session_id));
                match session {
                    Some(session) => set_arc(&mut t.session_id, session),
                    None => set_arc(&mut t.session_id, &unknown_session()),
                }
                match context {
                    Some(ctx) => {
                        set_name(&mut t.function_name, &ctx.function_name);
                        set_name(&mut t.module_path, &ctx.module_path);
                        set_arc(&mut t.call_path, &ctx.call_path);
                        set_arc(&mut t.tags, &ctx.tags);
                        if !t.metadata.same(&ctx.metadata) {
                            t.metadata = ctx.metadata.clone();
                        }
                    }
                    None => {
                        set_name(&mut t.function_name, &Name::Borrowed(UNKNOWN));
                        set_name(&mut t.module_path, &Name::Borrowed(UNKNOWN));
                        let empty =
                            tracer.as_ref().map_or_else(|| Arc::from([]), Tracer::empty_names);
                        set_arc(&mut t.call_path, &empty);
                        set_arc(&mut t.tags, &empty);
                        if !t.metadata.is_empty() {
                            t.metadata = Metadata::default();
                        }
                    }
                }
            });
        }
        let window_bytes = tracer.as_ref().map_or(0, |t| window_bytes(t.preview_chars()));
        let span = crate::span::start(&trace);
        let output = std::mem::take(&mut trace.output_preview);
        CallRecorder {
            tracer,
            trace: Some(trace),
            start,
            first_token: None,
            cache_write_tokens: 0,
            window_bytes,
            output,
            input_cut: false,
            response_model_set: false,
            output_cut: false,
            span,
            captured: None,
        }
    }

    /// The `tracing` span of this call (target `llm_trace`, named after the operation, with
    /// OpenTelemetry GenAI fields recorded when the call ends). Run the provider call inside
    /// it so your own `tracing` pipeline sees it under the caller's span:
    ///
    /// ```
    /// use tracing::Instrument;
    /// # async fn send() {}
    /// # async fn run() {
    /// let call = llm_trace_core::call("anthropic", "chat", "claude-haiku-4-5");
    /// send().instrument(call.span().clone()).await;
    /// call.finish(llm_trace_core::FinishReason::Stop);
    /// # }
    /// ```
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Whether this call's payloads will be stored (the tracer has a payload store). Check
    /// it before building an expensive value to pass to [`request_payload`](Self::request_payload).
    pub fn captures_payloads(&self) -> bool {
        self.tracer.as_ref().is_some_and(Tracer::captures_payloads)
    }

    /// The full request, stored in the payload store (redacted, cut to
    /// `Config::payload_max_bytes`) when the tracer has one; serialized now, on this thread,
    /// and written later on the payload thread. Does nothing without a payload store.
    /// [`request_payload_owned`](Self::request_payload_owned) leaves the serialization to the
    /// payload thread too.
    pub fn request_payload(&mut self, request: &impl serde::Serialize) -> &mut Self {
        if let Some(max) = self.payload_limit() {
            self.captured.get_or_insert_with(Default::default).request =
                Some(Side::Json(Part::capture(request, max)));
        }
        self
    }

    /// The full response; see [`request_payload`](Self::request_payload).
    pub fn response_payload(&mut self, response: &impl serde::Serialize) -> &mut Self {
        if let Some(max) = self.payload_limit() {
            self.captured.get_or_insert_with(Default::default).response =
                Some(Side::Json(Part::capture(response, max)));
        }
        self
    }

    /// The full request, taken by value and serialized on the payload thread: the caller pays
    /// for a move (or for the clone it makes) instead of serialization, several microseconds
    /// for a chat request. Check [`captures_payloads`](Self::captures_payloads) before cloning
    /// anything for it; without a payload store the value is dropped at once.
    ///
    /// ```
    /// # let tracer = llm_trace_core::Tracer::builder().build().unwrap();
    /// let request = serde_json::json!({"model": "gpt-4o-mini", "messages": []});
    /// let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    /// if call.captures_payloads() {
    ///     call.request_payload_owned(request.clone());
    /// }
    /// # call.finish(llm_trace_core::FinishReason::Stop);
    /// ```
    pub fn request_payload_owned(
        &mut self,
        request: impl serde::Serialize + Send + 'static,
    ) -> &mut Self {
        if let Some(max_bytes) = self.payload_limit() {
            self.captured.get_or_insert_with(Default::default).request =
                Some(Side::Later { value: Box::new(request), max_bytes });
        }
        self
    }

    /// The full response, serialized on the payload thread; see
    /// [`request_payload_owned`](Self::request_payload_owned).
    pub fn response_payload_owned(
        &mut self,
        response: impl serde::Serialize + Send + 'static,
    ) -> &mut Self {
        if let Some(max_bytes) = self.payload_limit() {
            self.captured.get_or_insert_with(Default::default).response =
                Some(Side::Later { value: Box::new(response), max_bytes });
        }
        self
    }

    fn payload_limit(&self) -> Option<usize> {
        self.tracer.as_ref().filter(|t| t.captures_payloads()).map(Tracer::payload_max_bytes)
    }

    /// The id this call's trace will have.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.trace.as_ref().map(|t| t.trace_id)
    }

    fn trace(&mut self) -> &mut LlmTrace {
        // Every consuming method takes `self`, so the trace is present while `&mut self` is.
        self.trace.as_mut().expect("the trace is present until the recorder is consumed")
    }

    /// The requested sampling temperature.
    pub fn temperature(&mut self, temperature: f32) -> &mut Self {
        self.trace().temperature = Some(temperature);
        self
    }

    /// The requested output token limit.
    pub fn max_tokens(&mut self, max_tokens: u32) -> &mut Self {
        self.trace().max_tokens = Some(max_tokens);
        self
    }

    /// Whether the response is streamed.
    pub fn stream(&mut self, stream: bool) -> &mut Self {
        self.trace().stream = stream;
        self
    }

    /// Names of the tools offered to the model.
    pub fn tools<I>(&mut self, names: I) -> &mut Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.trace().tools = names.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a tag to this call only (on top of the enclosing scopes' tags).
    pub fn tag(&mut self, tag: impl Into<Name>) -> &mut Self {
        let tag = tag.into();
        let trace = self.trace();
        if !trace.tags.contains(&tag) {
            let mut tags = trace.tags.to_vec();
            tags.push(tag);
            trace.tags = Arc::from(tags);
        }
        self
    }

    /// Adds a metadata entry to this call only.
    pub fn metadata(&mut self, key: impl Into<String>, value: impl serde::Serialize) -> &mut Self {
        self.trace().metadata.insert(key, value);
        self
    }

    /// The input to preview: usually the last user message.
    pub fn input(&mut self, text: &str) -> &mut Self {
        if self.tracer.is_none() {
            return self;
        }
        let window = prefix_bytes(text, self.window_bytes);
        self.input_cut = window.len() < text.len();
        let Some(trace) = self.trace.as_mut() else { return self };
        trace.input_preview.clear();
        trace.input_preview.push_str(window);
        self
    }

    /// The model the provider says answered.
    pub fn response_model(&mut self, model: &str) -> &mut Self {
        self.response_model_set = true;
        let trace = self.trace();
        let same = match &trace.response_model {
            Some(current) => **current == *model,
            None => false,
        };
        if !same {
            trace.response_model =
                Some(if *trace.model == *model { trace.model.clone() } else { shared_str(model) });
        }
        self
    }

    /// Marks the arrival of the first token of a streamed response (only the first call
    /// counts).
    pub fn first_token(&mut self) -> &mut Self {
        if self.first_token.is_none() {
            self.first_token = Some(Tick::now());
        }
        self
    }

    /// Token usage.
    pub fn usage(&mut self, usage: Usage) -> &mut Self {
        self.cache_write_tokens = usage.cache_write_tokens.unwrap_or(0);
        let trace = self.trace();
        trace.prompt_tokens = usage.prompt_tokens;
        trace.completion_tokens = usage.completion_tokens;
        trace.total_tokens = usage.total();
        trace.cached_tokens = usage.cached_tokens;
        trace.reasoning_tokens = usage.reasoning_tokens;
        trace.usage_source = usage.source;
        self
    }

    /// The output to preview (replaces any output given before).
    pub fn output(&mut self, text: &str) -> &mut Self {
        self.output.clear();
        self.output_cut = false;
        self.append_output(text)
    }

    /// Appends streamed output to the preview; only the first characters are kept, so this
    /// is cheap to call for every chunk.
    pub fn append_output(&mut self, text: &str) -> &mut Self {
        if self.tracer.is_none() || text.is_empty() {
            return self;
        }
        let kept = prefix_bytes(text, self.window_bytes.saturating_sub(self.output.len()));
        self.output.push_str(kept);
        self.output_cut |= kept.len() < text.len();
        self
    }

    /// Records the call as finished for `reason`.
    pub fn finish(mut self, reason: FinishReason) {
        self.complete(reason, None);
    }

    /// Records the call as failed with `error` (finish reason `error`).
    pub fn fail(mut self, error: TraceError) {
        self.complete(FinishReason::Error, Some(error));
    }

    /// Records the call as cancelled now (what dropping the recorder does).
    pub fn cancel(mut self) {
        self.complete(FinishReason::Cancelled, None);
    }

    fn complete(&mut self, reason: FinishReason, error: Option<TraceError>) {
        let Some(mut trace) = self.trace.take() else { return };
        let Some(tracer) = self.tracer.take() else {
            warn_no_tracer();
            return;
        };
        trace.latency_ms = Tick::now().millis_since(self.start);
        trace.ttft_ms = self.first_token.map(|t| t.millis_since(self.start));
        trace.finish_reason = reason;
        if !self.response_model_set {
            trace.response_model = None;
        }
        trace.error = error;
        trace.output_preview = std::mem::take(&mut self.output);
        // Without usage the cost is unknown, unless the provider refused the request outright
        // (an HTTP error status): then nothing was billed.
        let refused = trace.error.as_ref().is_some_and(|e| e.status.is_some());
        let priced = trace.usage_source != UsageSource::None || refused;
        trace.cost_usd = None;
        let mut unfinished = Unfinished {
            input_cut: self.input_cut,
            output_cut: self.output_cut,
            // The writer prices the call, unless the span shows the cost now.
            cost_pending: priced.then_some(self.cache_write_tokens),
        };
        if !self.span.is_disabled() {
            unfinished.set_cost(&mut trace, |response_model, model| {
                tracer.price_of(response_model, model)
            });
        }
        if self.captured.is_some() {
            trace.payload = Some(crate::payload::key(&trace.trace_id));
        }
        crate::span::finish(&self.span, &trace);
        tracer.record_boxed(trace, self.captured.take(), Some(unfinished));
    }
}

/// What a [`CallRecorder`] leaves to the writer thread: the trace's previews are raw windows
/// of the text ([`window_bytes`]), its error message is unredacted and, usually, its cost is
/// still to be computed. That work runs on the writer, before any sink sees the trace, so
/// the caller does not pay for it (redaction and cutting were half of its cost).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unfinished {
    input_cut: bool,
    output_cut: bool,
    /// The call is priced, but not yet: its cache-write tokens (not kept in the trace).
    cost_pending: Option<u64>,
}

impl Unfinished {
    /// Sets the trace's cost if it is still to be computed, from `price`: the price of a call
    /// to a model (second argument) answered by a response model (first).
    pub(crate) fn set_cost(
        &mut self,
        trace: &mut LlmTrace,
        price: impl FnOnce(Option<&Arc<str>>, &Arc<str>) -> Option<Price>,
    ) {
        let Some(cache_write_tokens) = self.cost_pending.take() else { return };
        let tokens = TokenCounts {
            prompt_tokens: trace.prompt_tokens,
            completion_tokens: trace.completion_tokens,
            cached_tokens: trace.cached_tokens.unwrap_or(0),
            cache_write_tokens,
        };
        trace.cost_usd =
            price(trace.response_model.as_ref(), &trace.model).map(|p| p.cost(&tokens));
    }

    /// Redacts and cuts the previews and the error message of `trace`, in place. If the
    /// user's redaction hook panics, the texts it was given are dropped rather than kept
    /// unredacted, and the panic's message is returned.
    pub(crate) fn finish(
        self,
        trace: &mut LlmTrace,
        redaction: &Redaction,
        preview_chars: usize,
    ) -> Result<(), String> {
        let redacted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            finish_preview(&mut trace.input_preview, self.input_cut, redaction, preview_chars);
            finish_preview(&mut trace.output_preview, self.output_cut, redaction, preview_chars);
            if let Some(error) = &mut trace.error {
                if let Cow::Owned(clean) = redaction.apply(&error.message) {
                    error.message = clean;
                }
                error.cut_message();
            }
        }));
        redacted.map_err(|panic| {
            trace.input_preview.clear();
            trace.output_preview.clear();
            if let Some(error) = &mut trace.error {
                error.message = HOOK_PANICKED.to_owned();
            }
            crate::tracer::panic_message(&panic)
        })
    }
}

/// What replaces an error message the redaction hook panicked on.
pub(crate) const HOOK_PANICKED: &str = "[REDACTED: the redaction hook panicked]";

/// Keeps the first `max` + [`REDACT_MARGIN`] characters of `text`, redacts them, then cuts
/// them to `max` characters, in place (the buffer stays the preview); `cut` says the text
/// given was already longer than `text`.
fn finish_preview(text: &mut String, mut cut: bool, redaction: &Redaction, max: usize) {
    if text.is_empty() {
        return;
    }
    let window = max.saturating_add(REDACT_MARGIN);
    // One look at the bytes: where the window is ASCII (the usual case), characters are bytes
    // and both cuts are plain offsets.
    let ascii = text.as_bytes()[..text.len().min(window)].is_ascii();
    let cut_at = |text: &str, chars: usize| match ascii {
        true => (text.len() > chars).then_some(chars),
        false => char_cut(text, chars),
    };
    if let Some(end) = cut_at(text, window) {
        text.truncate(end);
        cut = true;
    }
    match redaction.apply(text) {
        Cow::Borrowed(_) => {
            if let Some(end) = cut_at(text, max) {
                text.truncate(end);
                text.push('…');
            }
        }
        Cow::Owned(clean) => {
            text.clear();
            push_preview(text, &clean, max);
        }
    }
    if cut && !text.ends_with('…') {
        text.push('…');
    }
}

impl Drop for CallRecorder {
    fn drop(&mut self) {
        if self.trace.is_some() {
            self.complete(FinishReason::Cancelled, None);
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    // A character is at most four bytes: a boundary is among the last four positions.
    let end = (max.saturating_sub(3)..=max).rev().find(|&i| text.is_char_boundary(i));
    &text[..end.unwrap_or(0)]
}

/// Replaces `slot` with `value` unless it already is that very value (no reference count
/// traffic for the shared session, context and model of consecutive calls).
fn set_arc<T: ?Sized>(slot: &mut Arc<T>, value: &Arc<T>) {
    if !Arc::ptr_eq(slot, value) {
        *slot = value.clone();
    }
}

/// Replaces `slot` with `value` unless it already holds those very bytes, or (for an owned
/// name, whose clone allocates) equal ones.
#[inline]
fn set_name(slot: &mut Name, value: &Name) {
    let (current, new): (&str, &str) = (slot, value);
    if std::ptr::eq(current, new) || (matches!(value, Name::Owned(_)) && current == new) {
        return;
    }
    *slot = value.clone();
}

fn unknown_session() -> Arc<str> {
    thread_local! {
        static UNKNOWN_SESSION: Arc<str> = Arc::from(UNKNOWN);
    }
    UNKNOWN_SESSION.with(Arc::clone)
}

/// The model names of recent calls on this thread, shared: a call for the same model as one
/// of the last few costs a comparison and a reference count instead of an allocation (that
/// the writer thread would have to free).
fn shared_str(text: &str) -> Arc<str> {
    thread_local! {
        static RECENT: std::cell::RefCell<Recent<Arc<str>, 4>> =
            const { std::cell::RefCell::new(Recent::new()) };
    }
    RECENT
        .try_with(|recent| {
            let mut recent = recent.borrow_mut();
            if let Some(found) = recent.find(|s| **s == *text) {
                return found.clone();
            }
            let fresh: Arc<str> = Arc::from(text);
            recent.insert(fresh.clone());
            fresh
        })
        .unwrap_or_else(|_| Arc::from(text))
}

fn warn_no_tracer() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: "llm_trace",
            "an LLM call finished but no tracer is installed, so it was not recorded: \
             call llm_trace::init(llm_trace::Config::from_env()?) at startup"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_bytes;

    #[test]
    fn byte_windows_end_on_the_last_character_boundary_that_fits() {
        let text = "aé日😀".repeat(5); // characters of one to four bytes
        for max in 0..=text.len() + 2 {
            let kept = prefix_bytes(&text, max);
            assert!(text.starts_with(kept), "{max}");
            assert!(kept.len() <= max, "{max}: {} bytes", kept.len());
            // The next character would not have fitted.
            let next = text[kept.len()..].chars().next().map_or(0, char::len_utf8);
            assert!(kept.len() == text.len() || kept.len() + next > max, "{max}: {kept:?}");
        }
    }
}
