//! Finding the first byte of a small set, for the two hand-written JSON readers: the
//! answer scanner (`event/stream.rs`) and the message reader (`event/scan.rs`). Most of
//! an event is string text that neither reader looks at, so this search is their inner
//! loop.
//!
//! On x86_64 it compares sixteen bytes at a time with SSE2 (part of the x86_64 baseline,
//! so no detection at run time); elsewhere, and for the last few bytes, eight at a time
//! in a `u64` ("SIMD within a register"), then one at a time. Each set says its bytes all
//! three ways, and a test holds the three to the byte loop.
//!
//! In a word, a mask flags a byte in its high bit. A false flag can only sit above a true
//! one (a borrow runs upwards, from a byte that really matched), so the lowest flag is
//! exact, in one mask and in an OR of several.

#[cfg(target_arch = "x86_64")]
use safe_arch::{
    bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, m128i, min_u8_m128i,
    move_mask_i8_m128i, set_splat_i8_m128i,
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` equal to `b`.
#[inline(always)]
fn eq(word: u64, b: u8) -> u64 {
    let x = word ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The bytes of `word` below `n` (for `n` up to 0x80): control characters, with 0x20.
#[inline(always)]
fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH
}

/// A set of bytes to search for.
pub(crate) trait ByteSet {
    /// Whether `b` is in the set.
    fn hit(b: u8) -> bool;
    /// The bytes of `word` in the set, flagged in their high bits.
    fn word(word: u64) -> u64;
    /// The lanes of `v` in the set, as all-ones bytes.
    #[cfg(target_arch = "x86_64")]
    fn lanes(v: m128i) -> m128i;
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lanes_eq(v: m128i, b: u8) -> m128i {
    cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(b as i8))
}

/// What ends a run of plain string text: a quote, a backslash or a control character
/// (which JSON forbids inside strings).
pub(crate) struct PlainEnd;

impl ByteSet for PlainEnd {
    #[inline(always)]
    fn hit(b: u8) -> bool {
        b == b'"' || b == b'\\' || b < 0x20
    }
    #[inline(always)]
    fn word(w: u64) -> u64 {
        eq(w, b'"') | eq(w, b'\\') | below(w, 0x20)
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn lanes(v: m128i) -> m128i {
        // `min(v, 0x1f) == v` is an unsigned `v <= 0x1f`.
        let control = cmp_eq_mask_i8_m128i(min_u8_m128i(v, set_splat_i8_m128i(0x1f)), v);
        bitor_m128i(bitor_m128i(lanes_eq(v, b'"'), lanes_eq(v, b'\\')), control)
    }
}

/// What ends a string for a reader that does not check its text: a quote or a backslash.
pub(crate) struct StringEnd;

impl ByteSet for StringEnd {
    #[inline(always)]
    fn hit(b: u8) -> bool {
        b == b'"' || b == b'\\'
    }
    #[inline(always)]
    fn word(w: u64) -> u64 {
        eq(w, b'"') | eq(w, b'\\')
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn lanes(v: m128i) -> m128i {
        bitor_m128i(lanes_eq(v, b'"'), lanes_eq(v, b'\\'))
    }
}

/// Quotes and brackets.
pub(crate) struct Structural;

impl ByteSet for Structural {
    #[inline(always)]
    fn hit(b: u8) -> bool {
        matches!(b, b'"' | b'{' | b'}' | b'[' | b']')
    }
    /// `| 0x20` makes `[` and `]` into `{` and `}`, and no other byte into either.
    #[inline(always)]
    fn word(w: u64) -> u64 {
        let folded = w | (ONES * 0x20);
        eq(w, b'"') | eq(folded, b'{') | eq(folded, b'}')
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn lanes(v: m128i) -> m128i {
        let folded = bitor_m128i(v, set_splat_i8_m128i(0x20));
        bitor_m128i(
            lanes_eq(v, b'"'),
            bitor_m128i(lanes_eq(folded, b'{'), lanes_eq(folded, b'}')),
        )
    }
}

/// The index of the first byte of `S` at or after `i`, or `bytes.len()`.
#[inline(always)]
pub(crate) fn find<S: ByteSet>(bytes: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = bytes.get(i..i + 16) {
        let mut block = [0u8; 16];
        block.copy_from_slice(chunk);
        let v = load_unaligned_m128i(&block);
        let m = move_mask_i8_m128i(S::lanes(v)) as u32;
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let m = S::word(u64::from_le_bytes(word));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !S::hit(bytes[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_finds_what_a_byte_loop_finds() {
        fastrand::seed(11);
        // Written apart from the sets, so that a slip in one is not in both.
        let structural = |b: u8| matches!(b, b'"' | b'{' | b'}' | b'[' | b']');
        let string_end = |b: u8| b == b'"' || b == b'\\';
        let plain_end = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        for _ in 0..20_000 {
            // Mostly bytes that are none of them, with every byte value now and then;
            // long enough for two SSE2 blocks, a word and a tail.
            let bytes: Vec<u8> = (0..fastrand::usize(0..48))
                .map(|_| match fastrand::u8(..8) {
                    0 => fastrand::u8(..),
                    1 => *fastrand::choice(b"\"{}[]\\\x01\x1f\x7f\xfb\xfd ").unwrap_or(&b'a'),
                    _ => fastrand::u8(b'a'..=b'z'),
                })
                .collect();
            for start in 0..=bytes.len() {
                let want = |hit: &dyn Fn(u8) -> bool| {
                    bytes[start..]
                        .iter()
                        .position(|&b| hit(b))
                        .map_or(bytes.len(), |p| start + p)
                };
                let at = format!("{bytes:?} from {start}");
                assert_eq!(find::<Structural>(&bytes, start), want(&structural), "{at}");
                assert_eq!(find::<StringEnd>(&bytes, start), want(&string_end), "{at}");
                assert_eq!(find::<PlainEnd>(&bytes, start), want(&plain_end), "{at}");
            }
        }
    }

    #[test]
    fn every_byte_value_is_judged_alike_by_all_three_forms() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b, b'a', b'a', b'a', b'a', b'a', b'a', b'a']);
            let block = [b; 16];
            for (name, hit, in_word, in_block) in [
                (
                    "plain end",
                    PlainEnd::hit(b),
                    PlainEnd::word(word),
                    find::<PlainEnd>(&block, 0),
                ),
                (
                    "string end",
                    StringEnd::hit(b),
                    StringEnd::word(word),
                    find::<StringEnd>(&block, 0),
                ),
                (
                    "structural",
                    Structural::hit(b),
                    Structural::word(word),
                    find::<Structural>(&block, 0),
                ),
            ] {
                assert_eq!(hit, in_word & 0x80 != 0, "{name}: {b:#x} in a word");
                assert_eq!(hit, in_block == 0, "{name}: {b:#x} in a block");
            }
        }
    }
}
