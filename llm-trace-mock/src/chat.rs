//! `POST /v1/chat/completions`.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::respond::{self, BodyPlan, Invalid};
use crate::script::{Outcome, Script};
use crate::text;

/// The `system_fingerprint` of every reply.
pub(crate) const SYSTEM_FINGERPRINT: &str = "fp_11m7r4c3m0";

/// Words per streamed content chunk.
const WORDS_PER_CHUNK: usize = 3;

const ROLES: [&str; 6] = ["system", "developer", "user", "assistant", "tool", "function"];

/// A tool call the mock decided to make.
#[derive(Debug)]
struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// Everything needed to send one chat completion, streamed or not.
#[derive(Debug)]
pub(crate) struct ChatReply {
    pub(crate) stream: bool,
    include_usage: bool,
    id: String,
    created: u64,
    model: String,
    content: Option<String>,
    tool_call: Option<ToolCall>,
    finish_reason: &'static str,
    usage: Value,
}

/// Validates the request and computes the reply (`n` numbers the ids).
pub(crate) fn plan(
    body: &Value,
    script: &Script,
    n: u64,
    created: u64,
) -> Result<ChatReply, Invalid> {
    let Some(obj) = body.as_object() else {
        return Err(Invalid::new(
            "Invalid type for request body: expected an object.",
            None,
            Some("invalid_type"),
        ));
    };
    let model = match obj.get("model") {
        None | Some(Value::Null) => {
            return Err(Invalid::new("you must provide a model parameter", None, None));
        }
        Some(Value::String(m)) if !m.is_empty() => m.as_str(),
        Some(_) => {
            return Err(Invalid::new(
                "Invalid type for 'model': expected a non-empty string.",
                Some("model"),
                Some("invalid_type"),
            ));
        }
    };
    let messages = match obj.get("messages") {
        None | Some(Value::Null) => {
            return Err(Invalid::new(
                "Missing required parameter: 'messages'.",
                Some("messages"),
                Some("missing_required_parameter"),
            ));
        }
        Some(Value::Array(m)) if m.is_empty() => {
            return Err(Invalid::new(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                Some("messages"),
                Some("empty_array"),
            ));
        }
        Some(Value::Array(m)) => m,
        Some(_) => {
            return Err(Invalid::new(
                "Invalid type for 'messages': expected an array of objects.",
                Some("messages"),
                Some("invalid_type"),
            ));
        }
    };
    for (i, m) in messages.iter().enumerate() {
        match m.get("role") {
            Some(Value::String(r)) if ROLES.contains(&r.as_str()) => {}
            Some(Value::String(r)) => {
                return Err(Invalid::new(
                    format!(
                        "Invalid value: '{r}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
                    ),
                    Some(&format!("messages[{i}].role")),
                    Some("invalid_value"),
                ));
            }
            _ => {
                return Err(Invalid::new(
                    format!("Missing required parameter: 'messages[{i}].role'."),
                    Some(&format!("messages[{i}].role")),
                    Some("missing_required_parameter"),
                ));
            }
        }
    }
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(Invalid::new(
                "Invalid type for 'stream': expected a boolean.",
                Some("stream"),
                Some("invalid_type"),
            ));
        }
    };
    let stream_options = obj.get("stream_options").filter(|v| !v.is_null());
    if stream_options.is_some() && !stream {
        return Err(Invalid::new(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            Some("stream_options"),
            None,
        ));
    }
    let include_usage = stream_options
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut max_tokens: Option<u64> = None;
    for key in ["max_tokens", "max_completion_tokens"] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => match v.as_u64() {
                Some(0) | None => {
                    return Err(Invalid::new(
                        format!("Invalid '{key}': expected an integer >= 1."),
                        Some(key),
                        Some("integer_below_min_value"),
                    ));
                }
                Some(m) => max_tokens = Some(max_tokens.map_or(m, |x| x.min(m))),
            },
        }
    }

    let prompt_tokens = prompt_tokens(messages);
    let last = messages.last();
    let last_role = last.and_then(|m| m.get("role")).and_then(Value::as_str);

    let tool_call = if script.reply.is_some() {
        None
    } else {
        choose_tool(obj, last_role).map(|(name, arguments)| ToolCall {
            id: format!("call_mock_{n}"),
            name,
            arguments,
        })
    };

    let (content, finish_reason, completion_tokens) = match &tool_call {
        Some(call) => (
            None,
            "tool_calls",
            text::count(&call.name).saturating_add(text::count(&call.arguments)),
        ),
        None => {
            let full = match &script.reply {
                Some(r) => r.clone(),
                None if matches!(last_role, Some("tool" | "function")) => {
                    text::after_tool_reply(&content_text(last.and_then(|m| m.get("content"))))
                }
                None => {
                    let last_user = messages
                        .iter()
                        .rev()
                        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
                        .map(|m| content_text(m.get("content")));
                    text::default_reply(last_user.as_deref())
                }
            };
            let total = text::tokens(&full).len();
            match max_tokens {
                Some(max) if (max as usize) < total => {
                    let cut = text::first_tokens(&full, max as usize);
                    let count = text::count(&cut);
                    (Some(cut), "length", count)
                }
                _ => {
                    let count = text::count(&full);
                    (Some(full), "stop", count)
                }
            }
        }
    };

    Ok(ChatReply {
        stream,
        include_usage: include_usage && !script.ignore_include_usage,
        id: format!("chatcmpl-mock-{n}"),
        created,
        model: text::snapshot(model),
        content,
        tool_call,
        finish_reason,
        usage: usage(prompt_tokens, completion_tokens, script),
    })
}

/// `3 + Σ (3 + estimate(content) + Σ_tool_calls (estimate(name) + estimate(arguments)))`.
fn prompt_tokens(messages: &[Value]) -> u32 {
    let mut total: u32 = 3;
    for m in messages {
        total =
            total.saturating_add(3).saturating_add(text::estimate(&content_text(m.get("content"))));
        for call in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let f = call.get("function");
            for key in ["name", "arguments"] {
                let s = f.and_then(|f| f.get(key)).and_then(Value::as_str).unwrap_or("");
                total = total.saturating_add(text::estimate(s));
            }
        }
    }
    total
}

/// The text of a message `content`: a string, or the `text` (or `refusal`)
/// of each part of an array, joined by newlines.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").or_else(|| p.get("refusal")).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The usage object, with the scripted details.
fn usage(prompt: u32, completion_visible: u32, script: &Script) -> Value {
    let cached = script.cached_tokens.unwrap_or(0);
    let reasoning = script.reasoning_tokens.unwrap_or(0);
    let prompt = prompt.max(cached);
    let completion = completion_visible.saturating_add(reasoning);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
        "prompt_tokens_details": {
            "cached_tokens": cached,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

/// Decides whether to call a tool: returns its name and arguments.
///
/// A tool is called when function tools are offered, `tool_choice` is not
/// `"none"`, and either the choice forces a call (`"required"` or a named
/// function) or the last message is not a tool result.
fn choose_tool(obj: &Map<String, Value>, last_role: Option<&str>) -> Option<(String, String)> {
    let tools = obj.get("tools").and_then(Value::as_array)?;
    let function_tools: Vec<&Value> = tools
        .iter()
        .filter(|t| matches!(t.get("type").and_then(Value::as_str), None | Some("function")))
        .filter_map(|t| t.get("function"))
        .filter(|f| f.get("name").and_then(Value::as_str).is_some())
        .collect();
    let first = *function_tools.first()?;
    let choice = obj.get("tool_choice").filter(|v| !v.is_null());
    let (forced, named) = match choice {
        None => (false, None),
        Some(Value::String(s)) => match s.as_str() {
            "none" => return None,
            "required" => (true, None),
            _ => (false, None),
        },
        Some(other) => {
            (true, other.get("function").and_then(|f| f.get("name")).and_then(Value::as_str))
        }
    };
    if !forced && matches!(last_role, Some("tool" | "function")) {
        return None;
    }
    let function = named
        .and_then(|name| {
            function_tools
                .iter()
                .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
                .copied()
        })
        .unwrap_or(first);
    let name =
        named.or_else(|| function.get("name").and_then(Value::as_str)).unwrap_or("tool").to_owned();
    Some((name, mock_arguments(function.get("parameters"))))
}

/// A small JSON object that fits the JSON-schema `parameters`: one value per
/// required property (or per property when none is required), at most 8.
fn mock_arguments(parameters: Option<&Value>) -> String {
    let props = parameters.and_then(|p| p.get("properties")).and_then(Value::as_object);
    let mut args = Map::new();
    if let Some(props) = props {
        let required: Vec<&str> = parameters
            .and_then(|p| p.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let keys: Vec<&str> =
            if required.is_empty() { props.keys().map(String::as_str).collect() } else { required };
        for key in keys.into_iter().take(8) {
            args.insert(key.to_owned(), mock_value(props.get(key)));
        }
    }
    Value::Object(args).to_string()
}

fn mock_value(schema: Option<&Value>) -> Value {
    let Some(schema) = schema else {
        return json!("mock");
    };
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => {
            ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null")
        }
        _ => "string",
    };
    match ty {
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        "array" => json!([]),
        "object" => json!({}),
        "null" => Value::Null,
        _ => json!("mock"),
    }
}

impl ChatReply {
    /// The non-streaming response, with a stream-fault outcome applied to the body.
    pub(crate) fn into_response(self, outcome: &Outcome) -> Response<Body> {
        let mut message = json!({
            "role": "assistant",
            "content": self.content,
            "refusal": null,
            "annotations": [],
        });
        if let Some(call) = &self.tool_call {
            message["tool_calls"] = json!([{
                "id": call.id,
                "type": "function",
                "function": { "name": call.name, "arguments": call.arguments },
            }]);
        }
        let value = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": self.finish_reason,
            }],
            "usage": self.usage,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
        });
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        match BodyPlan::json_fault(&bytes, outcome) {
            Some(plan) => respond::planned("application/json", plan),
            None => respond::json(StatusCode::OK, &value),
        }
    }

    /// The SSE response, with the script's stream fault and first-token delay.
    pub(crate) fn into_stream(
        self,
        outcome: &Outcome,
        first_token_delay: Duration,
    ) -> Response<Body> {
        let events = self.events();
        let mut res = respond::planned(
            "text/event-stream",
            BodyPlan::sse(events, outcome, first_token_delay),
        );
        res.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-cache"),
        );
        res
    }

    /// The stream's `data:` events, in order, without `[DONE]`.
    fn events(&self) -> Vec<String> {
        let chunk = |choices: Value, usage: Value| -> String {
            let mut c = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "service_tier": "default",
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "choices": choices,
            });
            if self.include_usage {
                c["usage"] = usage;
            }
            format!("data: {c}\n\n")
        };
        let choice = |delta: Value, finish: Option<&str>| json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]);

        let mut events = Vec::new();
        match &self.tool_call {
            Some(call) => {
                events.push(chunk(
                    choice(
                        json!({
                            "role": "assistant",
                            "content": null,
                            "tool_calls": [{
                                "index": 0,
                                "id": call.id,
                                "type": "function",
                                "function": { "name": call.name, "arguments": "" },
                            }],
                            "refusal": null,
                        }),
                        None,
                    ),
                    Value::Null,
                ));
                let mid = call
                    .arguments
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(call.arguments.chars().count() / 2)
                    .unwrap_or(call.arguments.len());
                let (a, b) = call.arguments.split_at(mid);
                for part in [a, b] {
                    events.push(chunk(
                        choice(
                            json!({ "tool_calls": [{ "index": 0, "function": { "arguments": part } }] }),
                            None,
                        ),
                        Value::Null,
                    ));
                }
            }
            None => {
                events.push(chunk(
                    choice(json!({ "role": "assistant", "content": "", "refusal": null }), None),
                    Value::Null,
                ));
                let content = self.content.as_deref().unwrap_or("");
                for group in text::words(content).chunks(WORDS_PER_CHUNK) {
                    events.push(chunk(
                        choice(json!({ "content": group.concat() }), None),
                        Value::Null,
                    ));
                }
            }
        }
        events.push(chunk(choice(json!({}), Some(self.finish_reason)), Value::Null));
        if self.include_usage {
            events.push(chunk(json!([]), self.usage.clone()));
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> ChatReply {
        plan(&v, &Script::ok(), 1, 0).unwrap()
    }

    #[test]
    fn prompt_token_formula() {
        let r = req(json!({"model":"m","messages":[
            {"role":"system","content":"abcd"},
            {"role":"user","content":[{"type":"text","text":"abcde"}]}
        ]}));
        // 3 + (3 + 1) + (3 + 2)
        assert_eq!(r.usage["prompt_tokens"], 12);
    }

    #[test]
    fn tool_choice_rules() {
        let tools = json!([{"type":"function","function":{"name":"get_weather",
            "parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}}]);
        let r = req(json!({"model":"m","tools":tools,"messages":[{"role":"user","content":"hi"}]}));
        let call = r.tool_call.unwrap();
        assert_eq!(call.name, "get_weather");
        assert_eq!(call.arguments, r#"{"city":"mock"}"#);

        let r = req(
            json!({"model":"m","tools":tools,"tool_choice":"none","messages":[{"role":"user","content":"hi"}]}),
        );
        assert!(r.tool_call.is_none());

        let r = req(json!({"model":"m","tools":tools,"messages":[
            {"role":"user","content":"hi"},
            {"role":"tool","tool_call_id":"call_mock_1","content":"sunny and warm"}]}));
        assert!(r.tool_call.is_none());
        assert!(r.content.unwrap().contains("sunny and warm"));
    }

    #[test]
    fn stream_events_reassemble() {
        let r = req(json!({"model":"m","stream":true,"stream_options":{"include_usage":true},
            "messages":[{"role":"user","content":"tell me a story"}]}));
        let events = r.events();
        let mut text = String::new();
        for e in &events {
            let v: Value = serde_json::from_str(e.strip_prefix("data: ").unwrap().trim()).unwrap();
            if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
                text.push_str(c);
            }
        }
        assert_eq!(Some(text), r.content);
        assert!(events.len() >= 5);
    }
}
