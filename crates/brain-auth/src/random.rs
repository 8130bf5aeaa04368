//! Randomness from the operating system for every secret the crate makes.

use data_encoding::BASE64URL_NOPAD;
use rand_core::{OsRng, RngCore};

pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng.fill_bytes(&mut out);
    out
}

/// `N` random bytes, base64url without padding.
pub(crate) fn base64url<const N: usize>() -> String {
    BASE64URL_NOPAD.encode(&bytes::<N>())
}
