//! OpenTelemetry export: every trace becomes one span, posted over OTLP/HTTP as protobuf.
//!
//! The protobuf messages are encoded here ([`proto`], [`encode`]) rather than with generated
//! code: the handful of OTLP trace messages needed is small, and a code generator would cost
//! more compile time than the whole sink.

mod encode;
mod http;
mod proto;

use std::borrow::Cow;
use std::time::{Duration, Instant};

use ::ureq::http::{HeaderName, HeaderValue, Uri};

use self::encode::Encoder;
use self::http::Exporter;
use super::{Sink, SinkError};
use crate::config::OtlpConfig;
use crate::error::Error;
use crate::trace::LlmTrace;

/// Most spans put in one export request; larger batches are sent as several requests.
const MAX_SPANS_PER_REQUEST: usize = 512;

/// Exports every trace as an OpenTelemetry span to an OTLP/HTTP collector (feature `otlp`).
///
/// Each [`LlmTrace`] becomes one span of kind `CLIENT` named `{operation} {model}`, starting
/// at the record's `timestamp` and lasting `latency_ms`, whose trace id is the record's
/// UUIDv7 (so `llm-trace show <id>` and the tracing backend agree) and whose span id is that
/// id's last 8 bytes. Failed calls get status `ERROR` with the error kind as message and the
/// `error.type` attribute. Attributes follow the OpenTelemetry GenAI semantic conventions,
/// with the same names as the `tracing` span of each call:
///
/// | attribute | type | from |
/// |---|---|---|
/// | `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model` | string | `operation`, `provider`, `model` |
/// | `gen_ai.response.model` | string | `response_model`, when known |
/// | `gen_ai.request.temperature` | double | `temperature`, when set |
/// | `gen_ai.request.max_tokens` | int | `max_tokens`, when set |
/// | `gen_ai.response.finish_reasons` | string array | `[finish_reason]` |
/// | `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` | int | `prompt_tokens`, `completion_tokens`, unless no usage is known (`usage_source` is `none`) |
/// | `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.reasoning.output_tokens` | int | `cached_tokens`, `reasoning_tokens`, when known |
/// | `gen_ai.conversation.id` | string | `session_id` |
/// | `gen_ai.response.time_to_first_chunk` | double | `ttft_ms`, in seconds |
/// | `error.type`, `http.response.status_code` | string, int | the error's kind and HTTP status |
/// | `llm_trace.function_name` | string | `function_name` |
/// | `llm_trace.call_path`, `llm_trace.tags` | string array | `call_path`, `tags`, when not empty |
/// | `llm_trace.cost_usd` | double | `cost_usd`, when priced |
/// | `llm_trace.payload` | string | `payload`, when stored |
/// | `llm_trace.metadata.{key}` | by value | `metadata`: strings, numbers and booleans keep their type, arrays and objects become JSON text |
/// | `gen_ai.input.messages`, `gen_ai.output.messages` | string (JSON) | the previews, only with [`OtlpOptions::export_content`] |
///
/// The resource carries `service.name` ([`OtlpConfig::service_name`], by default
/// `unknown_service:{executable}`) and `telemetry.sdk.{name,language,version}`
/// (`llm-trace`, `rust`, this crate's version); the instrumentation scope is `llm-trace`.
///
/// Each batch the tracer's writer hands over is posted as one request (up to 512 spans per
/// request) to [`OtlpConfig::traces_url`] with the configured headers, on the writer thread.
/// A collector that answers 429, 502, 503 or 504 is retried (twice by default, after its
/// `Retry-After` or a short backoff); anything else, a refused connection or a collector that
/// does not answer within [`OtlpOptions::timeout`] fails the batch: the tracer counts it in
/// [`Stats::sink_errors`](crate::Stats::sink_errors) and warns (rate limited), and the other
/// sinks are not affected. No write takes longer than the timeout, retries included.
///
/// `http://` endpoints work with the `otlp` feature alone; `https://` needs
/// `otlp-native-tls` (the system's OpenSSL and root certificates) or `otlp-rustls`.
///
/// ```
/// use llm_trace_core::{config::OtlpConfig, sink::{MemorySink, OtlpOptions, OtlpSink}, Tracer};
///
/// let mut otlp = OtlpConfig::default();
/// otlp.endpoint = Some("http://127.0.0.1:4318".into()); // usually OTEL_EXPORTER_OTLP_ENDPOINT
/// otlp.headers.push(("x-api-key".into(), "secret".into()));
/// otlp.service_name = Some("support-bot".into());
///
/// let sink = OtlpSink::new(&otlp, OtlpOptions::default())?; // nothing is sent yet
/// assert_eq!(sink.url(), "http://127.0.0.1:4318/v1/traces");
/// let tracer = Tracer::builder().sink(MemorySink::new()).sink(sink).build()?;
/// # Ok::<(), llm_trace_core::Error>(())
/// ```
pub struct OtlpSink {
    encoder: Encoder,
    exporter: Exporter,
    timeout: Duration,
    /// After a write ran out of time, writes are skipped until then: a collector that does not
    /// answer must not stall the tracer's writer for a whole timeout on every batch.
    paused_until: Option<Instant>,
    /// The current pause: 1 s after the first slow failure, doubling to 60 s.
    pause: Duration,
}

impl std::fmt::Debug for OtlpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpSink")
            .field("exporter", &self.exporter)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How an [`OtlpSink`] exports, beyond where to (which [`OtlpConfig`] says).
///
/// ```
/// use std::time::Duration;
/// use llm_trace_core::sink::OtlpOptions;
///
/// let mut options = OtlpOptions::default();
/// assert_eq!(options.timeout, Duration::from_secs(10));
/// options.timeout = Duration::from_secs(2);
/// options.export_content = true; // send the input and output previews too
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpOptions {
    /// The longest one batch may take to export, retries and waits included (default 10 s).
    pub timeout: Duration,
    /// How many times a request is retried when the collector answers 429, 502, 503 or 504
    /// (default 2).
    pub max_retries: u32,
    /// Whether message contents are exported: the input and output previews (redacted and
    /// cut to [`Config::preview_chars`](crate::Config::preview_chars)) become
    /// `gen_ai.input.messages` and `gen_ai.output.messages`, JSON in the shape of the GenAI
    /// semantic conventions: `[{"role":"user","parts":[{"type":"text","content":"…"}]}]` and
    /// `[{"role":"assistant","parts":[{"type":"text","content":"…"}],"finish_reason":"stop"}]`.
    /// Off by default: contents often hold personal data, and backends index attributes.
    pub export_content: bool,
}

impl Default for OtlpOptions {
    fn default() -> Self {
        OtlpOptions { timeout: Duration::from_secs(10), max_retries: 2, export_content: false }
    }
}

impl OtlpOptions {
    /// The default options, with `config`'s timeout when it has one.
    pub(crate) fn for_config(config: &OtlpConfig) -> OtlpOptions {
        let mut options = OtlpOptions::default();
        if let Some(timeout) = config.timeout {
            options.timeout = timeout;
        }
        options
    }
}

impl OtlpSink {
    /// A sink posting to `config`'s [`traces_url`](OtlpConfig::traces_url) with its headers
    /// and service name. Sends nothing until traces arrive.
    ///
    /// Fails, naming the setting, when no endpoint is configured, when the URL is not an
    /// `http://` or `https://` URL (or is `https://` without a TLS feature), or when a header
    /// is not a valid HTTP header.
    ///
    /// ```
    /// use llm_trace_core::{config::OtlpConfig, sink::{OtlpOptions, OtlpSink}};
    ///
    /// let mut otlp = OtlpConfig::default();
    /// assert!(OtlpSink::new(&otlp, OtlpOptions::default()).is_err()); // no endpoint
    /// otlp.traces_endpoint = Some("http://127.0.0.1:4318/custom/traces".into());
    /// let sink = OtlpSink::new(&otlp, OtlpOptions::default())?;
    /// assert_eq!(sink.url(), "http://127.0.0.1:4318/custom/traces");
    /// # Ok::<(), llm_trace_core::Error>(())
    /// ```
    pub fn new(config: &OtlpConfig, options: OtlpOptions) -> Result<OtlpSink, Error> {
        let setting = if config.traces_endpoint.is_some() {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        } else {
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        };
        let bad = |value: &str, reason: &str| Error::Config {
            setting,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let url = config.traces_url().ok_or_else(|| {
            bad("", "no OTLP endpoint is configured (e.g. http://localhost:4318)")
        })?;
        let uri: Uri = url.parse().map_err(|_| bad(&url, "not a URL"))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad(&url, "expected a URL such as http://localhost:4318"));
        }
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") if cfg!(any(feature = "otlp-native-tls", feature = "otlp-rustls")) => {}
            Some("https") => {
                return Err(bad(
                    &url,
                    "https:// needs the `otlp-native-tls` or `otlp-rustls` feature of llm-trace",
                ));
            }
            _ => return Err(bad(&url, "expected an http:// or https:// URL")),
        }
        let headers = config
            .headers
            .iter()
            .map(|(name, value)| {
                let invalid = |reason: &str| Error::Config {
                    setting: "OTEL_EXPORTER_OTLP_HEADERS",
                    value: name.clone(), // never the value: headers carry credentials
                    reason: reason.to_owned(),
                };
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| invalid("not a valid HTTP header name"))?;
                let mut value = HeaderValue::from_str(value)
                    .map_err(|_| invalid("the value is not a valid HTTP header value"))?;
                value.set_sensitive(true);
                Ok((name, value))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let service_name = service_name(config);
        Ok(OtlpSink {
            encoder: Encoder::new(
                &service_name,
                &config.resource_attributes,
                options.export_content,
            ),
            exporter: Exporter::new(url, headers, options.max_retries),
            timeout: options.timeout,
            paused_until: None,
            pause: Duration::ZERO,
        })
    }

    /// [`new`](Self::new) with default options (but `config`'s timeout, if it has one) when
    /// `config` names an endpoint, `None` when it does not (OpenTelemetry export is off).
    ///
    /// ```
    /// use llm_trace_core::{config::OtlpConfig, sink::OtlpSink};
    ///
    /// assert!(OtlpSink::from_config(&OtlpConfig::default())?.is_none());
    /// # Ok::<(), llm_trace_core::Error>(())
    /// ```
    pub fn from_config(config: &OtlpConfig) -> Result<Option<OtlpSink>, Error> {
        if config.traces_url().is_none() {
            return Ok(None);
        }
        OtlpSink::new(config, OtlpOptions::for_config(config)).map(Some)
    }

    /// The URL spans are posted to.
    ///
    /// ```
    /// # use llm_trace_core::{config::OtlpConfig, sink::{OtlpOptions, OtlpSink}};
    /// # let mut otlp = OtlpConfig::default();
    /// otlp.endpoint = Some("http://127.0.0.1:4318/".into());
    /// let sink = OtlpSink::new(&otlp, OtlpOptions::default())?;
    /// assert_eq!(sink.url(), "http://127.0.0.1:4318/v1/traces");
    /// # Ok::<(), llm_trace_core::Error>(())
    /// ```
    pub fn url(&self) -> &str {
        self.exporter.url()
    }
}

/// `unknown_service:{executable name}`, as the OpenTelemetry resource SDK specifies.
/// `OTEL_SERVICE_NAME`, else a `service.name` among `OTEL_RESOURCE_ATTRIBUTES`, else
/// `unknown_service:<executable>`, as the specification says.
fn service_name(config: &OtlpConfig) -> Cow<'_, str> {
    let from_attributes = config
        .resource_attributes
        .iter()
        .find_map(|(key, value)| (key == "service.name").then_some(value.as_str()));
    match config.service_name.as_deref().or(from_attributes) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(default_service_name()),
    }
}

fn default_service_name() -> String {
    let exe = std::env::current_exe().ok();
    match exe.as_deref().and_then(|p| p.file_name()) {
        Some(name) => format!("unknown_service:{}", name.to_string_lossy()),
        None => "unknown_service".to_owned(),
    }
}

impl Sink for OtlpSink {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("otlp")
    }

    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        let started = Instant::now();
        if let Some(until) = self.paused_until.filter(|until| started < *until) {
            return Err(format!(
                "{} spans not exported: the collector did not answer within {:?} recently; next attempt in {:.1} s",
                batch.len(),
                self.timeout,
                (until - started).as_secs_f64()
            )
            .into());
        }
        let result = self.export_all(batch, started + self.timeout);
        if result.is_err() && started.elapsed() >= self.timeout.mul_f64(0.9) {
            self.pause = (self.pause * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
            self.paused_until = Some(Instant::now() + self.pause);
        } else if result.is_ok() {
            self.pause = Duration::ZERO;
            self.paused_until = None;
        }
        result
    }
}

impl OtlpSink {
    fn export_all(&mut self, batch: &[Box<LlmTrace>], deadline: Instant) -> Result<(), SinkError> {
        let mut exported = 0;
        for chunk in batch.chunks(MAX_SPANS_PER_REQUEST) {
            let body = self.encoder.request(chunk);
            if let Err(error) = self.exporter.export(&body, chunk.len(), deadline) {
                if exported == 0 {
                    return Err(error);
                }
                let total = batch.len();
                return Err(format!("{error} ({exported} of {total} spans were exported)").into());
            }
            exported += chunk.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: &str) -> OtlpConfig {
        OtlpConfig { endpoint: Some(endpoint.to_owned()), ..OtlpConfig::default() }
    }

    fn error(config: &OtlpConfig) -> String {
        OtlpSink::new(config, OtlpOptions::default()).unwrap_err().to_string()
    }

    #[test]
    fn the_service_name_is_otel_service_name_then_the_resource_attributes_then_the_program() {
        let mut otlp = config("http://127.0.0.1:4318");
        assert!(service_name(&otlp).starts_with("unknown_service:"), "{}", service_name(&otlp));
        otlp.resource_attributes =
            vec![("team".into(), "ml".into()), ("service.name".into(), "from-attributes".into())];
        assert_eq!(service_name(&otlp), "from-attributes");
        otlp.service_name = Some("support-bot".into());
        assert_eq!(service_name(&otlp), "support-bot");
    }

    #[test]
    fn the_configured_timeout_replaces_the_default() {
        let mut otlp = config("http://127.0.0.1:4318");
        let sink = OtlpSink::from_config(&otlp).unwrap().unwrap();
        assert_eq!(sink.timeout, OtlpOptions::default().timeout);
        otlp.timeout = Some(Duration::from_millis(250));
        let sink = OtlpSink::from_config(&otlp).unwrap().unwrap();
        assert_eq!(sink.timeout, Duration::from_millis(250));
    }

    #[test]
    fn bad_settings_are_errors_naming_the_setting() {
        let err = error(&OtlpConfig::default());
        assert!(err.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{err}");
        let err = error(&config("localhost:4318"));
        assert!(err.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{err}");
        let err = error(&config("ftp://collector"));
        assert!(err.contains("http://"), "{err}");
        let mut traces = config("http://ok:4318");
        traces.traces_endpoint = Some("not a url".into());
        let err = error(&traces);
        assert!(err.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), "{err}");
    }

    #[test]
    fn bad_headers_are_errors_that_never_show_the_value() {
        let mut bad_value = config("http://127.0.0.1:4318");
        bad_value.headers.push(("authorization".into(), "Bearer s3cret\nx".into()));
        let err = error(&bad_value);
        assert!(err.contains("OTEL_EXPORTER_OTLP_HEADERS") && err.contains("authorization"));
        assert!(!err.contains("s3cret"), "{err}");
        let mut bad_name = config("http://127.0.0.1:4318");
        bad_name.headers.push(("bad name".into(), "v".into()));
        assert!(error(&bad_name).contains("bad name"));
    }

    #[test]
    fn https_needs_a_tls_feature() {
        let result = OtlpSink::new(&config("https://collector:4318"), OtlpOptions::default());
        if cfg!(any(feature = "otlp-native-tls", feature = "otlp-rustls")) {
            assert_eq!(result.unwrap().url(), "https://collector:4318/v1/traces");
        } else {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("otlp-native-tls"), "{err}");
        }
    }

    #[test]
    fn the_debug_form_hides_header_values() {
        let mut otlp = config("http://127.0.0.1:4318");
        otlp.headers.push(("x-api-key".into(), "s3cret".into()));
        let sink = OtlpSink::new(&otlp, OtlpOptions::default()).unwrap();
        let debug = format!("{sink:?}");
        assert!(debug.contains("x-api-key") && !debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn the_default_service_name_names_the_executable() {
        let name = default_service_name();
        assert!(name.starts_with("unknown_service:") && name.len() > 16, "{name}");
    }
}
