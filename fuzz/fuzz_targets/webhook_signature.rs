//! The Stripe webhook verifier: the `Stripe-Signature` header parser, the HMAC check and the
//! event parser behind it. Input is `header \n payload`. Each input is tried twice: as sent
//! (a forged or garbled header must be refused, never panic), and with the payload signed
//! correctly now (so the fuzzer reaches the JSON event parser behind the signature check).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use madoguchi_pay::{PayError, StripePayments, StripeSettings, sign_webhook};

const SECRET: &str = "whsec_fuzzing_secret";

fn payments() -> &'static StripePayments {
    static P: OnceLock<StripePayments> = OnceLock::new();
    P.get_or_init(|| {
        StripePayments::new(&StripeSettings {
            secret_key: "sk_test_fuzz".to_owned(),
            webhook_secret: SECRET.to_owned(),
            api_base: None,
        })
        .expect("a client for test keys")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (header, payload) = text.split_once('\n').unwrap_or((text, ""));
    let p = payments();
    // As sent: only a header signed with our secret over this payload may pass; the fuzzer
    // cannot forge one, so anything that verifies here is a bug.
    if let Ok(event) = p.verify_webhook(payload, header) {
        panic!("an unsigned payload verified: {event:?}");
    }
    // Signed properly: the signature must pass, so the only failure left is a parse error.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let signed = sign_webhook(payload, SECRET, now);
    match p.verify_webhook(payload, &signed) {
        Ok(_) | Err(PayError::Parse(_)) => {}
        Err(e) => panic!("a correctly signed payload was refused: {e:?}"),
    }
});
