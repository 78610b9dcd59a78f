//! The officer console: who may reach what, logging in, and working the queue.

use hyper::Method;
use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

const ROLES: [Role; 3] = [Role::Admin, Role::Officer, Role::Auditor];

/// Who may reach each staff route, written down from the access policy rather than read from
/// `routes()`: admins (A) manage the service and may also work requests; officers (O) work
/// requests; auditors (U) read every request, the trail, the mail log, the staff list, the
/// settings and the data map, and change nothing but their own account (and may run a
/// verification of the trail). Letters to print and the intake and register forms are work;
/// the settings, users, data map and mail retries are an administrator's.
const ACCESS: &[(&str, &str, &str)] = &[
    ("GET", "/staff", "AOU"),
    ("GET", "/staff/requests/{pid}", "AOU"),
    ("POST", "/staff/requests/{pid}/events", "AO"),
    ("POST", "/staff/requests/{pid}/claim", "AO"),
    ("POST", "/staff/requests/{pid}/notes", "AO"),
    ("GET", "/staff/requests/{pid}/documents/{doc}", "AOU"),
    ("POST", "/staff/requests/{pid}/documents", "AO"),
    ("POST", "/staff/requests/{pid}/posted", "AO"),
    ("POST", "/staff/requests/{pid}/refunds/{id}", "AO"),
    ("POST", "/staff/requests/{pid}/payments/{id}/refund", "AO"),
    ("GET", "/staff/requests/{pid}/letter", "AOU"),
    ("GET", "/staff/requests/{pid}/letters/{id}", "AO"),
    ("POST", "/staff/requests/{pid}/letters/{id}/posted", "AO"),
    ("POST", "/staff/requests/{pid}/evidence", "AO"),
    ("POST", "/staff/requests/{pid}/gather", "AO"),
    ("POST", "/staff/requests/{pid}/package", "AO"),
    ("POST", "/staff/requests/{pid}/review", "AO"),
    ("POST", "/staff/requests/{pid}/erase", "AO"),
    ("POST", "/staff/requests/{pid}/correct", "AO"),
    ("POST", "/staff/requests/{pid}/erase/approve", "AO"),
    ("POST", "/staff/requests/{pid}/stop", "AO"),
    ("POST", "/staff/requests/{pid}/correct/approve", "AO"),
    ("POST", "/staff/requests/assign", "AO"),
    ("GET", "/staff/incidents", "AOU"),
    ("POST", "/staff/incidents", "AO"),
    ("GET", "/staff/incidents/new", "AO"),
    ("GET", "/staff/incidents/{pid}", "AOU"),
    ("POST", "/staff/incidents/{pid}", "AO"),
    ("POST", "/staff/incidents/{pid}/reports", "AO"),
    ("GET", "/staff/incidents/{pid}/report", "AOU"),
    ("GET", "/staff/dashboard", "AOU"),
    ("GET", "/staff/admin/mail", "AU"),
    ("POST", "/staff/admin/mail/{id}/retry", "A"),
    ("GET", "/staff/admin/mail/preview/{template}", "AOU"),
    ("GET", "/staff/audit", "AU"),
    ("POST", "/staff/audit/verify", "AU"),
    ("GET", "/staff/audit/export.csv", "AU"),
    ("GET", "/staff/audit/export.jsonl", "AU"),
    ("GET", "/staff/reports/monthly.csv", "AOU"),
    ("GET", "/staff/intake", "AO"),
    ("POST", "/staff/intake", "AO"),
    ("GET", "/staff/admin/users", "AU"),
    ("POST", "/staff/admin/users", "A"),
    ("POST", "/staff/admin/users/{pid}", "A"),
    ("GET", "/staff/admin/settings", "AU"),
    ("POST", "/staff/admin/settings/fees", "A"),
    ("POST", "/staff/admin/settings/policy", "A"),
    ("POST", "/staff/admin/settings/retention", "A"),
    ("POST", "/staff/admin/settings/payment", "A"),
    ("POST", "/staff/admin/settings/business", "A"),
    ("POST", "/staff/admin/settings/branding", "A"),
    ("POST", "/staff/admin/settings/logo", "A"),
    ("POST", "/staff/admin/settings/templates", "A"),
    ("POST", "/staff/admin/settings/templates/remove", "A"),
    ("GET", "/staff/admin/datamap", "AU"),
    ("POST", "/staff/admin/datamap", "A"),
    ("POST", "/staff/admin/datamap/test", "A"),
    ("GET", "/staff/register", "AO"),
    ("POST", "/staff/register", "AO"),
    ("POST", "/api/v1/staff/register", "AO"),
    ("GET", "/staff/account/password", "AOU"),
    ("POST", "/staff/account/password", "AOU"),
    ("GET", "/staff/account", "AOU"),
    ("POST", "/staff/account/totp", "AOU"),
    ("POST", "/staff/account/totp/confirm", "AOU"),
    ("POST", "/staff/account/tokens", "AOU"),
    ("POST", "/staff/account/tokens/{id}/revoke", "AOU"),
    ("POST", "/staff/logout", "AOU"),
    ("GET", "/api/v1/staff/requests", "AOU"),
    ("GET", "/api/v1/staff/requests/{pid}", "AOU"),
    ("POST", "/api/v1/staff/requests/{pid}/events", "AO"),
    ("GET", "/api/v1/staff/settings/fees", "AU"),
    ("PUT", "/api/v1/staff/settings/fees", "A"),
    // The complaints desk: everyone reads, workers act.
    ("GET", "/staff/complaints", "AOU"),
    ("GET", "/staff/complaints/{pid}", "AOU"),
    ("POST", "/staff/complaints/{pid}/{action}", "AO"),
    // An incident's notices: workers only (the letters carry names and addresses).
    ("POST", "/staff/incidents/{pid}/people", "AO"),
    ("POST", "/staff/incidents/{pid}/notices", "AO"),
    ("POST", "/staff/incidents/{pid}/failed-letters", "AO"),
    ("GET", "/staff/incidents/{pid}/letters", "AO"),
    ("POST", "/staff/incidents/{pid}/letters", "AO"),
    ("POST", "/staff/incidents/{pid}/published", "AO"),
    ("POST", "/staff/requests/{pid}/incident", "AO"),
    // Webhooks: administrators change them, auditors read them.
    ("GET", "/staff/admin/webhooks", "AU"),
    ("POST", "/staff/admin/webhooks", "A"),
    ("POST", "/staff/admin/webhooks/{pid}/disable", "A"),
    ("POST", "/staff/admin/webhooks/deliveries/{pid}/replay", "A"),
];

/// The route table the guard enforces is the written policy, route for route: a role added to
/// or dropped from a route in the code fails here, whatever the behaviour test then checks.
#[test]
fn the_route_table_is_the_written_access_policy() {
    let letter = |r: &Role| match r {
        Role::Admin => 'A',
        Role::Officer => 'O',
        Role::Auditor => 'U',
    };
    let mut code: Vec<(String, String, String)> = madoguchi_web::staff::routes()
        .into_iter()
        .map(|(spec, _)| {
            let mut roles: Vec<char> = spec.roles.iter().map(letter).collect();
            roles.sort_by_key(|c| "AOU".find(*c));
            (
                spec.method.to_string(),
                spec.path.to_owned(),
                roles.into_iter().collect(),
            )
        })
        .collect();
    let mut written: Vec<(String, String, String)> = ACCESS
        .iter()
        .map(|(m, p, r)| ((*m).to_owned(), (*p).to_owned(), (*r).to_owned()))
        .collect();
    code.sort();
    written.sort();
    assert_eq!(code, written);
    // And the policy's own rules hold in the written table.
    for (method, path, roles) in ACCESS {
        if *method != "GET"
            && !path.starts_with("/staff/account")
            && *path != "/staff/logout"
            && *path != "/staff/audit/verify"
        {
            assert!(
                !roles.contains('U'),
                "an auditor changes nothing: {method} {path}"
            );
        }
        if path.starts_with("/staff/admin/") && *method != "GET" {
            assert_eq!(*roles, "A", "{method} {path}");
        }
    }
}

on_both!(
    every_route_admits_exactly_its_roles,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "matrix@example.jp").await;
        let mut pages = Vec::new();
        let mut tokens = Vec::new();
        for role in ROLES {
            pages.push((role, staff_client(&app, role).await));
            tokens.push((role, staff_token(&app, role).await));
        }
        let anonymous = app.client.fresh();
        for (spec, _) in madoguchi_web::staff::routes() {
            let path = spec
                .path
                .replace("{pid}", &pid.to_string())
                .replace("{id}", "999999");
            if spec.api {
                let res = anonymous
                    .with_bearer(spec.method.clone(), &path, "not-a-token", None)
                    .await;
                assert_eq!(res.status, 401, "anonymous {} {path}", spec.method);
                for (role, token) in &tokens {
                    let body = (spec.method != Method::GET).then(|| serde_json::json!({}));
                    let res = app
                        .client
                        .with_bearer(spec.method.clone(), &path, token, body)
                        .await;
                    if spec.roles.contains(role) {
                        assert!(
                            ![401, 403].contains(&res.status),
                            "{role:?} {} {path}: {} {}",
                            spec.method,
                            res.status,
                            res.body
                        );
                    } else {
                        assert_eq!(res.status, 403, "{role:?} {} {path}", spec.method);
                    }
                }
                continue;
            }
            let res = anonymous
                .send(
                    spec.method.clone(),
                    &path,
                    Some("application/x-www-form-urlencoded"),
                    Vec::new(),
                )
                .await;
            assert_eq!(res.status, 303, "anonymous {} {path}", spec.method);
            assert!(
                res.header("location").starts_with("/staff/login"),
                "anonymous {} {path}",
                spec.method
            );
            if path == "/staff/logout" {
                continue;
            }
            for (role, client) in &pages {
                let csrf = client.get("/staff/account").await.csrf();
                let res = if spec.method == Method::GET {
                    client.get(&path).await
                } else {
                    client.post_form(&path, &[("csrf", &csrf)]).await
                };
                if spec.roles.contains(role) {
                    assert!(
                        res.status != 403,
                        "{role:?} {} {path}: {}",
                        spec.method,
                        res.status
                    );
                    assert!(
                        !res.header("location").starts_with("/staff/login"),
                        "{role:?} {} {path}",
                        spec.method
                    );
                } else {
                    assert_eq!(res.status, 403, "{role:?} {} {path}", spec.method);
                }
            }
        }
    }
);

on_both!(
    wrong_passwords_lock_the_account_and_are_audited,
    |app: TestApp| async move {
        let (email, password) = staff_user(&app, Role::Officer).await;
        let c = app.client.fresh();
        for _ in 0..4 {
            let res = c
                .post_login(&[("email", &email), ("password", "wrong")])
                .await;
            assert_eq!(res.status, 401);
            assert!(res.body.contains("正しくありません"));
        }
        let res = c
            .post_login(&[("email", &email), ("password", "wrong")])
            .await;
        assert_eq!(res.status, 429, "the fifth failure locks");
        let res = c
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        assert_eq!(
            res.status, 429,
            "even the right password waits out the lock"
        );
        // An unknown account answers like a wrong password.
        let res = c
            .post_login(&[("email", "nobody@example.jp"), ("password", "x")])
            .await;
        assert_eq!(res.status, 401);
        app.verify_audit().await;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let actions: Vec<String> = madoguchi_store::entities::audit_entry::Entity::find()
            .filter(madoguchi_store::entities::audit_entry::Column::Action.starts_with("login."))
            .all(app.service.db().conn())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions.iter().filter(|a| *a == "login.failed").count(), 6);
        assert_eq!(actions.iter().filter(|a| *a == "login.locked").count(), 1);
    }
);

on_both!(
    many_failures_from_one_address_lock_the_address,
    |app: TestApp| async move {
        let (email, password) = staff_user(&app, Role::Officer).await;
        let c = app.client.fresh();
        for i in 0..20 {
            let e = format!("probe{i}@example.jp");
            c.post_login(&[("email", &e), ("password", "guess")]).await;
        }
        let res = c
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        assert_eq!(res.status, 429);
    }
);

on_both!(
    totp_enrolment_and_login_with_code_and_recovery_code,
    |app: TestApp| async move {
        let (email, password) = staff_user(&app, Role::Officer).await;
        let c = app.client.fresh();
        assert_eq!(
            c.post_login(&[("email", &email), ("password", &password)])
                .await
                .status,
            303
        );
        let csrf = c.get("/staff/account").await.csrf();
        let page = c
            .post_form(
                "/staff/account/totp",
                &[("csrf", &csrf), ("password", &password)],
            )
            .await;
        let marker = "<p><code class=\"number\">";
        let start = page.body.find(marker).unwrap() + marker.len();
        let secret = page.body[start..].split('<').next().unwrap().to_owned();
        let key = madoguchi_service::totp::base32_decode(&secret).unwrap();
        let code =
            madoguchi_service::totp::code_at(&key, (chrono::Utc::now().timestamp() / 30) as u64);
        let done = c
            .post_form(
                "/staff/account/totp/confirm",
                &[("csrf", &csrf), ("code", &code)],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        let recovery: Vec<String> = done
            .body
            .split("<li><code>")
            .skip(1)
            .map(|s| s.split('<').next().unwrap().to_owned())
            .collect();
        assert_eq!(recovery.len(), 10);

        let fresh = app.client.fresh();
        let step = fresh
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        assert_eq!(step.status, 200);
        assert!(step.body.contains("name=\"code\""));
        assert_eq!(
            fresh.get("/staff").await.status,
            303,
            "no access with the password alone"
        );
        let bad = fresh.post_login_totp(&[("code", "000000")]).await;
        assert_eq!(bad.status, 401);
        fresh
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        // The step after the one used to confirm: a code is accepted only once.
        let code = madoguchi_service::totp::code_at(
            &key,
            (chrono::Utc::now().timestamp() / 30 + 1) as u64,
        );
        assert_eq!(fresh.post_login_totp(&[("code", &code)]).await.status, 303);
        assert_eq!(fresh.get("/staff").await.status, 200);

        let other = app.client.fresh();
        other
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        assert_eq!(
            other
                .post_login_totp(&[("code", &recovery[0])])
                .await
                .status,
            303
        );
        let again = app.client.fresh();
        again
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        assert_eq!(
            again
                .post_login_totp(&[("code", &recovery[0])])
                .await
                .status,
            401,
            "a recovery code works once"
        );
    }
);

on_both!(
    login_issues_a_fresh_session_and_logout_ends_it,
    |app: TestApp| async move {
        let (email, password) = staff_user(&app, Role::Officer).await;
        let c = app.client.fresh();
        c.set_cookie("madoguchi_staff", "attacker-chosen-session-id");
        c.post_login(&[("email", &email), ("password", &password)])
            .await;
        let session = c.cookie("madoguchi_staff").unwrap();
        assert_ne!(session, "attacker-chosen-session-id");
        assert_eq!(c.get("/staff").await.status, 200);
        let csrf = c.get("/staff/account").await.csrf();
        assert_eq!(
            c.post_form("/staff/logout", &[("csrf", &csrf)])
                .await
                .status,
            303
        );
        let replay = app.client.fresh();
        replay.set_cookie("madoguchi_staff", &session);
        assert_eq!(
            replay.get("/staff").await.status,
            303,
            "the old session is gone"
        );
    }
);

on_both!(
    state_changing_staff_forms_need_the_session_csrf_token,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "csrf@example.jp").await;
        let c = staff_client(&app, Role::Officer).await;
        let res = c
            .post_form(&format!("/staff/requests/{pid}/claim"), &[])
            .await;
        assert_eq!(res.status, 403);
        let res = c
            .post_form(
                &format!("/staff/requests/{pid}/claim"),
                &[("csrf", "forged")],
            )
            .await;
        assert_eq!(res.status, 403);
        assert_eq!(app.request(pid).await.assignee_id, None);
        let csrf = c.get("/staff").await.csrf();
        assert_eq!(
            c.post_form(&format!("/staff/requests/{pid}/claim"), &[("csrf", &csrf)])
                .await
                .status,
            303
        );
        assert!(app.request(pid).await.assignee_id.is_some());
    }
);

on_both!(api_tokens_are_capped_by_role, |app: TestApp| async move {
    let officer = staff_token(&app, Role::Officer).await;
    let admin = staff_token(&app, Role::Admin).await;
    let auditor = staff_token(&app, Role::Auditor).await;
    let fees = serde_json::json!({"disclosure": 1000});
    assert_eq!(
        app.client
            .with_bearer(
                Method::PUT,
                "/api/v1/staff/settings/fees",
                &officer,
                Some(fees.clone())
            )
            .await
            .status,
        403
    );
    assert_eq!(
        app.client
            .with_bearer(
                Method::PUT,
                "/api/v1/staff/settings/fees",
                &auditor,
                Some(fees.clone())
            )
            .await
            .status,
        403
    );
    let ok = app
        .client
        .with_bearer(
            Method::PUT,
            "/api/v1/staff/settings/fees",
            &admin,
            Some(fees),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["disclosure"], 1000);
    let unlawful = serde_json::json!({"correction": 500});
    assert_eq!(
        app.client
            .with_bearer(
                Method::PUT,
                "/api/v1/staff/settings/fees",
                &admin,
                Some(unlawful)
            )
            .await
            .status,
        422
    );
    assert_eq!(
        app.client
            .with_bearer(Method::GET, "/api/v1/staff/settings/fees", &auditor, None)
            .await
            .json()["disclosure"],
        1000
    );
    // The published fee follows at once.
    assert!(app.client.get("/procedures").await.body.contains("¥1,000"));
    app.verify_audit().await;
});

on_both!(
    an_officer_works_a_request_through_the_console,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "console@example.jp").await;
        let c = staff_client(&app, Role::Officer).await;
        let queue = c.get("/staff").await;
        let number = app.request(pid).await.number;
        assert!(queue.body.contains(&number));
        let page = c.get(&format!("/staff/requests/{pid}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("console@example.jp"));
        assert!(page.body.contains("value=\"approve_identity\""));
        assert!(
            !page.body.contains("value=\"complete\""),
            "only what the state machine allows"
        );
        let csrf = page.csrf();
        let v = app.request(pid).await.version.to_string();
        let res = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &csrf),
                    ("version", &v),
                    ("event", "approve_identity"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let stale = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &csrf),
                    ("version", &v),
                    ("event", "reject_identity"),
                    ("text", "x"),
                ],
            )
            .await;
        assert_eq!(stale.status, 409, "a stale page cannot overwrite");
        let v = app.request(pid).await.version.to_string();
        let res = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &csrf),
                    ("version", &v),
                    ("event", "record_payment"),
                    ("method", "postal_money_order"),
                    ("amount", "3000"),
                    ("reference", "小為替 12-345678 2026-11-01"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let v = app.request(pid).await.version.to_string();
        let refuse = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &csrf),
                    ("version", &v),
                    ("event", "refuse"),
                    ("text", "理由"),
                ],
            )
            .await;
        assert_eq!(refuse.status, 409, "a refusal without a ground is refused");
        let res = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &csrf),
                    ("version", &v),
                    ("event", "complete"),
                    ("outcome", "partially_fulfilled"),
                    ("grounds", "violates_other_law"),
                    ("text", "一部を開示します"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(app.request(pid).await.state, "partially_fulfilled");
        let actions = app.audit_actions(pid).await;
        assert!(actions.contains(&"data.viewed".to_owned()), "{actions:?}");
        assert!(actions.contains(&"grounds.recorded".to_owned()));
        let done = app
            .mails_to("console@example.jp")
            .await
            .into_iter()
            .find(|m| m.subject.contains("対応が完了しました"))
            .unwrap();
        assert!(done.text.contains("他の法令に違反することとなるため"));
        app.verify_audit().await;
    }
);

on_both!(
    the_queue_filters_and_pages_through_thousands_of_requests,
    |app: TestApp| async move {
        let now = chrono::Utc::now();
        madoguchi_store::seed::requests(
            app.service.db().conn(),
            app.service.cipher(),
            1,
            2400,
            now,
        )
        .await
        .unwrap();
        let token = staff_token(&app, Role::Auditor).await;
        let mut seen = std::collections::HashSet::new();
        let mut last_due = String::new();
        let mut path = "/api/v1/staff/requests?limit=200".to_owned();
        loop {
            let page = app
                .client
                .with_bearer(Method::GET, &path, &token, None)
                .await
                .json();
            for item in page["items"].as_array().unwrap() {
                assert!(
                    seen.insert(item["id"].as_str().unwrap().to_owned()),
                    "no row twice"
                );
                let due = item["due_on"].as_str().unwrap().to_owned();
                assert!(due >= last_due, "sorted by due date");
                assert_ne!(
                    item["state"], "fulfilled",
                    "closed requests are hidden by default"
                );
                last_due = due;
            }
            match page["next"].as_str() {
                Some(next) => path = format!("/api/v1/staff/requests?limit=200&after={next}"),
                None => break,
            }
        }
        assert_eq!(seen.len(), 2400 / 5 * 4, "every open request exactly once");
        let in_progress = app
            .client
            .with_bearer(
                Method::GET,
                "/api/v1/staff/requests?state=in_progress&limit=200",
                &token,
                None,
            )
            .await
            .json();
        assert!(
            in_progress["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["state"] == "in_progress")
        );
        let kind = app
            .client
            .with_bearer(
                Method::GET,
                "/api/v1/staff/requests?kind=correction&limit=200",
                &token,
                None,
            )
            .await
            .json();
        assert!(
            kind["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["kind"] == "correction")
        );
        let overdue = app
            .client
            .with_bearer(
                Method::GET,
                "/api/v1/staff/requests?overdue=1&limit=200",
                &token,
                None,
            )
            .await
            .json();
        let today = madoguchi_domain::jst_date(now).to_string();
        assert!(!overdue["items"].as_array().unwrap().is_empty());
        assert!(
            overdue["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["due_on"].as_str().unwrap() < today.as_str())
        );
        let found = app
            .client
            .with_bearer(
                Method::GET,
                "/api/v1/staff/requests?q=0001234&closed=1",
                &token,
                None,
            )
            .await
            .json();
        assert_eq!(found["items"][0]["number"], "R-2026-0001234");
        let by_mail = app
            .client
            .with_bearer(
                Method::GET,
                "/api/v1/staff/requests?q=SEED77@example.jp&closed=1",
                &token,
                None,
            )
            .await
            .json();
        assert_eq!(by_mail["items"].as_array().unwrap().len(), 1);
        let page = staff_client(&app, Role::Officer)
            .await
            .get("/staff?overdue=1")
            .await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("badge overdue"));
    }
);

on_both!(
    a_second_instance_serves_the_same_staff_and_subject_sessions,
    |app: TestApp| async move {
        let mut config = app_config(&app);
        config.listen = "127.0.0.1:0".parse().unwrap();
        let second = madoguchi::Application::build(config).await.unwrap();
        let other = Client::new(second.local_addr());
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(second.run(stop_rx));

        let officer = staff_client(&app, Role::Officer).await;
        let pid = file_and_confirm(&app, "twice@example.jp").await;
        let subject = subject_session(&app, pid, "twice@example.jp").await;
        for (name, browser) in [("staff", &officer), ("subject", &subject)] {
            for (k, v) in browser.cookies() {
                other.set_cookie(&k, &v);
            }
            let page = if name == "staff" {
                other.get(&format!("/staff/requests/{pid}")).await
            } else {
                other.get(&format!("/r/{pid}/private")).await
            };
            assert_eq!(page.status, 200, "{name} session on the second instance");
            assert!(page.body.contains("R-20"), "{name}: {}", page.body);
        }
        let _ = stop.send(true);
    }
);

/// Enters a request received by post `days_ago` days ago, with no e-mail address.
async fn entered_by_post(officer: &Client, days_ago: i64, name: &str) -> uuid::Uuid {
    let received = (madoguchi_domain::jst_date(chrono::Utc::now())
        - chrono::Duration::days(days_ago))
    .to_string();
    staff_intake(
        officer,
        &[
            ("channel", "post"),
            ("received_on", received.as_str()),
            ("confirmed_by", "signed_form"),
            ("kind", "purpose_notification"),
            ("requester", "subject"),
            ("subject_name", name),
            ("subject_kana", "ユウソウ"),
            ("postal_address", "〒100-0001 東京都千代田区1-1"),
            ("details", "利用目的の通知"),
            ("consent", "on"),
        ],
    )
    .await
}

on_both!(
    the_dashboard_counts_the_csv_sums_and_bulk_assignment_assigns,
    |app: TestApp| async move {
        let officer = staff_client(&app, Role::Officer).await;
        // Open: one overdue (arrived 20 days ago: due 6 days ago, may sue since 5 days ago),
        // one due in 4 days (arrived 10 days ago), one due in 14 days.
        let overdue = entered_by_post(&officer, 20, "期限 超過").await;
        let soon = entered_by_post(&officer, 10, "期限 間近").await;
        let fresh = file_and_confirm(&app, "fresh@example.jp").await;
        // Closed today: two withdrawn disclosures.
        for email in ["gone1@example.jp", "gone2@example.jp"] {
            let pid = file_and_confirm(&app, email).await;
            let csrf = officer.get(&format!("/staff/requests/{pid}")).await.csrf();
            let v = app.request(pid).await.version.to_string();
            let res = officer
                .post_form(
                    &format!("/staff/requests/{pid}/events"),
                    &[("csrf", &csrf), ("version", &v), ("event", "withdraw")],
                )
                .await;
            assert_eq!(res.status, 303, "{}", res.body);
        }
        // The queue names who asks, when and how each request arrived.
        let queue = officer.get("/staff").await;
        let arrived = madoguchi_domain::written_date(
            madoguchi_domain::jst_date(chrono::Utc::now()) - chrono::Duration::days(20),
            false,
        );
        for expected in [
            "期限 超過",
            arrived.as_str(),
            "<small>郵送</small>",
            "山田 太郎",
        ] {
            assert!(queue.body.contains(expected), "{expected}: {}", queue.body);
        }
        let dashboard = officer.get("/staff/dashboard").await;
        for figure in [
            "未完了 <strong>3</strong>",
            "7日以内に期限</a> <strong>2</strong>",
            "期限超過</a> <strong class=\"overdue\">1</strong>",
            "（法第39条）</a> <strong class=\"overdue\">1</strong>",
        ] {
            assert!(
                dashboard.body.contains(figure),
                "{figure}: {}",
                dashboard.body
            );
        }
        // The month's report: two disclosures closed today, both withdrawn, in no days.
        let csv = officer.get("/staff/reports/monthly.csv").await;
        assert_eq!(csv.status, 200);
        let month = madoguchi_domain::jst_date(chrono::Utc::now())
            .format("%Y-%m")
            .to_string();
        assert!(csv.body.starts_with('\u{feff}'), "a BOM for Excel");
        assert!(
            csv.body
                .lines()
                .any(|l| l == format!("{month},disclosure,2,0,0,0,0,0,2,0,0,0")),
            "{}",
            csv.body
        );
        // Bulk assignment: the two urgent ones to the officer, the fresh one left alone.
        let officer_id = app
            .service
            .assignable_staff()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.role == "officer")
            .unwrap()
            .id;
        let csrf = officer.get("/staff").await.csrf();
        let id = officer_id.to_string();
        let (o, s) = (overdue.to_string(), soon.to_string());
        let res = officer
            .post_form(
                "/staff/requests/assign",
                &[
                    ("csrf", csrf.as_str()),
                    ("pid", o.as_str()),
                    ("pid", s.as_str()),
                    ("assignee", id.as_str()),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        for pid in [overdue, soon] {
            assert_eq!(app.request(pid).await.assignee_id, Some(officer_id));
            assert!(
                app.audit_actions(pid)
                    .await
                    .contains(&"request.assigned".to_owned())
            );
        }
        assert_eq!(app.request(fresh).await.assignee_id, None);
        let mine = officer.get("/staff?assignee=me").await;
        assert!(mine.body.contains(&app.request(overdue).await.number));
        assert!(!mine.body.contains(&app.request(fresh).await.number));
        app.verify_audit().await;
    }
);

on_both!(
    a_handed_over_password_must_be_replaced_first,
    |app: TestApp| async move {
        let (email, handed_over) = new_staff_account(&app, Role::Officer).await;
        let login = |password: String| {
            let client = app.client.fresh();
            let email = email.clone();
            async move {
                let res = client
                    .post_login(&[
                        ("email", email.as_str()),
                        ("password", password.as_str()),
                        ("next", "/staff"),
                    ])
                    .await;
                (client, res.status)
            }
        };
        let (officer, status) = login(handed_over.clone()).await;
        assert_eq!(status, 303);
        // Another device signed in with the same handed-over password.
        let (other, _) = login(handed_over.clone()).await;
        // Every page but the change sends them there; nothing is worked meanwhile.
        for path in ["/staff", "/staff/dashboard", "/staff/intake"] {
            let res = officer.get(path).await;
            assert_eq!(res.status, 303, "{path}");
            assert_eq!(res.header("location"), "/staff/account/password", "{path}");
        }
        let page = officer.get("/staff/account/password").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("変更するまで、ほかの画面は開けません"));
        let csrf = page.csrf();
        let attempt = |current: &'static str, new: &'static str, again: &'static str| {
            let officer = &officer;
            let csrf = csrf.clone();
            async move {
                officer
                    .post_form(
                        "/staff/account/password",
                        &[
                            ("csrf", csrf.as_str()),
                            ("current_password", current),
                            ("new_password", new),
                            ("confirm_password", again),
                        ],
                    )
                    .await
            }
        };
        // Each mistake is named, in the page's language.
        let res = attempt(
            "wrong-password",
            "a-long-new-password",
            "a-long-new-password",
        )
        .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("現在のパスワードが正しくありません"));
        let res = officer
            .post_form(
                "/staff/account/password",
                &[
                    ("csrf", csrf.as_str()),
                    ("current_password", handed_over.as_str()),
                    ("new_password", "short"),
                    ("confirm_password", "short"),
                ],
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("12文字以上"));
        let res = officer
            .post_form(
                "/staff/account/password",
                &[
                    ("csrf", csrf.as_str()),
                    ("current_password", handed_over.as_str()),
                    ("new_password", "a-long-new-password"),
                    ("confirm_password", "a-long-new-passw0rd"),
                ],
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("一致しません"));
        // The change: the queue opens, the other device is signed out, the old password
        // no longer works, the new one does, and the trail says so.
        let res = officer
            .post_form(
                "/staff/account/password",
                &[
                    ("csrf", csrf.as_str()),
                    ("current_password", handed_over.as_str()),
                    ("new_password", "a-long-new-password"),
                    ("confirm_password", "a-long-new-password"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert!(res.body.contains("パスワードを変更しました"));
        assert_eq!(officer.get("/staff").await.status, 200);
        let res = other.get("/staff").await;
        assert!(
            res.header("location").starts_with("/staff/login"),
            "signed out"
        );
        let (_, status) = login(handed_over.clone()).await;
        assert_ne!(status, 303, "the handed-over password is gone");
        let (again, status) = login("a-long-new-password".to_owned()).await;
        assert_eq!(status, 303);
        assert_eq!(again.get("/staff").await.status, 200);
        let pid = app
            .service
            .staff_users()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.email == email)
            .unwrap()
            .pid;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let trail: Vec<String> = madoguchi_store::entities::audit_entry::Entity::find()
            .filter(
                madoguchi_store::entities::audit_entry::Column::Chain.eq(format!("staff:{pid}")),
            )
            .all(app.service.db().conn())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(
            trail.contains(&"staff.password_changed".to_owned()),
            "{trail:?}"
        );
        app.verify_audit().await;
    }
);

on_both!(
    each_action_says_what_it_did_and_closing_ones_ask_first,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "flash@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        // No document yet: approving is warned about.
        assert!(page.body.contains("本人確認書類がまだ提出されていません"));
        // Closing actions are set apart and need a tick (HTML `required`, no script).
        assert!(
            page.body.contains(
                "<input type=\"checkbox\" name=\"confirm\" value=\"1\" id=\"confirm-reject_identity\" required>"
            ),
            "{}",
            page.body
        );
        assert!(page.body.contains("class=\"danger\""));
        // Claiming says so, and the claim button goes.
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/claim"),
                &[("csrf", &page.csrf())],
            )
            .await;
        assert_eq!(
            res.header("location"),
            format!("/staff/requests/{pid}?done=claim")
        );
        let page = officer.get(res.header("location")).await;
        assert!(page.body.contains("この請求の担当になりました。"));
        assert!(
            !page.body.contains("/claim\""),
            "no claim button for the assignee"
        );
        // An action says what was recorded, once, on the page it lands on.
        let v = app.request(pid).await.version.to_string();
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", &v),
                    ("event", "approve_identity"),
                ],
            )
            .await;
        let landed = officer.get(res.header("location")).await;
        assert!(landed.body.contains("「本人確認を承認」を記録しました。"));
        let plain = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(!plain.body.contains("を記録しました。"));
        // A crafted message shows nothing of its own.
        let crafted = officer
            .get(&format!("/staff/requests/{pid}?done=%3Cscript%3E"))
            .await;
        assert_eq!(crafted.status, 200);
        assert!(!crafted.body.contains("id=\"flash\""));
    }
);

on_both!(
    where_a_second_factor_is_compulsory_an_account_sets_it_up_first,
    vars = [("MADOGUCHI_REQUIRE_TOTP", "true")],
    |app: TestApp| async move {
        let (email, password) = staff_user(&app, Role::Officer).await;
        let c = app.client.fresh();
        let res = c
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        assert_eq!(res.status, 303);
        // Every page leads to the account page until a second factor is set up.
        for path in ["/staff", "/staff/complaints", "/staff/incidents"] {
            let res = c.get(path).await;
            assert_eq!(res.status, 303, "{path}");
            assert_eq!(res.header("location"), "/staff/account#totp-h", "{path}");
        }
        let account = c.get("/staff/account").await;
        assert_eq!(account.status, 200);
        assert!(
            account
                .body
                .contains("すべての担当者に二要素認証が必須です")
        );
        // An API token of an account without one is refused.
        let token = staff_token(&app, Role::Officer).await;
        let res = app
            .client
            .with_bearer(hyper::Method::GET, "/api/v1/staff/requests", &token, None)
            .await;
        assert_eq!(res.status, 403, "{}", res.body);

        let csrf = account.csrf();
        let page = c
            .post_form(
                "/staff/account/totp",
                &[("csrf", &csrf), ("password", &password)],
            )
            .await;
        let marker = "<p><code class=\"number\">";
        let start = page.body.find(marker).unwrap() + marker.len();
        let secret = page.body[start..].split('<').next().unwrap().to_owned();
        let key = madoguchi_service::totp::base32_decode(&secret).unwrap();
        let code =
            madoguchi_service::totp::code_at(&key, (chrono::Utc::now().timestamp() / 30) as u64);
        let done = c
            .post_form(
                "/staff/account/totp/confirm",
                &[("csrf", &csrf), ("code", &code)],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert_eq!(c.get("/staff").await.status, 200, "open once it is set up");
        assert!(
            !c.get("/staff/account")
                .await
                .body
                .contains("二要素認証が必須です")
        );
    }
);
