//! The core transition function: `apply` on the events a request typically sees, and
//! `available_events` (computed for every request page an officer opens).
//!
//! `cargo bench -p madoguchi-domain --bench transition`

use std::hint::black_box;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use madoguchi_domain::*;

fn t0() -> DateTime<Utc> {
    // Monday 2026-11-02 10:00 JST.
    Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap()
}

fn officer() -> Actor {
    Actor::Staff {
        id: "o1".into(),
        role: Role::Officer,
    }
}

fn step(r: &Request, e: &Event, a: &Actor) -> Request {
    apply(r, e, a, t0()).expect("a valid step").next
}

fn transitions(c: &mut Criterion) {
    let filed = Request::file(
        RequestKind::Disclosure,
        Policy::appi(),
        &FeeSchedule::default(),
        t0(),
    )
    .next;
    let confirmed = step(&filed, &Event::ConfirmEmail, &Actor::Subject);
    let approved = step(&confirmed, &Event::ApproveIdentity, &officer());
    let payment = Event::RecordPayment {
        amount: Yen(3000),
        method: PaymentMethod::Card,
    };
    let in_progress = step(&approved, &payment, &Actor::PaymentProvider);
    let viewed = Event::Record(AuditOnly::Viewed {
        target: "details".into(),
    });
    let complete = Event::Complete(Outcome::Fulfilled);
    let officer = officer();

    let mut g = c.benchmark_group("apply");
    g.bench_function("file (new disclosure request)", |b| {
        b.iter(|| {
            Request::file(
                black_box(RequestKind::Disclosure),
                Policy::appi(),
                &FeeSchedule::default(),
                black_box(t0()),
            )
        })
    });
    g.bench_function("confirm_email (subject)", |b| {
        b.iter(|| {
            apply(
                black_box(&filed),
                &Event::ConfirmEmail,
                &Actor::Subject,
                t0(),
            )
        })
    });
    g.bench_function("approve_identity (officer)", |b| {
        b.iter(|| {
            apply(
                black_box(&confirmed),
                &Event::ApproveIdentity,
                &officer,
                t0(),
            )
        })
    });
    g.bench_function("record_payment (webhook)", |b| {
        b.iter(|| {
            apply(
                black_box(&approved),
                &payment,
                &Actor::PaymentProvider,
                t0(),
            )
        })
    });
    g.bench_function("complete (officer)", |b| {
        b.iter(|| apply(black_box(&in_progress), &complete, &officer, t0()))
    });
    g.bench_function("record viewed (audit only)", |b| {
        b.iter(|| apply(black_box(&in_progress), &viewed, &officer, t0()))
    });
    g.bench_function("refused: officer confirms the subject's e-mail", |b| {
        b.iter(|| apply(black_box(&filed), &Event::ConfirmEmail, &officer, t0()))
    });
    g.finish();

    let mut g = c.benchmark_group("available_events");
    g.bench_function("in progress, officer", |b| {
        b.iter(|| available_events(black_box(&in_progress), &officer, t0()))
    });
    g.bench_function("identity review, officer", |b| {
        b.iter(|| available_events(black_box(&confirmed), &officer, t0()))
    });
    g.finish();
}

criterion_group!(benches, transitions);
criterion_main!(benches);
