//! E-mail rendering: subject, text and HTML of a message from its `sample()` context, as the
//! outbox does for every message it sends.
//!
//! `cargo bench -p madoguchi-mail --bench render`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use madoguchi_domain::Mail;
use madoguchi_mail::{render, sample};

fn rendering(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    for (mail, lang) in [
        (Mail::ConfirmAddress, "ja"),
        (Mail::PaymentRequested, "ja"),
        (Mail::Completed, "ja"),
        (Mail::Refused, "en"),
        (Mail::StaffNewRequest, "ja"),
    ] {
        let context = sample(lang);
        g.bench_function(format!("{mail:?} ({lang})"), |b| {
            b.iter(|| render(black_box(mail), black_box(&context)).expect("renders"))
        });
    }
    g.finish();
}

criterion_group!(benches, rendering);
criterion_main!(benches);
