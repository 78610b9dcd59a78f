//! The subject's intake form as the HTML form posts it: `application/x-www-form-urlencoded`
//! decoded into `IntakeInput` (what axum's `Form` does), then parsed into the service's
//! `NewRequest`. Decoding may fail; nothing may panic, and whatever parses must be within the
//! limits the database and the mail templates rely on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use madoguchi_service::Channel;
use madoguchi_web::intake::IntakeInput;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_urlencoded::from_bytes::<IntakeInput>(data) else {
        return;
    };
    for channel in [Channel::Web, Channel::Api] {
        match input.parse_now(channel, &madoguchi_domain::Policy::appi()) {
            Ok(new) => {
                assert!(!new.subject_name.trim().is_empty());
                assert!(new.subject_name.chars().count() <= 100);
                assert!(!new.details.trim().is_empty());
                assert!(new.details.chars().count() <= 4000);
                let email = new.email.to_string();
                assert!(email.contains('@'));
                assert!(
                    !email.contains(['\r', '\n']),
                    "a header injection got through"
                );
            }
            Err(errors) => assert!(!errors.is_empty(), "a refusal names no field"),
        }
    }
});
