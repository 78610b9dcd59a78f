//! The intake limit per client address (`MADOGUCHI_INTAKE_PER_IP_PER_HOUR`): the API and the
//! form share one count kept in the database, refuse with 429 and `Retry-After`, count only
//! requests that would be filed, and let the address file again once the hour is over.

use chrono::Utc;

use crate::helpers::*;
use crate::on_both;
use madoguchi_store::limits::{Admission, hit};

fn retry_after(res: &Response) -> u64 {
    let v: u64 = res
        .header("retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("a Retry-After in seconds: {:?}", res.headers));
    assert!(
        (1..=3600).contains(&v),
        "Retry-After {v} is within the hour"
    );
    v
}

on_both!(
    intake_beyond_the_hourly_limit_gets_429_on_the_api_and_the_form,
    vars = [("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "3")],
    |app: TestApp| async move {
        // Refused input does not use up the quota: a subject may fix typos.
        let mut bad = valid_json("bad@example.jp");
        bad["email"] = serde_json::json!("not-an-address");
        for _ in 0..4 {
            let res = app.client.post_json("/api/v1/requests", &bad).await;
            assert_eq!(res.status, 422, "{}", res.body);
        }
        // Three filings (two through the API, one through the form) fill the quota.
        file_via_api(&app, "one@example.jp").await;
        file_via_api(&app, "two@example.jp").await;
        let csrf = app.client.get("/?kind=disclosure").await.csrf();
        let res = app
            .client
            .post_form("/requests", &intake_form(&csrf, "three@example.jp", "ja"))
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(app.request_count().await, 3);

        let res = app
            .client
            .post_json("/api/v1/requests", &valid_json("four@example.jp"))
            .await;
        assert_eq!(res.status, 429, "{}", res.body);
        assert_eq!(res.header("content-type"), "application/problem+json");
        assert_eq!(res.json()["status"], 429);
        assert_eq!(
            res.json()["type"],
            "https://madoguchi.dev/problems/too-many-requests"
        );
        retry_after(&res);

        // The form answers with the error page in the subject's language.
        for (lang, words) in [("ja", "短時間に多くの送信"), ("en", "Too many attempts")] {
            let csrf = app.client.get("/?kind=disclosure").await.csrf();
            let res = app
                .client
                .post_form("/requests", &intake_form(&csrf, "five@example.jp", lang))
                .await;
            assert_eq!(res.status, 429, "{}", res.body);
            assert!(res.header("content-type").starts_with("text/html"));
            assert!(res.body.contains(words), "{lang}: {}", res.body);
            assert!(res.body.contains(&format!("<html lang=\"{lang}\"")));
            retry_after(&res);
        }
        assert_eq!(
            app.request_count().await,
            3,
            "nothing over the limit is filed"
        );
        assert!(
            app.mails_to("four@example.jp").await.is_empty(),
            "no confirmation mail goes to an address filed over the limit"
        );

        // Once the window is over (moved back an hour here), the address may file again.
        app.sql("UPDATE rate_limits SET window_start = window_start - 3600")
            .await;
        // The sweep deletes windows that are over (their keys name client addresses): this
        // one goes, and the address starts afresh.
        assert_eq!(app.service.sweep_rate_limits(Utc::now()).await.unwrap(), 1);
        assert_eq!(app.service.sweep_rate_limits(Utc::now()).await.unwrap(), 0);
        file_via_api(&app, "later@example.jp").await;
        assert_eq!(app.request_count().await, 4);
        assert_eq!(
            app.service.sweep_rate_limits(Utc::now()).await.unwrap(),
            0,
            "a window still counting stays"
        );
    }
);

on_both!(
    a_zero_limit_turns_the_intake_limit_off,
    vars = [("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "0")],
    |app: TestApp| async move {
        for i in 0..25 {
            file_via_api(&app, &format!("many{i}@example.jp")).await;
        }
        assert_eq!(app.request_count().await, 25);
    }
);

on_both!(
    instances_sharing_a_database_share_the_count,
    vars = [("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "5")],
    |app: TestApp| async move {
        // A second instance: its own service and connection pool on the same database.
        let other = madoguchi::Application::build_offline(app_config(&app))
            .await
            .unwrap();
        let now = chrono::Utc::now();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let service = if i % 2 == 0 {
                app.service.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                hit(service.db().conn(), "intake:192.0.2.7", 5, 3600, now)
                    .await
                    .unwrap()
            }));
        }
        let mut allowed = 0;
        for t in tasks {
            match t.await.unwrap() {
                Admission::Allowed { .. } => allowed += 1,
                Admission::Refused { retry_after } => assert!((1..=3600).contains(&retry_after)),
            }
        }
        assert_eq!(
            allowed, 5,
            "exactly the limit is admitted across both instances"
        );
        // Another address has its own count.
        assert_eq!(
            hit(other.db().conn(), "intake:192.0.2.8", 5, 3600, now)
                .await
                .unwrap(),
            Admission::Allowed { hits: 1 }
        );
    }
);

/// Files through the API as if relayed by a proxy that saw `client`.
async fn file_from(app: &TestApp, email: &str, forwarded: &str) -> Response {
    app.client
        .send_with_headers(
            hyper::Method::POST,
            "/api/v1/requests",
            "application/json",
            valid_json(email).to_string().into_bytes(),
            &[("x-forwarded-for", forwarded)],
        )
        .await
}

on_both!(
    behind_a_trusted_proxy_each_client_has_its_own_count_and_address,
    vars = [
        ("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "1"),
        ("MADOGUCHI_TRUSTED_PROXIES", "127.0.0.1,::1")
    ],
    |app: TestApp| async move {
        let first = file_from(&app, "p1@example.jp", "198.51.100.7").await;
        assert_eq!(first.status, 201, "{}", first.body);
        assert_eq!(
            file_from(&app, "p2@example.jp", "203.0.113.9").await.status,
            201,
            "another client behind the same proxy has its own quota"
        );
        assert_eq!(
            file_from(&app, "p3@example.jp", "198.51.100.7")
                .await
                .status,
            429
        );
        assert_eq!(
            file_from(&app, "p4@example.jp", "1.1.1.1, 198.51.100.7")
                .await
                .status,
            429,
            "a forged first hop does not buy a new quota"
        );
        let pid = uuid::Uuid::parse_str(first.json()["id"].as_str().unwrap()).unwrap();
        let entries = madoguchi_store::audit::for_request(app.service.db().conn(), pid)
            .await
            .unwrap();
        assert_eq!(
            entries[0].ip.as_deref(),
            Some("198.51.100.7"),
            "the trail records the client, not the proxy"
        );
    }
);

on_both!(
    without_trusted_proxies_forwarded_for_is_ignored,
    vars = [("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "1")],
    |app: TestApp| async move {
        assert_eq!(
            file_from(&app, "q1@example.jp", "198.51.100.7")
                .await
                .status,
            201
        );
        assert_eq!(
            file_from(&app, "q2@example.jp", "203.0.113.9").await.status,
            429,
            "a client cannot buy quota by inventing a header"
        );
    }
);
