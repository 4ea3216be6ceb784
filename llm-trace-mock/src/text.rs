//! The mock "model": its tokenizer, model-name snapshots and reply texts.

/// The date suffix appended to model names that have none.
pub(crate) const SNAPSHOT_SUFFIX: &str = "-2024-07-18";

/// Splits `text` into the mock tokenizer's tokens.
///
/// The text is cut into words (a run of whitespace followed by a run of
/// non-whitespace), and each word into pieces of at most 4 characters. The
/// pieces concatenate back to `text`.
pub(crate) fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for word in words(text) {
        let mut start = 0;
        let mut count = 0;
        for (i, _) in word.char_indices() {
            if count == 4 {
                out.push(&word[start..i]);
                start = i;
                count = 0;
            }
            count += 1;
        }
        if start < word.len() {
            out.push(&word[start..]);
        }
    }
    out
}

/// Splits `text` into words: each is leading whitespace followed by
/// non-whitespace. The words concatenate back to `text`.
pub(crate) fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                out.push(&text[start..i]);
                start = i;
                in_word = false;
            }
        } else {
            in_word = true;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The number of tokens the mock counts for `text` (see [`count_tokens`](crate::count_tokens)).
pub(crate) fn count(text: &str) -> u32 {
    u32::try_from(tokens(text).len()).unwrap_or(u32::MAX)
}

/// `ceil(chars / 4)`: the prompt-side estimate.
pub(crate) fn estimate(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// The first `n` tokens of `text`, concatenated.
pub(crate) fn first_tokens(text: &str, n: usize) -> String {
    tokens(text).into_iter().take(n).collect()
}

/// `model` with [`SNAPSHOT_SUFFIX`] appended unless it already ends in a date
/// (`-YYYY-MM-DD` or an OpenAI-style `-MMDD`, as in `gpt-4-0613`).
pub(crate) fn snapshot(model: &str) -> String {
    if has_date_suffix(model) { model.to_owned() } else { format!("{model}{SNAPSHOT_SUFFIX}") }
}

fn has_date_suffix(model: &str) -> bool {
    let all_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = model.rsplitn(4, '-').collect();
    // parts are reversed: [last, second-to-last, ...]
    match parts.as_slice() {
        [dd, mm, yyyy, _rest] if all_digits(dd, 2) && all_digits(mm, 2) && all_digits(yyyy, 4) => {
            true
        }
        [mmdd, _, ..] if all_digits(mmdd, 4) => true,
        _ => false,
    }
}

/// The first `n` whitespace-separated words of `text`, joined by single
/// spaces, with `...` appended when there were more.
pub(crate) fn snippet(text: &str, n: usize) -> String {
    let all: Vec<&str> = text.split_whitespace().collect();
    let mut s = all.iter().take(n).copied().collect::<Vec<_>>().join(" ");
    if all.len() > n {
        s.push_str("...");
    }
    s
}

/// The deterministic reply to a conversation whose last user message is
/// `last_user` (if any).
pub(crate) fn default_reply(last_user: Option<&str>) -> String {
    match last_user.map(|t| snippet(t, 6)).filter(|s| !s.is_empty()) {
        Some(s) => format!(
            "This is a mock reply to \"{s}\" from llm-trace-mock. The same request always gets the same answer."
        ),
        None => "This is a mock reply from llm-trace-mock. The same request always gets the same answer."
            .to_owned(),
    }
}

/// The deterministic reply after a tool result `tool_output`.
pub(crate) fn after_tool_reply(tool_output: &str) -> String {
    let s = snippet(tool_output, 6);
    if s.is_empty() {
        "The tool returned nothing. This is a mock reply from llm-trace-mock.".to_owned()
    } else {
        format!("The tool returned \"{s}\". This is a mock reply from llm-trace-mock.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_concatenate_back() {
        for text in [
            "",
            "Hello world",
            "  leading and trailing  ",
            "unbreakablewordhere",
            "naïve café — ok",
            "a\nb\tc",
        ] {
            assert_eq!(tokens(text).concat(), text);
            assert_eq!(words(text).concat(), text);
        }
        assert_eq!(tokens("Hello world"), ["Hell", "o", " wor", "ld"]);
        assert_eq!(count("This is a mock"), 5); // "This" " is" " a" " moc" "k"
        assert_eq!(first_tokens("Hello world", 3), "Hello wor");
    }

    #[test]
    fn estimate_is_ceil_quarter() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("abcd"), 1);
        assert_eq!(estimate("abcde"), 2);
    }

    #[test]
    fn snapshots() {
        assert_eq!(snapshot("gpt-4o-mini"), "gpt-4o-mini-2024-07-18");
        assert_eq!(snapshot("gpt-4o-2024-08-06"), "gpt-4o-2024-08-06");
        assert_eq!(snapshot("gpt-4-0613"), "gpt-4-0613");
        assert_eq!(snapshot("o3"), "o3-2024-07-18");
        assert_eq!(snapshot("llama3:8b"), "llama3:8b-2024-07-18");
    }

    #[test]
    fn replies_are_deterministic() {
        let a = default_reply(Some("What is the capital of France, please?"));
        assert_eq!(a, default_reply(Some("What is the capital of France, please?")));
        assert!(a.contains("\"What is the capital of France,...\""), "{a}");
        assert!(default_reply(None).starts_with("This is a mock reply from"));
    }
}
