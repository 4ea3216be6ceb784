//! A chat stream that records its call when it ends, fails, or is dropped.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionStreamResponse,
    FinishReason as OpenAiFinish,
};
use futures_core::Stream;

use super::error::trace_error;
use super::extract::{finish_reason, record_tool_calls, usage};
use crate::recorder::CallRecorder;
use crate::trace::{ErrorKind, TraceError};

/// What is needed to estimate usage when the server sends none.
pub(super) struct EstimateInput {
    #[cfg(feature = "tokens")]
    model: String,
    #[cfg(feature = "tokens")]
    prompt: String,
    #[cfg(feature = "tokens")]
    messages: usize,
}

impl EstimateInput {
    #[cfg_attr(not(feature = "tokens"), allow(unused_variables))]
    pub(super) fn of(request: &CreateChatCompletionRequest) -> EstimateInput {
        #[cfg(feature = "tokens")]
        {
            super::estimate::warm_up();
            EstimateInput {
                model: request.model.clone(),
                prompt: super::extract::prompt_text(request),
                messages: request.messages.len(),
            }
        }
        #[cfg(not(feature = "tokens"))]
        EstimateInput {}
    }
}

/// A streamed answer put back together: the response payload of a stream.
#[derive(Default, serde::Serialize)]
struct StreamedAnswer {
    streamed: bool,
    model: String,
    content: String,
    tool_calls: Vec<StreamedToolCall>,
    finish_reason: Option<OpenAiFinish>,
    usage: Option<async_openai::types::chat::CompletionUsage>,
}

#[derive(Default, serde::Serialize)]
struct StreamedToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// Wraps async-openai's chat stream; yields exactly the same items.
pub(super) struct TracedStream {
    inner: ChatCompletionResponseStream,
    state: State,
}

struct State {
    /// `None` once the call has been recorded.
    rec: Option<CallRecorder>,
    estimate: EstimateInput,
    /// The whole output text, for the token estimate (only kept with the `tokens` feature).
    #[cfg(feature = "tokens")]
    output: String,
    /// The streamed answer, kept whole for the payload store when it stores payloads.
    payload: Option<StreamedAnswer>,
    finish: Option<OpenAiFinish>,
    saw_usage: bool,
    saw_model: bool,
    saw_text: bool,
    tool_calls: Vec<String>,
}

impl TracedStream {
    pub(super) fn new(
        inner: ChatCompletionResponseStream,
        rec: CallRecorder,
        estimate: EstimateInput,
    ) -> TracedStream {
        let payload = rec
            .captures_payloads()
            .then(|| StreamedAnswer { streamed: true, ..Default::default() });
        TracedStream {
            inner,
            state: State {
                payload,
                rec: Some(rec),
                estimate,
                #[cfg(feature = "tokens")]
                output: String::new(),
                finish: None,
                saw_usage: false,
                saw_model: false,
                saw_text: false,
                tool_calls: Vec::new(),
            },
        }
    }
}

impl Stream for TracedStream {
    type Item = Result<CreateChatCompletionStreamResponse, OpenAIError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // Poll inside the call's span, so whatever the transport logs nests under it.
        let span = this.state.rec.as_ref().map(|rec| rec.span().clone());
        let _entered = span.as_ref().map(tracing::Span::enter);
        let item = this.inner.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(chunk))) => this.state.observe(chunk),
            Poll::Ready(Some(Err(e))) => this.state.fail(trace_error(e)),
            Poll::Ready(None) => this.state.end(),
            Poll::Pending => {}
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl State {
    fn observe(&mut self, chunk: &CreateChatCompletionStreamResponse) {
        let Some(rec) = self.rec.as_mut() else { return };
        if !self.saw_model && !chunk.model.is_empty() {
            rec.response_model(&chunk.model);
            self.saw_model = true;
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let delta = &choice.delta;
            let text = delta.content.as_deref().unwrap_or("");
            let calls = delta.tool_calls.as_deref().unwrap_or(&[]);
            if !text.is_empty() || !calls.is_empty() || delta.refusal.is_some() {
                rec.first_token();
            }
            if !text.is_empty() {
                self.saw_text = true;
                rec.append_output(text);
                #[cfg(feature = "tokens")]
                self.output.push_str(text);
            }
            for call in calls {
                if let Some(name) = call.function.as_ref().and_then(|f| f.name.as_deref()) {
                    self.tool_calls.push(name.to_owned());
                }
                #[cfg(feature = "tokens")]
                if let Some(args) = call.function.as_ref().and_then(|f| f.arguments.as_deref()) {
                    self.output.push_str(args);
                }
            }
            if choice.finish_reason.is_some() {
                self.finish = choice.finish_reason;
            }
            if let Some(answer) = &mut self.payload {
                answer.content.push_str(text);
                for call in calls {
                    let index = call.index as usize;
                    if answer.tool_calls.len() <= index {
                        answer.tool_calls.resize_with(index + 1, Default::default);
                    }
                    let slot = &mut answer.tool_calls[index];
                    slot.id.push_str(call.id.as_deref().unwrap_or(""));
                    if let Some(f) = &call.function {
                        slot.name.push_str(f.name.as_deref().unwrap_or(""));
                        slot.arguments.push_str(f.arguments.as_deref().unwrap_or(""));
                    }
                }
            }
        }
        if let Some(u) = &chunk.usage {
            rec.usage(usage(u));
            self.saw_usage = true;
        }
        if let Some(answer) = &mut self.payload {
            if answer.model.is_empty() {
                answer.model.clone_from(&chunk.model);
            }
            if chunk.usage.is_some() {
                answer.usage.clone_from(&chunk.usage);
            }
        }
    }

    /// The stream ended: normally if the model said why it finished, else it was cut short.
    fn end(&mut self) {
        if self.finish.is_some() {
            self.record(|rec, finish| rec.finish(finish_reason(finish)));
        } else {
            self.fail(TraceError::new(
                ErrorKind::Stream,
                "the stream ended before the model finished (no finish_reason)",
            ));
        }
    }

    fn fail(&mut self, error: TraceError) {
        self.record(|rec, _| rec.fail(error));
    }

    fn record(&mut self, done: impl FnOnce(CallRecorder, Option<OpenAiFinish>)) {
        let Some(mut rec) = self.rec.take() else { return };
        record_tool_calls(&mut rec, &self.tool_calls, self.saw_text);
        if let Some(mut answer) = self.payload.take() {
            answer.finish_reason = self.finish;
            rec.response_payload_owned(answer);
        }
        if !self.saw_usage {
            self.estimate_usage(&mut rec);
        }
        done(rec, self.finish);
    }

    #[cfg(feature = "tokens")]
    fn estimate_usage(&self, rec: &mut CallRecorder) {
        use super::estimate;
        let e = &self.estimate;
        let prompt = estimate::prompt(&e.model, &e.prompt, e.messages);
        let completion = estimate::count(&e.model, &self.output);
        rec.usage(crate::recorder::Usage::new(prompt, completion).estimated());
    }

    #[cfg(not(feature = "tokens"))]
    fn estimate_usage(&self, _rec: &mut CallRecorder) {
        let _ = &self.estimate;
    }
}

impl Drop for State {
    /// Dropped before the end: the caller stopped reading. Recorded as cancelled, with the
    /// partial output.
    fn drop(&mut self) {
        self.record(|rec, _| rec.cancel());
    }
}
