//! A request driven through the lifecycle by the service, with its mail and audit trail.

use chrono::{Duration, Utc};
use madoguchi_domain::{Actor, Event, Outcome, PaymentMethod, Role, Yen};
use madoguchi_service::{EventText, ServiceError};
use madoguchi_store::audit::Origin;

use crate::helpers::*;
use crate::on_both;

fn officer() -> Actor {
    Actor::Staff {
        id: "officer-1".into(),
        role: Role::Officer,
    }
}

on_both!(a_confirmation_link_works_once, |app: TestApp| async move {
    let pid = file_via_api(&app, "once@example.jp").await;
    let path = app.confirmation_path("once@example.jp").await;
    let page = app.client.get(&path).await;
    let csrf = page.csrf();
    assert_eq!(
        app.client.post_form(&path, &[("csrf", &csrf)]).await.status,
        303
    );
    let again = app.client.post_form(&path, &[("csrf", &csrf)]).await;
    assert_eq!(again.status, 410, "a used link is gone");
    assert!(again.body.contains("使用済み"));
    assert_eq!(app.client.get(&path).await.status, 410);
    assert_eq!(
        app.client.get("/confirm/0123456789abcdef").await.status,
        404
    );
    assert_eq!(
        app.audit_actions(pid).await.len(),
        2,
        "the replay left no trace in the lifecycle"
    );
});

on_both!(
    an_unconfirmed_request_expires_and_its_link_dies,
    |app: TestApp| async move {
        let pid = file_via_api(&app, "late@example.jp").await;
        let path = app.confirmation_path("late@example.jp").await;
        let token = path.trim_start_matches("/confirm/").to_owned();
        let later = Utc::now() + Duration::hours(73);
        let err = app
            .service
            .confirm_email(&token, &Origin::default(), later)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::Token(madoguchi_store::tokens::TokenError::Expired)
            ),
            "{err:?}"
        );
        assert_eq!(app.service.expire_due(later).await.unwrap(), 1);
        assert_eq!(app.request(pid).await.state, "expired");
        assert_eq!(
            app.service.expire_due(later).await.unwrap(),
            0,
            "expiry happens once"
        );
        app.verify_audit().await;
    }
);

on_both!(
    a_disclosure_goes_from_identity_through_payment_to_fulfilment,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "flow@example.jp").await;
        let v = app.request(pid).await.version;
        let now = Utc::now();
        let o = Origin::default();
        let none = EventText::default();
        let row = app
            .service
            .act(
                pid,
                Some(v),
                &Event::ApproveIdentity,
                &officer(),
                &none,
                &o,
                now,
            )
            .await
            .unwrap();
        assert_eq!(row.state, "awaiting_payment");
        let short = app
            .service
            .act(
                pid,
                Some(row.version),
                &Event::RecordPayment {
                    amount: Yen(1000),
                    method: PaymentMethod::BankTransfer,
                },
                &officer(),
                &none,
                &o,
                now,
            )
            .await
            .unwrap_err();
        assert!(matches!(short, ServiceError::Transition(_)));
        let paid = EventText {
            message: None,
            reference: Some("振込 0001".into()),
        };
        let row = app
            .service
            .act(
                pid,
                Some(row.version),
                &Event::RecordPayment {
                    amount: Yen(3000),
                    method: PaymentMethod::BankTransfer,
                },
                &officer(),
                &paid,
                &o,
                now,
            )
            .await
            .unwrap();
        assert_eq!(row.state, "in_progress");
        let row = app
            .service
            .act(
                pid,
                Some(row.version),
                &Event::Complete(Outcome::Fulfilled),
                &officer(),
                &none,
                &o,
                now,
            )
            .await
            .unwrap();
        assert_eq!(row.state, "fulfilled");
        assert!(row.closed_at.is_some());

        let subjects: Vec<String> = app
            .mails_to("flow@example.jp")
            .await
            .into_iter()
            .map(|m| m.subject)
            .collect();
        for expected in [
            "受け付けました",
            "メールアドレスを確認しました",
            "本人確認完了と手数料のお支払いのお願い",
            "領収書",
            "対応が完了しました",
        ] {
            assert!(
                subjects.iter().any(|s| s.contains(expected)),
                "{expected} missing from {subjects:?}"
            );
        }
        // Five mails for the whole disclosure, each saying something new (there were six:
        // identity approved and the fee arrived in the same second).
        assert_eq!(subjects.len(), 5, "{subjects:?}");
        let receipt = app
            .mails_to("flow@example.jp")
            .await
            .into_iter()
            .find(|m| m.subject.contains("領収書"))
            .unwrap();
        assert!(receipt.text.contains("¥3,000"));
        assert!(receipt.text.contains("銀行振込"));
        assert_eq!(
            app.audit_actions(pid).await,
            vec![
                "request.filed",
                "request.confirm_email",
                "request.approve_identity",
                "request.record_payment",
                "payment.recorded",
                "request.complete"
            ]
        );
        app.verify_audit().await;
        let status = app.client.get(&format!("/r/{pid}")).await;
        assert!(status.body.contains("対応完了"));
    }
);

on_both!(auditors_read_but_never_act, |app: TestApp| async move {
    let pid = file_and_confirm(&app, "aud@example.jp").await;
    let auditor = Actor::Staff {
        id: "a-1".into(),
        role: Role::Auditor,
    };
    let err = app
        .service
        .act(
            pid,
            None,
            &Event::ApproveIdentity,
            &auditor,
            &EventText::default(),
            &Origin::default(),
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ServiceError::Transition(madoguchi_domain::TransitionError::Forbidden { .. })
    ));
    let before = app.request(pid).await;
    let view = Event::Record(madoguchi_domain::AuditOnly::Viewed {
        target: "details".into(),
    });
    app.service
        .act(
            pid,
            None,
            &view,
            &auditor,
            &EventText::default(),
            &Origin::default(),
            Utc::now(),
        )
        .await
        .unwrap();
    let after = app.request(pid).await;
    assert_eq!(
        after.version, before.version,
        "a view does not make an officer's page stale"
    );
    assert_eq!(after.state, before.state);
    assert_eq!(app.audit_actions(pid).await.last().unwrap(), "data.viewed");
    app.verify_audit().await;
});

on_both!(
    the_database_refuses_to_rewrite_audit_history_and_verify_catches_tampering,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "tamper@example.jp").await;
        let db = app.service.db().conn();
        use sea_orm::{ConnectionTrait, Statement};
        let update = Statement::from_string(
            db.get_database_backend(),
            "UPDATE audit_entries SET action = 'x'".to_owned(),
        );
        assert!(
            db.execute_raw(update).await.is_err(),
            "UPDATE on audit entries is rejected"
        );
        let delete = Statement::from_string(
            db.get_database_backend(),
            "DELETE FROM audit_entries".to_owned(),
        );
        assert!(
            db.execute_raw(delete).await.is_err(),
            "DELETE on audit entries is rejected"
        );
        app.verify_audit().await;

        // An attacker with DDL rights can drop the guard; the chain still gives them away.
        match app.backend {
            Backend::Sqlite => app.sql("DROP TRIGGER audit_entries_no_update").await,
            Backend::Postgres => {
                app.sql("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
                    .await
            }
        }
        app.sql(&format!(
            "UPDATE audit_entries SET detail = '{{\"to\":\"fulfilled\"}}' \
             WHERE chain = 'request:{pid}' AND seq = 2"
        ))
        .await;
        let broken = madoguchi_store::audit::verify(db)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(broken.chain, format!("request:{pid}"));
        assert_eq!(broken.seq, 2);
    }
);

on_both!(
    an_officer_switches_an_impractical_delivery_method_and_the_subject_is_told_why,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "switch@example.jp").await;
        assert_eq!(
            app.request(pid).await.delivery.as_deref(),
            Some("electronic")
        );
        let c = staff_client(&app, Role::Officer).await;
        let page = c.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains("value=\"change_delivery\""), "offered");
        let csrf = page.csrf();
        let reason = "ご請求のデータは容量が大きく電子的な提供が困難なため、書面でお送りします。";
        let change = |text: &'static str, v: String| {
            let c = c.clone();
            let csrf = csrf.clone();
            async move {
                c.post_form(
                    &format!("/staff/requests/{pid}/events"),
                    &[
                        ("csrf", csrf.as_str()),
                        ("version", v.as_str()),
                        ("event", "change_delivery"),
                        ("delivery", "paper"),
                        ("text", text),
                    ],
                )
                .await
            }
        };
        let v = app.request(pid).await.version.to_string();
        assert_ne!(
            change("", v.clone()).await.status,
            303,
            "a reason is required"
        );
        let res = change(reason, v).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let row = app.request(pid).await;
        assert_eq!(row.delivery.as_deref(), Some("paper"));
        assert_eq!(
            row.state, "identity_review",
            "the request goes on where it was"
        );
        let again = change(reason, row.version.to_string()).await;
        assert_ne!(again.status, 303, "already paper");

        app.deliver_mail().await;
        let mails = app.mails_to("switch@example.jp").await;
        let told = mails.last().unwrap();
        assert!(
            told.subject.contains("開示の方法の変更"),
            "{}",
            told.subject
        );
        assert!(told.text.contains("書面の交付"), "{}", told.text);
        assert!(told.text.contains(reason), "the reason reaches the subject");
        let trail = app.audit_actions(pid).await;
        assert!(trail.contains(&"delivery.changed".to_owned()), "{trail:?}");
        let entries = madoguchi_store::audit::for_request(app.service.db().conn(), pid)
            .await
            .unwrap();
        assert!(
            entries.iter().all(|e| !e.detail.contains("容量")),
            "the reason stays out of the trail"
        );
        app.verify_audit().await;
    }
);
