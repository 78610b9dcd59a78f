//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 30-second steps, 6 digits), the kind
//! every authenticator app reads, and the RFC 4648 base32 its secrets are written in.

use hmac::{KeyInit, Mac};

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 without padding.
pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Base32 decoding, ignoring case, spaces and padding.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in s.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = ALPHABET
            .iter()
            .position(|a| *a as char == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The code for one 30-second step.
pub fn code_at(secret: &[u8], step: u64) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let bin = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// The step whose code this is (the current step or one either side, for clock drift), or
/// `None`. The caller records the step so that a code is never accepted twice.
pub fn verify_step(secret_b32: &str, code: &str, unix_time: i64) -> Option<u64> {
    let secret = base32_decode(secret_b32)?;
    let code = code.trim();
    let step = (unix_time / 30).max(1) as u64;
    // Every candidate is computed and compared, so timing does not tell which one matched.
    let mut found = None;
    for s in [step - 1, step, step + 1] {
        if madoguchi_store::secrets::constant_time_eq(&code_at(&secret, s), code) {
            found = Some(s);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_step_names_the_step_of_the_code() {
        // RFC 6238's SHA-1 key; steps written down from its vectors, not from this code.
        let b32 = base32_encode(b"12345678901234567890");
        let t = 1_111_111_109; // step 37037036, code 081804
        assert_eq!(verify_step(&b32, "081804", t), Some(37_037_036));
        assert_eq!(
            verify_step(&b32, "081804", t + 30),
            Some(37_037_036),
            "drift"
        );
        assert_eq!(verify_step(&b32, "081804", t + 60), None, "two steps late");
        assert_eq!(verify_step(&b32, "000000", t), None);
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1 key "12345678901234567890", last 6 digits.
        let key = b"12345678901234567890";
        assert_eq!(code_at(key, 59 / 30), "287082");
        assert_eq!(code_at(key, 1_111_111_109 / 30), "081804");
        assert_eq!(code_at(key, 2_000_000_000 / 30), "279037");
    }

    #[test]
    fn base32_round_trips() {
        let data = b"12345678901234567890";
        let enc = base32_encode(data);
        assert_eq!(enc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode(&enc).unwrap(), data);
        assert_eq!(verify_step(&enc, "287082", 59), Some(1));
        assert_eq!(verify_step(&enc, "287083", 59), None);
    }
}
