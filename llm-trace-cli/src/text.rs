//! Text from the log made safe for where it goes: terminals, CSV and HTML.

use std::borrow::Cow;

/// `text` with control characters (which could drive a terminal) shown as `\u{..}`, newlines
/// and tabs as spaces.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// At most `max` characters of `text`, cleaned, with `…` marking a cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let cleaned = clean(text);
    match cleaned.char_indices().nth(max) {
        None => cleaned.into_owned(),
        Some((cut, _)) => format!("{}…", &cleaned[..cut]),
    }
}

/// Pads or cuts `text` to exactly `width` characters (left-aligned).
pub(crate) fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        format!("{text}{}", " ".repeat(width - count))
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote, or line break.
pub(crate) fn csv(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// HTML-escapes `text` for element content and quoted attribute values.
pub(crate) fn html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(clean("a\x1b[31mred\nx"), "a\\u{1b}[31mred x");
        assert_eq!(clip("héllo wörld", 4), "héll…");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(csv("a,b \"c\""), "\"a,b \"\"c\"\"\"");
        assert_eq!(csv("plain"), "plain");
        assert_eq!(
            html("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
