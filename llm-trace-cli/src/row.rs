//! The fields of a log line that summaries need, borrowed from the line.
//!
//! Deserializing the full [`LlmTrace`](llm_trace_core::LlmTrace) allocates a dozen strings per
//! line; a [`Row`] borrows its strings from the line (copying only strings with JSON escapes)
//! and lets serde skip every other field, which is what makes `summary` fast. Unknown fields
//! are ignored, so records from compatible later versions read fine.

use std::borrow::Cow;
use std::ops::Deref;

use llm_trace_core::summary::Observation;
use serde::Deserialize;

/// A string borrowed from the line, or owned when it held escapes.
///
/// serde only borrows a `Cow<str>` that is a field of its own (not inside an `Option` or a
/// `Vec`), hence this newtype.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Str<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// One log line, as far as summaries, errors, slow calls and the report are concerned.
#[derive(Debug, PartialEq, Deserialize)]
pub(crate) struct Row<'a> {
    #[serde(default = "schema_one")]
    pub(crate) schema: u64,
    #[serde(borrow)]
    pub(crate) trace_id: Str<'a>,
    #[serde(borrow, default)]
    pub(crate) session_id: Str<'a>,
    #[serde(borrow)]
    pub(crate) timestamp: Str<'a>,
    #[serde(borrow, default = "unknown")]
    pub(crate) function_name: Str<'a>,
    #[serde(borrow, default)]
    pub(crate) tags: Vec<Str<'a>>,
    #[serde(borrow, default)]
    pub(crate) model: Str<'a>,
    #[serde(borrow, default)]
    pub(crate) response_model: Option<Str<'a>>,
    #[serde(default)]
    pub(crate) prompt_tokens: u64,
    #[serde(default)]
    pub(crate) completion_tokens: u64,
    #[serde(default)]
    pub(crate) cached_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) reasoning_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cost_usd: Option<f64>,
    #[serde(default)]
    pub(crate) latency_ms: f64,
    #[serde(default)]
    pub(crate) ttft_ms: Option<f64>,
    #[serde(borrow, default)]
    pub(crate) error: Option<RowError<'a>>,
}

/// The `error` object of a failed call.
#[derive(Debug, PartialEq, Deserialize)]
pub(crate) struct RowError<'a> {
    #[serde(borrow, default)]
    pub(crate) kind: Str<'a>,
    #[serde(borrow, default)]
    pub(crate) message: Str<'a>,
    #[serde(default)]
    pub(crate) status: Option<u16>,
}

/// Only the schema version, to tell a newer record from a malformed one when a [`Row`] fails.
#[derive(Deserialize)]
pub(crate) struct SchemaOnly {
    #[serde(default = "schema_one")]
    pub(crate) schema: u64,
}

fn schema_one() -> u64 {
    1
}

fn unknown<'a>() -> Str<'a> {
    Str(Cow::Borrowed("unknown"))
}

impl Row<'_> {
    pub(crate) fn observation(&self) -> Observation {
        Observation {
            error: self.error.is_some(),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cached_tokens: self.cached_tokens.unwrap_or(0),
            reasoning_tokens: self.reasoning_tokens.unwrap_or(0),
            cost_usd: self.cost_usd,
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_trace_core::{ErrorKind, LlmTrace, TraceError};

    #[test]
    fn reads_what_the_library_writes() {
        let mut trace = LlmTrace::example();
        trace.error = Some(TraceError::new(ErrorKind::RateLimit, "slow \"down\"").with_status(429));
        trace.tags = vec!["a\tb".into(), "plain".into()].into();
        let line = serde_json::to_string(&trace).unwrap();
        let row: Row<'_> = serde_json::from_str(&line).unwrap();
        assert_eq!(&*row.trace_id, trace.trace_id.to_string());
        assert_eq!(&*row.function_name, "classify_ticket");
        assert!(matches!(row.function_name.0, Cow::Borrowed(_)), "plain strings are borrowed");
        assert_eq!(&*row.tags[0], "a\tb");
        assert!(matches!(row.tags[1].0, Cow::Borrowed(_)));
        let error = row.error.as_ref().unwrap();
        assert_eq!(
            (&*error.kind, &*error.message, error.status),
            ("rate_limit", "slow \"down\"", Some(429))
        );
        assert_eq!(row.observation(), Observation::from(&trace));
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_optional_ones_default() {
        let row: Row<'_> = serde_json::from_str(
            r#"{"trace_id":"x","timestamp":"t","future":{"a":[1,2]},"latency_ms":5}"#,
        )
        .unwrap();
        assert_eq!((row.schema, &*row.function_name, row.latency_ms), (1, "unknown", 5.0));
        assert!(serde_json::from_str::<Row<'_>>(r#"{"timestamp":"t"}"#).is_err());
    }
}
