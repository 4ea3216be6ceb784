//! The model-id rewriting used by [`PriceTable::resolve`](super::PriceTable::resolve).
//!
//! Only whole trailing segments are ever removed, so `gpt-4o-mini` can never
//! become `gpt-4o`.

/// Removes one date/snapshot suffix, if the id ends with one:
///
/// * `-latest`
/// * `@YYYYMMDD` (Vertex AI style, exactly 8 digits)
/// * `-YYYY-MM-DD`
/// * `-YYYYMMDD` (exactly 8 digits)
/// * `-NNNN` (exactly 4 digits: `-0613`, `-0125`, `-2411`)
///
/// Returns `None` when there is no such suffix, or nothing would be left.
pub(super) fn strip_version_suffix(id: &str) -> Option<&str> {
    if let Some(base) = id.strip_suffix("-latest") {
        return non_empty(base);
    }
    if let Some((base, _)) = id.rsplit_once('@').filter(|(_, tail)| is_digits(tail, 8)) {
        return non_empty(base);
    }
    let (base, last) = id.rsplit_once('-')?;
    if is_digits(last, 8) || is_digits(last, 4) {
        return non_empty(base);
    }
    if is_digits(last, 2) {
        // -YYYY-MM-DD
        let (rest, month) = base.rsplit_once('-')?;
        let (rest, year) = rest.rsplit_once('-')?;
        if is_digits(month, 2) && is_digits(year, 4) {
            return non_empty(rest);
        }
    }
    None
}

fn is_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The ids tried, in order, for an already lowercased model id: for the id
/// and then for each remainder after removing one more leading `segment/`
/// (longest first), the remainder itself and then the remainder without its
/// version suffix. The first one is the id itself.
///
/// This allocates; [`PriceTable::resolve`](super::PriceTable::resolve) walks
/// the same sequence without allocating. It exists for tests and debugging.
#[cfg(test)]
pub(super) fn candidates(id: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = id;
    loop {
        out.push(rest);
        if let Some(base) = strip_version_suffix(rest) {
            out.push(base);
        }
        match rest.split_once('/') {
            Some((_, tail)) => rest = tail,
            None => break,
        }
    }
    out
}
