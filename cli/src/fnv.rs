//! A stable 64-bit FNV-1a hash (std's hasher may change between Rust versions), for
//! names that must stay the same from one zlc build to the next: build-area workspaces
//! and the folder the embedded runtime sources are unpacked to. Also compiled into
//! `build.rs`.

/// FNV-1a of `bytes`, continuing from `state` (start with [`START`]).
pub fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The FNV-1a offset basis.
pub const START: u64 = 0xcbf2_9ce4_8422_2325;
