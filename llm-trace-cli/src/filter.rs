//! The filters every reading subcommand takes.

use crate::row::Row;

/// Which records a command looks at. All given conditions must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// Unix milliseconds, inclusive.
    pub(crate) since: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub(crate) until: Option<i64>,
    pub(crate) function: Option<String>,
    /// Matches the requested or the responding model.
    pub(crate) model: Option<String>,
    /// Every tag must be present.
    pub(crate) tags: Vec<String>,
    pub(crate) session: Option<String>,
    pub(crate) errors_only: bool,
}

impl Filter {
    pub(crate) fn matches(&self, row: &Row<'_>, millis: i64) -> bool {
        if self.since.is_some_and(|since| millis < since)
            || self.until.is_some_and(|until| millis >= until)
            || (self.errors_only && row.error.is_none())
        {
            return false;
        }
        if let Some(function) = &self.function {
            if *row.function_name != **function {
                return false;
            }
        }
        if let Some(model) = &self.model {
            let response = row.response_model.as_deref();
            if *row.model != **model && response != Some(model.as_str()) {
                return false;
            }
        }
        if let Some(session) = &self.session {
            if *row.session_id != **session {
                return false;
            }
        }
        self.tags.iter().all(|wanted| row.tags.iter().any(|tag| **tag == **wanted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(json: &str) -> Row<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_condition_must_hold() {
        let r = row(r#"{"trace_id":"x","timestamp":"t","session_id":"s1","function_name":"f",
                "tags":["a","b"],"model":"gpt-4o","response_model":"gpt-4o-2024-08-06"}"#);
        let all = Filter::default();
        assert!(all.matches(&r, 10));
        let f = |filter: Filter| filter.matches(&r, 10);
        assert!(f(Filter { since: Some(10), until: Some(11), ..all.clone() }));
        assert!(!f(Filter { since: Some(11), ..all.clone() }));
        assert!(!f(Filter { until: Some(10), ..all.clone() }));
        assert!(f(Filter { model: Some("gpt-4o-2024-08-06".into()), ..all.clone() }));
        assert!(!f(Filter { model: Some("gpt-4o-mini".into()), ..all.clone() }));
        assert!(f(Filter { tags: vec!["b".into(), "a".into()], ..all.clone() }));
        assert!(!f(Filter { tags: vec!["a".into(), "c".into()], ..all.clone() }));
        assert!(f(Filter {
            session: Some("s1".into()),
            function: Some("f".into()),
            ..all.clone()
        }));
        assert!(!f(Filter { function: Some("g".into()), ..all.clone() }));
        assert!(!f(Filter { errors_only: true, ..all }));
    }
}
