//! Inputs found by the fuzz targets in `fuzz/` (see `scripts/fuzz.sh`), kept as regression
//! tests. Those whose fix belongs in a file being reworked elsewhere are ignored with the bug
//! they show; remove the `#[ignore]` with the fix.

use llm_trace_core::redact::Redaction;
use llm_trace_core::{LlmTrace, Timestamp};

fn all_rules() -> Redaction {
    let mut all = Redaction::default();
    all.emails = true;
    all.phones = true;
    all
}

/// Redaction must leave nothing a second pass would still redact.
fn assert_idempotent(rules: &Redaction, text: &str) -> String {
    let once = rules.apply(text).into_owned();
    assert_eq!(rules.apply(&once), once, "a second pass changed {text:?}");
    once
}

#[test]
fn numbers_joined_by_one_separator_are_all_redacted() {
    // Default rules: card numbers.
    for text in [
        "cards: 4111111111111111 5500000000000004",
        "4111 1111 1111 1111 5500 0000 0000 0004",
        "5500000000000004-4111111111111111",
    ] {
        let once = assert_idempotent(&Redaction::default(), text);
        assert!(!once.contains(|c: char| c.is_ascii_digit()), "{text:?} -> {once:?}");
    }
    // Phone numbers (opt-in), minimized by the fuzzer.
    for text in ["1111111111 1111111111", "8888888888(8888888888", "3333333333+3333333333"] {
        let once = assert_idempotent(&all_rules(), text);
        assert_eq!(once.matches("[REDACTED:phone]").count(), 2, "{text:?} -> {once:?}");
    }
}

#[test]
fn an_email_glued_to_a_redacted_email_is_redacted_too() {
    for text in ["a@b.com_x@c.org", "A@A.A_@A.A", "r@c.r.@c.r"] {
        let once = assert_idempotent(&all_rules(), text);
        assert!(!once.contains("@c."), "{text:?} -> {once:?}");
    }
}

#[test]
fn redaction_is_idempotent_on_the_shapes_it_knows() {
    for rules in [Redaction::default(), all_rules()] {
        for text in [
            "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234, Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9",
            "card 4111 1111 1111 1111. mail ana@example.com or +1 (415) 555-0100 AKIAIOSFODNN7EXAMPLE",
            "sk-aaaaaaaaaaaaaaaaaaaa+1 415 555 0100 sk-aaaaaaaaaaaaaaaaaaaa.x@y.com",
        ] {
            assert_idempotent(&rules, text);
        }
    }
}

#[test]
fn timestamps_read_from_a_log_are_written_back_unchanged() {
    for text in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"] {
        let Ok(t) = text.parse::<Timestamp>() else { continue }; // rejecting is a fix too
        let written = t.to_string();
        assert_eq!(written.parse::<Timestamp>().unwrap(), t, "{text} was written as {written}");
        let mut record = serde_json::to_value(LlmTrace::example()).unwrap();
        record["timestamp"] = text.into();
        let trace: LlmTrace = serde_json::from_value(record).unwrap();
        let back: LlmTrace = serde_json::from_str(&serde_json::to_string(&trace).unwrap()).unwrap();
        assert_eq!(back, trace);
    }
}
