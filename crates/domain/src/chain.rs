//! The audit chain's canonical form and hashes (`docs/audit.md`): pure functions over the
//! stored fields, so the writer, the verifier, an independent checker and the benchmarks share
//! one definition. No IO; `at` is an argument like everything else.

use std::io::Write as _;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry of every chain (and of the first checkpoint).
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A hash as stored: 64 lower-case hex digits.
pub type HexHash = [u8; 64];

/// The fields an entry's hash covers, in order, as they are stored.
#[derive(Debug, Clone, Copy)]
pub struct HashInput<'a> {
    /// Chain name.
    pub chain: &'a str,
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, truncated to microseconds.
    pub at: DateTime<Utc>,
    /// Actor kind.
    pub actor_kind: &'a str,
    /// Actor id.
    pub actor_id: Option<&'a str>,
    /// Role.
    pub role: Option<&'a str>,
    /// Action.
    pub action: &'a str,
    /// Detail as stored (a JSON object).
    pub detail: &'a str,
    /// Source IP.
    pub ip: Option<&'a str>,
    /// User agent.
    pub user_agent: Option<&'a str>,
}

/// Computes entry hashes into a reused buffer: the verifier hashes every entry of the trail,
/// so it allocates nothing per entry.
#[derive(Debug, Default)]
pub struct EntryHasher {
    buf: Vec<u8>,
}

impl EntryHasher {
    /// A hasher with an empty buffer.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(512),
        }
    }

    /// `hex(SHA-256(prev_hash ‖ "\n" ‖ C))` with `C` the compact JSON array of the fields.
    pub fn hash(&mut self, prev_hash: &str, e: &HashInput<'_>) -> HexHash {
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(prev_hash.as_bytes());
        buf.extend_from_slice(b"\n[");
        json_string(buf, e.chain);
        buf.push(b',');
        integer(buf, e.seq);
        buf.extend_from_slice(b",\"");
        timestamp(buf, e.at);
        buf.extend_from_slice(b"\",");
        json_string(buf, e.actor_kind);
        buf.push(b',');
        json_opt(buf, e.actor_id);
        buf.push(b',');
        json_opt(buf, e.role);
        buf.push(b',');
        json_string(buf, e.action);
        buf.push(b',');
        json_string(buf, e.detail);
        buf.push(b',');
        json_opt(buf, e.ip);
        buf.push(b',');
        json_opt(buf, e.user_agent);
        buf.push(b']');
        hex(&Sha256::digest(&buf[..]).into())
    }
}

/// `SHA-256(prev_hash ‖ "\n" ‖ canonical JSON array of the fields)`, hex-encoded.
pub fn entry_hash(prev_hash: &str, e: &HashInput<'_>) -> String {
    let h = EntryHasher::new().hash(prev_hash, e);
    String::from_utf8(h.to_vec()).expect("hex is ASCII")
}

/// `SHA-256(prev ‖ "\n" ‖ JSON [seq, at, upto_id, heads])` for a checkpoint, hex-encoded.
pub fn checkpoint_hash(
    prev: &str,
    seq: i64,
    at: DateTime<Utc>,
    upto_id: i64,
    heads: &str,
) -> String {
    let mut buf = Vec::with_capacity(prev.len() + heads.len() + 96);
    buf.extend_from_slice(prev.as_bytes());
    buf.extend_from_slice(b"\n[");
    write!(buf, "{seq},\"").expect("writing to a Vec cannot fail");
    timestamp(&mut buf, at);
    write!(buf, "\",{upto_id},").expect("writing to a Vec cannot fail");
    json_string(&mut buf, heads);
    buf.push(b']');
    let h = hex(&Sha256::digest(&buf).into());
    String::from_utf8(h.to_vec()).expect("hex is ASCII")
}

/// The digest a stored hash spells, when it is exactly 64 lower-case hex digits (the only
/// spelling [`EntryHasher::hash`] produces, so anything else can never match a recomputed one).
pub fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

fn hex(digest: &[u8; 32]) -> HexHash {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
    out
}

/// A JSON string exactly as `serde_json` writes it (which escapes `"`, `\` and control
/// characters only), with a copy for the common string that needs no escaping.
fn json_string(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        serde_json::to_writer(&mut *buf, s).expect("writing to a Vec cannot fail");
    } else {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    }
}

fn json_opt(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_string(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
}

/// An integer as JSON (and `Display`) writes it.
fn integer(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

/// RFC 3339 in UTC with six fractional digits and `Z`, as `to_rfc3339_opts(Micros, true)`
/// writes it; the digits are written directly for the years 0–9999 without a leap second,
/// and chrono formats anything else.
fn timestamp(buf: &mut Vec<u8>, at: DateTime<Utc>) {
    let (year, nanos) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        buf.extend_from_slice(at.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
        return;
    }
    fn digits<const N: usize>(out: &mut [u8], mut n: u32) {
        for d in out[..N].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    let mut s = *b"0000-00-00T00:00:00.000000Z";
    digits::<4>(&mut s[0..], year as u32);
    digits::<2>(&mut s[5..], at.month());
    digits::<2>(&mut s[8..], at.day());
    digits::<2>(&mut s[11..], at.hour());
    digits::<2>(&mut s[14..], at.minute());
    digits::<2>(&mut s[17..], at.second());
    digits::<6>(&mut s[20..], nanos / 1000);
    buf.extend_from_slice(&s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn reference_entry(prev: &str, e: &HashInput<'_>) -> String {
        let canonical = serde_json::json!([
            e.chain,
            e.seq,
            e.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            e.actor_kind,
            e.actor_id,
            e.role,
            e.action,
            e.detail,
            e.ip,
            e.user_agent,
        ]);
        let mut h = Sha256::new();
        h.update(prev.as_bytes());
        h.update(b"\n");
        h.update(canonical.to_string().as_bytes());
        let d: [u8; 32] = h.finalize().into();
        String::from_utf8(hex(&d).to_vec()).unwrap()
    }

    #[test]
    fn the_hand_written_canonical_form_is_serde_json_compact() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap();
        let mut e = HashInput {
            chain: "request:x",
            seq: 7,
            at,
            actor_kind: "staff",
            actor_id: Some("ｏ\"1\\\n\u{1}\u{7f}"),
            role: None,
            action: "data.viewed",
            detail: "{\"target\":\"詳細\"}",
            ip: Some("127.0.0.1"),
            user_agent: None,
        };
        assert_eq!(entry_hash("prev", &e), reference_entry("prev", &e));
        e.seq = -12;
        e.role = Some("officer\t");
        e.user_agent = Some("Mozilla/5.0 (X11; Linux) \u{8}\u{c}\r");
        assert_eq!(entry_hash(GENESIS, &e), reference_entry(GENESIS, &e));
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let mut hasher = EntryHasher::new();
        let mut nanos = 0u32;
        let mut secs = -62_000_000_000i64;
        while secs < 260_000_000_000 {
            let at = Utc.timestamp_opt(secs, nanos).unwrap();
            let mut buf = Vec::new();
            timestamp(&mut buf, at);
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                at.to_rfc3339_opts(SecondsFormat::Micros, true)
            );
            let e = HashInput {
                chain: "c",
                seq: 1,
                at,
                actor_kind: "system",
                actor_id: None,
                role: None,
                action: "a",
                detail: "{}",
                ip: None,
                user_agent: None,
            };
            assert_eq!(
                hasher.hash(GENESIS, &e).as_slice(),
                reference_entry(GENESIS, &e).as_bytes()
            );
            secs += 987_654_321;
            nanos = (nanos + 123_456_789) % 1_000_000_000;
        }
    }

    #[test]
    fn integers_are_written_as_display_writes_them() {
        for n in [0, 1, 9, 10, 12345, -1, -10, i64::MAX, i64::MIN] {
            let mut buf = Vec::new();
            integer(&mut buf, n);
            assert_eq!(String::from_utf8(buf).unwrap(), n.to_string());
        }
    }

    #[test]
    fn hex_round_trips_and_only_lower_case_parses() {
        let d: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        let h = hex(&d);
        let text = std::str::from_utf8(&h).unwrap();
        assert_eq!(parse_hex(text), Some(d));
        assert_eq!(parse_hex(&text.to_uppercase()), None);
        assert_eq!(parse_hex(&text[1..]), None);
        assert_eq!(parse_hex(GENESIS), Some([0; 32]));
    }

    #[test]
    fn checkpoint_hash_is_the_documented_json() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap();
        let heads = r#"[["request:x",3,"ab"]]"#;
        let canonical = serde_json::json!([
            4,
            at.to_rfc3339_opts(SecondsFormat::Micros, true),
            99,
            heads
        ]);
        let mut h = Sha256::new();
        h.update(b"prev\n");
        h.update(canonical.to_string().as_bytes());
        let d: [u8; 32] = h.finalize().into();
        assert_eq!(
            checkpoint_hash("prev", 4, at, 99, heads),
            String::from_utf8(hex(&d).to_vec()).unwrap()
        );
    }
}
