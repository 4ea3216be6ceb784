//! What a trace takes from async-openai's request and response types.

use std::borrow::Cow;

use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestAssistantMessageContentPart, ChatCompletionRequestDeveloperMessageContent,
    ChatCompletionRequestDeveloperMessageContentPart, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestSystemMessageContentPart,
    ChatCompletionRequestToolMessageContent, ChatCompletionRequestToolMessageContentPart,
    ChatCompletionRequestUserMessageContent, ChatCompletionRequestUserMessageContentPart,
    ChatCompletionTools, CompletionUsage, CreateChatCompletionRequest,
    FinishReason as OpenAiFinish,
};

use crate::recorder::{CallRecorder, Usage};
use crate::trace::FinishReason;

/// Records the request parameters and the input preview of a chat request.
pub(super) fn record_chat_request(rec: &mut CallRecorder, req: &CreateChatCompletionRequest) {
    #[allow(deprecated)]
    let max_tokens = req.max_completion_tokens.or(req.max_tokens);
    if let Some(t) = req.temperature {
        rec.temperature(t);
    }
    if let Some(m) = max_tokens {
        rec.max_tokens(m);
    }
    if let Some(tools) = &req.tools {
        rec.tools(tools.iter().map(tool_name));
    }
    let last_user = req.messages.iter().rev().find_map(|m| match m {
        ChatCompletionRequestMessage::User(u) => Some(user_text(&u.content)),
        _ => None,
    });
    if let Some(text) = last_user {
        rec.input(&text);
    }
}

fn tool_name(tool: &ChatCompletionTools) -> String {
    match tool {
        ChatCompletionTools::Function(f) => f.function.name.clone(),
        ChatCompletionTools::Custom(c) => c.custom.name.clone(),
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> Cow<'a, str> {
    let parts: Vec<&str> = parts.collect();
    match parts.as_slice() {
        [] => Cow::Borrowed(""),
        [one] => Cow::Borrowed(one),
        many => Cow::Owned(many.join("\n")),
    }
}

fn user_text(content: &ChatCompletionRequestUserMessageContent) -> Cow<'_, str> {
    match content {
        ChatCompletionRequestUserMessageContent::Text(t) => Cow::Borrowed(t),
        ChatCompletionRequestUserMessageContent::Array(parts) => {
            join(parts.iter().filter_map(|p| match p {
                ChatCompletionRequestUserMessageContentPart::Text(t) => Some(t.text.as_str()),
                _ => None,
            }))
        }
    }
}

/// Every text of the conversation, for estimating prompt tokens when no usage comes back.
#[cfg_attr(not(feature = "tokens"), allow(dead_code))]
pub(super) fn prompt_text(req: &CreateChatCompletionRequest) -> String {
    let mut out = String::new();
    for message in &req.messages {
        let text: Cow<'_, str> = match message {
            ChatCompletionRequestMessage::User(u) => user_text(&u.content),
            ChatCompletionRequestMessage::System(s) => match &s.content {
                ChatCompletionRequestSystemMessageContent::Text(t) => Cow::Borrowed(t.as_str()),
                ChatCompletionRequestSystemMessageContent::Array(p) => {
                    join(p.iter().map(|p| match p {
                        ChatCompletionRequestSystemMessageContentPart::Text(t) => t.text.as_str(),
                    }))
                }
            },
            ChatCompletionRequestMessage::Developer(d) => match &d.content {
                ChatCompletionRequestDeveloperMessageContent::Text(t) => Cow::Borrowed(t.as_str()),
                ChatCompletionRequestDeveloperMessageContent::Array(p) => {
                    join(p.iter().map(|p| match p {
                        ChatCompletionRequestDeveloperMessageContentPart::Text(t) => {
                            t.text.as_str()
                        }
                    }))
                }
            },
            ChatCompletionRequestMessage::Assistant(a) => match &a.content {
                None => Cow::Borrowed(""),
                Some(ChatCompletionRequestAssistantMessageContent::Text(t)) => {
                    Cow::Borrowed(t.as_str())
                }
                Some(ChatCompletionRequestAssistantMessageContent::Array(p)) => {
                    join(p.iter().map(|p| match p {
                        ChatCompletionRequestAssistantMessageContentPart::Text(t) => {
                            t.text.as_str()
                        }
                        ChatCompletionRequestAssistantMessageContentPart::Refusal(r) => {
                            r.refusal.as_str()
                        }
                    }))
                }
            },
            ChatCompletionRequestMessage::Tool(t) => match &t.content {
                ChatCompletionRequestToolMessageContent::Text(t) => Cow::Borrowed(t.as_str()),
                ChatCompletionRequestToolMessageContent::Array(p) => {
                    join(p.iter().map(|p| match p {
                        ChatCompletionRequestToolMessageContentPart::Text(t) => t.text.as_str(),
                    }))
                }
            },
            ChatCompletionRequestMessage::Function(f) => {
                Cow::Borrowed(f.content.as_deref().unwrap_or(""))
            }
        };
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// Usage as the provider reported it.
pub(super) fn usage(u: &CompletionUsage) -> Usage {
    let mut usage = Usage::new(u64::from(u.prompt_tokens), u64::from(u.completion_tokens))
        .total_tokens(u64::from(u.total_tokens));
    if let Some(cached) = u.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens) {
        usage = usage.cached(u64::from(cached));
    }
    if let Some(reasoning) = u.completion_tokens_details.as_ref().and_then(|d| d.reasoning_tokens) {
        usage = usage.reasoning(u64::from(reasoning));
    }
    usage
}

pub(super) fn finish_reason(reason: Option<OpenAiFinish>) -> FinishReason {
    match reason {
        Some(OpenAiFinish::Stop) | None => FinishReason::Stop,
        Some(OpenAiFinish::Length) => FinishReason::Length,
        Some(OpenAiFinish::ToolCalls) => FinishReason::ToolCalls,
        Some(OpenAiFinish::ContentFilter) => FinishReason::ContentFilter,
        Some(OpenAiFinish::FunctionCall) => FinishReason::Other(Cow::Borrowed("function_call")),
    }
}

/// Names of the tools the model called.
pub(super) fn tool_call_names(calls: &[ChatCompletionMessageToolCalls]) -> Vec<String> {
    calls
        .iter()
        .map(|c| match c {
            ChatCompletionMessageToolCalls::Function(f) => f.function.name.clone(),
            ChatCompletionMessageToolCalls::Custom(c) => c.custom_tool.name.clone(),
        })
        .collect()
}

/// Records the tools the model called: names in `metadata.tool_calls`, and a preview when the
/// answer has no text.
pub(super) fn record_tool_calls(rec: &mut CallRecorder, names: &[String], has_text: bool) {
    if names.is_empty() {
        return;
    }
    rec.metadata("tool_calls", names);
    if !has_text {
        rec.output(&format!("[tool_calls] {}", names.join(", ")));
    }
}
