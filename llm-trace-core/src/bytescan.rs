//! Byte classes tested 16 bytes at a time, for the scans that run over every preview (the
//! redaction prefilter, JSON escaping). Written in plain safe Rust in a shape the compiler
//! turns into a handful of vector instructions (SSE2 on x86-64, checked in the assembly): one
//! comparison per class for all 16 bytes, no branch per byte.

/// Bytes tested at once.
pub(crate) const LANES: usize = 16;

/// Every byte, as a [`mask`] (the top bit of each byte): `EVERY & !mask` is the complement.
pub(crate) const EVERY: u128 = u128::MAX / 255 * 0x80;

/// The bytes of `window` in `class`: bit 7 of byte `i` of the result is set when `window[i]` is,
/// every other bit is clear (so `!= 0` asks "any?", and [`positions`] lists them).
///
/// The loop writes `0xff` or `0` per byte instead of testing and branching: that is the form
/// that vectorizes (a byte compare and a mask move per class). Write `class` with `|` and
/// `&` between comparisons, not `||`, `&&` or `matches!`: a branch per byte keeps the loop
/// scalar, about five times the instructions.
#[inline(always)]
pub(crate) fn mask(window: &[u8; LANES], class: impl Fn(u8) -> bool) -> u128 {
    let mut bytes = [0u8; LANES];
    for (byte, &c) in bytes.iter_mut().zip(window) {
        *byte = 0u8.wrapping_sub(u8::from(class(c)));
    }
    u128::from_le_bytes(bytes) & EVERY
}

/// How many bytes are set in a [`mask`]. (`count_ones` is a dozen instructions per word on
/// x86-64 CPUs without `popcnt`, the baseline; this is two multiplications.)
#[inline]
pub(crate) fn count(mask: u128) -> usize {
    // Bit 0 of each byte, then the sum of the eight bytes of each half lands in its top byte.
    const ONES: u64 = u64::MAX / 255;
    let sum = |half: u64| ((half >> 7).wrapping_mul(ONES) >> 56) as usize;
    sum(mask as u64) + sum((mask >> 64) as u64)
}

/// The indexes (`0..16`, ascending) of the bytes set in a [`mask`].
#[inline]
pub(crate) fn positions(mut mask: u128) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let at = mask.trailing_zeros() as usize / 8;
            mask &= mask - 1;
            at
        })
    })
}

/// `b` as windows of [`LANES`] bytes: `(at, window, fresh)` with `window` the bytes from
/// `b[at..]` and `fresh` the [`mask`] of the bytes no earlier window had. That is every byte
/// but in the last window, which is the last 16 bytes of `b` and so may overlap the one
/// before. Text shorter than a window comes as one window filled up with `pad` (pick a byte
/// outside the classes you look for), where only `b`'s own bytes are fresh.
pub(crate) fn windows(b: &[u8], pad: u8) -> Windows<'_> {
    Windows { b, at: 0, pad }
}

/// The iterator of [`windows`].
pub(crate) struct Windows<'a> {
    b: &'a [u8],
    at: usize,
    pad: u8,
}

impl Iterator for Windows<'_> {
    type Item = (usize, [u8; LANES], u128);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (b, at) = (self.b, self.at);
        let window = |at: usize| <[u8; LANES]>::try_from(&b[at..at + LANES]).expect("16 bytes");
        if at + LANES <= b.len() {
            self.at += LANES;
            return Some((at, window(at), EVERY));
        }
        if at == b.len() {
            return None;
        }
        self.at = b.len();
        let new = b.len() - at; // 1..16 bytes not seen yet
        if b.len() >= LANES {
            let from = b.len() - LANES;
            return Some((from, window(from), EVERY << (8 * (LANES - new))));
        }
        let mut short = [self.pad; LANES];
        short[..new].copy_from_slice(b);
        Some((0, short, EVERY >> (8 * (LANES - new))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_at_every_position_is_classified() {
        for byte in 0..=255u8 {
            for at in 0..LANES {
                let mut chunk = [b'x'; LANES];
                chunk[at] = byte;
                let digits = mask(&chunk, |c| c.is_ascii_digit());
                let expected = if byte.is_ascii_digit() { 0x80u128 << (8 * at) } else { 0 };
                assert_eq!(digits, expected, "{byte} at {at}");
                assert_eq!(
                    positions(digits).collect::<Vec<_>>(),
                    (expected != 0).then_some(at).into_iter().collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn count_counts_every_set_byte() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..10_000 {
            let chunk: [u8; LANES] = std::array::from_fn(|_| rng.u8(b'0'..=b'z'));
            let digits = mask(&chunk, |c| c.is_ascii_digit());
            assert_eq!(count(digits), chunk.iter().filter(|c| c.is_ascii_digit()).count());
        }
        assert_eq!(count(EVERY), LANES);
        assert_eq!(count(0), 0);
    }

    #[test]
    fn positions_lists_every_set_byte_in_order() {
        let chunk = *b"a1b22c333d4444e5";
        let digits: Vec<usize> = positions(mask(&chunk, |c| c.is_ascii_digit())).collect();
        assert_eq!(digits, [1, 3, 4, 6, 7, 8, 10, 11, 12, 13, 15]);
        assert_eq!(positions(mask(&chunk, |c| c == b'z')).count(), 0);
    }

    #[test]
    fn windows_see_every_byte_once_as_fresh() {
        for len in 0..50u8 {
            let text: Vec<u8> = (1..=len).collect();
            let mut seen = Vec::new();
            for (at, window, fresh) in windows(&text, 0) {
                seen.extend(positions(fresh).map(|i| (at + i, window[i])));
                assert!(window[usize::from(len).min(LANES)..].iter().all(|&c| c == 0));
            }
            let expected: Vec<(usize, u8)> = text.iter().copied().enumerate().collect();
            assert_eq!(seen, expected, "{len}");
        }
    }
}
