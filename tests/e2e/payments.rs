//! The fee by card through (a fake) Stripe: checkout, signed webhooks, replays, mismatches,
//! provider outages, refunds; and unpaid expiry.

use chrono::{Duration, Utc};
use madoguchi_domain::{Actor, Event, Role};
use madoguchi_service::EventText;
use madoguchi_store::audit::Origin;
use std::sync::atomic::Ordering;

use crate::fake_stripe::{WEBHOOK_SECRET, session_json, signed_event};
use crate::helpers::*;
use crate::on_both;

fn officer() -> Actor {
    Actor::Staff {
        id: "o".into(),
        role: Role::Officer,
    }
}

async fn awaiting_payment(app: &TestApp, email: &str) -> uuid::Uuid {
    let pid = file_and_confirm(app, email).await;
    app.service
        .act(
            pid,
            None,
            &Event::ApproveIdentity,
            &officer(),
            &EventText::default(),
            &Origin::default(),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(app.request(pid).await.state, "awaiting_payment");
    pid
}

async fn deliver(app: &TestApp, payload: &str, sig: &str) -> u16 {
    let mut headers = vec![];
    headers.push(("stripe-signature", sig));
    app.client
        .send_with_headers(
            hyper::Method::POST,
            "/webhooks/stripe",
            "application/json",
            payload.as_bytes().to_vec(),
            &headers,
        )
        .await
        .status
}

fn paid(pid: uuid::Uuid, amount: i64, currency: &str, pi: &str) -> serde_json::Value {
    session_json(
        "cs_test_0",
        &pid.to_string(),
        amount,
        currency,
        "paid",
        Some(pi),
    )
}

on_both!(
    the_fee_is_paid_by_card_and_replays_change_nothing,
    |app: TestApp| async move {
        let pid = awaiting_payment(&app, "card@example.jp").await;
        let mail = app
            .mails_to("card@example.jp")
            .await
            .into_iter()
            .find(|m| m.subject.contains("手数料のお支払い"))
            .unwrap();
        assert!(
            mail.text.contains(&format!("/r/{pid}/pay")),
            "the payment e-mail links to card payment"
        );
        let res = app.client.get(&format!("/r/{pid}/pay")).await;
        assert_eq!(res.status, 303);
        assert!(
            res.header("location")
                .starts_with("https://checkout.stripe.test/")
        );
        let again = app.client.get(&format!("/r/{pid}/pay")).await;
        assert_eq!(
            again.header("location"),
            res.header("location"),
            "a second click reuses the session"
        );
        let call = &app.stripe.calls("checkout")[0];
        let field = |k: &str| {
            call.iter()
                .find(|(f, _)| f == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(field("line_items[0][price_data][currency]"), "jpy");
        assert_eq!(
            field("line_items[0][price_data][unit_amount]"),
            "3000",
            "JPY is zero-decimal"
        );
        assert_eq!(field("client_reference_id"), pid.to_string());
        assert_eq!(
            field("metadata[request_number]"),
            app.request(pid).await.number
        );

        let now = Utc::now().timestamp();
        let (payload, sig) = signed_event(
            "evt_1",
            "checkout.session.completed",
            paid(pid, 3000, "jpy", "pi_1"),
            now,
        );
        assert_eq!(deliver(&app, &payload, &sig).await, 200);
        let row = app.request(pid).await;
        assert_eq!(row.state, "in_progress");
        assert_eq!(row.paid, 3000);
        // The same event again, and the same payment under another event id: nothing more.
        assert_eq!(deliver(&app, &payload, &sig).await, 200);
        let (p2, s2) = signed_event(
            "evt_2",
            "checkout.session.async_payment_succeeded",
            paid(pid, 3000, "jpy", "pi_1"),
            now,
        );
        assert_eq!(deliver(&app, &p2, &s2).await, 200);
        // A late "expired" for the same session undoes nothing.
        let (p3, s3) = signed_event(
            "evt_3",
            "checkout.session.expired",
            session_json("cs_test_0", &pid.to_string(), 3000, "jpy", "unpaid", None),
            now,
        );
        assert_eq!(deliver(&app, &p3, &s3).await, 200);
        let row = app.request(pid).await;
        assert_eq!((row.state.as_str(), row.paid), ("in_progress", 3000));
        let receipt = app
            .mails_to("card@example.jp")
            .await
            .into_iter()
            .filter(|m| m.subject.contains("領収書"))
            .collect::<Vec<_>>();
        assert_eq!(receipt.len(), 1, "one receipt");
        assert!(receipt[0].text.contains("クレジットカード"));
        app.verify_audit().await;
    }
);

on_both!(
    forged_or_stale_webhooks_are_rejected_and_change_nothing,
    |app: TestApp| async move {
        let pid = awaiting_payment(&app, "forge@example.jp").await;
        let now = Utc::now().timestamp();
        let (payload, _) = signed_event(
            "evt_f",
            "checkout.session.completed",
            paid(pid, 3000, "jpy", "pi_f"),
            now,
        );
        let wrong = madoguchi_pay::sign_webhook(&payload, "whsec_attacker", now);
        assert_eq!(deliver(&app, &payload, &wrong).await, 400);
        assert_eq!(deliver(&app, &payload, "").await, 400);
        let tampered = payload.replace("3000", "3001");
        let (_, good) = signed_event(
            "evt_f",
            "checkout.session.completed",
            paid(pid, 3000, "jpy", "pi_f"),
            now,
        );
        assert_eq!(deliver(&app, &tampered, &good).await, 400);
        let (old_payload, old_sig) = signed_event(
            "evt_old",
            "checkout.session.completed",
            paid(pid, 3000, "jpy", "pi_f"),
            now - 600,
        );
        assert_eq!(
            deliver(&app, &old_payload, &old_sig).await,
            400,
            "older than five minutes"
        );
        assert_eq!(app.request(pid).await.state, "awaiting_payment");
        assert_eq!(app.request(pid).await.paid, 0);
        let _ = WEBHOOK_SECRET;
    }
);

on_both!(
    a_wrong_amount_or_currency_is_flagged_not_accepted,
    |app: TestApp| async move {
        let pid = awaiting_payment(&app, "mismatch@example.jp").await;
        let now = Utc::now().timestamp();
        let (p, s) = signed_event(
            "evt_m1",
            "checkout.session.completed",
            paid(pid, 300, "jpy", "pi_m1"),
            now,
        );
        assert_eq!(deliver(&app, &p, &s).await, 200);
        let (p, s) = signed_event(
            "evt_m2",
            "checkout.session.completed",
            paid(pid, 3000, "usd", "pi_m2"),
            now,
        );
        assert_eq!(deliver(&app, &p, &s).await, 200);
        assert_eq!(app.request(pid).await.state, "awaiting_payment");
        assert_eq!(
            app.audit_actions(pid)
                .await
                .iter()
                .filter(|a| *a == "payment.flagged")
                .count(),
            2
        );
        let staff = app.mails_to("privacy-office@example.jp").await;
        assert_eq!(
            staff
                .iter()
                .filter(|m| m.subject.contains("確認が必要な入金"))
                .count(),
            2
        );

        // An officer sends the ¥300 payment back to its card, from the request page; the
        // refund timer does it through Stripe, once, against that payment.
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let flagged = madoguchi_store::entities::payment::Entity::find()
            .filter(madoguchi_store::entities::payment::Column::ProviderRef.eq("pi_m1"))
            .one(app.service.db().conn())
            .await
            .unwrap()
            .unwrap();
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        let action = format!("/staff/requests/{pid}/payments/{}/refund", flagged.id);
        assert!(page.body.contains(&action), "offered on the page");
        let res = officer.post_form(&action, &[("csrf", &page.csrf())]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let again = officer.post_form(&action, &[("csrf", &page.csrf())]).await;
        assert_eq!(again.status, 422, "ordered once: {}", again.body);
        assert_eq!(
            app.service.process_card_refunds(Utc::now()).await.unwrap(),
            1
        );
        let call = &app.stripe.calls("refund")[0];
        assert!(call.contains(&("payment_intent".to_owned(), "pi_m1".to_owned())));
        assert!(call.contains(&("amount".to_owned(), "300".to_owned())));
        let trail = app.audit_actions(pid).await;
        assert!(trail.contains(&"payment.flagged_refund_ordered".to_owned()));
        assert!(trail.contains(&"refund.sent".to_owned()));
        assert_eq!(app.request(pid).await.state, "awaiting_payment");
        app.verify_audit().await;
    }
);

on_both!(
    a_stripe_outage_leaves_the_request_payable,
    |app: TestApp| async move {
        let pid = awaiting_payment(&app, "outage@example.jp").await;
        app.stripe.inner.fail.store(true, Ordering::SeqCst);
        let res = app.client.get(&format!("/r/{pid}/pay")).await;
        assert_eq!(res.status, 503);
        assert!(res.body.contains("決済サービスに接続できませんでした"));
        app.stripe.inner.fail.store(false, Ordering::SeqCst);
        let res = app.client.get(&format!("/r/{pid}/pay")).await;
        assert_eq!(res.status, 303);
        assert_eq!(app.request(pid).await.state, "awaiting_payment");
    }
);

on_both!(
    a_card_payment_is_refunded_through_stripe_when_withdrawn_before_work,
    |app: TestApp| async move {
        let pid = awaiting_payment(&app, "refund@example.jp").await;
        let now = Utc::now().timestamp();
        let (p, s) = signed_event(
            "evt_r",
            "checkout.session.completed",
            paid(pid, 3000, "jpy", "pi_r"),
            now,
        );
        assert_eq!(deliver(&app, &p, &s).await, 200);
        app.service
            .act(
                pid,
                None,
                &Event::Withdraw,
                &Actor::Subject,
                &EventText::default(),
                &Origin::default(),
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(
            app.service.process_card_refunds(Utc::now()).await.unwrap(),
            1
        );
        assert_eq!(
            app.service.process_card_refunds(Utc::now()).await.unwrap(),
            0,
            "refunded once"
        );
        let call = &app.stripe.calls("refund")[0];
        assert!(call.contains(&("payment_intent".to_owned(), "pi_r".to_owned())));
        assert!(call.contains(&("amount".to_owned(), "3000".to_owned())));
        assert!(
            app.audit_actions(pid)
                .await
                .contains(&"refund.sent".to_owned())
        );
        assert!(
            app.mails_to("refund@example.jp")
                .await
                .iter()
                .any(|m| m.subject.contains("返金"))
        );
    }
);

on_both!(an_unpaid_request_expires, |app: TestApp| async move {
    let pid = awaiting_payment(&app, "unpaid@example.jp").await;
    assert_eq!(
        app.service
            .expire_due(Utc::now() + Duration::days(31))
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.request(pid).await.state, "expired");
    assert!(
        app.mails_to("unpaid@example.jp")
            .await
            .iter()
            .any(|m| m.subject.contains("期限が過ぎました"))
    );
    let res = app.client.get(&format!("/r/{pid}/pay")).await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        format!("/r/{pid}"),
        "nothing to pay any more"
    );
});

on_both!(
    an_offline_payment_gets_a_printable_receipt_and_its_refund_is_recorded_once,
    |app: TestApp| async move {
        let pid = awaiting_payment(&app, "receipt@example.jp").await;
        app.service
            .act(
                pid,
                None,
                &Event::RecordPayment {
                    amount: madoguchi_domain::Yen(3000),
                    method: madoguchi_domain::PaymentMethod::BankTransfer,
                },
                &officer(),
                &EventText {
                    message: None,
                    reference: Some("振込 0042".into()),
                },
                &Origin::default(),
                Utc::now(),
            )
            .await
            .unwrap();

        // The receipt, behind the subject's code.
        let subject = subject_session(&app, pid, "receipt@example.jp").await;
        let private = subject.get(&format!("/r/{pid}/private")).await;
        let marker = format!("/r/{pid}/receipts/");
        let at = private.body.find(&marker).expect("a receipt link") + marker.len();
        let number: String = private.body[at..]
            .chars()
            .take_while(|c| *c != '"' && *c != '?')
            .collect();
        let receipt = subject.get(&format!("/r/{pid}/receipts/{number}")).await;
        assert_eq!(receipt.status, 200);
        for field in [
            &number,
            "領収書",
            "¥3,000",
            "非課税",
            "銀行振込",
            "株式会社",
        ] {
            assert!(receipt.body.contains(field), "{field}: {}", receipt.body);
        }
        assert_eq!(receipt.header("cache-control"), "no-store");
        assert_ne!(
            app.client
                .fresh()
                .get(&format!("/r/{pid}/receipts/{number}"))
                .await
                .status,
            200,
            "no receipt without the code"
        );
        assert_eq!(
            subject
                .get(&format!("/r/{pid}/receipts/RC-0000"))
                .await
                .status,
            404
        );

        // Withdrawn before work: the transfer is refunded by hand, and recorded once.
        app.service
            .act(
                pid,
                None,
                &Event::Withdraw,
                &Actor::Subject,
                &EventText::default(),
                &Origin::default(),
                Utc::now(),
            )
            .await
            .unwrap();
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        let marker = format!("/staff/requests/{pid}/refunds/");
        let at = page.body.find(&marker).expect("a refund form") + marker.len();
        let id: String = page.body[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let path = format!("/staff/requests/{pid}/refunds/{id}");
        let csrf = page.csrf();
        let empty = officer
            .post_form(&path, &[("csrf", &csrf), ("reference", " ")])
            .await;
        assert!(
            (400..500).contains(&empty.status),
            "a refund needs a reference: {}",
            empty.status
        );
        let auditor = staff_client(&app, Role::Auditor).await;
        let auditor_page = auditor.get(&format!("/staff/requests/{pid}")).await;
        assert_eq!(
            auditor
                .post_form(&path, &[("csrf", &auditor_page.csrf()), ("reference", "x")])
                .await
                .status,
            403
        );
        let done = officer
            .post_form(&path, &[("csrf", &csrf), ("reference", "返金振込 0043")])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        let again = officer
            .post_form(&path, &[("csrf", &csrf), ("reference", "返金振込 0043")])
            .await;
        assert!(
            (400..500).contains(&again.status),
            "recorded once: {}",
            again.status
        );
        let actions = app.audit_actions(pid).await;
        assert_eq!(
            actions.iter().filter(|a| *a == "refund.recorded").count(),
            1
        );
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        // The ledger in words (the label is the domain's, written down here independently),
        // never the stored spelling.
        assert!(page.body.contains("返金済み（記録）"), "{}", page.body);
        assert!(!page.body.contains("refund_recorded"));
        assert!(!page.body.contains("refund_due:"));
        // Times in Japan time, statuses in words: no UTC, no outbox spelling.
        assert!(!page.body.contains(" UTC"), "{}", page.body);
        assert!(!page.body.contains(">pending<") && !page.body.contains(">sent<"));
        app.verify_audit().await;
    }
);

on_both!(
    offline_ways_to_pay_are_told_as_the_office_wrote_them,
    |app: TestApp| async move {
        // The administrator writes how to pay by bank transfer and at the counter.
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/settings").await;
        let bank = "みどり銀行 本店営業部 普通 1234567\nカ）サンプル\n振込人名の前に受付番号をご記入ください";
        let res = admin
            .post_form(
                "/staff/admin/settings/payment",
                &[
                    ("csrf", &page.csrf()),
                    ("bank_transfer", bank),
                    ("money_order", "  "),
                    ("counter", "本社1階 個人情報窓口（平日10時〜17時）"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert!(res.body.contains("みどり銀行 本店営業部"), "{}", res.body);

        let pid = awaiting_payment(&app, "offline@example.jp").await;
        let mail = app
            .mails_to("offline@example.jp")
            .await
            .into_iter()
            .find(|m| m.subject.contains("手数料のお支払い"))
            .unwrap();
        let text = crate::answers::unqp(&mail.text);
        assert!(
            text.contains(
                "銀行振込: みどり銀行 本店営業部 普通 1234567 カ）サンプル 振込人名の前に受付番号をご記入ください"
            ),
            "{text}"
        );
        assert!(text.contains("窓口での現金払い: 本社1階 個人情報窓口（平日10時〜17時）"));
        assert!(
            !text.contains("定額小為替"),
            "a blank method is not offered"
        );
        let status = app.client.get(&format!("/r/{pid}")).await;
        assert!(status.body.contains("<dt>銀行振込</dt>"), "{}", status.body);
        assert!(status.body.contains("カ）サンプル"));
        assert!(status.body.contains("<dt>窓口での現金払い</dt>"));
        assert!(!status.body.contains("<dt>定額小為替</dt>"));
        assert!(
            status
                .body
                .contains("入金を確認しましたらメールでお知らせし")
        );
        // A control character is refused, saying why; the old value stays.
        let res = admin
            .post_form(
                "/staff/admin/settings/payment",
                &[("csrf", &page.csrf()), ("bank_transfer", "a\u{7}b")],
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("制御文字"), "{}", res.body);
        let page = admin.get("/staff/admin/settings").await;
        assert!(
            page.body.contains("みどり銀行 本店営業部"),
            "the old value stays"
        );
    }
);
