//! What the integration tests of S3 payloads share: a free local port and the configuration
//! of a payload store in an S3-compatible server on 127.0.0.1.

use std::net::TcpListener;

use llm_trace_core::{Config, Payloads};

/// A port nothing listens on (just now).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Logs in `dir`, payloads at `url` (`s3://bucket/prefix`) in the S3-compatible server at
/// `endpoint` (plain HTTP, moto's test credentials).
pub(crate) fn s3_config(dir: &std::path::Path, endpoint: &str, url: &str) -> Config {
    let mut config = Config::default();
    config.dir = dir.to_path_buf();
    config.payloads = Payloads::Url(url.into());
    config.payload_options = [
        ("aws_endpoint", endpoint),
        ("aws_allow_http", "true"),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
        ("aws_region", "us-east-1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    config
}
