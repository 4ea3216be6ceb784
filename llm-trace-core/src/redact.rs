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

use crate::bytescan;

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
        if !self.may_match(text.as_bytes()) {
            return Cow::Borrowed(text);
        }
        self.scan_all(text)
    }

    /// The scanner: one pass over `text`, trying every rule at every word boundary.
    fn scan_all<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0; // bytes of `text` already in `out`
        let mut i = 0;
        while i < bytes.len() {
            // Right after a replacement counts as a boundary too: what follows it is no longer
            // glued to the secret's last character.
            let at_boundary = i == copied || !is_word(bytes[i - 1]);
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

    /// Whether any enabled rule could match somewhere in `b`: a quick test of what every match
    /// needs (a key's fixed prefix, the word `bearer`, `@`, enough digits in one run), so that
    /// clean text, the usual case, skips the scanner. It never says no where the scanner would
    /// find something.
    ///
    /// One pass, 16 bytes at a time: a window with no digit and no byte a key or `bearer`
    /// starts around (see [`anchored_at`](Self::anchored_at)) is skipped whole, which is most
    /// of prose; only the bytes found are looked at one by one.
    fn may_match(&self, b: &[u8]) -> bool {
        if self.emails && memchr::memchr(b'@', b).is_some() {
            return true;
        }
        // A card needs 13 digits, a phone 10, all in one run of digits and separators.
        let needed = match (self.cards, self.phones) {
            (_, true) => 10,
            (true, false) => 13,
            (false, false) => usize::MAX,
        };
        // Digits count only when a number rule is on (`c - '0' < 0` is never true).
        let digit_span: u8 = if needed == usize::MAX { 0 } else { 10 };
        let is_digit = |c: u8| c.wrapping_sub(b'0') < digit_span;
        let mut run = 0;
        // The padding (0) is in no class, and is not fresh anyway.
        bytescan::windows(b, 0).any(|w| {
            // `b` or `B` is one test: they differ only in bit 5.
            let found = w.fresh
                & bytescan::bits(&w.bytes, |c| {
                    is_digit(c) | (c == b'-') | (c == b'_') | (c == b'A') | (c | 0x20 == b'b')
                });
            // The usual window, prose, is done here.
            if found == 0 && run == 0 {
                return false;
            }
            let digits = found & bytescan::bits(&w.bytes, is_digit);
            if digits != 0 || run != 0 {
                // `' '..='/'` and `'0'..='9'` are the one range `0x20..=0x39`.
                let breaks =
                    w.fresh & !bytescan::bits(&w.bytes, |c| c.wrapping_sub(b' ') <= b'9' - b' ');
                if number_runs(digits, breaks, &mut run, needed) {
                    return true;
                }
            }
            bytescan::positions(found & !digits).any(|i| self.anchored_at(b, w.at + i))
        })
    }

    /// Whether an enabled key or bearer rule could match around `b[i]`: a key prefix ending in
    /// `-` or `_` there, or starting at an `A` there (`AIza`, `AKIA`, `ASIA`), or the word
    /// `bearer` in any case starting there.
    fn anchored_at(&self, b: &[u8], i: usize) -> bool {
        let (before, after) = (&b[..i], &b[i + 1..]);
        match b[i] {
            b'-' if self.api_keys => {
                before.ends_with(b"sk") || before.ends_with(b"xoxb") || before.ends_with(b"xoxp")
            }
            b'_' if self.api_keys => before.ends_with(b"ghp") || before.ends_with(b"github"),
            b'A' if self.api_keys => {
                after.starts_with(b"Iza") || after.starts_with(b"KIA") || after.starts_with(b"SIA")
            }
            b'b' | b'B' if self.bearer_tokens => {
                after.len() > 5 && after[..5].eq_ignore_ascii_case(b"earer")
            }
            _ => false,
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
        const MAX_DIGITS: usize = 19;
        let rest = &b[i..];
        let starts_phone = rest[0] == b'+' || rest[0] == b'(';
        if !(rest[0].is_ascii_digit() || (self.phones && starts_phone)) {
            return None;
        }
        // Groups of digits with single separators between them, at most 19 digits (the
        // longest card) and 40 bytes, so a long run costs linear time overall. Where each
        // group ends is kept: two numbers joined by one separator (`4111… 5500…`) are two
        // matches, not one run too long to be either.
        let mut digits = [0u8; MAX_DIGITS];
        let mut n = 0;
        let mut len = 0;
        let mut group_ends = [(0usize, 0usize); MAX_DIGITS];
        let mut groups = 0;
        while len < rest.len() && len < 40 {
            let c = rest[len];
            if c.is_ascii_digit() {
                if n == MAX_DIGITS {
                    break;
                }
                digits[n] = c - b'0';
                n += 1;
                len += 1;
                if len == rest.len() || !rest[len].is_ascii_digit() {
                    group_ends[groups] = (len, n);
                    groups += 1;
                }
            } else if matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b'+') && len + 1 < rest.len() {
                len += 1;
            } else {
                break;
            }
        }
        let looks_like_date = rest.len() > 4
            && rest[..4].iter().all(u8::is_ascii_digit)
            && matches!(rest[4], b'-' | b'/' | b'.');
        // The longest run of whole groups that is a card or a phone number.
        for &(end, count) in group_ends[..groups].iter().rev() {
            // A number glued to letters or more digits is something else (an id, a hash).
            if end < rest.len() && is_word(rest[end]) {
                continue;
            }
            let span = &rest[..end];
            if self.cards
                && (13..=MAX_DIGITS).contains(&count)
                && rest[0].is_ascii_digit()
                && luhn(&digits[..count])
                && span.iter().all(|c| c.is_ascii_digit() || *c == b' ' || *c == b'-')
            {
                return Some((end, "card"));
            }
            if self.phones && (10..=15).contains(&count) && !looks_like_date {
                return Some((end, "phone"));
            }
        }
        None
    }
}

/// Follows the runs of digits and separators through the `fresh` bytes of a window (the others
/// were seen before), given the window's `digits` and `breaks` (bytes that are neither a digit
/// nor a separator), both as bits and already limited to the fresh bytes: `run` counts the
/// digits of the run reaching the window, and then of the run reaching the window's end. True
/// if a run may hold `needed` digits, an upper bound of the digits any card or phone number
/// match can hold.
///
/// Over-estimates, which only ever costs a scan: every byte from `' '` to `'/'` counts as a
/// separator (the scanner accepts six of them; one range test is what vectorizes), and the
/// runs inside the window count as one, of every digit between its first and last break.
fn number_runs(digits: u16, breaks: u16, run: &mut usize, needed: usize) -> bool {
    let count = |bits: u16| bits.count_ones() as usize;
    if breaks == 0 {
        *run += count(digits);
        return *run >= needed;
    }
    let (first, last) = (breaks.trailing_zeros(), 15 - breaks.leading_zeros());
    let before_first = digits & ((1 << first) - 1);
    let after_last = digits & u16::MAX.checked_shl(last + 1).unwrap_or(0);
    let between = digits & !before_first & !after_last;
    if *run + count(before_first) >= needed || count(between) >= needed {
        return true;
    }
    *run = count(after_last);
    *run >= needed
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
    fn the_quick_test_never_skips_a_match() {
        // Random texts made of pieces of every rule and of near misses: wherever the scanner
        // finds something, the quick test must have let it run.
        let pieces = [
            "sk-",
            "sk",
            "-",
            "xoxb-",
            "xoxp",
            "ghp_",
            "github_pat_",
            "github",
            "_",
            "AIza",
            "AKIA",
            "ASIA",
            "A",
            "Bearer ",
            "bEaReR\t",
            "bearer",
            "abcdefghijklmnop",
            "ABCDEFGHIJKLMNOP",
            "4111",
            "1111",
            "0000",
            "5500",
            "0004",
            "1",
            "42",
            " ",
            "-",
            ".",
            "(",
            ")",
            "+",
            "@",
            "ana.perez",
            "example.com",
            "x",
            "é",
            "日本",
            "415",
            "555",
            "0100",
            "*",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        let rules = [Redaction::default(), all(), Redaction { cards: false, ..all() }];
        let mut found = 0;
        for _ in 0..200_000 {
            let n = rng.usize(0..20);
            let text: String = (0..n).map(|_| pieces[rng.usize(..pieces.len())]).collect();
            for r in &rules {
                if let Cow::Owned(_) = r.scan_all(&text) {
                    found += 1;
                    assert!(r.may_match(text.as_bytes()), "{text:?} skipped by {r:?}");
                }
            }
        }
        assert!(found > 1_000, "the test texts matched only {found} times");
        for text in [
            "key sk-abcdefghijklmnopqrstuvwxyz",
            "AKIAIOSFODNN7EXAMPLE",
            "Bearer abcdefgh12345",
            "card 4111 1111 1111 1111",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        ] {
            assert!(Redaction::default().may_match(text.as_bytes()), "{text}");
        }
        let clean = "My invoice for March shows a double charge of 49.90 EUR, can you check it?";
        assert!(!Redaction::default().may_match(clean.repeat(4).as_bytes()));
    }

    #[test]
    fn the_quick_test_finds_keys_at_every_offset() {
        // Every shape, at every place against the 16-byte windows (first, whole, overlapping
        // last and short windows), glued to the text before it or not.
        let secrets = [
            "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234",
            "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAIOSFODNN7EXAMPLE",
            "xoxb-1234567890-abcdefghij",
            "xoxp-1234567890-abcdefghij",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "github_pat_abcdefghijklmnopqrstuvwxyz0123",
            "Bearer abcdefgh12345",
            "bEaReR\tabcdefgh12345",
        ];
        for pad in 0..40 {
            for gap in ["", " ", "\n", "é "] {
                for secret in secrets {
                    let text = format!("{}{gap}{secret}", "x".repeat(pad));
                    let r = Redaction::default();
                    assert!(r.may_match(text.as_bytes()), "{text:?}");
                    if !gap.is_empty() || pad == 0 {
                        assert!(matches!(r.apply(&text), Cow::Owned(_)), "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_quick_test_finds_numbers_across_windows() {
        // Every placement of a card, a phone number and a run cut by the end of the text
        // against the 16-byte windows of the quick test.
        let phones = Redaction { phones: true, ..Redaction::default() };
        for pad in 0..40 {
            let x = "x".repeat(pad);
            for (rules, text) in [
                (Redaction::default(), format!("{x} 4111 1111 1111 1111 paid")),
                (Redaction::default(), format!("{x} 4111-1111-1111-1111")),
                (phones.clone(), format!("{x} call +1 (415) 555-0100 now")),
                (phones.clone(), format!("{x}.4255000000")),
            ] {
                assert!(rules.may_match(text.as_bytes()), "{text:?}");
                assert!(matches!(rules.apply(&text), Cow::Owned(_)), "{text:?}");
            }
            // Twelve digits are no card, however they fall (a separator does not end a run,
            // a letter does).
            let short = format!("{x} 4111 1111 1111 and 2222 2222 2222");
            assert!(!Redaction::default().may_match(short.as_bytes()), "{short:?}");
        }
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
