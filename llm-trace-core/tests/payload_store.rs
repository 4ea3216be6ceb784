//! Full payloads go to the payload store, keyed by trace id, redacted, size-limited, private,
//! off the caller's path, and independent of log sampling.
#![cfg(feature = "payloads")]

use std::path::Path;

use llm_trace_core::payload::{PayloadStore, key};
use llm_trace_core::{Config, FinishReason, LlmTrace, Payloads, Tracer, Usage};

fn config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.dir = dir.to_path_buf();
    config
}

fn traced_call(tracer: &Tracer, prompt: &str) -> llm_trace_core::TraceId {
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.request_payload(&serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}));
    call.response_payload(&serde_json::json!({"choices": [{"message": {"content": "fine"}}]}));
    call.usage(Usage::new(10, 2));
    let id = call.trace_id().unwrap();
    call.finish(FinishReason::Stop);
    id
}

fn log(config: &Config) -> Vec<LlmTrace> {
    std::fs::read_to_string(config.log_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn payloads_are_stored_by_trace_id_and_the_log_points_at_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let tracer = Tracer::new(config.clone()).unwrap();
    assert!(tracer.captures_payloads());
    let id = traced_call(&tracer, "where is my parcel?");
    tracer.flush().unwrap();

    let trace = &log(&config)[0];
    assert_eq!(trace.payload.as_deref(), Some(key(&id).as_str()));
    let file = dir.path().join("payloads").join(key(&id));
    assert!(file.exists(), "{}", file.display());

    let store = PayloadStore::open(&config).unwrap().unwrap();
    let payload = store.fetch(&id).unwrap().unwrap();
    assert_eq!(payload["trace_id"], id.to_string());
    assert_eq!(payload["request"]["messages"][0]["content"], "where is my parcel?");
    assert_eq!(payload["response"]["choices"][0]["message"]["content"], "fine");
    assert!(payload.get("truncated").is_none());
    assert_eq!(store.fetch(&llm_trace_core::TraceId::new()).unwrap(), None);
    assert_eq!(tracer.stats().payloads_written, 1);
}

#[cfg(unix)]
#[test]
fn payload_files_are_0600_in_0700_folders() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let tracer = Tracer::new(config).unwrap();
    let id = traced_call(&tracer, "x");
    tracer.flush().unwrap();
    let file = dir.path().join("payloads").join(key(&id));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    let mut folder = file.parent().unwrap();
    while folder != dir.path() {
        assert_eq!(mode(folder), 0o700, "{}", folder.display());
        folder = folder.parent().unwrap();
    }
}

#[test]
fn payloads_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let tracer = Tracer::new(config.clone()).unwrap();
    let id = traced_call(&tracer, "my key is sk-proj-PLANTEDsecret0123456789abcdef, ok?");
    tracer.flush().unwrap();
    let text = std::fs::read_to_string(dir.path().join("payloads").join(key(&id))).unwrap();
    assert!(!text.contains("PLANTED"), "{text}");
    assert!(text.contains("[REDACTED:api_key]"));
    let payload: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(payload["request"]["messages"][0]["content"], "my key is [REDACTED:api_key], ok?");
}

#[test]
fn oversized_payloads_are_cut_and_the_original_size_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.payload_max_bytes = 1000;
    let tracer = Tracer::new(config.clone()).unwrap();
    let huge = "é".repeat(100_000);
    let id = traced_call(&tracer, &huge);
    tracer.flush().unwrap();
    let store = PayloadStore::open(&config).unwrap().unwrap();
    let payload = store.fetch(&id).unwrap().unwrap();
    let request = payload["request"].as_str().expect("a cut payload is kept as text");
    assert!(request.len() <= 1000);
    assert!(request.starts_with("{\"messages\""), "{request}");
    assert!(payload["truncated"]["request_original_bytes"].as_u64().unwrap() > 200_000);
    assert!(payload["truncated"]["response_original_bytes"].is_null());
    assert_eq!(payload["response"]["choices"][0]["message"]["content"], "fine");
    // The preview in the log stays bounded too.
    assert!(log(&config)[0].input_preview.chars().count() <= 201);
}

#[test]
fn payloads_off_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.payloads = Payloads::Off;
    let tracer = Tracer::new(config.clone()).unwrap();
    assert!(!tracer.captures_payloads());
    traced_call(&tracer, "x");
    tracer.flush().unwrap();
    assert_eq!(log(&config)[0].payload, None);
    assert!(!dir.path().join("payloads").exists());
}

#[test]
fn payload_capture_is_independent_of_log_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.sample_rate = 0.0;
    let tracer = Tracer::new(config.clone()).unwrap();
    let id = traced_call(&tracer, "sampled out of the log");
    tracer.flush().unwrap();
    assert!(log(&config).is_empty());
    let store = PayloadStore::open(&config).unwrap().unwrap();
    assert!(store.fetch(&id).unwrap().is_some());
}

#[test]
fn a_payload_folder_that_cannot_be_created_is_an_error_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let mut config = config(dir.path());
    config.payloads = Payloads::Dir(blocker.join("payloads"));
    let err = Tracer::new(config).unwrap_err().to_string();
    assert!(err.contains("file/payloads"), "{err}");
}

#[test]
fn an_object_store_url_without_its_feature_is_a_clear_error() {
    #[cfg(not(feature = "gcs"))]
    {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.payloads = Payloads::Url("gs://bucket/prefix".into());
        let err = Tracer::new(config).unwrap_err().to_string();
        assert!(err.contains("LLM_TRACE_PAYLOADS") && err.contains("`gcs` feature"), "{err}");
    }
}

#[test]
fn owned_payloads_are_serialized_cut_and_redacted_on_the_payload_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.payload_max_bytes = 1000;
    let tracer = Tracer::new(config.clone()).unwrap();
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    assert!(call.captures_payloads());
    let key_in_prompt = "sk-proj-PLANTEDsecret0123456789abcdef";
    call.request_payload_owned(serde_json::json!({"messages": [{"content": key_in_prompt}]}));
    // Not JSON-serializable (a map with non-string keys): stored as the error, not lost.
    let bad: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
    call.response_payload_owned(bad);
    let id = call.trace_id().unwrap();
    call.finish(FinishReason::Stop);
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.response_payload_owned(vec!["x".repeat(600), "y".repeat(600)]);
    let cut_id = call.trace_id().unwrap();
    call.finish(FinishReason::Stop);
    tracer.flush().unwrap();

    let store = PayloadStore::open(&config).unwrap().unwrap();
    let payload = store.fetch(&id).unwrap().unwrap();
    assert_eq!(payload["request"]["messages"][0]["content"], "[REDACTED:api_key]");
    let response = payload["response"].as_str().unwrap();
    assert!(response.starts_with("<unserializable: "), "{response}");
    let cut = store.fetch(&cut_id).unwrap().unwrap();
    assert!(cut["response"].as_str().unwrap().len() <= 1000);
    assert_eq!(cut["truncated"]["response_original_bytes"], 1 + 602 + 1 + 602 + 1);
    assert_eq!(tracer.stats().payloads_written, 2);
}

#[test]
fn without_a_payload_store_owned_payloads_are_dropped_at_once() {
    let memory = llm_trace_core::sink::MemorySink::new();
    let tracer = Tracer::builder().sink(memory.clone()).build().unwrap();
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    assert!(!call.captures_payloads());
    call.request_payload_owned(serde_json::json!({"messages": []}));
    call.finish(FinishReason::Stop);
    tracer.flush().unwrap();
    assert_eq!(memory.traces()[0].payload, None);
}
