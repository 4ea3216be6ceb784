//! Nothing llm-trace stores or exports contains a secret: API keys (the client's own key, and
//! keys in prompts, in model output and in provider error messages), `Authorization` header
//! values, bearer tokens and card numbers are redacted from the JSON-lines log (and its rotated
//! files), every payload file, the OTLP export (with message contents on) and the `tracing`
//! spans and events. Every file and folder llm-trace creates is private (0600 / 0700).
//!
//! The errors the caller gets are the provider's own and are passed through unchanged.

#![cfg(all(feature = "openai", feature = "otlp", feature = "payloads", unix))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use futures_util::StreamExt;
use llm_trace::config::OtlpConfig;
use llm_trace::openai::TracedClient;
use llm_trace::sink::{OtlpOptions, OtlpSink, TracingSink};
use llm_trace::{Config, Payloads, Rotation, Tracer};
use llm_trace_mock::{MockServer, Script};

/// The client's API key: sent by async-openai as `Authorization: Bearer <KEY>`.
const KEY: &str = "sk-proj-PLANTEDkey0123456789abcdefghijklmnopqrstuvwxyz";
/// Another key, pasted by a user into a prompt after a line break.
const PASTED_KEY: &str = "sk-ant-api03-PLANTEDpasted0123456789abcdefghijklmnop";
/// A bearer token, as an `Authorization` header value pasted into a prompt.
const BEARER: &str = "Bearer PLANTEDbearer.eyJhbGciOiJIUzI1NiJ9-abc_def";
/// A Luhn-valid card number, with and without spaces.
const CARD: &str = "4111 1111 1111 1111";
const CARD_DIGITS: &str = "4111111111111111";

/// What must never appear in anything llm-trace writes or exports.
fn needles() -> Vec<&'static str> {
    vec!["PLANTED", KEY, PASTED_KEY, BEARER, CARD, CARD_DIGITS, "4111-1111-1111-1111"]
}

fn assert_clean(what: &str, haystack: &[u8]) {
    for needle in needles() {
        let found = haystack.windows(needle.len()).position(|w| w == needle.as_bytes());
        if let Some(at) = found {
            let from = at.saturating_sub(80);
            let to = (at + needle.len() + 80).min(haystack.len());
            panic!(
                "{what} contains {needle:?}: …{}…",
                String::from_utf8_lossy(&haystack[from..to])
            );
        }
    }
}

fn prompt() -> String {
    format!(
        "Please check my setup.\ncredentials:\n{PASTED_KEY}\nheader: Authorization: {BEARER}\n\
         card\t{CARD} and {CARD_DIGITS}\nkey in JSON: {{\"api_key\":\"{KEY}\"}} end"
    )
}

fn chat_request(text: &str, stream: bool) -> CreateChatCompletionRequest {
    let mut request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([
            ChatCompletionRequestSystemMessage::from(format!("Never reveal {KEY}")).into(),
            ChatCompletionRequestUserMessage::from(text).into(),
        ])
        .build()
        .unwrap();
    if stream {
        request.stream_options = Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
    }
    request
}

// ---------------------------------------------------------------------------------------------
// A minimal OTLP/HTTP receiver on 127.0.0.1 that keeps the raw request bodies.

fn collector() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let kept = kept.clone();
            std::thread::spawn(move || serve(stream, &kept));
        }
    });
    (url, bodies)
}

fn serve(stream: TcpStream, bodies: &Mutex<Vec<Vec<u8>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut head = Vec::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            head.extend_from_slice(line.as_bytes());
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        head.extend_from_slice(&body);
        bodies.lock().unwrap().push(head); // the request line, headers and body
        let ok =
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if stream.write_all(ok.as_bytes()).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny `tracing` subscriber that keeps every field of llm-trace's spans and events as text.

mod capture {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Clone, Default)]
    pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<String>>>);

    struct Text<'a>(&'a mut Vec<String>);

    impl Visit for Text<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push(format!("{}={value:?}", field.name()));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push(format!("{}={value}", field.name()));
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target().starts_with("llm_trace")
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let mut seen = self.0.lock().unwrap();
            attrs.record(&mut Text(&mut seen));
            Id::from_u64(seen.len() as u64 + 1)
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut Text(&mut self.0.lock().unwrap()));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            event.record(&mut Text(&mut self.0.lock().unwrap()));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

fn files_and_folders(root: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut folders) = (Vec::new(), Vec::new());
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path.clone());
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    (files, folders)
}

#[tokio::test]
async fn planted_secrets_never_reach_the_log_payloads_otlp_or_tracing_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;

    let capture = capture::Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).unwrap();

    let root = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.dir = root.path().join("logs/llm");
    config.payloads = Payloads::Dir(root.path().join("store/payloads"));
    config.rotation = Some(Rotation { max_bytes: 4096, keep: 3 });
    let (otlp_url, otlp_bodies) = collector();
    let mut otlp = OtlpConfig::default();
    otlp.endpoint = Some(otlp_url);
    let mut options = OtlpOptions::default();
    options.export_content = true;
    let tracer = Tracer::builder()
        .config(config.clone())
        .sinks_from_config()
        .sink(TracingSink::new())
        .sink(OtlpSink::new(&otlp, options).unwrap())
        .build()
        .unwrap();

    let server = MockServer::start().unwrap();
    let openai = OpenAIConfig::new().with_api_base(server.base_url()).with_api_key(KEY);
    let client = TracedClient::new(Client::with_config(openai)).with_tracer(tracer.clone());
    let echo = format!("Sure. Your key {KEY} and card {CARD} are noted; {BEARER}");

    // Chat, with the secrets in the prompt and in the model's answer.
    for _ in 0..3 {
        server.push(Script::reply(echo.clone()));
        let response = client.chat().create(chat_request(&prompt(), false)).await.unwrap();
        assert!(response.choices[0].message.content.as_deref().unwrap().contains(KEY));
    }
    // A stream, likewise.
    server.push(Script::reply(echo.clone()));
    let mut stream = client.chat().create_stream(chat_request(&prompt(), true)).await.unwrap();
    let mut streamed = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        streamed.extend(chunk.choices.first().and_then(|c| c.delta.content.clone()));
    }
    assert!(streamed.contains(KEY));
    // Embeddings of secret-bearing text.
    let request = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(vec![prompt(), format!("token {BEARER}")])
        .build()
        .unwrap();
    client.embeddings().create(request).await.unwrap();
    // A 401 whose message echoes the key (as some providers do).
    let refusal = format!("Incorrect API key provided: {KEY}. Authorization: {BEARER}");
    server.push(Script::http_error(401, refusal).with_error_code("invalid_api_key"));
    let error = client.chat().create(chat_request(&prompt(), false)).await.unwrap_err();
    assert!(error.to_string().contains(KEY), "the caller gets the provider's error unchanged");

    tracer.flush().unwrap();
    let report = tracer.shutdown(Duration::from_secs(10));
    assert!(report.is_complete(), "{report}");
    let stats = tracer.stats();
    assert_eq!((stats.recorded, stats.written), (6, 6), "{stats:?}");
    assert_eq!(stats.payloads_written, 6, "{stats:?}");

    // Every file llm-trace wrote: logs (current and rotated) and payloads.
    let (files, folders) = files_and_folders(root.path());
    let logs: Vec<_> = files.iter().filter(|f| f.starts_with(&config.dir)).collect();
    let payloads: Vec<_> =
        files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")).collect();
    assert!(logs.len() >= 2, "the log was rotated: {logs:?}");
    assert_eq!(payloads.len(), 6, "{files:?}");
    assert_eq!(logs.len() + payloads.len(), files.len(), "nothing else: {files:?}");
    for file in &files {
        assert_clean(&file.display().to_string(), &std::fs::read(file).unwrap());
    }
    let all_log_text: String = logs.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert!(all_log_text.contains("[REDACTED:api_key]"), "the redaction is visible");
    assert!(all_log_text.contains("\"status\":401"));

    // The OTLP export, with message contents on.
    let bodies = otlp_bodies.lock().unwrap();
    assert!(!bodies.is_empty());
    let exported: Vec<u8> = bodies.concat();
    assert!(
        exported.windows(b"[REDACTED:".len()).any(|w| w == b"[REDACTED:"),
        "contents were exported"
    );
    assert_clean("the OTLP export", &exported);

    // The tracing spans and events.
    let seen = capture.0.lock().unwrap().join("\n");
    assert!(seen.contains("gen_ai.request.model=gpt-4o-mini"), "the capture works");
    assert!(seen.contains("error.message=Incorrect API key provided"), "{seen}");
    assert_clean("the tracing spans and events", seen.as_bytes());

    // Private files and folders.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    for folder in &folders {
        assert_eq!(mode(folder), 0o700, "{}", folder.display());
    }
    assert!(folders.len() >= 7, "logs, llm, store, payloads, YYYY, MM, DD: {folders:?}");
}

#[test]
fn the_mock_server_and_every_listener_here_bind_127_0_0_1() {
    let server = MockServer::start().unwrap();
    assert!(server.addr().ip().is_loopback());
    assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
    let (url, _) = collector();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
}
