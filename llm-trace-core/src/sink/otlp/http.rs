//! OTLP/HTTP: POST protobuf bodies, with a time budget and a bounded retry.

use std::time::{Duration, Instant};

use ureq::http::{HeaderName, HeaderValue, Response, StatusCode};

use super::proto::{Reader, Value};
use crate::sink::SinkError;

/// The most of a collector's answer that is read (its error message or partial success).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;
/// First backoff when the collector gives no `Retry-After`; doubled for the next retry.
const BACKOFF: Duration = Duration::from_millis(200);

/// Posts request bodies to one traces URL.
pub(super) struct Exporter {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    max_retries: u32,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values are credentials: only their names are shown.
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Exporter")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to.
enum Attempt {
    Done,
    /// Worth trying again, after the collector's `Retry-After` if it gave one.
    Retry {
        error: String,
        after: Option<Duration>,
    },
}

impl Exporter {
    pub(super) fn new(
        url: String,
        headers: Vec<(HeaderName, HeaderValue)>,
        max_retries: u32,
    ) -> Exporter {
        let config = ureq::Agent::config_builder().http_status_as_error(false).user_agent(format!(
            "{}/{}",
            super::encode::SCOPE,
            super::encode::VERSION
        ));
        #[cfg(feature = "otlp-native-tls")]
        let config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        );
        Exporter { agent: config.build().new_agent(), url, headers, max_retries }
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Posts `body` (holding `spans` spans), retrying on 429, 502, 503 and 504, and returns
    /// by `deadline` whatever happens.
    pub(super) fn export(
        &self,
        body: &[u8],
        spans: usize,
        deadline: Instant,
    ) -> Result<(), SinkError> {
        let mut retries = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.error("timed out before the collector answered"));
            }
            let (error, after) = match self.attempt(body, spans, remaining)? {
                Attempt::Done => return Ok(()),
                Attempt::Retry { error, after } => (error, after),
            };
            if retries >= self.max_retries {
                let tries = retries + 1;
                return Err(self.error(&format!("{error} (gave up after {tries} attempts)")));
            }
            let wait = after.unwrap_or(BACKOFF * 2u32.pow(retries));
            let remaining = deadline.saturating_duration_since(Instant::now());
            if wait >= remaining {
                return Err(self.error(&format!(
                    "{error}; retrying after {wait:?} would pass the export timeout"
                )));
            }
            std::thread::sleep(wait);
            retries += 1;
        }
    }

    fn attempt(&self, body: &[u8], spans: usize, timeout: Duration) -> Result<Attempt, SinkError> {
        let mut request = self.agent.post(&self.url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let mut response = request
            .content_type("application/x-protobuf")
            .config()
            .timeout_global(Some(timeout))
            .build()
            .send(body)
            .map_err(|e| match e {
                ureq::Error::Timeout(_) => {
                    self.error(&format!("no answer within {timeout:.1?} ({e})"))
                }
                e => self.error(&e.to_string()),
            })?;
        let status = response.status();
        let retry_after = retry_after(&response);
        let is_protobuf = is_protobuf(&response);
        // Read the answer even when it is not needed, so the connection can be reused.
        let answer = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .unwrap_or_default();
        if status.is_success() {
            return match is_protobuf.then(|| partial_success(&answer)).flatten() {
                Some((rejected, message)) if rejected > 0 => Err(self.error(&format!(
                    "the collector rejected {rejected} of {spans} spans: {message}"
                ))),
                _ => Ok(Attempt::Done),
            };
        }
        let message = describe(status, &answer, is_protobuf);
        match status.as_u16() {
            429 | 502 | 503 | 504 => Ok(Attempt::Retry { error: message, after: retry_after }),
            _ => Err(self.error(&message)),
        }
    }

    fn error(&self, reason: &str) -> SinkError {
        format!("OTLP export to {} failed: {reason}", self.url).into()
    }
}

fn is_protobuf<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/x-protobuf"))
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let now = crate::trace::Timestamp::now().unix_millis();
    let millis = date.timestamp_millis() - now;
    Some(Duration::from_millis(u64::try_from(millis).unwrap_or(0)))
}

/// `ExportTraceServiceResponse.partial_success` (field 1): `rejected_spans` (1) and
/// `error_message` (2).
fn partial_success(answer: &[u8]) -> Option<(i64, String)> {
    let partial = Reader::new(answer).find_map(|(field, value)| match (field, value) {
        (1, Value::Len(bytes)) => Some(bytes),
        _ => None,
    })?;
    let mut rejected = 0;
    let mut message = String::new();
    for (field, value) in Reader::new(partial) {
        match (field, value) {
            (1, Value::Varint(n)) => rejected = n as i64,
            (2, Value::Len(text)) => message = String::from_utf8_lossy(text).into_owned(),
            _ => {}
        }
    }
    Some((rejected, message))
}

/// An error answer: the status and the collector's message, from a protobuf
/// `google.rpc.Status` (`message` is field 2) or the start of a text body.
fn describe(status: StatusCode, answer: &[u8], is_protobuf: bool) -> String {
    let message = if is_protobuf {
        Reader::new(answer)
            .find_map(|(field, value)| match (field, value) {
                (2, Value::Len(text)) => Some(String::from_utf8_lossy(text).into_owned()),
                _ => None,
            })
            .unwrap_or_default()
    } else {
        crate::trace::preview(String::from_utf8_lossy(answer).trim(), 200)
    };
    if message.is_empty() {
        format!("the collector answered {status}")
    } else {
        format!("the collector answered {status}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::Writer;
    use super::*;

    fn response(headers: &[(&str, &str)]) -> Response<()> {
        let mut builder = Response::builder();
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        assert_eq!(retry_after(&response(&[("retry-after", "3")])), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&response(&[])), None);
        assert_eq!(retry_after(&response(&[("retry-after", "soon")])), None);
        let past = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(retry_after(&response(&[("retry-after", past)])), Some(Duration::ZERO));
        let now = crate::trace::Timestamp::now().to_datetime();
        let later = (now + chrono::TimeDelta::seconds(30)).to_rfc2822();
        let wait = retry_after(&response(&[("retry-after", &later)])).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
    }

    #[test]
    fn partial_success_and_error_messages_are_decoded() {
        let mut w = Writer::default();
        w.message(1, |w| {
            w.int64(1, 3);
            w.string(2, "too old");
        });
        assert_eq!(partial_success(&w.into_bytes()), Some((3, "too old".to_owned())));
        assert_eq!(partial_success(&[]), None);

        let mut status = Writer::default();
        status.int64(1, 3);
        status.string(2, "bad span");
        let status = status.into_bytes();
        assert_eq!(
            describe(StatusCode::BAD_REQUEST, &status, true),
            "the collector answered 400 Bad Request: bad span"
        );
        assert_eq!(
            describe(StatusCode::NOT_FOUND, b"404 page not found\n", false),
            "the collector answered 404 Not Found: 404 page not found"
        );
        assert_eq!(
            describe(StatusCode::BAD_GATEWAY, b"", false),
            "the collector answered 502 Bad Gateway"
        );
    }
}
