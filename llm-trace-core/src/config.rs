//! Configuration: what [`Config::default`] gives and what [`Config::from_env`] reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::redact::Redaction;

/// Everything a tracer needs to know. `Config::default()` works with no setup; every field is
/// public, so change what you need:
///
/// ```
/// use llm_trace_core::{Config, Overflow};
///
/// let mut config = Config::default();
/// config.dir = "./my-traces".into();
/// config.preview_chars = 80;
/// config.overflow = Overflow::Drop;
/// assert_eq!(config.log_path(), std::path::Path::new("./my-traces/traces.jsonl"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Folder of `traces.jsonl` and its rotated files (`LLM_TRACE_DIR`, default
    /// `./llm-traces`).
    pub dir: PathBuf,
    /// Default session id; a new UUIDv7 per tracer when `None` (`LLM_TRACE_SESSION`).
    pub session_id: Option<String>,
    /// Where full request/response payloads go (`LLM_TRACE_PAYLOADS`).
    pub payloads: Payloads,
    /// Largest request or response payload kept, in bytes of JSON (default 1 MiB); larger
    /// ones are cut, and the original size is recorded in the payload document.
    pub payload_max_bytes: usize,
    /// Settings for an object-store payload URL, applied after the environment variables:
    /// object_store's keys, e.g. `("aws_endpoint", "http://127.0.0.1:9000")`,
    /// `("aws_allow_http", "true")`, `("google_service_account", "/path/key.json")`.
    pub payload_options: Vec<(String, String)>,
    /// Length of `input_preview` / `output_preview` in characters
    /// (`LLM_TRACE_PREVIEW_CHARS`, default 200).
    pub preview_chars: usize,
    /// Fraction of calls written to the log, 0..=1, decided by trace id; failed calls are
    /// always kept and the summary counts every call (`LLM_TRACE_SAMPLE_RATE`, default 1).
    pub sample_rate: f64,
    /// A price file (own format or LiteLLM's) extending the built-in table
    /// (`LLM_TRACE_PRICES`).
    pub prices: Option<PathBuf>,
    /// Capacity of the queue between callers and the background writer
    /// (`LLM_TRACE_QUEUE`, default 65536).
    pub queue_capacity: usize,
    /// What a call does when the queue is full (`LLM_TRACE_OVERFLOW`, default `wait`).
    pub overflow: Overflow,
    /// The longest a call waits for room in a full queue under [`Overflow::Wait`] (default
    /// 5 s) before the trace is dropped and counted.
    pub max_wait: Duration,
    /// Size-based rotation of the JSON-lines log; off by default.
    pub rotation: Option<Rotation>,
    /// How often the background writer flushes its sinks while traces keep coming.
    pub flush_interval: Duration,
    /// How long [`flush`](crate::Tracer::flush) and the guard's shutdown wait for the
    /// background writer before giving up and reporting what was not written.
    pub shutdown_timeout: Duration,
    /// OpenTelemetry export settings (the standard `OTEL_*` variables).
    pub otlp: OtlpConfig,
    /// What is redacted from previews, error messages and payloads before they are kept.
    pub redaction: Redaction,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dir: PathBuf::from(DEFAULT_DIR),
            session_id: None,
            payloads: Payloads::Default,
            payload_max_bytes: 1 << 20,
            payload_options: Vec::new(),
            preview_chars: 200,
            sample_rate: 1.0,
            prices: None,
            queue_capacity: 65_536,
            overflow: Overflow::default(),
            max_wait: Duration::from_secs(5),
            rotation: None,
            flush_interval: Duration::from_millis(500),
            shutdown_timeout: Duration::from_secs(5),
            otlp: OtlpConfig::default(),
            redaction: Redaction::default(),
        }
    }
}

/// The default log folder.
pub const DEFAULT_DIR: &str = "./llm-traces";

/// File name of the JSON-lines log inside [`Config::dir`].
pub const LOG_FILE: &str = "traces.jsonl";

impl Config {
    /// `Config::default()` overlaid with the `LLM_TRACE_*` and `OTEL_*` environment
    /// variables. A bad value is an error naming the variable.
    ///
    /// ```
    /// // With no variables set this is the default configuration.
    /// let config = llm_trace_core::Config::from_env()?;
    /// # Ok::<(), llm_trace_core::Error>(())
    /// ```
    pub fn from_env() -> Result<Config, Error> {
        let mut config = Config::from_vars(|name| {
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
        })?;
        // Paths are taken as the OS gives them, so a folder whose name is not UTF-8 is still
        // the folder named (the lossy text above would name another).
        let path = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(dir) = path("LLM_TRACE_DIR") {
            config.dir = dir;
        }
        if let Some(prices) = path("LLM_TRACE_PRICES") {
            config.prices = Some(prices);
        }
        if let (Payloads::Dir(_), Some(dir)) = (&config.payloads, path("LLM_TRACE_PAYLOADS")) {
            config.payloads = Payloads::Dir(dir);
        }
        Ok(config)
    }

    /// Like [`from_env`](Self::from_env), reading variables through `var` (for tests and for
    /// settings kept elsewhere).
    ///
    /// ```
    /// use llm_trace_core::Config;
    ///
    /// let config = Config::from_vars(|name| match name {
    ///     "LLM_TRACE_PREVIEW_CHARS" => Some("64".to_owned()),
    ///     _ => None,
    /// })?;
    /// assert_eq!(config.preview_chars, 64);
    ///
    /// let err = Config::from_vars(|name| (name == "LLM_TRACE_SAMPLE_RATE").then(|| "2".to_owned()))
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("LLM_TRACE_SAMPLE_RATE"));
    /// # Ok::<(), llm_trace_core::Error>(())
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let mut config = Config::default();
        let get =
            |name: &'static str| var(name).filter(|v| !v.trim().is_empty()).map(|v| (name, v));

        if let Some((_, dir)) = get("LLM_TRACE_DIR") {
            config.dir = PathBuf::from(dir);
        }
        if let Some((_, session)) = get("LLM_TRACE_SESSION") {
            config.session_id = Some(session.trim().to_owned());
        }
        if let Some((name, value)) = get("LLM_TRACE_PAYLOADS") {
            config.payloads =
                Payloads::parse(&value).map_err(|reason| bad(name, &value, reason))?;
        }
        if let Some((name, value)) = get("LLM_TRACE_PREVIEW_CHARS") {
            config.preview_chars = value
                .trim()
                .parse()
                .ok()
                .filter(|&n: &usize| n <= MAX_PREVIEW_CHARS)
                .ok_or_else(|| {
                    bad(
                        name,
                        &value,
                        format!(
                            "expected a whole number of characters up to {MAX_PREVIEW_CHARS}, e.g. 200"
                        ),
                    )
                })?;
        }
        if let Some((name, value)) = get("LLM_TRACE_SAMPLE_RATE") {
            let rate: f64 = value
                .trim()
                .parse()
                .map_err(|_| bad(name, &value, "expected a number from 0 to 1, e.g. 0.25"))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(bad(name, &value, "expected a number from 0 to 1, e.g. 0.25"));
            }
            config.sample_rate = rate;
        }
        if let Some((_, path)) = get("LLM_TRACE_PRICES") {
            config.prices = Some(PathBuf::from(path));
        }
        if let Some((name, value)) = get("LLM_TRACE_QUEUE") {
            config.queue_capacity = value
                .trim()
                .parse()
                .ok()
                .filter(|n: &usize| (1..=MAX_QUEUE_CAPACITY).contains(n))
                .ok_or_else(|| bad(name, &value, queue_capacity_expected()))?;
        }
        if let Some((name, value)) = get("LLM_TRACE_OVERFLOW") {
            config.overflow = match value.trim() {
                "wait" => Overflow::Wait,
                "drop" => Overflow::Drop,
                _ => return Err(bad(name, &value, "expected `wait` or `drop`")),
            };
        }
        config.otlp.endpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT").map(|(_, v)| v.trim().to_owned());
        config.otlp.traces_endpoint =
            get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").map(|(_, v)| v.trim().to_owned());
        if let Some((name, value)) = get("OTEL_EXPORTER_OTLP_HEADERS") {
            config.otlp.headers =
                parse_pairs(&value).map_err(|reason| bad(name, "<hidden>", reason))?;
        }
        // Another protocol would send protobuf over HTTP to a port that speaks gRPC or JSON,
        // and every export would fail. Checked only when exporting: the variables may be set
        // for other programs.
        let exporting = config.otlp.endpoint.is_some() || config.otlp.traces_endpoint.is_some();
        if let Some((name, value)) =
            get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            if exporting && value.trim() != "http/protobuf" {
                return Err(bad(
                    name,
                    &value,
                    "llm-trace exports OTLP as `http/protobuf` only (to the collector's HTTP \
                     port, usually 4318): set that, or unset the variable",
                ));
            }
        }
        config.otlp.service_name = get("OTEL_SERVICE_NAME").map(|(_, v)| v.trim().to_owned());
        if let Some((name, value)) = get("OTEL_RESOURCE_ATTRIBUTES") {
            config.otlp.resource_attributes =
                parse_pairs(&value).map_err(|reason| bad(name, &value, reason))?;
        }
        if let Some((name, value)) =
            get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").or_else(|| get("OTEL_EXPORTER_OTLP_TIMEOUT"))
        {
            config.otlp.timeout = match value.trim().parse::<u64>() {
                Ok(millis) if millis > 0 => Some(Duration::from_millis(millis)),
                _ => {
                    return Err(bad(
                        name,
                        &value,
                        "expected a whole number of milliseconds above 0",
                    ));
                }
            };
        }
        Ok(config)
    }

    /// Path of the JSON-lines log: `{dir}/traces.jsonl`.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// Checks values that cannot be checked by their type alone.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (setting, value) in
            [("flush_interval", self.flush_interval), ("shutdown_timeout", self.shutdown_timeout)]
        {
            if value.is_zero() {
                return Err(Error::Config {
                    setting,
                    value: "0".into(),
                    reason: "expected a duration above 0".into(),
                });
            }
        }
        if !(0.0..=1.0).contains(&self.sample_rate) {
            return Err(Error::Config {
                setting: "sample_rate",
                value: self.sample_rate.to_string(),
                reason: "expected a number from 0 to 1".into(),
            });
        }
        if !(1..=MAX_QUEUE_CAPACITY).contains(&self.queue_capacity) {
            return Err(Error::Config {
                setting: "queue_capacity",
                value: self.queue_capacity.to_string(),
                reason: queue_capacity_expected(),
            });
        }
        if self.preview_chars > MAX_PREVIEW_CHARS {
            return Err(Error::Config {
                setting: "preview_chars",
                value: self.preview_chars.to_string(),
                reason: format!("expected at most {MAX_PREVIEW_CHARS} characters"),
            });
        }
        if let Some(rotation) = &self.rotation {
            if rotation.max_bytes == 0 || rotation.keep == 0 {
                return Err(Error::Config {
                    setting: "rotation",
                    value: format!("{rotation:?}"),
                    reason: "max_bytes and keep must both be above 0".into(),
                });
            }
        }
        Ok(())
    }
}

/// The largest queue capacity accepted: the queue is allocated up front (24 bytes a slot, so
/// 400 MB at this size), and a larger one would make the tracer's start abort the process.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;

/// The longest preview accepted, in characters (a preview is copied on the caller's thread).
pub const MAX_PREVIEW_CHARS: usize = 1_000_000;

fn queue_capacity_expected() -> String {
    format!("expected a queue capacity from 1 to {MAX_QUEUE_CAPACITY}, e.g. 65536")
}

fn bad(variable: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::Config { setting: variable, value: value.to_owned(), reason: reason.into() }
}

/// `k1=v1,k2=v2` with percent-encoded values, as the OpenTelemetry specification defines
/// for headers and resource attributes.
fn parse_pairs(value: &str) -> Result<Vec<(String, String)>, String> {
    value
        .split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (key, val) = pair
                .split_once('=')
                .ok_or_else(|| "expected comma-separated key=value pairs".to_owned())?;
            let key = key.trim();
            if key.is_empty() {
                return Err("a pair has an empty key".to_owned());
            }
            Ok((key.to_owned(), percent_decode(val.trim())?))
        })
        .collect()
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or("a `%` is not followed by two hex digits")?;
            out.push(
                u8::from_str_radix(hex, 16)
                    .map_err(|_| "a `%` is not followed by two hex digits")?,
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a percent-encoded value is not UTF-8".to_owned())
}

/// Where full payloads are stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Payloads {
    /// `{dir}/payloads`.
    #[default]
    Default,
    /// Not stored (`LLM_TRACE_PAYLOADS=off`).
    Off,
    /// A local folder.
    Dir(PathBuf),
    /// An object-store URL: `s3://bucket/prefix`, `gs://…`, `az://…`.
    Url(String),
}

impl Payloads {
    fn parse(value: &str) -> Result<Payloads, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(Payloads::Off);
        }
        match value.split_once("://") {
            Some(("s3" | "gs" | "az" | "azure" | "abfs", "")) => Err(format!(
                "`{value}` names no bucket or container: write it as {value}bucket/prefix"
            )),
            Some(("s3" | "gs" | "az" | "azure" | "abfs", _)) => Ok(Payloads::Url(value.to_owned())),
            Some((scheme, _)) => Err(format!(
                "unsupported scheme `{scheme}://`: expected `off`, a folder, s3://, gs:// or az://"
            )),
            None => Ok(Payloads::Dir(PathBuf::from(value))),
        }
    }

    /// The local folder payloads go to, if they go to one.
    pub fn local_dir(&self, log_dir: &Path) -> Option<PathBuf> {
        match self {
            Payloads::Default => Some(log_dir.join("payloads")),
            Payloads::Dir(dir) => Some(dir.clone()),
            Payloads::Off | Payloads::Url(_) => None,
        }
    }
}

/// What a traced call does when the queue to the background writer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait for room, up to [`Config::max_wait`]. Nothing is lost while the writer keeps up
    /// at all; only a writer stuck for that long makes a call give up, and that trace is
    /// counted in [`Stats::dropped`](crate::Stats::dropped). The default.
    #[default]
    Wait,
    /// Never wait: drop the trace and count it in [`Stats::dropped`](crate::Stats::dropped).
    Drop,
}

/// Size-based rotation of the JSON-lines log: when `traces.jsonl` would grow past
/// `max_bytes`, it becomes `traces.jsonl.1` (older files shift to `.2`, `.3`, …) and a new
/// file is started; at most `keep` rotated files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Size at which the log is rotated.
    pub max_bytes: u64,
    /// How many rotated files to keep.
    pub keep: usize,
}

/// OpenTelemetry export settings, from the standard variables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OtlpConfig {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL; `/v1/traces` is appended.
    pub endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: full URL of the traces endpoint.
    pub traces_endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_HEADERS`: extra request headers.
    pub headers: Vec<(String, String)>,
    /// `OTEL_SERVICE_NAME`.
    pub service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs added to the exported resource
    /// (`deployment.environment`, `service.version`, …). A `service.name` here is used when
    /// `OTEL_SERVICE_NAME` is not set, as the specification says.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds):
    /// the longest one batch may take to export, in place of
    /// `OtlpOptions::timeout`'s default (feature `otlp`; the tracer
    /// still caps it at its shutdown timeout).
    pub timeout: Option<Duration>,
}

impl OtlpConfig {
    /// The URL traces are posted to, if export is configured.
    pub fn traces_url(&self) -> Option<String> {
        if let Some(url) = &self.traces_endpoint {
            return Some(url.clone());
        }
        self.endpoint.as_ref().map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_design() {
        let config = from(&[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.dir, Path::new("./llm-traces"));
        assert_eq!(config.log_path(), Path::new("./llm-traces/traces.jsonl"));
        assert_eq!(config.session_id, None);
        assert_eq!(
            config.payloads.local_dir(&config.dir),
            Some(PathBuf::from("./llm-traces/payloads"))
        );
        assert_eq!(config.preview_chars, 200);
        assert_eq!(config.sample_rate, 1.0);
        assert_eq!(config.prices, None);
        assert_eq!(config.queue_capacity, 65_536);
        assert_eq!(config.overflow, Overflow::Wait);
        assert_eq!(config.otlp.traces_url(), None);
    }

    #[test]
    fn every_variable_is_read() {
        let config = from(&[
            ("LLM_TRACE_DIR", "/tmp/t"),
            ("LLM_TRACE_SESSION", "run-7"),
            ("LLM_TRACE_PAYLOADS", "s3://bucket/prefix"),
            ("LLM_TRACE_PREVIEW_CHARS", "50"),
            ("LLM_TRACE_SAMPLE_RATE", "0.25"),
            ("LLM_TRACE_PRICES", "prices.json"),
            ("LLM_TRACE_QUEUE", "1024"),
            ("LLM_TRACE_OVERFLOW", "drop"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=abc%3D,team=ml"),
            ("OTEL_SERVICE_NAME", "support-bot"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,service.version=1.4%2C2"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ])
        .unwrap();
        assert_eq!(config.dir, Path::new("/tmp/t"));
        assert_eq!(config.session_id.as_deref(), Some("run-7"));
        assert_eq!(config.payloads, Payloads::Url("s3://bucket/prefix".into()));
        assert_eq!(config.preview_chars, 50);
        assert_eq!(config.sample_rate, 0.25);
        assert_eq!(config.prices.as_deref(), Some(Path::new("prices.json")));
        assert_eq!(config.queue_capacity, 1024);
        assert_eq!(config.overflow, Overflow::Drop);
        assert_eq!(config.otlp.traces_url().as_deref(), Some("http://127.0.0.1:4318/v1/traces"));
        assert_eq!(
            config.otlp.headers,
            [("x-api-key".to_owned(), "abc=".to_owned()), ("team".to_owned(), "ml".to_owned())]
        );
        assert_eq!(config.otlp.service_name.as_deref(), Some("support-bot"));
        assert_eq!(
            config.otlp.resource_attributes,
            [
                ("deployment.environment".to_owned(), "prod".to_owned()),
                ("service.version".to_owned(), "1.4,2".to_owned()),
            ]
        );
        assert_eq!(config.otlp.timeout, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn an_otlp_protocol_other_than_http_protobuf_is_refused_when_exporting() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        for bad in ["grpc", "http/json"] {
            let err = from(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", bad)]).unwrap_err();
            let err = err.to_string();
            assert!(err.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && err.contains(bad), "{err}");
            assert!(err.contains("http/protobuf"), "{err}");
        }
        // The traces-specific variable wins; either may say what llm-trace does.
        let traces = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf");
        assert!(from(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), traces]).is_ok());
        let err = from(&[endpoint, ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")]).unwrap_err();
        assert!(err.to_string().contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), "{err}");
        assert!(from(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", " http/protobuf ")]).is_ok());
        // Not exporting: set for other programs, and none of llm-trace's business.
        assert!(from(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).is_ok());
    }

    #[test]
    fn otlp_timeouts_and_resource_attributes() {
        let otlp = |vars: &[(&str, &str)]| from(vars).map(|c| c.otlp);
        // The traces-specific timeout wins over the general one.
        let both = otlp(&[
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
        ]);
        assert_eq!(both.unwrap().timeout, Some(Duration::from_millis(700)));
        assert_eq!(otlp(&[]).unwrap().timeout, None);
        for bad in ["0", "-5", "1.5", "10s", "soon"] {
            let err = otlp(&[("OTEL_EXPORTER_OTLP_TIMEOUT", bad)]).unwrap_err().to_string();
            assert!(err.contains("OTEL_EXPORTER_OTLP_TIMEOUT") && err.contains(bad), "{err}");
            assert!(err.contains("milliseconds"), "{err}");
        }
        let err = otlp(&[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "x")]).unwrap_err().to_string();
        assert!(err.contains("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"), "{err}");
        for bad in ["team", "=ml", "team=%G1"] {
            let err = otlp(&[("OTEL_RESOURCE_ATTRIBUTES", bad)]).unwrap_err().to_string();
            assert!(err.contains("OTEL_RESOURCE_ATTRIBUTES") && err.contains(bad), "{err}");
            assert!(!err.contains("header"), "{err}");
        }
        let spaced = otlp(&[("OTEL_RESOURCE_ATTRIBUTES", " team = ml , ,region=eu ")]).unwrap();
        assert_eq!(
            spaced.resource_attributes,
            [("team".to_owned(), "ml".to_owned()), ("region".to_owned(), "eu".to_owned())]
        );
    }

    #[test]
    fn payload_settings() {
        let payloads = |v| from(&[("LLM_TRACE_PAYLOADS", v)]).map(|c| c.payloads);
        assert_eq!(payloads("off").unwrap(), Payloads::Off);
        assert_eq!(payloads("/data/p").unwrap(), Payloads::Dir("/data/p".into()));
        assert_eq!(payloads("gs://b/p").unwrap(), Payloads::Url("gs://b/p".into()));
        let err = payloads("ftp://host/x").unwrap_err().to_string();
        assert!(err.contains("LLM_TRACE_PAYLOADS") && err.contains("ftp://"), "{err}");
        assert_eq!(payloads("OFF").unwrap(), Payloads::Off);
        let err = payloads("s3://").unwrap_err().to_string();
        assert!(err.contains("names no bucket") && err.contains("s3://bucket/prefix"), "{err}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("LLM_TRACE_PREVIEW_CHARS", "lots"),
            ("LLM_TRACE_PREVIEW_CHARS", "-1"),
            ("LLM_TRACE_SAMPLE_RATE", "1.5"),
            ("LLM_TRACE_SAMPLE_RATE", "NaN"),
            ("LLM_TRACE_SAMPLE_RATE", "half"),
            ("LLM_TRACE_QUEUE", "0"),
            ("LLM_TRACE_QUEUE", "big"),
            ("LLM_TRACE_OVERFLOW", "block"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz"),
        ] {
            let err = from(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn header_values_are_not_echoed_in_errors() {
        let err = from(&[("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%zzsecret")])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn zero_durations_are_refused() {
        let config = Config { flush_interval: Duration::ZERO, ..Config::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("flush_interval"), "{err}");
    }

    #[test]
    fn empty_variables_are_ignored() {
        assert_eq!(
            from(&[("LLM_TRACE_DIR", ""), ("LLM_TRACE_QUEUE", " ")]).unwrap(),
            Config::default()
        );
    }
}
