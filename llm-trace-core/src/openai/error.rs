//! From `OpenAIError` to the trace's low-cardinality error.

use std::borrow::Cow;

use async_openai::error::OpenAIError;

use crate::trace::{ErrorKind, TraceError};

/// The trace error for an async-openai error: `rate_limit` (429), `quota` (429 with
/// `insufficient_quota`), `auth` (401/403), `invalid_request` (other 4xx, or arguments
/// async-openai refused), `server` (5xx), `timeout`, `connection`, `decode` (a response or
/// chunk that is not the expected JSON), `stream` (the event stream broke), `client` (any
/// other client-side failure); with the HTTP status when there was one. (The recorder cuts
/// the message to [`TraceError::MAX_MESSAGE_CHARS`]: a 5xx body can be a whole HTML page.)
///
/// ```
/// use async_openai::error::OpenAIError;
/// use llm_trace_core::{openai::trace_error, ErrorKind};
///
/// let e = trace_error(&OpenAIError::InvalidArgument("stream must be false".into()));
/// assert_eq!(e.kind, ErrorKind::InvalidRequest);
/// assert_eq!(e.status, None);
/// ```
pub fn trace_error(error: &OpenAIError) -> TraceError {
    let (kind, status) = match error {
        OpenAIError::ApiError(response) => {
            let status = response.status_code.as_u16();
            let api = &response.api_error;
            let quota =
                [api.r#type.as_deref(), api.code.as_deref()].contains(&Some("insufficient_quota"));
            let kind = if quota {
                ErrorKind::Other(Cow::Borrowed("quota"))
            } else {
                ErrorKind::from_status(status)
            };
            let message =
                if api.message.is_empty() { error.to_string() } else { api.message.clone() };
            return TraceError::new(kind, message).with_status(status);
        }
        OpenAIError::Reqwest(e) => {
            let status = e.status().map(|s| s.as_u16());
            let kind = if e.is_timeout() {
                ErrorKind::Timeout
            } else if let Some(status) = status {
                ErrorKind::from_status(status)
            } else if e.is_decode() {
                ErrorKind::Decode
            } else {
                ErrorKind::Connection
            };
            (kind, status)
        }
        OpenAIError::JSONDeserialize(..) => (ErrorKind::Decode, None),
        OpenAIError::StreamError(_) => (ErrorKind::Stream, None),
        OpenAIError::InvalidArgument(_) => (ErrorKind::InvalidRequest, None),
        #[allow(unreachable_patterns)] // which other variants exist depends on features
        _ => (ErrorKind::Other(Cow::Borrowed("client")), None),
    };
    let message = match error {
        // The raw content may echo the conversation: keep only the parser's message.
        OpenAIError::JSONDeserialize(e, _) => format!("failed to deserialize the response: {e}"),
        other => other.to_string(),
    };
    let mut trace_error = TraceError::new(kind, message);
    trace_error.status = status;
    trace_error
}
