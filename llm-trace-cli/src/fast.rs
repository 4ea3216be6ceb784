//! A hand-written reader of [`Row`]s for the common case, four to five times faster than
//! serde's derived deserializer on log lines.
//!
//! serde_json spends most of its time per key (31 of them per record), not per byte: reading
//! each key as a string, matching it, dispatching the value. This reader walks the top-level
//! object once with byte loops and `memchr`, borrows the needed strings and skips the rest.
//!
//! It is only a shortcut: whenever a line is anything but plain, it returns `None` and the
//! caller deserializes the line with serde ([`Row`]'s derive stays the definition): a needed
//! string with an escape, a number of the wrong kind or out of range, a repeated or missing
//! field, invalid JSON anywhere (it checks the whole line, skipped values included, as
//! strictly as serde_json does). So both agree on what a line holds (numbers even more exactly:
//! Rust's float parsing is correctly rounded where serde_json's default may be one unit in
//! the last place off); the tests check this on generated records and on every truncation.

use std::borrow::Cow;

use memchr::memchr2;

use crate::row::{Row, RowError, Str};

const SCHEMA: u8 = 0;
const TRACE_ID: u8 = 1;
const SESSION_ID: u8 = 2;
const TIMESTAMP: u8 = 3;
const FUNCTION_NAME: u8 = 4;
const TAGS: u8 = 5;
const MODEL: u8 = 6;
const RESPONSE_MODEL: u8 = 7;
const PROMPT_TOKENS: u8 = 8;
const COMPLETION_TOKENS: u8 = 9;
const CACHED_TOKENS: u8 = 10;
const REASONING_TOKENS: u8 = 11;
const COST_USD: u8 = 12;
const LATENCY_MS: u8 = 13;
const TTFT_MS: u8 = 14;
const ERROR: u8 = 15;
/// A field a [`Row`] does not keep.
const OTHER: u8 = 255;

/// The keys as the library writes them (`"key":`), in schema order (DESIGN §4), with the
/// [`Row`] field each one fills.
const ORDER: [(&[u8], u8); 31] = [
    (b"\"schema\":", SCHEMA),
    (b"\"trace_id\":", TRACE_ID),
    (b"\"session_id\":", SESSION_ID),
    (b"\"timestamp\":", TIMESTAMP),
    (b"\"function_name\":", FUNCTION_NAME),
    (b"\"module_path\":", OTHER),
    (b"\"call_path\":", OTHER),
    (b"\"tags\":", TAGS),
    (b"\"metadata\":", OTHER),
    (b"\"provider\":", OTHER),
    (b"\"operation\":", OTHER),
    (b"\"model\":", MODEL),
    (b"\"response_model\":", RESPONSE_MODEL),
    (b"\"temperature\":", OTHER),
    (b"\"max_tokens\":", OTHER),
    (b"\"stream\":", OTHER),
    (b"\"tools\":", OTHER),
    (b"\"finish_reason\":", OTHER),
    (b"\"prompt_tokens\":", PROMPT_TOKENS),
    (b"\"completion_tokens\":", COMPLETION_TOKENS),
    (b"\"total_tokens\":", OTHER),
    (b"\"cached_tokens\":", CACHED_TOKENS),
    (b"\"reasoning_tokens\":", REASONING_TOKENS),
    (b"\"usage_source\":", OTHER),
    (b"\"cost_usd\":", COST_USD),
    (b"\"latency_ms\":", LATENCY_MS),
    (b"\"ttft_ms\":", TTFT_MS),
    (b"\"error\":", ERROR),
    (b"\"input_preview\":", OTHER),
    (b"\"output_preview\":", OTHER),
    (b"\"payload\":", OTHER),
];

fn field_of(key: &str) -> u8 {
    match key {
        "schema" => SCHEMA,
        "trace_id" => TRACE_ID,
        "session_id" => SESSION_ID,
        "timestamp" => TIMESTAMP,
        "function_name" => FUNCTION_NAME,
        "tags" => TAGS,
        "model" => MODEL,
        "response_model" => RESPONSE_MODEL,
        "prompt_tokens" => PROMPT_TOKENS,
        "completion_tokens" => COMPLETION_TOKENS,
        "cached_tokens" => CACHED_TOKENS,
        "reasoning_tokens" => REASONING_TOKENS,
        "cost_usd" => COST_USD,
        "latency_ms" => LATENCY_MS,
        "ttft_ms" => TTFT_MS,
        "error" => ERROR,
        _ => OTHER,
    }
}

/// Nesting deeper than this is left to serde (which refuses more than 128 levels).
const MAX_DEPTH: usize = 100;

struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// The index of the next `"` or `\\` from `from`; `None` at the end or at a control
    /// character (invalid in a JSON string). Short strings are scanned byte by byte, long ones
    /// with `memchr`.
    fn stop(&self, from: usize) -> Option<usize> {
        let bytes = self.bytes;
        let mut i = from;
        // Eight bytes at a time (a byte is flagged when it is `"`, `\\` or below 0x20; only
        // the first flag is exact, which is the one taken).
        const ONES: u64 = u64::MAX / 255;
        let short = bytes.len().min(from + 64);
        while i + 8 <= short {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[i..i + 8]);
            let w = u64::from_le_bytes(word);
            let quote = w ^ (ONES * u64::from(b'"'));
            let backslash = w ^ (ONES * u64::from(b'\\'));
            let flags = ((w.wrapping_sub(ONES * 0x20) & !w)
                | (quote.wrapping_sub(ONES) & !quote)
                | (backslash.wrapping_sub(ONES) & !backslash))
                & (ONES << 7);
            if flags != 0 {
                let at = i + flags.trailing_zeros() as usize / 8;
                return (bytes[at] >= 0x20).then_some(at);
            }
            i += 8;
        }
        if i < short {
            for (j, &b) in bytes[i..short].iter().enumerate() {
                match b {
                    b'"' | b'\\' => return Some(i + j),
                    0..=0x1f => return None,
                    _ => {}
                }
            }
            i = short;
        }
        let len = memchr2(b'"', b'\\', &bytes[i..])?;
        (!has_control(&bytes[i..i + len])).then_some(i + len)
    }

    /// A string without escapes, borrowed; `None` if it has any (or is not a string).
    fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let end = self.stop(start)?;
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // Quotes are ASCII, so both ends are character boundaries of the (valid) text.
        self.text.get(start..end)
    }

    /// A string without escapes, as a [`Str`].
    fn str(&mut self) -> Option<Str<'a>> {
        self.plain_str().map(|s| Str(Cow::Borrowed(s)))
    }

    /// Skips a string, escapes included, checking it as serde_json would.
    fn skip_str(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let end = self.stop(self.at)?;
            self.at = end + 1;
            if self.bytes[end] == b'"' {
                return Some(());
            }
            match self.peek()? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                b'u' => {
                    let hex = self.bytes.get(self.at + 1..self.at + 5)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    // Lone surrogates are left to serde, which rejects some of them.
                    if matches!(hex[0], b'd' | b'D')
                        && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                    {
                        return None;
                    }
                    self.at += 5;
                }
                _ => return None,
            }
        }
    }

    /// A JSON number's text, checked against the grammar.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        self.text.get(start..self.at)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes.get(self.at..self.at + word.len())? == word {
            self.at += word.len();
            Some(())
        } else {
            None
        }
    }

    /// `null` → `Some(None)`; anything else is read by `read`.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    fn u64(&mut self) -> Option<u64> {
        let text = self.number()?;
        // A sign, fraction or exponent is serde's to judge (error or not), as is overflow.
        text.bytes().try_fold(0u64, |n, b| {
            if b.is_ascii_digit() {
                n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            } else {
                None
            }
        })
    }

    fn f64(&mut self) -> Option<f64> {
        self.number()?.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' => {
                self.at += 1;
                self.ws();
                if self.eat(b'}').is_some() {
                    return Some(());
                }
                loop {
                    self.ws();
                    self.skip_str()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => return self.eat(b'}'),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                self.ws();
                if self.eat(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => return self.eat(b']'),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(|_| ()),
        }
    }

    fn tags(&mut self) -> Option<Vec<Str<'a>>> {
        self.eat(b'[')?;
        let mut tags = Vec::new();
        self.ws();
        if self.eat(b']').is_some() {
            return Some(tags);
        }
        loop {
            self.ws();
            tags.push(Str(Cow::Borrowed(self.plain_str()?)));
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(tags);
                }
                _ => return None,
            }
        }
    }

    fn error(&mut self) -> Option<RowError<'a>> {
        self.eat(b'{')?;
        let mut error = RowError { kind: Str::default(), message: Str::default(), status: None };
        let mut seen = 0u8;
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(error);
        }
        loop {
            self.ws();
            let key = self.plain_str()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let bit = match key {
                "kind" => {
                    error.kind = Str(Cow::Borrowed(self.plain_str()?));
                    1
                }
                "message" => {
                    error.message = Str(Cow::Borrowed(self.plain_str()?));
                    2
                }
                "status" => {
                    error.status =
                        self.nullable(|c| c.u64().and_then(|s| u16::try_from(s).ok()))?;
                    4
                }
                _ => {
                    self.skip_value(1)?;
                    0
                }
            };
            if seen & bit != 0 {
                return None; // a repeated field: serde's error
            }
            seen |= bit;
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(error);
                }
                _ => return None,
            }
        }
    }
}

/// `hay.starts_with(key)` for keys of 4 to 24 bytes, with a few word compares instead of a
/// call to `memcmp`.
fn starts_with(hay: &[u8], key: &[u8]) -> bool {
    let n = key.len();
    if hay.len() < n {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let half = |s: &[u8], at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_le_bytes(w)
    };
    match n {
        0..4 | 25.. => hay.starts_with(key),
        4..8 => half(hay, 0) == half(key, 0) && half(hay, n - 4) == half(key, n - 4),
        8..=16 => word(hay, 0) == word(key, 0) && word(hay, n - 8) == word(key, n - 8),
        _ => {
            word(hay, 0) == word(key, 0)
                && word(hay, 8) == word(key, 8)
                && word(hay, n - 8) == word(key, n - 8)
        }
    }
}

/// Whether `bytes` holds a control character, which JSON strings must escape.
fn has_control(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |any, &b| any | (b < 0x20))
}

/// The [`Row`] of `line`, or `None` when serde must decide (see the module documentation).
pub(crate) fn row(line: &str) -> Option<Row<'_>> {
    let mut c = Cursor { text: line, bytes: line.as_bytes(), at: 0 };
    let mut row = Row {
        schema: 1,
        trace_id: Str::default(),
        session_id: Str::default(),
        timestamp: Str::default(),
        function_name: Str(Cow::Borrowed("unknown")),
        tags: Vec::new(),
        model: Str::default(),
        response_model: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        cached_tokens: None,
        reasoning_tokens: None,
        cost_usd: None,
        latency_ms: 0.0,
        ttft_ms: None,
        error: None,
    };
    let mut seen = 0u32;
    let mut next = 0;
    c.ws();
    c.eat(b'{')?;
    loop {
        c.ws();
        // The library writes the keys in schema order without spaces: expect the next one,
        // and read the key as a string only when it is not there.
        let field = match ORDER.get(next) {
            Some(&(key, field)) if starts_with(&c.bytes[c.at..], key) => {
                c.at += key.len();
                next += 1;
                field
            }
            _ => {
                let key = c.plain_str()?;
                c.ws();
                c.eat(b':')?;
                next = ORDER
                    .iter()
                    .position(|(k, _)| k[1..k.len() - 2] == *key.as_bytes())
                    .map_or(ORDER.len(), |i| i + 1);
                field_of(key)
            }
        };
        c.ws();
        match field {
            SCHEMA => row.schema = c.u64()?,
            TRACE_ID => row.trace_id = c.str()?,
            SESSION_ID => row.session_id = c.str()?,
            TIMESTAMP => row.timestamp = c.str()?,
            FUNCTION_NAME => row.function_name = c.str()?,
            TAGS => row.tags = c.tags()?,
            MODEL => row.model = c.str()?,
            RESPONSE_MODEL => row.response_model = c.nullable(Cursor::str)?,
            PROMPT_TOKENS => row.prompt_tokens = c.u64()?,
            COMPLETION_TOKENS => row.completion_tokens = c.u64()?,
            CACHED_TOKENS => row.cached_tokens = c.nullable(Cursor::u64)?,
            REASONING_TOKENS => row.reasoning_tokens = c.nullable(Cursor::u64)?,
            COST_USD => row.cost_usd = c.nullable(Cursor::f64)?,
            LATENCY_MS => row.latency_ms = c.f64()?,
            TTFT_MS => row.ttft_ms = c.nullable(Cursor::f64)?,
            ERROR => row.error = c.nullable(Cursor::error)?,
            _ => c.skip_value(1)?,
        }
        let bit = if field == OTHER { 0 } else { 1u32 << field };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        c.ws();
        match c.peek()? {
            b',' => c.at += 1,
            b'}' => {
                c.at += 1;
                break;
            }
            _ => return None,
        }
    }
    c.ws();
    // The two fields without a default must be there; nothing may follow the object.
    let required = (1 << TRACE_ID) | (1 << TIMESTAMP);
    (c.at == c.bytes.len() && seen & required == required).then_some(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_trace_core::{ErrorKind, LlmTrace, TraceError};

    /// What serde makes of `line`, if anything.
    fn serde(line: &str) -> Option<Row<'_>> {
        serde_json::from_str(line).ok()
    }

    #[track_caller]
    fn agrees(line: &str) {
        match (row(line), serde(line)) {
            (Some(fast), Some(slow)) => assert_eq!(fast, slow, "{line}"),
            (Some(fast), None) => panic!("accepted what serde refuses: {line}\n{fast:?}"),
            (None, _) => {} // left to serde
        }
    }

    fn samples() -> Vec<String> {
        let mut lines = Vec::new();
        let mut t = LlmTrace::example();
        lines.push(serde_json::to_string(&t).unwrap());
        t.metadata.insert(
            "nested",
            serde_json::json!({"a": [1, 2.5e-3, -0.0, true, null, {"b": "\u{1F600} \"q\""}]}),
        );
        t.error = Some(TraceError::new(ErrorKind::RateLimit, "slow down").with_status(429));
        t.ttft_ms = Some(12.5);
        t.cost_usd = None;
        t.tags = vec!["a".into(), "b c".into()].into();
        t.input_preview = "quotes \" and \\ and \n newlines and \u{7} bells and é and 日本".into();
        lines.push(serde_json::to_string(&t).unwrap());
        t.tags = Vec::new().into();
        t.error = Some(TraceError::new(ErrorKind::Timeout, "timed out"));
        t.cost_usd = Some(1e-7);
        t.latency_ms = 30_000.0;
        lines.push(serde_json::to_string(&t).unwrap());
        lines.push(serde_json::to_string_pretty(&t).unwrap().replace('\n', " "));
        lines
    }

    #[test]
    fn reads_the_library_records_exactly_as_serde() {
        for line in samples() {
            let fast = row(&line).unwrap_or_else(|| panic!("not read: {line}"));
            assert_eq!(Some(fast), serde(&line));
        }
    }

    #[test]
    fn reads_generated_logs_as_serde_does() {
        let args = crate::args::GenArgs { lines: 3000, out: None, seed: 7, days: 3, end: Some(0) };
        let mut log = Vec::new();
        crate::commands::generate::write(&mut log, &args).unwrap();
        let log = String::from_utf8(log).unwrap();
        let mut fast_count = 0;
        for line in log.lines() {
            let slow = serde(line).unwrap();
            if let Some(mut fast) = row(line) {
                fast_count += 1;
                // serde_json's default float parsing may be one unit in the last place off
                // (its `float_roundtrip` feature is off); Rust's `parse` is exact.
                for (a, b) in
                    [(&mut fast.cost_usd, slow.cost_usd), (&mut fast.ttft_ms, slow.ttft_ms)]
                {
                    if let (Some(x), Some(y)) = (*a, b) {
                        assert!((x - y).abs() <= x.abs() * 1e-15, "{line}");
                        *a = Some(y);
                    }
                }
                assert!((fast.latency_ms - slow.latency_ms).abs() <= fast.latency_ms * 1e-15);
                fast.latency_ms = slow.latency_ms;
                assert_eq!(fast, slow, "{line}");
            }
        }
        assert!(fast_count > 2900, "only {fast_count} of 3000 read by the fast path");
    }

    #[test]
    fn never_accepts_a_truncated_record() {
        for line in samples() {
            for cut in 0..line.len() {
                if line.is_char_boundary(cut) {
                    assert!(row(&line[..cut]).is_none(), "accepted {:?}", &line[..cut]);
                }
            }
        }
    }

    #[test]
    fn agrees_with_serde_on_odd_lines() {
        let base = r#""trace_id":"t","timestamp":"2026-11-26T10:00:00Z""#;
        for body in [
            "",
            r#","extra":{"deep":[[[]]],"n":-1.5E+3}"#,
            r#","latency_ms":5"#,
            r#","latency_ms":-0"#,
            r#","latency_ms":1e400"#,
            r#","latency_ms":"5""#,
            r#","latency_ms":null"#,
            r#","prompt_tokens":1.0"#,
            r#","prompt_tokens":-1"#,
            r#","prompt_tokens":18446744073709551616"#,
            r#","prompt_tokens":01"#,
            r#","cached_tokens":null,"cost_usd":null,"ttft_ms":null,"error":null,"response_model":null"#,
            r#","error":{"kind":"x","status":70000}"#,
            r#","error":{"kind":"x","status":404,"extra":[1]}"#,
            r#","error":{}"#,
            r#","error":{"message":"with \"escape\""}"#,
            r#","tags":null"#,
            r#","tags":["a",1]"#,
            r#","tags":["a" , "b"]"#,
            r#","function_name":"esc\u0041ped""#,
            r#","function_name":"tab	inside""#,
            r#","model":"m","model":"m""#,
            r#","unknown":"x","unknown":"y""#,
            r#","x":tru"#,
            r#","x":[1,]"#,
            r#","x":{"a":1,}"#,
            r#","x":"\ud800""#,
            r#","x":"\q""#,
            r#","schema":2"#,
            r#","schema":"1""#,
        ] {
            for line in [
                format!("{{{base}{body}}}"),
                format!("  {{ {base}{body} }}  "),
                format!("{{{base}{body}}} x"),
            ] {
                agrees(&line);
            }
        }
        agrees(r#"{"timestamp":"t"}"#);
        agrees("[]");
        agrees("{}");
        agrees("");
        assert!(row(r#"{"trace_id":"t","timestamp":"x","latency_ms":5}"#).is_some());
    }
}
