//! Previews at any length over arbitrary text: never a panic, always a prefix of the text cut
//! on a character boundary, exactly `max` characters then `…` when cut, the text itself when not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_trace_core::trace::preview;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else { return };
    let max = usize::from(u16::from_le_bytes(*len) % 512);
    let text = String::from_utf8_lossy(rest);
    let cut = preview(&text, max);
    let total = text.chars().count();
    if total <= max {
        assert_eq!(cut, text);
    } else {
        let kept = cut.strip_suffix('…').expect("a cut is marked");
        assert!(text.starts_with(kept));
        assert_eq!(kept.chars().count(), max);
    }
});
