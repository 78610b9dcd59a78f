//! Timers that tell people things: the subject's expiry warning, the office's daily digest and
//! the failing-mail alert, each happening once however many instances run them.

use chrono::{Duration, Utc};
use madoguchi_domain::{Actor, Event, Role};
use madoguchi_service::EventText;
use madoguchi_service::reminders::next_digest_at;
use madoguchi_store::audit::Origin;
use sea_orm::EntityTrait;

use crate::helpers::*;
use crate::on_both;

fn officer() -> Actor {
    Actor::Staff {
        id: "officer-1".into(),
        role: Role::Officer,
    }
}

/// A disclosure waiting for its fee.
async fn awaiting_payment(app: &TestApp, email: &str) -> uuid::Uuid {
    let pid = file_and_confirm(app, email).await;
    let v = app.request(pid).await.version;
    app.service
        .act(
            pid,
            Some(v),
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

/// Stops the app's own timers so that only the test's explicit calls (at chosen instants) run
/// the jobs; the HTTP server stops with them, so it comes after any request the test makes.
async fn quiet(app: &TestApp) {
    app.halt().await;
}

/// Delivered messages whose subject contains `needle`.
async fn mails_titled(app: &TestApp, needle: &str) -> Vec<Mail> {
    app.mails()
        .await
        .into_iter()
        .filter(|m| m.subject.contains(needle))
        .collect()
}

fn warnings(mails: &[Mail]) -> usize {
    mails
        .iter()
        .filter(|m| m.subject.contains("期限が近づいています"))
        .count()
}

on_both!(
    the_subject_is_warned_once_before_their_turn_runs_out,
    |app: TestApp| async move {
        let pid = awaiting_payment(&app, "remind@example.jp").await;
        let expires = app.request(pid).await.expires_at.unwrap();
        let other = madoguchi::Application::build_offline(app_config(&app))
            .await
            .unwrap();

        let early = expires - Duration::days(4);
        assert_eq!(
            app.service.warn_expiring(early).await.unwrap(),
            0,
            "too early"
        );

        let soon = expires - Duration::days(2);
        let (x, y) = tokio::join!(app.service.warn_expiring(soon), other.warn_expiring(soon));
        assert_eq!(x.unwrap() + y.unwrap(), 1, "two instances, one warning");
        assert_eq!(app.service.warn_expiring(soon).await.unwrap(), 0, "once");

        let mails = app.mails_to("remind@example.jp").await;
        assert_eq!(warnings(&mails), 1);
        let warning = mails
            .iter()
            .find(|m| m.subject.contains("期限が近づいています"))
            .unwrap();
        assert!(warning.text.contains("手数料 ¥3,000"), "{}", warning.text);
        assert!(
            warning.text.contains(&format!("/r/{pid}")),
            "links to the request page"
        );
        let row = app.request(pid).await;
        assert_eq!(
            row.state, "awaiting_payment",
            "a reminder changes nothing else"
        );
        assert_eq!(row.expiry_warned_for, Some(expires));
        let actions = app.audit_actions(pid).await;
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "request.warn_expiry")
                .count(),
            1
        );

        // Unconfirmed addresses are never written to.
        let unconfirmed = file_via_api(&app, "unconfirmed@example.jp").await;
        let at = app.request(unconfirmed).await.expires_at.unwrap();
        assert_eq!(
            app.service
                .warn_expiring(at - Duration::hours(1))
                .await
                .unwrap(),
            0
        );
        app.verify_audit().await;
    }
);

on_both!(
    the_daily_digest_goes_out_once_and_lists_what_is_due,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "digest@example.jp").await;
        quiet(&app).await;
        let row = app.request(pid).await;
        // The morning the request is due.
        let due_morning = next_digest_at(
            chrono::NaiveDateTime::from(row.due_on)
                .and_utc()
                .checked_sub_signed(Duration::hours(12))
                .unwrap(),
        );
        let other = madoguchi::Application::build_offline(app_config(&app))
            .await
            .unwrap();
        // Two instances on the morning the request is due: one of them sends the digest.
        let (x, y) = tokio::join!(
            app.service.staff_digest(due_morning),
            other.staff_digest(due_morning)
        );
        assert!(
            x.unwrap() ^ y.unwrap(),
            "exactly one instance sends the digest"
        );
        assert!(
            !app.service.staff_digest(due_morning).await.unwrap(),
            "once a day"
        );
        assert!(
            !other
                .staff_digest(due_morning + Duration::hours(3))
                .await
                .unwrap(),
            "not again the same day"
        );
        let digests = mails_titled(&app, "【日次】").await;
        assert_eq!(digests.len(), 1);
        assert!(digests[0].text.contains(&row.number), "{}", digests[0].text);
        assert!(
            !digests[0].text.contains("digest@example.jp"),
            "no personal data"
        );
        assert!(
            app.service
                .staff_digest(due_morning + Duration::days(1))
                .await
                .unwrap(),
            "the next day it goes out again (the request is now overdue)"
        );
        let digests = mails_titled(&app, "【日次】").await;
        assert_eq!(digests.len(), 2);
        assert!(digests[1].text.contains("期限超過"), "{}", digests[1].text);
    }
);

on_both!(
    failing_mail_alerts_the_office_once_per_failure,
    |app: TestApp| async move {
        file_via_api(&app, "bounce@example.jp").await;
        app.deliver_mail().await;
        quiet(&app).await;
        let now = Utc::now();
        assert!(
            !app.service.alert_failing_mail(now).await.unwrap(),
            "nothing failing, nothing said"
        );
        // A message that failed for good at its last attempt.
        let db = app.service.db().conn();
        // Recipients are sealed at rest: open every row, then pick.
        let bounced = madoguchi_store::entities::outbox::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| app.service.cipher().open_message(r).unwrap())
            .find(|r| r.recipient == "bounce@example.jp")
            .unwrap();
        madoguchi_store::outbox::mark_attempt_failed(
            db,
            bounced.id,
            "550 no such user",
            None,
            now + Duration::minutes(1),
        )
        .await
        .unwrap();
        let later = now + Duration::minutes(31);
        let other = madoguchi::Application::build_offline(app_config(&app))
            .await
            .unwrap();
        let (x, y) = tokio::join!(
            app.service.alert_failing_mail(later),
            other.alert_failing_mail(later)
        );
        assert!(x.unwrap() ^ y.unwrap(), "one alert from two instances");
        let all = app.mails().await;
        let alerts: Vec<&Mail> = all
            .iter()
            .filter(|m| m.subject.contains("メールの送信に失敗"))
            .collect();
        assert_eq!(
            alerts.len(),
            1,
            "{:?}",
            all.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        assert!(
            alerts[0]
                .text
                .contains("送信できなかったメール / failed for good: 1")
        );
        assert!(alerts[0].text.contains("/staff/admin/mail"));
        assert!(
            !app.service
                .alert_failing_mail(later + Duration::hours(1))
                .await
                .unwrap(),
            "an old failure is not announced again"
        );
    }
);

on_both!(
    a_broken_trail_alerts_the_office_once_per_hourly_run,
    |app: TestApp| async move {
        let pid = file_via_api(&app, "tamper@example.jp").await;
        quiet(&app).await;
        let now = Utc::now();
        let other = madoguchi::Application::build_offline(app_config(&app))
            .await
            .unwrap();
        // The first claim schedules the job an hour out.
        assert!(
            app.service
                .verify_audit_if_due(now)
                .await
                .unwrap()
                .is_none()
        );
        crate::audit::unguard(&app).await;
        app.sql(&format!(
            "UPDATE audit_entries SET actor_kind = 'staff' WHERE chain = 'request:{pid}' AND seq = 1"
        ))
        .await;
        // Two hours on: due whichever instance (the app's own timer included) scheduled it.
        let due = now + Duration::hours(2);
        let (x, y) = tokio::join!(
            app.service.verify_audit_if_due(due),
            other.verify_audit_if_due(due)
        );
        let ran: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
        assert_eq!(ran.len(), 1, "one instance verifies per hour");
        assert!(ran[0].is_err(), "the edit is found");
        let alerts = mails_titled(&app, "監査ログの検証に失敗").await;
        assert_eq!(alerts.len(), 1);
        assert!(
            alerts[0].text.contains(&format!("request:{pid} #1")),
            "{}",
            alerts[0].text
        );
        assert!(alerts[0].text.contains("/staff/audit"));
    }
);
