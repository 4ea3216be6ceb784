//! Payloads in S3, against a real S3-compatible server (moto) on 127.0.0.1; and a store that
//! is down never affects the call and is counted.
//!
//! The test starts `moto_server` itself (`pip install "moto[server]"`; `.ci/run` installs it).
//! Without it the S3 round trip is skipped with a message, unless `LLM_TRACE_REQUIRE_MOTO` is
//! set (as CI does), which turns the absence into a failure.
#![cfg(feature = "s3")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, s3_config};
use llm_trace_core::payload::{PayloadStore, key};
use llm_trace_core::{FinishReason, LlmTrace, Tracer, Usage};

struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Option<Moto> {
    let port = free_port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            assert!(
                std::env::var_os("LLM_TRACE_REQUIRE_MOTO").is_none(),
                "moto_server is required (LLM_TRACE_REQUIRE_MOTO is set) but cannot start: {e}"
            );
            eprintln!(
                "SKIPPED: moto_server not found ({e}); pip install \"moto[server]\" to run this test"
            );
            return None;
        }
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let moto = Moto { child, addr };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

/// object_store cannot create buckets: do it with a plain HTTP PUT (moto accepts unsigned
/// requests).
fn create_bucket(addr: SocketAddr, bucket: &str) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

fn call(tracer: &Tracer) -> (llm_trace_core::TraceId, u64) {
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.request_payload(&serde_json::json!({"messages": [{"role": "user", "content": "hi"}]}));
    call.response_payload(&serde_json::json!({"choices": [{"message": {"content": "hello"}}]}));
    call.usage(Usage::new(10, 2));
    let id = call.trace_id().unwrap();
    call.finish(FinishReason::Stop);
    (id, 42)
}

#[test]
fn payloads_round_trip_through_s3() {
    let Some(moto) = start_moto() else { return };
    create_bucket(moto.addr, "llm-traces");
    let dir = tempfile::tempdir().unwrap();
    let config =
        s3_config(dir.path(), &format!("http://{}", moto.addr), "s3://llm-traces/team-a/payloads");
    let tracer = Tracer::new(config.clone()).unwrap();
    let ids: Vec<_> = (0..20).map(|_| call(&tracer).0).collect();
    tracer.flush().unwrap();
    assert_eq!(tracer.stats().payloads_written, 20);
    assert_eq!(tracer.stats().payloads_failed, 0);

    let store = PayloadStore::open(&config).unwrap().unwrap();
    for id in &ids {
        let payload = store.fetch(id).unwrap().expect("stored in S3");
        assert_eq!(payload["response"]["choices"][0]["message"]["content"], "hello");
    }
    // The objects are under the URL's prefix, at the key the log records.
    let endpoint = format!("http://{}", moto.addr);
    let elsewhere = s3_config(dir.path(), &endpoint, "s3://llm-traces/team-a");
    let parent = PayloadStore::open(&elsewhere).unwrap().unwrap();
    assert_eq!(parent.fetch(&ids[0]).unwrap(), None);
    let log: Vec<LlmTrace> = std::fs::read_to_string(config.log_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log[0].payload.as_deref(), Some(key(&ids[0]).as_str()));
}

#[test]
fn an_unreachable_store_never_affects_the_call_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", free_port()); // nothing listens there
    let mut config = s3_config(dir.path(), &endpoint, "s3://nowhere/p");
    config.shutdown_timeout = Duration::from_secs(60);
    let tracer = Tracer::new(config.clone()).unwrap();
    let started = Instant::now();
    let results: Vec<u64> = (0..5).map(|_| call(&tracer).1).collect();
    assert_eq!(results, [42; 5]);
    assert!(started.elapsed() < Duration::from_secs(1), "the calls never wait for the store");
    tracer.flush().unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.payloads_failed, 5, "{stats:?}");
    assert_eq!(stats.written, 5, "the log is complete");
    let log: Vec<LlmTrace> = std::fs::read_to_string(config.log_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log.len(), 5);
}
