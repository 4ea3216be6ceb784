//! Token counts with tiktoken, for calls whose provider reported no usage.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

/// The tokenizer of `model`, or `o200k_base` (current OpenAI models) for models tiktoken does
/// not know (a llama.cpp server's model, say): an estimate, marked as such in the record.
fn encoder(model: &str) -> &'static CoreBPE {
    tiktoken_rs::bpe_for_model(model).unwrap_or_else(|_| o200k())
}

fn o200k() -> &'static CoreBPE {
    tiktoken_rs::o200k_base_singleton()
}

/// Tokens in `text` for `model`.
pub(super) fn count(model: &str, text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    encoder(model).encode_ordinary(text).len() as u64
}

/// Prompt tokens of a conversation: its text plus OpenAI's per-message framing (about 3
/// tokens a message and 3 to prime the reply).
pub(super) fn prompt(model: &str, text: &str, messages: usize) -> u64 {
    count(model, text) + 3 * messages as u64 + 3
}

/// Loads the default tokenizer in the background, so the first estimate does not pay for it
/// on the caller's thread.
pub(super) fn warm_up() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let _ = std::thread::Builder::new().name("llm-trace-tokenizer".into()).spawn(|| {
            o200k();
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_tiktoken() {
        // "Hello, world!" is 4 tokens in both cl100k_base and o200k_base.
        assert_eq!(count("gpt-4o-mini", "Hello, world!"), 4);
        assert_eq!(count("some-local-llama", "Hello, world!"), 4);
        assert_eq!(count("gpt-4o", ""), 0);
        assert_eq!(prompt("gpt-4o", "Hello, world!", 1), 4 + 3 + 3);
    }
}
