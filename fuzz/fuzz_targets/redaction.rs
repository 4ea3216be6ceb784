//! Redaction over arbitrary text, with the default rules and with every rule on. Properties:
//! 1. it never panics (and its output is a `String`, so valid UTF-8);
//! 2. (checked last) it is idempotent, `apply(apply(x)) == apply(x)`: one pass leaves nothing a rule would
//!    still redact;
//! 3. locality, and no secret survives: a secret of every built-in shape planted on a line of its
//!    own anywhere in arbitrary text is replaced by its marker, and the text around it is
//!    redacted exactly as it is on its own: `apply(a + "\n" + secret + "\n" + b) ==
//!    apply(a) + "\n" + marker + "\n" + apply(b)`. No rule matches across a line break, so
//!    this holds for any `a` and `b`; it also catches a shortcut that skips text it wrongly
//!    believes clean (`apply(a)` alone may take it, the planted text never does).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_trace_core::redact::Redaction;

const SECRETS: &[(&str, &str)] = &[
    ("sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234", "[REDACTED:api_key]"),
    ("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "[REDACTED:api_key]"),
    ("AIzaSyA1234567890abcdefghijklmnopqrstu", "[REDACTED:api_key]"),
    ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:api_key]"),
    ("xoxb-123456789012-abcdefghij", "[REDACTED:api_key]"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED:api_key]"),
    ("github_pat_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED:api_key]"),
    ("Bearer eyJhbGciOi.JIUzI1NiJ9-abc_def", "[REDACTED:bearer]"),
    ("authorization: bearer abcdefgh12345", "authorization: [REDACTED:bearer]"),
    ("4111 1111 1111 1111", "[REDACTED:card]"),
    ("5500-0000-0000-0004", "[REDACTED:card]"),
    ("378282246310005", "[REDACTED:card]"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let mut all = Redaction::default();
    all.emails = true;
    all.phones = true;
    for rules in [Redaction::default(), all] {
        let (secret, marker) = SECRETS[usize::from(choice) % SECRETS.len()];
        let mut at = usize::from(choice).wrapping_mul(7919) % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let (a, b) = text.split_at(at);
        let planted = rules.apply(&format!("{a}\n{secret}\n{b}")).into_owned();
        let apart = format!("{}\n{marker}\n{}", rules.apply(a), rules.apply(b));
        assert_eq!(planted, apart, "{secret:?} planted in {a:?} | {b:?} with {rules:?}");

        let once = rules.apply(&text).into_owned();
        let twice = rules.apply(&once);
        assert_eq!(twice, once, "not idempotent on {text:?} with {rules:?}");
    }
});
