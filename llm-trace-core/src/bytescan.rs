//! Byte classes tested 16 bytes at a time, for the scans that run over every preview (the
//! redaction prefilter, JSON escaping). The classes are plain Rust in a shape the compiler
//! turns into a handful of vector instructions (SSE2 on x86-64, checked in the assembly): one
//! comparison per class for all 16 bytes, no branch per byte. Turning the 16 answers into 16
//! bits is the one step portable Rust cannot say in one instruction: on x86-64 it is SSE2's
//! `pmovmskb`, elsewhere two multiplications.

/// Bytes tested at once.
pub(crate) const LANES: usize = 16;

/// Every byte of a window, as [`bits`].
pub(crate) const EVERY: u16 = u16::MAX;

/// Each byte of `window` mapped to `0xff` if `class` says so, else `0`.
///
/// The loop writes `0xff` or `0` per byte instead of testing and branching: that is the form
/// that vectorizes (a byte compare and an `or` per class). Write `class` with `|` and `&`
/// between comparisons, not `||`, `&&` or `matches!`: a branch per byte keeps the loop
/// scalar, about five times the instructions.
#[inline(always)]
fn byte_masks(window: &[u8; LANES], class: impl Fn(u8) -> bool) -> [u8; LANES] {
    let mut bytes = [0u8; LANES];
    for (byte, &c) in bytes.iter_mut().zip(window) {
        *byte = 0u8.wrapping_sub(u8::from(class(c)));
    }
    bytes
}

/// The bytes of `window` in `class`, one bit each: bit `i` is set when `window[i]` is.
#[inline(always)]
pub(crate) fn bits(window: &[u8; LANES], class: impl Fn(u8) -> bool) -> u16 {
    top_bits(byte_masks(window, class))
}

/// The top bit of each byte, as bit `i` for byte `i`: SSE2's `pmovmskb`, one instruction
/// (SSE2 is part of every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn top_bits(bytes: [u8; LANES]) -> u16 {
    use std::arch::x86_64::{__m128i, _mm_movemask_epi8};
    #[allow(unsafe_code)]
    // SAFETY: `[u8; 16]` and `__m128i` are both 16 bytes of plain data, every bit pattern
    // valid in both; `_mm_movemask_epi8` needs SSE2, which every x86-64 CPU has.
    let mask = unsafe { _mm_movemask_epi8(std::mem::transmute::<[u8; LANES], __m128i>(bytes)) };
    mask as u16
}

/// The top bit of each byte, as bit `i` for byte `i`, in portable code: a multiplication per
/// eight bytes moves their top bits next to each other.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn top_bits_portable(bytes: [u8; LANES]) -> u16 {
    // Byte j's top bit, shifted down to bit 8j, lands at bit 56 + j: the factor has bit
    // 56 - 7j for each j. No two partial products share a bit, so nothing carries.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    const TOP: u64 = u64::MAX / 255 * 0x80;
    let half = |h: u64| (((h & TOP) >> 7).wrapping_mul(GATHER) >> 56) as u16;
    let all = u128::from_le_bytes(bytes);
    half(all as u64) | half((all >> 64) as u64) << 8
}

#[cfg(not(target_arch = "x86_64"))]
use top_bits_portable as top_bits;

/// The indexes (`0..16`, ascending) of the bits set in `bits`.
#[inline]
pub(crate) fn positions(mut bits: u16) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (bits != 0).then(|| {
            let at = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            at
        })
    })
}

/// One window of [`windows`].
pub(crate) struct Window {
    /// Where `bytes` starts in the text.
    pub(crate) at: usize,
    /// The 16 bytes from `at` (padded after the end of a text shorter than a window).
    pub(crate) bytes: [u8; LANES],
    /// The bytes (as [`bits`]) no earlier window had.
    pub(crate) fresh: u16,
}

/// `b` as windows of [`LANES`] bytes. Every byte is fresh in exactly one window: the last
/// window is the last 16 bytes of `b` and so may overlap the one before, and text shorter
/// than a window comes as one window filled up with `pad` (pick a byte outside the classes
/// you look for), where only `b`'s own bytes are fresh.
pub(crate) fn windows(b: &[u8], pad: u8) -> Windows<'_> {
    Windows { b, rest: b, at: 0, pad }
}

/// The iterator of [`windows`].
pub(crate) struct Windows<'a> {
    b: &'a [u8],
    /// The bytes no window had yet (`b[at..]`).
    rest: &'a [u8],
    at: usize,
    pad: u8,
}

impl Iterator for Windows<'_> {
    type Item = Window;

    #[inline(always)]
    fn next(&mut self) -> Option<Window> {
        // A whole window: one length test and a pointer bump (no index to bounds-check).
        if let Some((bytes, rest)) = self.rest.split_first_chunk::<LANES>() {
            let window = Window { at: self.at, bytes: *bytes, fresh: EVERY };
            self.rest = rest;
            self.at += LANES;
            return Some(window);
        }
        let new = self.rest.len(); // bytes no window had yet: 0..16
        if new == 0 {
            return None;
        }
        self.rest = &[];
        if self.b.len() < LANES {
            let mut short = [self.pad; LANES];
            short[..new].copy_from_slice(self.b);
            return Some(Window { at: 0, bytes: short, fresh: EVERY >> (LANES - new) });
        }
        Some(last_window(self.b, new))
    }
}

/// The window of [`windows`] holding the last `new` (1..16) bytes of `b`, with what it has of
/// the window before. Out of line: inlined, it keeps the compiler from vectorizing the loop
/// around it. (A function of values, not a method, so that the iterator stays in registers.)
#[inline(never)]
fn last_window(b: &[u8], new: usize) -> Window {
    let bytes = *b.last_chunk::<LANES>().expect("a text of a window or more");
    Window { at: b.len() - LANES, bytes, fresh: EVERY << (LANES - new) }
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
                let digits = bits(&chunk, |c| c.is_ascii_digit());
                let expected = if byte.is_ascii_digit() { 1u16 << at } else { 0 };
                assert_eq!(digits, expected, "{byte} at {at}");
                assert_eq!(
                    positions(digits).collect::<Vec<_>>(),
                    (expected != 0).then_some(at).into_iter().collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn every_byte_pattern_gathers_to_its_bits_on_every_path() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..100_000 {
            let chunk: [u8; LANES] = std::array::from_fn(|_| rng.u8(..));
            let expected = chunk.iter().rev().fold(0u16, |m, &c| m << 1 | u16::from(c >= 0x80));
            assert_eq!(bits(&chunk, |c| c >= 0x80), expected, "{chunk:?}");
            // The portable code, whichever the target.
            assert_eq!(top_bits_portable(chunk), expected, "{chunk:?}");
        }
        assert_eq!(bits(&[0xff; LANES], |c| c == 0xff), EVERY);
        assert_eq!(top_bits_portable([0xff; LANES]), EVERY);
        assert_eq!(top_bits_portable([0x7f; LANES]), 0);
    }

    #[test]
    fn positions_lists_every_set_bit_in_order() {
        let chunk = *b"a1b22c333d4444e5";
        let digits: Vec<usize> = positions(bits(&chunk, |c| c.is_ascii_digit())).collect();
        assert_eq!(digits, [1, 3, 4, 6, 7, 8, 10, 11, 12, 13, 15]);
        assert_eq!(positions(bits(&chunk, |c| c == b'z')).count(), 0);
    }

    #[test]
    fn windows_see_every_byte_once_as_fresh() {
        for len in 0..50u8 {
            let text: Vec<u8> = (1..=len).collect();
            let mut seen = Vec::new();
            for w in windows(&text, 0) {
                seen.extend(positions(w.fresh).map(|i| (w.at + i, w.bytes[i])));
                assert!(w.bytes[usize::from(len).min(LANES)..].iter().all(|&c| c == 0));
            }
            let expected: Vec<(usize, u8)> = text.iter().copied().enumerate().collect();
            assert_eq!(seen, expected, "{len}");
        }
    }
}
