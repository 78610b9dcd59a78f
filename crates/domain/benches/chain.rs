//! The audit chain's canonical entry hash: what `audit verify` computes for every entry of
//! the trail and every transition computes for the entries it appends.
//!
//! `cargo bench -p madoguchi-domain --bench chain`

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use madoguchi_domain::chain::{EntryHasher, GENESIS, HashInput, checkpoint_hash, entry_hash};

fn hashes(c: &mut Criterion) {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 2, 59, 53).unwrap()
        + chrono::Duration::microseconds(123_456);
    // A typical staff entry (a transition), as the service writes it.
    let typical = HashInput {
        chain: "request:0195a3c4-7b1e-7c2a-9f00-1234567890ab",
        seq: 7,
        at,
        actor_kind: "staff",
        actor_id: Some("0195a3c4-0000-7000-8000-000000000001"),
        role: Some("officer"),
        action: "request.approve_identity",
        detail: r#"{"due_on":"2026-12-06","from":"identity_review","mails":"identity_approved,payment_requested","to":"awaiting_payment"}"#,
        ip: Some("203.0.113.7"),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        ),
    };
    // A field that needs JSON escaping takes serde_json's path.
    let escaped = HashInput {
        user_agent: Some("curl/8.5.0 \"quoted\"\\"),
        ..typical
    };
    let prev = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    let mut g = c.benchmark_group("audit hash");
    g.bench_function("entry, reused buffer (verify)", |b| {
        let mut hasher = EntryHasher::new();
        b.iter(|| hasher.hash(black_box(prev), black_box(&typical)))
    });
    g.bench_function("entry, hex String (append)", |b| {
        b.iter(|| entry_hash(black_box(prev), black_box(&typical)))
    });
    g.bench_function("entry with escaping, reused buffer", |b| {
        let mut hasher = EntryHasher::new();
        b.iter(|| hasher.hash(black_box(GENESIS), black_box(&escaped)))
    });
    let heads: String = {
        let list: Vec<String> = (0..100)
            .map(|i| format!(r#"["request:0195a3c4-7b1e-7c2a-9f00-{i:012}",{i},"{prev}"]"#))
            .collect();
        format!("[{}]", list.join(","))
    };
    g.bench_function("checkpoint over 100 heads", |b| {
        b.iter(|| checkpoint_hash(black_box(prev), 42, at, 1_000_000, black_box(&heads)))
    });
    g.finish();
}

criterion_group!(benches, hashes);
criterion_main!(benches);
