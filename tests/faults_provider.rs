//! Provider faults and callers that give up, through the traced async-openai client against the
//! mock server on 127.0.0.1. Each test runs the same scripted fault untraced and traced: the
//! caller gets exactly the same result (the same value modulo ids, or the same error text),
//! and the call is recorded exactly once.

#![cfg(feature = "openai")]

use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessage, ChatCompletionResponseStream, ChatCompletionStreamOptions,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use futures_util::StreamExt;
use llm_trace::{ErrorKind, FinishReason, UsageSource};
use llm_trace_mock::Script;

mod common;
use common::Fixture;

const KEY: &str = "sk-test-faults0123456789abcdefghijklmnop";

fn fixture_with(http: Option<reqwest::Client>) -> Fixture {
    Fixture::new(KEY, http)
}

fn fixture() -> Fixture {
    Fixture::new(KEY, None)
}

fn chat(text: &str) -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([ChatCompletionRequestUserMessage::from(text).into()])
        .build()
        .unwrap()
}

/// A streamed request that asks for usage itself, so the traced client sends it unchanged.
fn stream_chat(text: &str) -> CreateChatCompletionRequest {
    let mut request = chat(text);
    request.stream_options =
        Some(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None });
    request
}

/// A response or chunk as JSON without the fields that differ between two identical calls.
fn comparable<T: serde::Serialize>(value: &T) -> serde_json::Value {
    let mut v = serde_json::to_value(value).unwrap();
    for key in ["id", "created"] {
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

/// Everything a caller sees from a stream: each chunk (without ids) or each error's text.
async fn drain(stream: ChatCompletionResponseStream) -> Vec<Result<serde_json::Value, String>> {
    let items = tokio::time::timeout(
        Duration::from_secs(20),
        stream.map(|item| item.map(|c| comparable(&c)).map_err(|e| e.to_string())).collect(),
    )
    .await;
    items.expect("the stream ended (it must not hang)")
}

// ---------------------------------------------------------------------------------------------
// Stalled streams and timeouts

#[tokio::test]
async fn a_stalled_stream_with_a_read_timeout_records_one_error_and_passes_it_through() {
    let http = reqwest::Client::builder().read_timeout(Duration::from_millis(300)).build().unwrap();
    let f = fixture_with(Some(http));
    f.server.push(Script::stall_after(2));
    let untraced =
        drain(f.plain.chat().create_stream(stream_chat("stall please")).await.unwrap()).await;
    f.server.push(Script::stall_after(2));
    let traced =
        drain(f.traced.chat().create_stream(stream_chat("stall please")).await.unwrap()).await;
    assert_eq!(traced, untraced, "the caller sees the same chunks and the same error");
    assert!(traced.last().unwrap().is_err(), "{traced:?}");
    assert_eq!(traced.iter().filter(|i| i.is_err()).count(), 1);

    let t = f.only();
    assert_eq!(t.finish_reason, FinishReason::Error);
    let error = t.error.unwrap();
    assert!(
        matches!(error.kind, ErrorKind::Stream | ErrorKind::Timeout),
        "a stalled stream is a stream or timeout error: {error:?}"
    );
    assert!(t.stream);
    assert!(t.ttft_ms.is_some(), "two chunks came before the stall");
}

#[tokio::test]
async fn a_server_slower_than_the_client_timeout_is_one_timeout_trace() {
    let http = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let f = fixture_with(Some(http));
    f.server.push(Script::delay(Duration::from_millis(600)));
    let untraced = f.plain.chat().create(chat("slow")).await.unwrap_err();
    f.server.push(Script::delay(Duration::from_millis(600)));
    let traced = f.traced.chat().create(chat("slow")).await.unwrap_err();
    assert_eq!(traced.to_string(), untraced.to_string());
    let t = f.only();
    assert_eq!(t.error.unwrap().kind, ErrorKind::Timeout);
    assert_eq!(t.cost_usd, None, "nothing is known about usage: the cost is unknown");
}

// ---------------------------------------------------------------------------------------------
// Callers that give up

#[tokio::test]
async fn dropping_a_create_future_mid_call_records_one_cancelled_trace() {
    let f = fixture();
    f.server.push(Script::delay(Duration::from_millis(800)));
    let untraced =
        tokio::time::timeout(Duration::from_millis(100), f.plain.chat().create(chat("a"))).await;
    f.server.push(Script::delay(Duration::from_millis(800)));
    let traced =
        tokio::time::timeout(Duration::from_millis(100), f.traced.chat().create(chat("a"))).await;
    assert!(untraced.is_err() && traced.is_err(), "both calls were abandoned");

    let t = f.only();
    assert_eq!(t.finish_reason, FinishReason::Cancelled);
    assert!(t.error.is_none());
    assert_eq!(t.input_preview, "a");
    assert!(t.latency_ms >= 90.0, "recorded when dropped: {}", t.latency_ms);
    // Nothing more is recorded later, when the server finally answers.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(f.traces().is_empty());
}

#[tokio::test]
async fn a_create_future_dropped_before_its_first_poll_sends_nothing_and_is_recorded_cancelled() {
    let f = fixture();
    let chat_api = f.traced.chat();
    // The call starts when `create` is called (that is when it is timed from): dropped
    // unpolled, it never reached the server, and it is one cancelled trace.
    drop(chat_api.create(chat("never sent")));
    let t = f.only();
    assert_eq!(t.finish_reason, FinishReason::Cancelled);
    assert_eq!(t.input_preview, "never sent");
    assert!(f.server.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_create_future_dropped_by_select_is_recorded_once_as_cancelled() {
    let f = fixture();
    f.server.push(Script::delay(Duration::from_millis(800)));
    let chat_api = f.traced.chat();
    let winner = tokio::select! {
        _ = chat_api.create(chat("race")) => "llm",
        _ = tokio::time::sleep(Duration::from_millis(50)) => "timer",
    };
    assert_eq!(winner, "timer");
    let t = f.only();
    assert_eq!(t.finish_reason, FinishReason::Cancelled);
}

#[tokio::test]
async fn dropping_create_stream_before_the_response_records_one_cancelled_trace() {
    let f = fixture();
    f.server.push(Script::delay(Duration::from_millis(800)));
    let traced =
        tokio::time::timeout(Duration::from_millis(100), f.traced.chat().create_stream(chat("s")))
            .await;
    assert!(traced.is_err());
    let t = f.only();
    assert_eq!(t.finish_reason, FinishReason::Cancelled);
    assert!(t.stream);
    assert!(t.error.is_none());
    assert_eq!(t.ttft_ms, None);
}

#[tokio::test]
async fn dropping_a_stream_before_its_first_token_records_one_cancelled_trace() {
    let f = fixture();
    f.server.push(Script::slow_first_token(Duration::from_secs(5)));
    let mut stream = f.traced.chat().create_stream(chat("first token please")).await.unwrap();
    // The role chunk comes at once; the first token would come 5 s later.
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.choices[0].delta.content.as_deref().unwrap_or("").is_empty());
    let next = tokio::time::timeout(Duration::from_millis(100), stream.next()).await;
    assert!(next.is_err(), "no token yet");
    drop(stream);

    let t = f.only();
    assert_eq!(t.finish_reason, FinishReason::Cancelled);
    assert_eq!(t.ttft_ms, None, "no token arrived");
    assert_eq!(t.output_preview, "");
    assert_eq!(t.completion_tokens, 0);
    assert_ne!(t.usage_source, UsageSource::Provider, "the provider reported nothing");
}

// ---------------------------------------------------------------------------------------------
// Errors and retries

#[tokio::test]
async fn a_429_with_retry_after_that_outlasts_the_retries_reaches_the_caller_unchanged() {
    let f = fixture();
    let script = || {
        f.server.push(Script::rate_limited(1));
        for _ in 0..3 {
            f.server.push(Script::rate_limited(0));
        }
    };
    script();
    let untraced = f.plain.chat().create(chat("busy")).await.unwrap_err();
    assert_eq!(f.server.requests().len(), 4, "one try and three retries");
    script();
    let traced = f.traced.chat().create(chat("busy")).await.unwrap_err();
    assert_eq!(f.server.requests().len(), 8);
    assert_eq!(traced.to_string(), untraced.to_string());
    assert!(matches!(traced, OpenAIError::ApiError(_)));

    let t = f.only();
    let error = t.error.unwrap();
    assert_eq!((error.kind, error.status), (ErrorKind::RateLimit, Some(429)));
    assert!(error.message.contains("Rate limit reached"), "{}", error.message);
    assert!(t.latency_ms >= 1000.0, "the retry-after wait is part of the call: {}", t.latency_ms);
    assert_eq!(t.cost_usd, Some(0.0), "a refused request costs nothing");
}

#[tokio::test]
async fn a_500_then_success_returns_the_untraced_response_and_one_clean_trace() {
    let f = fixture();
    f.server.push(Script::server_error().with_retry_after(0));
    let untraced = f.plain.chat().create(chat("try again")).await.unwrap();
    f.server.push(Script::server_error().with_retry_after(0));
    let traced = f.traced.chat().create(chat("try again")).await.unwrap();
    assert_eq!(comparable(&traced), comparable(&untraced));
    assert_eq!(f.server.requests().len(), 4);

    let t = f.only();
    assert!(t.error.is_none());
    assert_eq!(t.finish_reason, FinishReason::Stop);
    assert_eq!(t.usage_source, UsageSource::Provider);
    assert_eq!(t.total_tokens, u64::from(traced.usage.unwrap().total_tokens));
}

#[tokio::test]
async fn a_401_on_a_stream_request_reaches_the_caller_unchanged() {
    let f = fixture();
    f.server.push(Script::invalid_api_key());
    let untraced = match f.plain.chat().create_stream(stream_chat("who am i")).await {
        Ok(stream) => drain(stream).await,
        Err(e) => vec![Err(e.to_string())],
    };
    f.server.push(Script::invalid_api_key());
    let traced = match f.traced.chat().create_stream(stream_chat("who am i")).await {
        Ok(stream) => drain(stream).await,
        Err(e) => vec![Err(e.to_string())],
    };
    assert_eq!(traced, untraced);
    let t = f.only();
    assert_eq!(t.finish_reason, FinishReason::Error);
    let error = t.error.unwrap();
    assert!(
        error.kind == ErrorKind::Auth || error.kind == ErrorKind::Stream,
        "{error:?} (traced saw {traced:?})"
    );
}

#[tokio::test]
async fn every_stream_fault_gives_the_untraced_items_and_one_trace() {
    for script in [
        Script::truncate_after(2),
        Script::disconnect_after(2),
        Script::malformed_after(2),
        Script::ignore_include_usage(),
    ] {
        let f = fixture();
        let kind = script.kind();
        f.server.push(script.clone());
        let untraced =
            drain(f.plain.chat().create_stream(stream_chat("fault")).await.unwrap()).await;
        f.server.push(script);
        let traced =
            drain(f.traced.chat().create_stream(stream_chat("fault")).await.unwrap()).await;
        assert_eq!(traced, untraced, "{kind}");
        let traces = f.traces();
        assert_eq!(traces.len(), 1, "{kind}: {traces:#?}");
    }
}
