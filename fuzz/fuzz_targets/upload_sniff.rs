//! Upload sniffing: `sniff` decides an upload's type (and so the type it is served back with)
//! from its first bytes alone. Checks that it never panics, that a verdict always matches the
//! magic bytes it claims, and that nothing past the first eight bytes changes the verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use madoguchi_domain::{FileType, sniff};

fuzz_target!(|data: &[u8]| {
    let verdict = sniff(data);
    match verdict {
        Some(FileType::Pdf) => assert!(data.starts_with(b"%PDF-")),
        Some(FileType::Jpeg) => assert!(data.starts_with(&[0xFF, 0xD8, 0xFF])),
        Some(FileType::Png) => assert!(data.starts_with(b"\x89PNG\r\n\x1a\n")),
        None => {}
    }
    if let Some(t) = verdict {
        assert!(t.mime().starts_with("application/") || t.mime().starts_with("image/"));
        assert!(!t.extension().is_empty());
    }
    let head = &data[..data.len().min(8)];
    assert_eq!(
        sniff(head),
        verdict,
        "bytes past the magic changed the verdict"
    );
});
