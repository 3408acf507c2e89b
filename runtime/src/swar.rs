//! Finding the first byte of a small set, eight bytes at a time in a `u64` ("SIMD
//! within a register"), for the two hand-written JSON readers: the answer scanner
//! (`source/stream.rs`) and the message reader (`event/scan.rs`). Plain integer
//! arithmetic, so no `unsafe` and no target features.
//!
//! A mask flags a byte in its high bit. A false flag can only sit above a true one (a
//! borrow runs upwards, from a byte that really matched), so the lowest flag is exact,
//! in one mask and in an OR of several.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` equal to `b`.
#[inline(always)]
pub(crate) fn eq(word: u64, b: u8) -> u64 {
    let x = word ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The bytes of `word` below `n` (for `n` up to 0x80): control characters, with 0x20.
#[inline(always)]
pub(crate) fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH
}

/// Quotes and brackets: `| 0x20` makes `[` and `]` into `{` and `}`, and no other byte
/// into either.
#[inline(always)]
pub(crate) fn structural(word: u64) -> u64 {
    let folded = word | (ONES * 0x20);
    eq(word, b'"') | eq(folded, b'{') | eq(folded, b'}')
}

/// The index of the first byte at or after `i` that `hit` accepts, or `bytes.len()`:
/// eight bytes at a time through `mask`, which must flag the same bytes, then one at a
/// time for the last few.
#[inline(always)]
pub(crate) fn find(
    bytes: &[u8],
    mut i: usize,
    mask: impl Fn(u64) -> u64,
    hit: impl Fn(u8) -> bool,
) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let m = mask(u64::from_le_bytes(word));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !hit(bytes[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_at_a_time_search_finds_what_a_byte_loop_finds() {
        fastrand::seed(11);
        let structural_byte = |b: u8| matches!(b, b'"' | b'{' | b'}' | b'[' | b']');
        let string_end = |b: u8| b == b'"' || b == b'\\';
        let plain_end = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        for _ in 0..20_000 {
            // Mostly bytes that are none of them, with every byte value now and then.
            let bytes: Vec<u8> = (0..fastrand::usize(0..40))
                .map(|_| match fastrand::u8(..8) {
                    0 => fastrand::u8(..),
                    1 => *fastrand::choice(b"\"{}[]\\\x01\x1f ").unwrap_or(&b'a'),
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
                assert_eq!(
                    find(&bytes, start, structural, structural_byte),
                    want(&structural_byte),
                    "{bytes:?} from {start}"
                );
                let in_string = |w| eq(w, b'"') | eq(w, b'\\');
                assert_eq!(
                    find(&bytes, start, in_string, string_end),
                    want(&string_end),
                    "{bytes:?} from {start}"
                );
                let plain = |w| eq(w, b'"') | eq(w, b'\\') | below(w, 0x20);
                assert_eq!(
                    find(&bytes, start, plain, plain_end),
                    want(&plain_end),
                    "{bytes:?} from {start}"
                );
            }
        }
    }
}
