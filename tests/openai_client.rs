//! The traced async-openai client against the mock server over real HTTP on 127.0.0.1:
//! the caller sees exactly what the untraced client returns, and every call is one record.

#![cfg(feature = "openai")]

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, ChatCompletionTool,
    ChatCompletionTools, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    FunctionObjectArgs,
};
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use futures_util::StreamExt;
use llm_trace::openai::TracedClient;
use llm_trace::{ErrorKind, FinishReason, Scope, UsageSource};
use llm_trace_mock::Script;

mod common;
use common::Fixture;

const KEY: &str = "sk-test-PLANTEDkey0123456789abcdefghij";

fn fixture() -> Fixture {
    Fixture::new(KEY, None)
}

fn chat(model: &str, text: &str) -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model(model)
        .temperature(0.2)
        .max_completion_tokens(300u32)
        .messages([
            ChatCompletionRequestSystemMessage::from("You are a support agent.").into(),
            ChatCompletionRequestUserMessage::from(text).into(),
        ])
        .build()
        .unwrap()
}

fn with_tool(mut request: CreateChatCompletionRequest) -> CreateChatCompletionRequest {
    let function = FunctionObjectArgs::default()
        .name("lookup_invoice")
        .parameters(serde_json::json!({"type": "object", "properties": {"id": {"type": "string"}}}))
        .build()
        .unwrap();
    request.tools = Some(vec![ChatCompletionTools::Function(ChatCompletionTool { function })]);
    request
}

/// The JSON of a response, with its random id removed, to compare traced with untraced.
fn comparable<T: serde::Serialize>(value: &T) -> serde_json::Value {
    let mut v = serde_json::to_value(value).unwrap();
    for key in ["id", "created"] {
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

#[tokio::test]
async fn a_chat_call_returns_the_untraced_response_and_records_every_field() {
    let f = fixture();
    let untraced = f.plain.chat().create(chat("gpt-4o-mini", "My invoice is wrong")).await.unwrap();
    f.server.push(Script::usage_details(0, 0));
    let traced = f.traced.chat().create(chat("gpt-4o-mini", "My invoice is wrong")).await.unwrap();
    assert_eq!(comparable(&traced), comparable(&untraced));

    let t = f.only();
    let usage = traced.usage.unwrap();
    assert_eq!((t.provider.as_ref(), t.operation.as_ref()), ("openai", "chat"));
    assert_eq!(t.model.as_ref(), "gpt-4o-mini");
    assert_eq!(t.response_model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!((t.temperature, t.max_tokens, t.stream), (Some(0.2), Some(300), false));
    assert_eq!(t.finish_reason, FinishReason::Stop);
    assert_eq!(t.prompt_tokens, u64::from(usage.prompt_tokens));
    assert_eq!(t.completion_tokens, u64::from(usage.completion_tokens));
    assert_eq!(t.total_tokens, u64::from(usage.total_tokens));
    assert_eq!(t.usage_source, UsageSource::Provider);
    assert_eq!(t.input_preview, "My invoice is wrong");
    assert_eq!(t.output_preview, traced.choices[0].message.content.clone().unwrap());
    let expected_cost = (t.prompt_tokens as f64 * 0.15 + t.completion_tokens as f64 * 0.6) / 1e6;
    assert!((t.cost_usd.unwrap() - expected_cost).abs() < 1e-12, "{:?}", t.cost_usd);
    assert!(t.latency_ms > 0.0);
    assert_eq!(t.ttft_ms, None);
    assert!(t.error.is_none());
}

#[tokio::test]
async fn cached_and_reasoning_tokens_are_recorded_and_priced() {
    let f = fixture();
    f.server.push(Script::usage_details(20, 7));
    f.traced.chat().create(chat("gpt-4o-mini", "hello there")).await.unwrap();
    let t = f.only();
    assert_eq!((t.cached_tokens, t.reasoning_tokens), (Some(20), Some(7)));
    let uncached = (t.prompt_tokens - 20) as f64;
    let expected = (uncached * 0.15 + 20.0 * 0.075 + t.completion_tokens as f64 * 0.6) / 1e6;
    assert!((t.cost_usd.unwrap() - expected).abs() < 1e-12);
}

#[tokio::test]
async fn max_tokens_is_read_from_either_field_and_length_is_the_finish_reason() {
    let f = fixture();
    let mut request = chat("gpt-4o-mini", "write a long story about invoices and refunds");
    request.max_completion_tokens = None;
    #[allow(deprecated)]
    {
        request.max_tokens = Some(3);
    }
    let response = f.traced.chat().create(request).await.unwrap();
    let t = f.only();
    assert_eq!(t.max_tokens, Some(3));
    assert_eq!(t.finish_reason, FinishReason::Length);
    assert_eq!(t.completion_tokens, u64::from(response.usage.unwrap().completion_tokens));
}

#[tokio::test]
async fn tool_offers_and_tool_calls_are_recorded() {
    let f = fixture();
    let response =
        f.traced.chat().create(with_tool(chat("gpt-4o", "where is invoice A-1?"))).await.unwrap();
    assert!(response.choices[0].message.tool_calls.is_some());
    let t = f.only();
    assert_eq!(t.tools, ["lookup_invoice"]);
    assert_eq!(t.finish_reason, FinishReason::ToolCalls);
    assert_eq!(t.metadata.get("tool_calls"), Some(&serde_json::json!(["lookup_invoice"])));
    assert_eq!(t.output_preview, "[tool_calls] lookup_invoice");
}

#[tokio::test]
async fn a_complete_stream_yields_the_same_chunks_and_records_usage_and_ttft() {
    let f = fixture();
    let collect = |stream: async_openai::types::chat::ChatCompletionResponseStream| async move {
        stream
            .map(|c| {
                let c = c.unwrap();
                (
                    c.choices.first().and_then(|ch| ch.delta.content.clone()),
                    c.usage.map(|u| u.total_tokens),
                )
            })
            .collect::<Vec<_>>()
            .await
    };
    let mut request = chat("gpt-4o-mini", "stream me a reply please");
    request.stream_options = Some(async_openai::types::chat::ChatCompletionStreamOptions {
        include_usage: Some(true),
        include_obfuscation: None,
    });
    let untraced = collect(f.plain.chat().create_stream(request.clone()).await.unwrap()).await;
    f.server.push(Script::ok().with_first_token_delay(Duration::from_millis(30)));
    let traced = collect(f.traced.chat().create_stream(request).await.unwrap()).await;
    assert_eq!(traced, untraced);

    let t = f.only();
    let text: String = traced.iter().filter_map(|(t, _)| t.clone()).collect();
    let total = traced.iter().find_map(|(_, u)| *u).unwrap();
    assert!(t.stream);
    assert_eq!(t.finish_reason, FinishReason::Stop);
    assert_eq!(t.output_preview, text);
    assert_eq!(t.total_tokens, u64::from(total));
    assert_eq!(t.usage_source, UsageSource::Provider);
    let ttft = t.ttft_ms.unwrap();
    assert!(ttft >= 30.0 && ttft <= t.latency_ms, "ttft {ttft} latency {}", t.latency_ms);
    assert!(t.cost_usd.is_some());
}

#[tokio::test]
async fn include_usage_is_added_unless_the_caller_set_it_or_opted_out() {
    let f = fixture();
    let drain = |s: async_openai::types::chat::ChatCompletionResponseStream| async move {
        s.collect::<Vec<_>>().await
    };
    drain(f.traced.chat().create_stream(chat("gpt-4o-mini", "a")).await.unwrap()).await;
    let mut explicit = chat("gpt-4o-mini", "b");
    explicit.stream_options = Some(async_openai::types::chat::ChatCompletionStreamOptions {
        include_usage: Some(false),
        include_obfuscation: None,
    });
    drain(f.traced.chat().create_stream(explicit).await.unwrap()).await;
    let opted_out = f.traced.clone().with_stream_usage(false);
    drain(opted_out.chat().create_stream(chat("gpt-4o-mini", "c")).await.unwrap()).await;

    let sent: Vec<_> = f
        .server
        .requests()
        .iter()
        .map(|r| r.body["stream_options"]["include_usage"].clone())
        .collect();
    assert_eq!(sent, [serde_json::json!(true), serde_json::json!(false), serde_json::Value::Null]);
    let traces = f.traces();
    let sources: Vec<_> = traces.iter().map(|t| t.usage_source).collect();
    assert_eq!(sources[0], UsageSource::Provider);
    // No usage came back for the other two: estimated, never claimed as the provider's.
    assert_eq!(sources[1], UsageSource::Estimated);
    assert_eq!(sources[2], UsageSource::Estimated);
}

#[tokio::test]
async fn a_server_that_ignores_include_usage_gets_estimated_usage() {
    let f = fixture();
    f.server.push(Script::ignore_include_usage());
    let chunks: Vec<_> = f
        .traced
        .chat()
        .create_stream(chat("gpt-4o-mini", "count my tokens"))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(chunks.iter().all(|c| c.as_ref().unwrap().usage.is_none()));
    let t = f.only();
    assert_eq!(t.usage_source, UsageSource::Estimated);
    assert_eq!(t.finish_reason, FinishReason::Stop);
    assert!(t.prompt_tokens > 5, "{}", t.prompt_tokens);
    assert!(t.completion_tokens > 0);
    assert!(t.cost_usd.is_some());
}

#[tokio::test]
async fn dropping_a_stream_early_records_it_once_as_cancelled_with_partial_output() {
    let f = fixture();
    let mut stream =
        f.traced.chat().create_stream(chat("gpt-4o-mini", "tell me everything")).await.unwrap();
    let mut seen = String::new();
    while seen.is_empty() {
        let chunk = stream.next().await.unwrap().unwrap();
        seen.extend(chunk.choices.first().and_then(|c| c.delta.content.clone()));
    }
    drop(stream);
    let t = f.only();
    assert_eq!(t.finish_reason, FinishReason::Cancelled);
    assert!(t.output_preview.starts_with(seen.trim_end()), "{:?} vs {seen:?}", t.output_preview);
    assert!(t.ttft_ms.is_some());
    assert_eq!(t.usage_source, UsageSource::Estimated);
}

#[tokio::test]
async fn stream_faults_are_recorded_once_and_passed_through() {
    for (script, kind) in [
        (Script::disconnect_after(2), ErrorKind::Stream),
        (Script::malformed_after(2), ErrorKind::Decode),
        (Script::truncate_after(2), ErrorKind::Stream),
    ] {
        let f = fixture();
        let kind_name = script.kind();
        f.server.push(script);
        let items: Vec<_> = f
            .traced
            .chat()
            .create_stream(chat("gpt-4o-mini", "fault please"))
            .await
            .unwrap()
            .collect()
            .await;
        let errors = items.iter().filter(|i| i.is_err()).count();
        let t = f.only();
        assert_eq!(t.finish_reason, FinishReason::Error, "{kind_name}");
        assert_eq!(t.error.as_ref().unwrap().kind, kind, "{kind_name}: {:?}", t.error);
        if kind_name == "truncate" {
            assert_eq!(errors, 0, "a truncated stream just ends");
        } else {
            assert!(errors >= 1, "{kind_name}: the caller still sees the error");
        }
        assert!(!t.output_preview.is_empty(), "{kind_name}: partial output kept");
    }
}

#[tokio::test]
async fn http_errors_reach_the_caller_unchanged_and_are_classified() {
    for (script, kind, status) in [
        (Script::invalid_api_key(), ErrorKind::Auth, 401),
        (Script::bad_request("messages must not be empty"), ErrorKind::InvalidRequest, 400),
        (Script::insufficient_quota(), ErrorKind::from("quota"), 429),
    ] {
        let f = fixture();
        f.server.push(script.clone());
        let untraced = f.plain.chat().create(chat("gpt-4o-mini", "x")).await.unwrap_err();
        f.server.push(script);
        let traced = f.traced.chat().create(chat("gpt-4o-mini", "x")).await.unwrap_err();
        assert_eq!(traced.to_string(), untraced.to_string());
        let t = f.only();
        let error = t.error.unwrap();
        assert_eq!((error.kind, error.status), (kind, Some(status)));
        assert_eq!(t.finish_reason, FinishReason::Error);
        assert_eq!(t.cost_usd, Some(0.0), "a refused request costs nothing");
    }
}

#[tokio::test]
async fn retried_calls_are_one_trace_with_the_final_outcome() {
    let f = fixture();
    // async-openai retries 429 and 5xx up to three times, honouring retry-after.
    f.server.push(Script::rate_limited(0));
    f.server.push(Script::server_error().with_retry_after(0));
    f.traced.chat().create(chat("gpt-4o-mini", "retry me")).await.unwrap();
    let t = f.only();
    assert!(t.error.is_none());
    assert_eq!(f.server.requests().len(), 3);

    for _ in 0..4 {
        f.server.push(Script::rate_limited(0));
    }
    let err = f.traced.chat().create(chat("gpt-4o-mini", "give up")).await.unwrap_err();
    assert!(matches!(err, OpenAIError::ApiError(_)));
    let t = f.only();
    let error = t.error.unwrap();
    assert_eq!((error.kind, error.status), (ErrorKind::RateLimit, Some(429)));
}

#[tokio::test]
async fn a_timeout_is_recorded_as_timeout() {
    let f = fixture();
    let http = reqwest_client_with_timeout(Duration::from_millis(100));
    let config = OpenAIConfig::new().with_api_base(f.server.base_url()).with_api_key(KEY);
    let client = TracedClient::new(Client::with_config(config).with_http_client(http))
        .with_tracer(f.tracer.clone());
    f.server.push(Script::delay(Duration::from_millis(400)));
    let err = client.chat().create(chat("gpt-4o-mini", "slow")).await.unwrap_err();
    assert!(matches!(err, OpenAIError::Reqwest(_)), "{err}");
    let t = f.only();
    assert_eq!(t.error.unwrap().kind, ErrorKind::Timeout);
}

fn reqwest_client_with_timeout(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

#[tokio::test]
async fn embeddings_record_model_input_count_tokens_and_cost() {
    let f = fixture();
    let request = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(vec!["first text", "second text", "third"])
        .build()
        .unwrap();
    let response = f.traced.embeddings().create(request).await.unwrap();
    let t = f.only();
    assert_eq!(t.operation, "embeddings");
    assert_eq!(t.metadata.get("input_count"), Some(&serde_json::json!(3)));
    assert_eq!(t.prompt_tokens, u64::from(response.usage.prompt_tokens));
    assert_eq!(t.completion_tokens, 0);
    assert_eq!(t.input_preview, "first text");
    assert_eq!(t.output_preview, "3 embeddings × 1536 dimensions");
    let expected = t.prompt_tokens as f64 * 0.02 / 1e6;
    assert!((t.cost_usd.unwrap() - expected).abs() < 1e-15, "{:?}", t.cost_usd);
}

#[tokio::test]
async fn the_enclosing_scope_reaches_the_record() {
    let f = fixture();
    let traced = f.traced.clone();
    Scope::new("classify_ticket", "support", &["support", "classification"])
        .instrument(async move { traced.chat().create(chat("gpt-4o-mini", "hi")).await.unwrap() })
        .await;
    let t = f.only();
    assert_eq!(t.function_name, "classify_ticket");
    assert_eq!(t.tags.as_ref(), ["support", "classification"]);
}

/// With a subscriber that wants the call's span, the provider's future runs inside it (so
/// whatever the transport logs nests under the call).
#[tokio::test]
async fn the_provider_call_runs_inside_the_calls_span_when_a_subscriber_wants_it() {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    /// The names of the spans entered, in order.
    #[derive(Clone, Default)]
    struct Entered(Arc<Mutex<Vec<&'static str>>>);
    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Entered {
        fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
            let name = ctx.span(id).expect("an entered span exists").name();
            self.0.lock().unwrap().push(name);
        }
    }
    let count = |entered: &Entered, name: &str| {
        entered.0.lock().unwrap().iter().filter(|n| **n == name).count()
    };

    let f = fixture();
    let entered = Entered::default();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(entered.clone()));
    f.traced.chat().create(chat("gpt-4o-mini", "hi")).await.unwrap();
    assert!(count(&entered, "chat") > 0, "the chat call's span was never entered");
    let embed = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input("hi")
        .build()
        .unwrap();
    f.traced.embeddings().create(embed).await.unwrap();
    assert!(count(&entered, "embeddings") > 0, "the embeddings call's span was never entered");
    // Opening the stream (before any chunk is polled) runs inside the span too.
    let before = count(&entered, "chat");
    let stream = f.traced.chat().create_stream(chat("gpt-4o-mini", "hi")).await.unwrap();
    assert!(count(&entered, "chat") > before, "opening the stream was not inside its span");
    drop(stream);
}

#[tokio::test]
async fn the_api_key_is_never_recorded() {
    let f = fixture();
    f.server.push(Script::invalid_api_key());
    let mut request = chat("gpt-4o-mini", &format!("my key is {KEY}"));
    request.messages.push(ChatCompletionRequestUserMessage::from(format!("again: {KEY}")).into());
    let _ = f.traced.chat().create(request.clone()).await;
    let _ = f.traced.chat().create(request).await;
    let log = serde_json::to_string(&f.traces()).unwrap();
    assert!(!log.contains("PLANTED"), "{log}");
    assert!(!log.to_lowercase().contains("authorization"), "{log}");
}

#[test]
fn every_request_in_these_tests_goes_to_127_0_0_1() {
    let f = fixture();
    assert!(f.server.base_url().starts_with("http://127.0.0.1:"));
}

mod rewriting {
    use super::*;
    use llm_trace::traced_llm;

    #[traced_llm(tags = ["support"])]
    async fn plain_client_calls(client: &Client<OpenAIConfig>) -> String {
        let reply = client.chat().create(chat("gpt-4o-mini", "plain")).await.unwrap();
        let mut stream =
            client.chat().create_stream(chat("gpt-4o-mini", "streamed")).await.unwrap();
        while stream.next().await.is_some() {}
        let request = CreateEmbeddingRequestArgs::default()
            .model("text-embedding-3-small")
            .input("embed me")
            .build()
            .unwrap();
        client.embeddings().create(request).await.unwrap();
        reply.choices[0].message.content.clone().unwrap()
    }

    #[traced_llm]
    async fn traced_client_call(client: &TracedClient) {
        client.chat().create(chat("gpt-4o-mini", "once")).await.unwrap();
    }

    #[traced_llm(rewrite = false)]
    async fn not_rewritten(client: &Client<OpenAIConfig>) {
        client.chat().create(chat("gpt-4o-mini", "untraced")).await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn calls_on_a_plain_client_in_an_annotated_body_are_recorded() {
        let f = fixture();
        let _default = f.tracer.set_default();
        let untraced = f.plain.chat().create(chat("gpt-4o-mini", "plain")).await.unwrap();
        assert!(f.traces().is_empty(), "outside an annotated fn a plain client is not traced");
        let text = plain_client_calls(&f.plain).await;
        assert_eq!(Some(text), untraced.choices[0].message.content.clone());
        let traces = f.traces();
        let ops: Vec<(&str, bool)> =
            traces.iter().map(|t| (t.operation.as_ref(), t.stream)).collect();
        assert_eq!(ops, [("chat", false), ("chat", true), ("embeddings", false)]);
        for t in &traces {
            assert_eq!(t.function_name, "plain_client_calls");
            assert_eq!(t.tags.as_ref(), ["support"]);
            assert!(t.usage_source == UsageSource::Provider, "{t:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_traced_client_in_an_annotated_body_is_recorded_once() {
        let f = fixture();
        let _default = f.tracer.set_default();
        traced_client_call(&f.traced).await;
        let t = f.only();
        assert_eq!(t.function_name, "traced_client_call");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn rewrite_false_leaves_the_calls_alone() {
        let f = fixture();
        let _default = f.tracer.set_default();
        not_rewritten(&f.plain).await;
        assert!(f.traces().is_empty());
    }
}
