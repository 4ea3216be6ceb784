//! Raw HTTP against the mock: the control endpoint, error bodies, recording,
//! and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs,
};
use llm_trace_mock::{MockServer, RecordedRequest, Script};
use serde_json::{Value, json};

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// Asserts an OpenAI-style error body and returns its `error` object.
    fn error(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        let v = self.json();
        let e = v["error"].clone();
        assert!(e["message"].is_string(), "{v}");
        for key in ["type", "param", "code"] {
            assert!(e.get(key).is_some(), "missing {key} in {v}");
        }
        e
    }
}

async fn send(method: reqwest::Method, url: String, body: Option<String>) -> Reply {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    Reply { status, headers, text }
}

async fn post(url: String, body: impl Into<String>) -> Reply {
    send(reqwest::Method::POST, url, Some(body.into())).await
}

async fn get(url: String) -> Reply {
    send(reqwest::Method::GET, url, None).await
}

async fn delete(url: String) -> Reply {
    send(reqwest::Method::DELETE, url, None).await
}

const CHAT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;

#[tokio::test]
async fn control_endpoint_queues_and_clears_scripts() {
    let server = MockServer::start().unwrap();
    let root = server.url();
    let chat = format!("{}/chat/completions", server.base_url());

    let r =
        post(format!("{root}/__mock/script"), r#"{"kind":"rate_limited","retry_after":3}"#).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({ "pending": 1 }));

    let r = post(chat.clone(), CHAT).await;
    let e = r.error(429);
    assert_eq!(r.headers["retry-after"], "3");
    assert_eq!(e["type"], "requests");
    assert_eq!(e["code"], "rate_limit_exceeded");
    assert_eq!(e["param"], Value::Null);

    // An array queues several, in order; GET lists them; DELETE clears.
    let r = post(
        format!("{root}/__mock/script"),
        r#"[{"kind":"http_error","status":418,"message":"teapot","code":"tea"},{"reply":"after","cached_tokens":2}]"#,
    )
    .await;
    assert_eq!(r.json(), json!({ "pending": 2 }));
    let listed = get(format!("{root}/__mock/script")).await.json();
    assert_eq!(listed["pending"], 2);
    assert_eq!(listed["scripts"][0]["kind"], "http_error");
    assert_eq!(listed["scripts"][1]["reply"], "after");
    let e = post(chat.clone(), CHAT).await.error(418);
    assert_eq!(e["message"], "teapot");
    assert_eq!(e["code"], "tea");
    assert_eq!(e["type"], "invalid_request_error");
    let ok = post(chat.clone(), CHAT).await;
    assert_eq!(ok.status, 200);
    let v = ok.json();
    assert_eq!(v["choices"][0]["message"]["content"], "after");
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 2);

    post(format!("{root}/__mock/script"), r#"{"kind":"server_error"}"#).await;
    let r = delete(format!("{root}/__mock/script")).await;
    assert_eq!(r.json(), json!({ "pending": 0 }));
    assert_eq!(post(chat.clone(), CHAT).await.status, 200);

    // The JSON form of a Script is accepted as is.
    let body = serde_json::to_string(&Script::invalid_api_key()).unwrap();
    post(format!("{root}/__mock/script"), body).await;
    assert_eq!(post(chat, CHAT).await.error(401)["code"], "invalid_api_key");

    // Mistakes are reported.
    for bad in [
        r#"{"kind":"nope"}"#,
        r#"{"kind":"stall","status":500}"#,
        r#"{"delay":5}"#,
        r#"[{"reply":"ok"},{"kind":"http_error"}]"#,
        "{not json",
    ] {
        let e = post(format!("{root}/__mock/script"), bad).await.error(400);
        assert!(e["message"].as_str().unwrap().contains("invalid"), "{e}");
    }
    assert!(server.pending_scripts().is_empty(), "a rejected array queues nothing");
    get(format!("{root}/__mock/nothing")).await.error(404);
}

#[tokio::test]
async fn recorded_requests_never_hold_the_api_key() {
    let server = MockServer::start().unwrap();
    let secret = "sk-very-secret-key-0123456789";
    let client = Client::with_config(
        OpenAIConfig::new().with_api_base(server.base_url()).with_api_key(secret),
    );
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([ChatCompletionRequestUserMessage::from("hello").into()])
        .build()
        .unwrap();
    client.chat().create(request).await.unwrap();
    get(format!("{}/models", server.base_url())).await;

    let raw = get(format!("{}/__mock/requests", server.url())).await;
    assert_eq!(raw.status, 200);
    assert!(!raw.text.contains(secret));
    assert!(!raw.text.contains("Bearer"));
    let recorded: Vec<RecordedRequest> = serde_json::from_str(&raw.text).unwrap();
    assert_eq!(recorded, server.requests());
    assert!(!format!("{recorded:?}").contains(secret));
    assert_eq!(recorded.len(), 2, "control requests are not recorded");

    let chat = &recorded[0];
    assert_eq!(chat.seq, 1);
    assert_eq!(chat.method, "POST");
    assert_eq!(chat.path, "/v1/chat/completions");
    assert!(chat.header_names.iter().any(|h| h == "authorization"));
    assert!(chat.header_names.iter().any(|h| h == "content-type"));
    assert_eq!(chat.body["model"], "gpt-4o-mini");
    assert_eq!(chat.body["messages"][0]["content"], "hello");
    assert!(chat.script.is_none());
    assert_eq!(recorded[1].method, "GET");
    assert_eq!(recorded[1].body, Value::Null);

    let r = delete(format!("{}/__mock/requests", server.url())).await;
    assert_eq!(r.status, 200);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let server = MockServer::start().unwrap();
    let chat = format!("{}/chat/completions", server.base_url());
    let embeddings = format!("{}/embeddings", server.base_url());

    let e = post(chat.clone(), "{not json").await.error(400);
    assert_eq!(e["type"], "invalid_request_error");
    assert!(e["message"].as_str().unwrap().contains("parse the JSON body"));
    assert_eq!(server.requests()[0].raw_body.as_deref(), Some("{not json"));

    let e = post(chat.clone(), r#"{"messages":[{"role":"user","content":"x"}]}"#).await.error(400);
    assert_eq!(e["message"], "you must provide a model parameter");

    let e = post(chat.clone(), r#"{"model":"m"}"#).await.error(400);
    assert_eq!(e["param"], "messages");
    assert_eq!(e["code"], "missing_required_parameter");

    let e = post(chat.clone(), r#"{"model":"m","messages":[]}"#).await.error(400);
    assert_eq!(e["code"], "empty_array");

    let e = post(chat.clone(), r#"{"model":"m","messages":[{"content":"x"}]}"#).await.error(400);
    assert_eq!(e["param"], "messages[0].role");

    let e = post(
        chat.clone(),
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}"#,
    )
    .await
    .error(400);
    assert_eq!(e["param"], "stream_options");

    let e = post(
        chat.clone(),
        r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#,
    )
    .await
    .error(400);
    assert_eq!(e["param"], "max_tokens");

    let e = post(embeddings.clone(), r#"{"model":"m"}"#).await.error(400);
    assert_eq!(e["param"], "input");
    post(embeddings.clone(), r#"{"model":"m","input":""}"#).await.error(400);
    post(embeddings.clone(), r#"{"model":"m","input":[]}"#).await.error(400);
    post(embeddings, r#"{"model":"m","input":"x","dimensions":0}"#).await.error(400);

    // A queued script is consumed by the next API request even when it is bad.
    server.push(Script::reply("unused"));
    post(chat.clone(), "{not json").await.error(400);
    assert!(server.pending_scripts().is_empty());
    // ... but an HTTP-error script wins over validation.
    server.push(Script::server_error());
    post(chat, "{not json").await.error(500);
}

#[tokio::test]
async fn other_paths_models_and_headers() {
    let server = MockServer::start().unwrap();
    let base = server.base_url();

    let e = get(format!("{base}/nope")).await.error(404);
    assert_eq!(e["message"], "Invalid URL (GET /v1/nope)");
    get(format!("{}/other", server.url())).await.error(404);
    get(format!("{base}/chat/completions")).await.error(405);

    let models = get(format!("{base}/models")).await;
    assert_eq!(models.status, 200);
    let v = models.json();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> =
        v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"gpt-4o-mini") && ids.contains(&"text-embedding-3-small"));
    assert_eq!(v["data"][0]["object"], "model");
    let one = get(format!("{base}/models/gpt-4o")).await.json();
    assert_eq!(one["id"], "gpt-4o");
    assert_eq!(get(format!("{base}/models/unknown")).await.error(404)["code"], "model_not_found");

    let r = post(format!("{base}/chat/completions"), CHAT).await;
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["x-request-id"], "req_mock_7");
    // A model name that ends with a date is kept.
    let v = post(
        format!("{base}/chat/completions"),
        r#"{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await
    .json();
    assert_eq!(v["model"], "gpt-4o-2024-08-06");
}

#[tokio::test]
async fn raw_sse_framing() {
    let server = MockServer::start().unwrap();
    let r = post(
        format!("{}/chat/completions", server.base_url()),
        r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"one two three four five"}]}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/event-stream");
    assert!(r.text.ends_with("data: [DONE]\n\n"));
    let events: Vec<&str> = r.text.split_terminator("\n\n").collect();
    assert!(events.iter().all(|e| e.starts_with("data: ")));
    let first: Value = serde_json::from_str(&events[0][6..]).unwrap();
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert!(first.get("usage").is_none(), "no usage field without include_usage");
    let finish: Value = serde_json::from_str(&events[events.len() - 2][6..]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
}

#[test]
fn binary_serves_and_parses_arguments() {
    let exe = env!("CARGO_BIN_EXE_llm-trace-mock");

    let help = Command::new(exe).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--port"));
    let bad = Command::new(exe).arg("--bogus").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let mut child = Command::new(exe).args(["--port", "0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("llm-trace-mock listening on ")
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v1"), "{base}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let models = rt.block_on(get(format!("{base}/models")));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(models.status, 200);
}
