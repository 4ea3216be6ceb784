//! The mock server driven by async-openai 0.43's real client over HTTP on 127.0.0.1.

use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, StreamError};
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessageArgs,
    ChatCompletionRequestMessage, ChatCompletionRequestToolMessageArgs,
    ChatCompletionRequestUserMessage, ChatCompletionResponseStream, ChatCompletionStreamOptions,
    ChatCompletionTool, ChatCompletionToolChoiceOption, ChatCompletionTools,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse, FinishReason, FunctionObject, Role, ToolChoiceOptions,
};
use async_openai::types::embeddings::{CreateEmbeddingRequestArgs, EmbeddingInput, EncodingFormat};
use futures_util::StreamExt;
use llm_trace_mock::{Endpoint, MockServer, Script, count_tokens};
use serde_json::{Value, json};

const PROMPT: &str = "What is the capital of France, in one word?";

fn client(server: &MockServer) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new().with_api_base(server.base_url()).with_api_key("sk-test"),
    )
}

fn request(prompt: &str) -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([ChatCompletionRequestUserMessage::from(prompt).into()])
        .build()
        .unwrap()
}

fn stream_request(prompt: &str, include_usage: bool) -> CreateChatCompletionRequest {
    let mut r = request(prompt);
    r.stream = Some(true);
    if include_usage {
        r.stream_options = Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
    }
    r
}

fn weather_tool() -> ChatCompletionTools {
    ChatCompletionTools::Function(ChatCompletionTool {
        function: FunctionObject {
            name: "get_weather".into(),
            description: Some("Current weather in a city".into()),
            parameters: Some(json!({
                "type": "object",
                "properties": {
                    "city": { "type": "string" },
                    "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] },
                    "days": { "type": "integer" }
                },
                "required": ["city", "unit"]
            })),
            strict: None,
        },
    })
}

fn text(response: &CreateChatCompletionResponse) -> String {
    response.choices[0].message.content.clone().unwrap()
}

async fn collect(
    mut stream: ChatCompletionResponseStream,
) -> Vec<Result<CreateChatCompletionStreamResponse, OpenAIError>> {
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    items
}

fn content_of(chunks: &[CreateChatCompletionStreamResponse]) -> String {
    chunks.iter().flat_map(|c| c.choices.iter()).filter_map(|c| c.delta.content.clone()).collect()
}

fn oks(
    items: Vec<Result<CreateChatCompletionStreamResponse, OpenAIError>>,
) -> Vec<CreateChatCompletionStreamResponse> {
    items.into_iter().map(|i| i.unwrap()).collect()
}

#[tokio::test]
async fn non_stream_reply_and_usage() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    let response = client.chat().create(request(PROMPT)).await.unwrap();

    assert_eq!(response.id, "chatcmpl-mock-1");
    assert_eq!(response.object, "chat.completion");
    assert_eq!(response.model, "gpt-4o-mini-2024-07-18");
    assert!(response.created > 1_700_000_000);
    #[allow(deprecated)]
    let fingerprint = response.system_fingerprint.clone();
    assert!(fingerprint.unwrap().starts_with("fp_"));
    assert_eq!(response.choices.len(), 1);
    let choice = &response.choices[0];
    assert_eq!(choice.message.role, Role::Assistant);
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
    assert!(choice.message.tool_calls.is_none());
    let content = text(&response);
    assert!(content.contains("What is the capital of France,..."), "{content}");

    let usage = response.usage.clone().unwrap();
    let expected_prompt = 3 + 3 + (PROMPT.chars().count() as u32).div_ceil(4);
    assert_eq!(usage.prompt_tokens, expected_prompt);
    assert_eq!(usage.completion_tokens, count_tokens(&content));
    assert_eq!(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
    assert_eq!(usage.prompt_tokens_details.unwrap().cached_tokens, Some(0));
    assert_eq!(usage.completion_tokens_details.unwrap().reasoning_tokens, Some(0));

    // Same request, same reply and usage; a new id.
    let again = client.chat().create(request(PROMPT)).await.unwrap();
    assert_eq!(text(&again), content);
    assert_eq!(again.usage, response.usage);
    assert_eq!(again.id, "chatcmpl-mock-2");
    // A different request, a different reply.
    let other = client.chat().create(request("Tell me a joke")).await.unwrap();
    assert_ne!(text(&other), content);
}

#[tokio::test]
async fn max_tokens_cuts_the_reply() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    let full = text(&client.chat().create(request(PROMPT)).await.unwrap());

    let mut r = request(PROMPT);
    r.max_completion_tokens = Some(5);
    let response = client.chat().create(r).await.unwrap();
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Length));
    let cut = text(&response);
    assert!(full.starts_with(&cut) && cut.len() < full.len(), "{cut:?}");
    assert_eq!(count_tokens(&cut), 5);
    assert_eq!(response.usage.unwrap().completion_tokens, 5);

    #[allow(deprecated)]
    let r = {
        let mut r = request(PROMPT);
        r.max_tokens = Some(3);
        r
    };
    let response = client.chat().create(r).await.unwrap();
    assert_eq!(response.usage.unwrap().completion_tokens, 3);

    // A limit above the reply's length changes nothing.
    let mut r = request(PROMPT);
    r.max_completion_tokens = Some(10_000);
    let response = client.chat().create(r).await.unwrap();
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(text(&response), full);
}

#[tokio::test]
async fn tool_call_then_answer() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    let mut r = request("What's the weather in Paris?");
    r.tools = Some(vec![weather_tool()]);
    let response = client.chat().create(r.clone()).await.unwrap();

    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.content, None);
    let calls = choice.message.tool_calls.clone().unwrap();
    assert_eq!(calls.len(), 1);
    let ChatCompletionMessageToolCalls::Function(call) = &calls[0] else {
        panic!("expected a function call: {calls:?}");
    };
    assert_eq!(call.id, "call_mock_1");
    assert_eq!(call.function.name, "get_weather");
    let args: Value = serde_json::from_str(&call.function.arguments).unwrap();
    assert_eq!(args, json!({ "city": "mock", "unit": "celsius" }));
    let usage = response.usage.unwrap();
    assert_eq!(
        usage.completion_tokens,
        count_tokens("get_weather") + count_tokens(&call.function.arguments)
    );

    // After the tool result the mock answers with text, quoting it.
    let assistant = ChatCompletionRequestAssistantMessageArgs::default()
        .tool_calls(calls.clone())
        .build()
        .unwrap();
    let tool = ChatCompletionRequestToolMessageArgs::default()
        .tool_call_id(call.id.clone())
        .content("Sunny, 24 degrees")
        .build()
        .unwrap();
    let mut follow_up = r.clone();
    follow_up.messages.extend([ChatCompletionRequestMessage::from(assistant), tool.into()]);
    let response = client.chat().create(follow_up).await.unwrap();
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
    assert!(text(&response).contains("Sunny, 24 degrees"));

    // tool_choice "none" disables the call.
    let mut none = r;
    none.tool_choice = Some(ChatCompletionToolChoiceOption::Mode(ToolChoiceOptions::None));
    let response = client.chat().create(none).await.unwrap();
    assert!(response.choices[0].message.tool_calls.is_none());
}

#[tokio::test]
async fn streamed_tool_call() {
    let server = MockServer::start().unwrap();
    let mut r = stream_request("Weather in Paris?", true);
    r.tools = Some(vec![weather_tool()]);
    let chunks = oks(collect(client(&server).chat().create_stream(r).await.unwrap()).await);

    let deltas: Vec<_> = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .flat_map(|c| c.delta.tool_calls.clone().unwrap_or_default())
        .collect();
    assert_eq!(deltas.len(), 3, "name delta + two argument halves");
    assert_eq!(deltas[0].id.as_deref(), Some("call_mock_1"));
    assert_eq!(deltas[0].function.as_ref().unwrap().name.as_deref(), Some("get_weather"));
    let arguments: String =
        deltas.iter().filter_map(|d| d.function.as_ref()?.arguments.clone()).collect();
    let args: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(args["city"], "mock");
    let finish: Vec<_> =
        chunks.iter().flat_map(|c| c.choices.iter()).filter_map(|c| c.finish_reason).collect();
    assert_eq!(finish, [FinishReason::ToolCalls]);
    assert!(chunks.last().unwrap().usage.is_some());
}

#[tokio::test]
async fn stream_with_include_usage_matches_non_stream() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    let full = client.chat().create(request(PROMPT)).await.unwrap();

    let stream = client.chat().create_stream(stream_request(PROMPT, true)).await.unwrap();
    let chunks = oks(collect(stream).await);
    assert!(chunks.len() >= 5, "{} chunks", chunks.len());
    assert_eq!(content_of(&chunks), text(&full));
    assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
    let content_chunks = chunks
        .iter()
        .filter(|c| {
            c.choices.iter().any(|ch| ch.delta.content.as_deref().is_some_and(|t| !t.is_empty()))
        })
        .count();
    assert!(content_chunks >= 3, "{content_chunks} content chunks");
    for c in &chunks {
        assert_eq!(c.object, "chat.completion.chunk");
        assert_eq!(c.id, chunks[0].id);
        assert_eq!(c.model, "gpt-4o-mini-2024-07-18");
    }
    let (last, rest) = chunks.split_last().unwrap();
    assert!(last.choices.is_empty());
    assert_eq!(last.usage, full.usage);
    assert!(rest.iter().all(|c| c.usage.is_none()));
    let finish: Vec<_> =
        rest.iter().flat_map(|c| c.choices.iter()).filter_map(|c| c.finish_reason).collect();
    assert_eq!(finish, [FinishReason::Stop]);

    // "usage": null is on the wire in every other chunk.
    let raw = reqwest::Client::new()
        .post(format!("{}/chat/completions", server.base_url()))
        .body(serde_json::to_string(&stream_request(PROMPT, true)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-type"].to_str().unwrap(), "text/event-stream");
    let body = raw.text().await.unwrap();
    let events: Vec<&str> = body.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    for e in &events[..events.len() - 2] {
        let v: Value = serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(v.get("usage"), Some(&Value::Null), "{e}");
    }
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage() {
    let server = MockServer::start().unwrap();
    let stream = client(&server).chat().create_stream(stream_request(PROMPT, false)).await.unwrap();
    let chunks = oks(collect(stream).await);
    assert!(chunks.iter().all(|c| c.usage.is_none() && !c.choices.is_empty()));
}

#[tokio::test]
async fn ignore_include_usage_drops_the_usage_chunk() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    server.push(Script::ignore_include_usage());
    let stream = client.chat().create_stream(stream_request(PROMPT, true)).await.unwrap();
    let chunks = oks(collect(stream).await);
    assert!(chunks.iter().all(|c| c.usage.is_none()));
    assert!(chunks.iter().all(|c| !c.choices.is_empty()));
    let finish = chunks.last().unwrap().choices[0].finish_reason;
    assert_eq!(finish, Some(FinishReason::Stop));
    // Only one request was scripted: the next stream has its usage again.
    let stream = client.chat().create_stream(stream_request(PROMPT, true)).await.unwrap();
    let chunks = oks(collect(stream).await);
    assert!(chunks.last().unwrap().usage.is_some());
}

#[tokio::test]
async fn usage_details_and_fixed_reply() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    server.push(Script::usage_details(7, 11));
    let response = client.chat().create(request(PROMPT)).await.unwrap();
    let usage = response.usage.clone().unwrap();
    assert_eq!(usage.prompt_tokens_details.unwrap().cached_tokens, Some(7));
    assert_eq!(usage.completion_tokens_details.unwrap().reasoning_tokens, Some(11));
    assert_eq!(usage.completion_tokens, count_tokens(&text(&response)) + 11);
    assert_eq!(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);

    // Cached tokens above the estimate raise prompt_tokens; streams report them too.
    server.push(Script::reply("Paris.").with_cached_tokens(1000));
    let stream = client.chat().create_stream(stream_request(PROMPT, true)).await.unwrap();
    let chunks = oks(collect(stream).await);
    assert_eq!(content_of(&chunks), "Paris.");
    let usage = chunks.last().unwrap().usage.clone().unwrap();
    assert_eq!(usage.prompt_tokens, 1000);
    assert_eq!(usage.prompt_tokens_details.unwrap().cached_tokens, Some(1000));
    assert_eq!(usage.completion_tokens, count_tokens("Paris."));

    // A fixed reply wins over tools.
    server.push(Script::reply("No tools today."));
    let mut r = request(PROMPT);
    r.tools = Some(vec![weather_tool()]);
    let response = client.chat().create(r).await.unwrap();
    assert_eq!(text(&response), "No tools today.");
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
}

fn api_error(err: OpenAIError) -> async_openai::error::ApiErrorResponse {
    match err {
        OpenAIError::ApiError(e) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn rate_limit_is_seen_after_the_client_gives_up() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    // async-openai makes 1 attempt + 3 retries; retry-after: 0 makes them immediate.
    for _ in 0..4 {
        server.push(Script::rate_limited(0));
    }
    let started = Instant::now();
    let err = api_error(client.chat().create(request(PROMPT)).await.unwrap_err());
    // Without the header the backoff alone would take 100 + 200 + 400 ms.
    assert!(started.elapsed() < Duration::from_millis(600), "{:?}", started.elapsed());
    assert_eq!(err.status_code.as_u16(), 429);
    assert_eq!(err.api_error.r#type.as_deref(), Some("requests"));
    assert_eq!(err.api_error.code.as_deref(), Some("rate_limit_exceeded"));
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| r.script.as_ref().and_then(Script::status) == Some(429)));
    assert!(server.pending_scripts().is_empty());

    // Three 429s are absorbed by the retries.
    for _ in 0..3 {
        server.push(Script::rate_limited(0));
    }
    client.chat().create(request(PROMPT)).await.unwrap();
    assert_eq!(server.requests().len(), 8);
}

#[tokio::test]
async fn insufficient_quota_is_not_retried() {
    let server = MockServer::start().unwrap();
    server.push(Script::insufficient_quota());
    let err = api_error(client(&server).chat().create(request(PROMPT)).await.unwrap_err());
    assert_eq!(err.status_code.as_u16(), 429);
    assert_eq!(err.api_error.r#type.as_deref(), Some("insufficient_quota"));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn server_error_is_retried() {
    let server = MockServer::start().unwrap();
    server.push(Script::server_error());
    let response = client(&server).chat().create(request(PROMPT)).await.unwrap();
    assert!(text(&response).contains("capital of France"));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].script.as_ref().unwrap().status(), Some(500));
    assert!(requests[1].script.is_none());

    // Four 5xx: the client reports the last one (5xx bodies are not parsed by
    // async-openai: the raw body becomes the message).
    for _ in 0..4 {
        server.push(Script::http_error(503, "overloaded").with_retry_after(0));
    }
    let err = api_error(client(&server).chat().create(request(PROMPT)).await.unwrap_err());
    assert_eq!(err.status_code.as_u16(), 503);
    assert!(err.api_error.message.contains("overloaded"));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    server.push(Script::invalid_api_key());
    let err = api_error(client.chat().create(request(PROMPT)).await.unwrap_err());
    assert_eq!(err.status_code.as_u16(), 401);
    assert_eq!(err.api_error.code.as_deref(), Some("invalid_api_key"));
    assert_eq!(err.api_error.r#type.as_deref(), Some("invalid_request_error"));

    server.push(Script::bad_request("bad temperature").with_error_param("temperature"));
    let err = api_error(client.chat().create(request(PROMPT)).await.unwrap_err());
    assert_eq!(err.status_code.as_u16(), 400);
    assert_eq!(err.api_error.message, "bad temperature");
    assert_eq!(err.api_error.param.as_deref(), Some("temperature"));
    assert_eq!(server.requests().len(), 2);

    // Errors apply to streams too, before any chunk.
    server.push(Script::invalid_api_key());
    let err = client.chat().create_stream(stream_request(PROMPT, true)).await.err().unwrap();
    assert_eq!(api_error(err).status_code.as_u16(), 401);
}

#[tokio::test]
async fn malformed_chunk_yields_one_error_and_the_stream_goes_on() {
    let server = MockServer::start().unwrap();
    server.push(Script::malformed_after(2));
    let stream = client(&server).chat().create_stream(stream_request(PROMPT, true)).await.unwrap();
    let items = collect(stream).await;
    assert!(items[0].is_ok() && items[1].is_ok());
    match &items[2] {
        Err(OpenAIError::JSONDeserialize(_, content)) => assert_eq!(content, "{not json"),
        other => panic!("expected a deserialization error, got {other:?}"),
    }
    assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1);
    let chunks: Vec<_> = items.into_iter().filter_map(Result::ok).collect();
    assert!(chunks.last().unwrap().usage.is_some());
}

#[tokio::test]
async fn disconnect_mid_stream_yields_a_stream_error() {
    let server = MockServer::start().unwrap();
    server.push(Script::disconnect_after(3));
    let stream = client(&server).chat().create_stream(stream_request(PROMPT, true)).await.unwrap();
    let items = collect(stream).await;
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(items[..3].iter().all(Result::is_ok));
    match &items[3] {
        Err(OpenAIError::StreamError(e)) => {
            assert!(matches!(**e, StreamError::EventStream(_)), "{e:?}")
        }
        other => panic!("expected a stream error, got {other:?}"),
    }
}

#[tokio::test]
async fn truncated_stream_ends_cleanly_without_usage() {
    let server = MockServer::start().unwrap();
    server.push(Script::truncate_after(3));
    let stream = client(&server).chat().create_stream(stream_request(PROMPT, true)).await.unwrap();
    let chunks = oks(collect(stream).await);
    assert_eq!(chunks.len(), 3);
    assert!(chunks.iter().all(|c| c.usage.is_none()));
    assert!(chunks.iter().flat_map(|c| c.choices.iter()).all(|c| c.finish_reason.is_none()));
}

#[tokio::test]
async fn delay_and_client_timeout() {
    let server = MockServer::start().unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
    let client = client(&server).with_http_client(http);
    server.push(Script::delay(Duration::from_millis(300)));
    let started = Instant::now();
    match client.chat().create(request(PROMPT)).await {
        Err(OpenAIError::Reqwest(e)) => assert!(e.is_timeout(), "{e:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(290));
    assert_eq!(server.requests().len(), 1, "timeouts are not retried");

    // Without a timeout the delayed reply arrives.
    server.push(Script::delay(Duration::from_millis(150)));
    let started = Instant::now();
    let plain = self::client(&server);
    plain.chat().create(request(PROMPT)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn slow_first_token() {
    let server = MockServer::start().unwrap();
    server.push(Script::slow_first_token(Duration::from_millis(200)));
    let mut stream =
        client(&server).chat().create_stream(stream_request(PROMPT, false)).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.choices[0].delta.role, Some(Role::Assistant));
    let role_at = Instant::now();
    let second = stream.next().await.unwrap().unwrap();
    assert!(second.choices[0].delta.content.is_some());
    assert!(role_at.elapsed() >= Duration::from_millis(150), "{:?}", role_at.elapsed());
    let rest = oks(collect(stream).await);
    assert!(!rest.is_empty());
}

#[tokio::test]
async fn stall_keeps_the_stream_open() {
    let server = MockServer::start().unwrap();
    server.push(Script::stall_after(2));
    let mut stream =
        client(&server).chat().create_stream(stream_request(PROMPT, true)).await.unwrap();
    stream.next().await.unwrap().unwrap();
    stream.next().await.unwrap().unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(150), stream.next()).await;
    assert!(waited.is_err(), "the stream should stall, got {waited:?}");
    drop(stream);

    // With a read timeout the client turns the stall into a stream error.
    server.push(Script::stall_after(1));
    let http = reqwest::Client::builder().read_timeout(Duration::from_millis(100)).build().unwrap();
    let stream = client(&server)
        .with_http_client(http)
        .chat()
        .create_stream(stream_request(PROMPT, true))
        .await
        .unwrap();
    let items = collect(stream).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(&items[1], Err(OpenAIError::StreamError(_))));
}

#[tokio::test]
async fn faults_on_non_stream_requests() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    server.push(Script::truncate_after(0));
    assert!(matches!(
        client.chat().create(request(PROMPT)).await,
        Err(OpenAIError::JSONDeserialize(..))
    ));
    server.push(Script::malformed_after(0));
    match client.chat().create(request(PROMPT)).await {
        Err(OpenAIError::JSONDeserialize(_, content)) => assert_eq!(content, "{not json"),
        other => panic!("{other:?}"),
    }
    server.push(Script::disconnect_after(0));
    assert!(matches!(client.chat().create(request(PROMPT)).await, Err(OpenAIError::Reqwest(_))));
    server.push(Script::stall_after(0));
    let waited =
        tokio::time::timeout(Duration::from_millis(150), client.chat().create(request(PROMPT)))
            .await;
    assert!(waited.is_err());
}

#[tokio::test]
async fn embeddings_shape_and_determinism() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    let req = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(vec!["hello world".to_string(), "goodbye".to_string()])
        .build()
        .unwrap();
    let response = client.embeddings().create(req.clone()).await.unwrap();
    assert_eq!(response.object, "list");
    assert_eq!(response.model, "text-embedding-3-small");
    assert_eq!(response.data.len(), 2);
    for (i, e) in response.data.iter().enumerate() {
        assert_eq!(e.index as usize, i);
        assert_eq!(e.object, "embedding");
        assert_eq!(e.embedding.len(), 1536);
        let norm: f32 = e.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    }
    assert_ne!(response.data[0].embedding, response.data[1].embedding);
    // "hello world" = ceil(11/4) = 3, "goodbye" = ceil(7/4) = 2
    assert_eq!(response.usage.prompt_tokens, 5);
    assert_eq!(response.usage.total_tokens, 5);
    // No encoding_format is sent by default.
    assert!(server.requests()[0].body.get("encoding_format").is_none());

    let again = client.embeddings().create(req).await.unwrap();
    assert_eq!(again.data, response.data);

    // A single string input matches the same text in a batch.
    let single = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input("goodbye")
        .dimensions(8u32)
        .build()
        .unwrap();
    let small = client.embeddings().create(single.clone()).await.unwrap();
    assert_eq!(small.data.len(), 1);
    assert_eq!(small.data[0].embedding.len(), 8);

    // base64 decodes to the same floats.
    let mut b64 = single;
    b64.encoding_format = Some(EncodingFormat::Base64);
    let encoded = client.embeddings().create_base64(b64).await.unwrap();
    let decoded: Vec<f32> = encoded.data[0].embedding.clone().into();
    assert_eq!(decoded, small.data[0].embedding);

    // Token-id inputs.
    let tokens = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(EmbeddingInput::ArrayOfIntegerArray(vec![vec![1, 2, 3], vec![4]]))
        .build()
        .unwrap();
    let response = client.embeddings().create(tokens).await.unwrap();
    assert_eq!(response.data.len(), 2);
    assert_eq!(response.usage.prompt_tokens, 4);
}

#[tokio::test]
async fn scripts_can_target_one_endpoint() {
    let server = MockServer::start().unwrap();
    let client = client(&server);
    server.push(Script::invalid_api_key().only_for(Endpoint::Embeddings));
    server.push(Script::reply("for chat"));
    // The chat request skips the embeddings script.
    let response = client.chat().create(request(PROMPT)).await.unwrap();
    assert_eq!(text(&response), "for chat");
    let req = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input("x")
        .build()
        .unwrap();
    let err = api_error(client.embeddings().create(req).await.unwrap_err());
    assert_eq!(err.status_code.as_u16(), 401);
    assert!(server.pending_scripts().is_empty());
}

#[tokio::test]
async fn clear_drops_queued_scripts() {
    let server = MockServer::start().unwrap();
    server.push(Script::server_error());
    server.push(Script::server_error());
    assert_eq!(server.pending_scripts().len(), 2);
    server.clear();
    client(&server).chat().create(request(PROMPT)).await.unwrap();
    assert_eq!(server.requests().len(), 1);
    server.reset();
    assert!(server.requests().is_empty());
}

#[test]
fn works_from_sync_code_and_shuts_down_with_open_streams() {
    let server = MockServer::start().unwrap();
    let addr = server.addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{}/v1", addr.port()));
    // The port is taken while the server runs.
    assert!(MockServer::start_on(addr.port()).is_err());

    server.push(Script::stall_after(1));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut stream = rt.block_on(async {
        let mut s =
            client(&server).chat().create_stream(stream_request(PROMPT, false)).await.unwrap();
        s.next().await.unwrap().unwrap();
        s
    });
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2));
    // The stalled stream ends with an error once the server is gone.
    let next =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), stream.next()).await });
    assert!(matches!(next, Ok(Some(Err(_))) | Ok(None)), "{next:?}");

    // The port can be bound again.
    let again = MockServer::start_on(addr.port()).unwrap();
    assert_eq!(again.addr(), addr);
}
