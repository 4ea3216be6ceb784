//! Redaction: secrets and personal data are replaced before any text is kept in a trace.
//!
//! Built-in rules, on by default: API keys of the usual shapes (OpenAI and Anthropic `sk-…`,
//! Google `AIza…`, AWS access key ids `AKIA…`/`ASIA…`, Slack/GitHub tokens), `Bearer` tokens,
//! and payment card numbers (13–19 digits passing the Luhn check). Opt-in: e-mail addresses
//! and phone numbers. A user hook runs after the built-in rules.
//!
//! The scanner is hand-written (no regex engine): one pass over the text, allocating only
//! when something is replaced.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// What to redact. `Redaction::default()` has the secret rules on and the personal-data rules
/// off.
///
/// ```
/// use llm_trace_core::redact::Redaction;
///
/// let redaction = Redaction::default();
/// assert_eq!(
///     redaction.apply("key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234 and card 4111 1111 1111 1111"),
///     "key [REDACTED:api_key] and card [REDACTED:card]"
/// );
///
/// let mut strict = Redaction::default();
/// strict.emails = true;
/// strict.phones = true;
/// assert_eq!(strict.apply("mail ana@example.com or +1 (415) 555-0100"),
///            "mail [REDACTED:email] or [REDACTED:phone]");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Redaction {
    /// API keys and tokens of known shapes.
    pub api_keys: bool,
    /// `Bearer …` tokens (as in `Authorization` headers).
    pub bearer_tokens: bool,
    /// Payment card numbers (Luhn-valid, 13–19 digits, spaces or dashes allowed).
    pub cards: bool,
    /// E-mail addresses (off by default).
    pub emails: bool,
    /// Phone numbers: 10–15 digits, optionally with `+`, spaces, dashes, dots and
    /// parentheses (off by default).
    pub phones: bool,
    /// Your own rule, run after the built-in ones.
    pub hook: Option<RedactHook>,
}

/// A user redaction rule: takes text, returns it with what must not be kept replaced.
pub type RedactHook = Arc<dyn Fn(&str) -> String + Send + Sync>;

impl Default for Redaction {
    fn default() -> Self {
        Redaction {
            api_keys: true,
            bearer_tokens: true,
            cards: true,
            emails: false,
            phones: false,
            hook: None,
        }
    }
}

impl fmt::Debug for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redaction")
            .field("api_keys", &self.api_keys)
            .field("bearer_tokens", &self.bearer_tokens)
            .field("cards", &self.cards)
            .field("emails", &self.emails)
            .field("phones", &self.phones)
            .field("hook", &self.hook.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

impl PartialEq for Redaction {
    fn eq(&self, other: &Self) -> bool {
        self.api_keys == other.api_keys
            && self.bearer_tokens == other.bearer_tokens
            && self.cards == other.cards
            && self.emails == other.emails
            && self.phones == other.phones
            && match (&self.hook, &other.hook) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Redaction {
    /// No rules at all.
    pub fn none() -> Redaction {
        Redaction {
            api_keys: false,
            bearer_tokens: false,
            cards: false,
            emails: false,
            phones: false,
            hook: None,
        }
    }

    /// The same rules plus `hook`.
    pub fn with_hook(mut self, hook: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// `text` with every match replaced by `[REDACTED:<rule>]`. Borrows when nothing matched
    /// and there is no hook.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let scanned = self.scan(text);
        match &self.hook {
            None => scanned,
            Some(hook) => Cow::Owned(hook(&scanned)),
        }
    }

    fn scan<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !(self.api_keys || self.bearer_tokens || self.cards || self.emails || self.phones) {
            return Cow::Borrowed(text);
        }
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0; // bytes of `text` already in `out`
        let mut i = 0;
        while i < bytes.len() {
            let at_boundary = i == 0 || !is_word(bytes[i - 1]);
            let found = if at_boundary { self.match_at(bytes, i) } else { None };
            match found {
                Some((len, rule)) => {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    out.push_str(&text[copied..i]);
                    out.push_str("[REDACTED:");
                    out.push_str(rule);
                    out.push(']');
                    i += len;
                    copied = i;
                }
                None => i += 1,
            }
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
        }
    }

    /// The length and rule of a secret starting at `i`, if any. Every rule starts on an ASCII
    /// byte, so `i + len` is always a char boundary.
    fn match_at(&self, b: &[u8], i: usize) -> Option<(usize, &'static str)> {
        let rest = &b[i..];
        if self.api_keys {
            if let Some(len) = api_key(rest) {
                return Some((len, "api_key"));
            }
        }
        if self.bearer_tokens {
            if let Some(len) = bearer(rest) {
                return Some((len, "bearer"));
            }
        }
        if self.emails {
            if let Some(len) = email(rest) {
                return Some((len, "email"));
            }
        }
        if self.cards || self.phones {
            if let Some((len, rule)) = self.number(b, i) {
                return Some((len, rule));
            }
        }
        None
    }

    fn number(&self, b: &[u8], i: usize) -> Option<(usize, &'static str)> {
        let rest = &b[i..];
        let starts_phone = rest[0] == b'+' || rest[0] == b'(';
        if !(rest[0].is_ascii_digit() || (self.phones && starts_phone)) {
            return None;
        }
        // Digits with single separators between groups.
        let mut digits = Vec::with_capacity(19);
        let mut len = 0;
        let mut last_digit_end = 0;
        // Bounded, so a long run of digits and separators costs linear time overall.
        while len < rest.len() && len < 40 && digits.len() <= 19 {
            let c = rest[len];
            if c.is_ascii_digit() {
                digits.push(c - b'0');
                len += 1;
                last_digit_end = len;
            } else if matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b'+') && len + 1 < rest.len() {
                len += 1;
            } else {
                break;
            }
        }
        let len = last_digit_end;
        // A number glued to more letters or digits is something else (an id, a hash).
        if len < rest.len() && is_word(rest[len]) {
            return None;
        }
        let n = digits.len();
        if self.cards && (13..=19).contains(&n) && rest[0].is_ascii_digit() && luhn(&digits) {
            let only_card_separators =
                rest[..len].iter().all(|c| c.is_ascii_digit() || *c == b' ' || *c == b'-');
            if only_card_separators {
                return Some((len, "card"));
            }
        }
        let looks_like_date = rest.len() > 4
            && rest[..4].iter().all(u8::is_ascii_digit)
            && matches!(rest[4], b'-' | b'/' | b'.');
        if self.phones && (10..=15).contains(&n) && !looks_like_date {
            return Some((len, "phone"));
        }
        None
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'*'
}

fn run(b: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    b.iter().take_while(|c| pred(**c)).count()
}

fn api_key(b: &[u8]) -> Option<usize> {
    // (prefix, minimum length of what follows, allowed characters)
    const SHAPES: &[(&[u8], usize)] = &[
        (b"sk-", 16),         // OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-)
        (b"AIza", 30),        // Google API keys
        (b"xoxb-", 10),       // Slack bot tokens
        (b"xoxp-", 10),       // Slack user tokens
        (b"ghp_", 30),        // GitHub personal tokens
        (b"github_pat_", 30), // GitHub fine-grained tokens
    ];
    for (prefix, min) in SHAPES {
        if b.starts_with(prefix) {
            let tail = run(&b[prefix.len()..], is_key_char);
            if tail >= *min {
                return Some(prefix.len() + tail);
            }
        }
    }
    if (b.starts_with(b"AKIA") || b.starts_with(b"ASIA")) && b.len() >= 20 {
        let id = &b[4..20];
        if id.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && (b.len() == 20 || !is_word(b[20]))
        {
            return Some(20);
        }
    }
    None
}

fn bearer(b: &[u8]) -> Option<usize> {
    const WORD: &[u8] = b"bearer";
    if b.len() <= WORD.len() || !b[..WORD.len()].eq_ignore_ascii_case(WORD) {
        return None;
    }
    let spaces = run(&b[WORD.len()..], |c| c == b' ' || c == b'\t');
    if spaces == 0 {
        return None;
    }
    let start = WORD.len() + spaces;
    let token = run(&b[start..], |c| {
        c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'*')
    });
    (token >= 8).then_some(start + token)
}

fn email(b: &[u8]) -> Option<usize> {
    // At most 64 bytes (the longest valid local part), so scanning stays linear.
    let head = &b[..b.len().min(65)];
    let local =
        run(head, |c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'));
    if local == 0 || b.get(local) != Some(&b'@') {
        return None;
    }
    let domain = run(&b[local + 1..], |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
    let domain_bytes = &b[local + 1..local + 1 + domain];
    // Trailing dots are punctuation, not part of the domain.
    let trimmed = domain_bytes.iter().rposition(|c| *c != b'.').map_or(0, |p| p + 1);
    let domain_bytes = &domain_bytes[..trimmed];
    let has_dot = domain_bytes.iter().skip(1).any(|c| *c == b'.');
    (has_dot && !domain_bytes.starts_with(b".")).then_some(local + 1 + trimmed)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Redaction {
        Redaction { emails: true, phones: true, ..Redaction::default() }
    }

    #[test]
    fn api_keys_of_every_shape() {
        let r = Redaction::default();
        for key in [
            "sk-proj-Ab12Cd34Ef56Gh78Ij90KlMnOpQr",
            "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "sk-svcacct-ABCDEFGHIJKLMNOPQRSTUV",
            "sk-abcdefghijklmnopqrstuvwxyz012345",
            "sk-proj-****************************abcd",
            "AIzaSyA1234567890abcdefghijklmnopqrstu",
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAIOSFODNN7EXAMPLE",
            "xoxb-123456789012-abcdefghij",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        ] {
            let text = format!("use \"{key}\" now");
            assert_eq!(r.apply(&text), "use \"[REDACTED:api_key]\" now", "{key}");
        }
    }

    #[test]
    fn look_alikes_are_left_alone() {
        let r = all();
        for text in [
            "the task-force-members-list is long",
            "sk-short",
            "AKIA is not a key",
            "order 12345",
            "build 2024-07-18",
            "version 1.2.3.4",
            "hash a1b2c3d4e5f60718293a4b5c",
            "call me maybe",
            "bearer of bad news",
            "name@localhost",
            "at 2024-07-18 10:30",
        ] {
            assert_eq!(r.apply(text), text);
        }
    }

    #[test]
    fn bearer_tokens() {
        let r = Redaction::default();
        assert_eq!(
            r.apply("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.abc-def"),
            "Authorization: [REDACTED:bearer]"
        );
        assert_eq!(
            r.apply("authorization: bearer abcdefgh12345"),
            "authorization: [REDACTED:bearer]"
        );
    }

    #[test]
    fn card_numbers_need_a_valid_checksum() {
        let r = Redaction::default();
        assert_eq!(r.apply("card 4111111111111111."), "card [REDACTED:card].");
        assert_eq!(r.apply("card 5500-0000-0000-0004 ok"), "card [REDACTED:card] ok");
        assert_eq!(r.apply("card 4111 1111 1111 1112"), "card 4111 1111 1111 1112");
        assert_eq!(r.apply("id 41111111111111110000000"), "id 41111111111111110000000");
    }

    #[test]
    fn emails_and_phones_are_opt_in() {
        let text = "write to ana.perez+x@mail.example.co.uk. or call +44 20 7946 0958";
        assert_eq!(Redaction::default().apply(text), text);
        assert_eq!(all().apply(text), "write to [REDACTED:email]. or call [REDACTED:phone]");
    }

    #[test]
    fn the_hook_runs_after_the_rules() {
        let r = Redaction::default().with_hook(|t| t.replace("ACME", "[client]"));
        assert_eq!(
            r.apply("ACME key sk-abcdefghijklmnopqrstuvwxyz"),
            "[client] key [REDACTED:api_key]"
        );
    }

    #[test]
    fn multibyte_text_is_kept_intact() {
        let r = all();
        let text = "日本語 sk-abcdefghijklmnopqrstuvwxyz é 😀 4111111111111111 fin";
        assert_eq!(r.apply(text), "日本語 [REDACTED:api_key] é 😀 [REDACTED:card] fin");
    }

    #[test]
    fn nothing_to_redact_borrows() {
        assert!(matches!(Redaction::default().apply("plain text"), Cow::Borrowed(_)));
        assert!(matches!(
            Redaction::none().apply("sk-abcdefghijklmnopqrstuvwxyz"),
            Cow::Borrowed(_)
        ));
    }
}
