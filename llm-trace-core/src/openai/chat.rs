//! Traced chat completions.

use std::future::Future;
use std::ops::Deref;

use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::traits::RequestOptionsBuilder;
use async_openai::types::chat::{
    ChatCompletionResponseStream, ChatCompletionStreamOptions, CreateChatCompletionRequest,
    CreateChatCompletionResponse,
};
use async_openai::{Chat, RequestOptions};

use super::call::TracedCall;
use super::error::trace_error;
use super::extract::{
    finish_reason, record_chat_request, record_tool_calls, tool_call_names, usage,
};
use super::stream::TracedStream;
use super::{Settings, keep_request, keep_response};
use crate::recorder::CallRecorder;

/// async-openai's [`Chat`] with `create` and `create_stream` traced. Returned by
/// [`TracedClient::chat`](super::TracedClient::chat); its other methods (`list`, `retrieve`,
/// …) are reached through `Deref`, and request options (`header`, `query`) through
/// [`RequestOptionsBuilder`], which keeps the result traced.
pub struct TracedChat<'c, C: Config> {
    chat: Chat<'c, C>,
    settings: Settings,
}

impl<'c, C: Config> TracedChat<'c, C> {
    pub(super) fn new(chat: Chat<'c, C>, settings: Settings) -> Self {
        TracedChat { chat, settings }
    }

    /// `Chat::create`, recorded. The call is timed from this method's call to the response.
    pub fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> impl Future<Output = Result<CreateChatCompletionResponse, OpenAIError>> {
        let rec = start_chat(&self.settings, &request);
        TracedCall::new(rec, self.chat.create(request), |rec, result| {
            match &result {
                Ok(response) => finish_chat(rec, response),
                Err(e) => rec.fail(trace_error(e)),
            }
            result
        })
    }

    /// `Chat::create_stream`, recorded. Returns the same stream type; the trace is finished
    /// when the stream ends, fails, or is dropped. Unless the caller set it (or the client
    /// opted out), `stream_options.include_usage` is turned on.
    pub fn create_stream(
        &self,
        mut request: CreateChatCompletionRequest,
    ) -> impl Future<Output = Result<ChatCompletionResponseStream, OpenAIError>> {
        if self.settings.stream_usage {
            let options = request.stream_options.get_or_insert(ChatCompletionStreamOptions {
                include_usage: None,
                include_obfuscation: None,
            });
            options.include_usage.get_or_insert(true);
        }
        // The request as sent (with include_usage) is the one recorded.
        let mut rec = start_chat(&self.settings, &request);
        rec.stream(true);
        let estimate = super::stream::EstimateInput::of(&request);
        TracedCall::new(rec, self.chat.create_stream(request), |rec, result| match result {
            Ok(stream) => {
                Ok(Box::pin(TracedStream::new(stream, rec, estimate))
                    as ChatCompletionResponseStream)
            }
            Err(e) => {
                rec.fail(trace_error(&e));
                Err(e)
            }
        })
    }

    /// Not public API: records `request` answered by `response` exactly as
    /// [`create`](Self::create) does, without sending anything (for benchmarks of the
    /// recording work the wrapper adds to a call).
    #[doc(hidden)]
    pub fn __record_without_sending(
        &self,
        request: &CreateChatCompletionRequest,
        response: &CreateChatCompletionResponse,
    ) {
        let rec = start_chat(&self.settings, request);
        drop(rec.span().clone());
        finish_chat(rec, response);
    }

    /// The wrapped `Chat`.
    pub fn inner(&self) -> &Chat<'c, C> {
        &self.chat
    }
}

/// Starts the recorder of a chat request: parameters, input preview, request payload.
fn start_chat(settings: &Settings, request: &CreateChatCompletionRequest) -> CallRecorder {
    let mut rec = settings.start("chat", &request.model);
    record_chat_request(&mut rec, request);
    keep_request(&mut rec, request);
    rec
}

/// Finishes the recorder of a chat request with its response.
fn finish_chat(mut rec: CallRecorder, response: &CreateChatCompletionResponse) {
    keep_response(&mut rec, response);
    rec.response_model(&response.model);
    if let Some(u) = &response.usage {
        rec.usage(usage(u));
    }
    let choice = response.choices.first();
    let text = choice.and_then(|c| c.message.content.as_deref()).filter(|t| !t.is_empty());
    if let Some(text) = text {
        rec.output(text);
    }
    if let Some(calls) = choice.and_then(|c| c.message.tool_calls.as_deref()) {
        record_tool_calls(&mut rec, &tool_call_names(calls), text.is_some());
    }
    rec.finish(finish_reason(choice.and_then(|c| c.finish_reason)));
}

impl<'c, C: Config> Deref for TracedChat<'c, C> {
    type Target = Chat<'c, C>;

    fn deref(&self) -> &Chat<'c, C> {
        &self.chat
    }
}

impl<C: Config> RequestOptionsBuilder for TracedChat<'_, C> {
    fn options_mut(&mut self) -> &mut RequestOptions {
        self.chat.options_mut()
    }

    fn options(&self) -> &RequestOptions {
        self.chat.options()
    }
}
