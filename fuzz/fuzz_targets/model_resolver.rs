//! The model-name resolver over arbitrary ids, against the built-in table. It never panics,
//! and it never prices a model as a different one by string prefix. Precisely: let `id` be the
//! input with ASCII letters lowercased, and the *remainders* of `id` be `id` itself and every
//! `id[k+1..]` where `id[k] == '/'` (leading `segment/` prefixes removed). If `resolve` finds
//! a key `m`, then for some remainder `r` either `m == r`, or `r == m + s` where `s` is one
//! whole version suffix: `-latest`, `@DDDDDDDD`, `-DDDDDDDD`, `-DDDD` or `-DDDD-DD-DD`
//! (`D` an ASCII digit). And when `id` itself is a key, `m == id`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_trace_core::pricing::PriceTable;

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is exactly one version suffix.
fn version_suffix(s: &str) -> bool {
    if s == "-latest" {
        return true;
    }
    if let Some(d) = s.strip_prefix('@') {
        return digits(d, 8);
    }
    let Some(rest) = s.strip_prefix('-') else { return false };
    if digits(rest, 8) || digits(rest, 4) {
        return true;
    }
    let parts: Vec<&str> = rest.split('-').collect();
    parts.len() == 3 && digits(parts[0], 4) && digits(parts[1], 2) && digits(parts[2], 2)
}

fuzz_target!(|data: &[u8]| {
    let Ok(model) = std::str::from_utf8(data) else { return };
    let table = PriceTable::builtin_ref();
    let Some(found) = table.resolve(model) else { return };
    let id = model.to_ascii_lowercase();
    let mut remainders = vec![id.as_str()];
    remainders.extend(id.match_indices('/').map(|(k, _)| &id[k + 1..]));
    let key = found.model;
    let allowed = remainders
        .iter()
        .any(|r| *r == key || (r.starts_with(key) && version_suffix(&r[key.len()..])));
    assert!(allowed, "{model:?} was priced as {key:?}");
    if table.iter().any(|m| m.model == id) {
        assert_eq!(key, id, "an exact key wins");
    }
    assert_eq!(table.resolve(key).map(|m| m.model), Some(key), "a key resolves to itself");
});
