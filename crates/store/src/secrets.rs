//! Random tokens and keyed hashes. Tokens are stored only as hashes.

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

/// 32 random bytes, hex-encoded.
pub fn random_token() -> String {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    hex::encode(buf)
}

/// A number of `digits` decimal digits from the operating system's random source.
pub fn random_code(digits: u32) -> String {
    let modulus = 10u64.pow(digits);
    // Rejection sampling keeps the distribution uniform.
    let limit = u64::MAX - (u64::MAX % modulus);
    loop {
        let mut buf = [0u8; 8];
        getrandom::fill(&mut buf).expect("the operating system's random source failed");
        let n = u64::from_le_bytes(buf);
        if n < limit {
            return format!("{:0width$}", n % modulus, width = digits as usize);
        }
    }
}

/// SHA-256 of a token, hex-encoded: what the database keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// HMAC-SHA256 of `message` under `key`, hex-encoded. Used to derive link tokens from a row
/// id, so that the outbox never holds a usable token, only what the worker can re-derive.
pub fn keyed(key: &[u8], message: &str) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_requested_length() {
        for _ in 0..100 {
            let c = random_code(6);
            assert_eq!(c.len(), 6);
            assert!(c.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn keyed_hash_depends_on_key_and_message() {
        assert_ne!(keyed(b"a", "1"), keyed(b"b", "1"));
        assert_ne!(keyed(b"a", "1"), keyed(b"a", "2"));
        assert_eq!(keyed(b"a", "1"), keyed(b"a", "1"));
    }
}
