//! The other jurisdictions the policy supports: their deadlines, their one extension and their
//! free answers, end to end (the figures written here from the laws, not read from the code).

use chrono::{Duration, Months, Utc};
use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

/// Files a disclosure, confirms it and approves identity; returns the request and the day it
/// arrived (Japan time).
async fn approved(app: &TestApp, email: &str) -> (uuid::Uuid, chrono::NaiveDate, Client) {
    let arrived = madoguchi_domain::jst_date(Utc::now());
    let pid = file_and_confirm(app, email).await;
    let officer = staff_client(app, Role::Officer).await;
    assert_eq!(
        try_act(&officer, app, pid, &[("event", "approve_identity")])
            .await
            .status,
        303
    );
    (pid, arrived, officer)
}

on_both!(
    gdpr_answers_free_within_a_month_extended_once_by_two,
    vars = [("MADOGUCHI_JURISDICTION", "gdpr")],
    |app: TestApp| async move {
        let (pid, arrived, officer) = approved(&app, "gdpr@example.eu").await;
        let row = app.request(pid).await;
        // Art. 12(5): free of charge, so no payment step; Art. 12(3): one month.
        assert_eq!(row.fee, 0);
        assert_eq!(row.state, "in_progress");
        assert_eq!(row.jurisdiction, "gdpr");
        let month = arrived.checked_add_months(Months::new(1)).unwrap();
        assert_eq!(row.due_on, month);
        // Extended once by two further months, with the reason told to the subject.
        let status = try_act(
            &officer,
            &app,
            pid,
            &[
                ("event", "extend_deadline"),
                ("text", "Many systems hold the data"),
            ],
        )
        .await
        .status;
        assert_eq!(status, 303);
        assert_eq!(
            app.request(pid).await.due_on,
            month.checked_add_months(Months::new(2)).unwrap()
        );
        app.deliver_mail().await;
        assert!(
            app.mails_to("gdpr@example.eu")
                .await
                .iter()
                .any(|m| crate::answers::unqp(&m.text).contains("Many systems hold the data"))
        );
        // Not twice.
        let again = try_act(
            &officer,
            &app,
            pid,
            &[("event", "extend_deadline"), ("text", "More")],
        )
        .await
        .status;
        assert_ne!(again, 303);
        assert_eq!(
            app.request(pid).await.due_on,
            month.checked_add_months(Months::new(2)).unwrap()
        );
    }
);

on_both!(
    ccpa_answers_free_within_45_days_extended_once_by_45,
    vars = [("MADOGUCHI_JURISDICTION", "ccpa")],
    |app: TestApp| async move {
        let (pid, arrived, officer) = approved(&app, "ccpa@example.com").await;
        let row = app.request(pid).await;
        // §7021(b): 45 calendar days, one extension of 45; no charge (§1798.130).
        assert_eq!(row.fee, 0);
        assert_eq!(row.state, "in_progress");
        assert_eq!(row.due_on, arrived + Duration::days(45));
        let status = try_act(
            &officer,
            &app,
            pid,
            &[("event", "extend_deadline"), ("text", "Complex request")],
        )
        .await
        .status;
        assert_eq!(status, 303);
        assert_eq!(app.request(pid).await.due_on, arrived + Duration::days(90));
    }
);

on_both!(
    appi_allows_no_extension_and_charges_the_seed_fee,
    |app: TestApp| async move {
        let (pid, arrived, officer) = approved(&app, "appi@example.jp").await;
        let row = app.request(pid).await;
        assert_eq!(row.fee, 3000);
        assert_eq!(row.state, "awaiting_payment");
        assert_eq!(row.due_on, arrived + Duration::days(14));
        let status = try_act(
            &officer,
            &app,
            pid,
            &[("event", "extend_deadline"), ("text", "x")],
        )
        .await
        .status;
        assert_ne!(status, 303, "APPI answers 遅滞なく: no extension");
    }
);
