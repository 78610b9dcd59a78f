//! Each attack of the security review (issue #23) replayed against the running service: it
//! must now fail, on both databases. Expectations are the limits as documented in
//! docs/security.md (5 tries per account, 20 per address, 5 per code, 3 code mails per client
//! and request), not values read back from the code under test.

use hyper::Method;
use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

/// The body the review sent: multipart in form, urlencoded inside one part, no token.
fn smuggled_event(version: i64) -> (String, Vec<u8>) {
    let body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n&event=approve_identity&version={version}&\r\n--B--\r\n"
    );
    (
        "multipart/form-data; boundary=B".to_owned(),
        body.into_bytes(),
    )
}

on_both!(
    multipart_without_a_csrf_token_changes_nothing_on_any_staff_route,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "csrf-multipart@example.jp").await;
        let admin = staff_client(&app, Role::Admin).await;
        let before = app.request(pid).await;
        let (ct, body) = smuggled_event(before.version);
        let res = admin
            .send(
                Method::POST,
                &format!("/staff/requests/{pid}/events"),
                Some(&ct),
                body,
            )
            .await;
        assert_eq!(res.status, 403, "{}", res.body);
        assert_eq!(app.request(pid).await.state, before.state);
        // A multipart body with the right token is refused too on a route that takes no
        // files: only the upload route reads multipart.
        let csrf = admin.get(&format!("/staff/requests/{pid}")).await.csrf();
        let version = before.version.to_string();
        let (ct, body) = multipart(
            &[
                ("csrf", &csrf),
                ("event", "approve_identity"),
                ("version", &version),
            ],
            &[],
        );
        let res = admin
            .send(
                Method::POST,
                &format!("/staff/requests/{pid}/events"),
                Some(&ct),
                body,
            )
            .await;
        assert_eq!(res.status, 403, "{}", res.body);
        assert_eq!(app.request(pid).await.state, before.state);
        // Every state-changing page route, as an administrator (admitted everywhere): no
        // token, multipart, must be refused before its handler runs.
        for (spec, _) in madoguchi_web::staff::routes() {
            if spec.api || spec.method == Method::GET {
                continue;
            }
            let path = spec
                .path
                .replace("{pid}", &pid.to_string())
                .replace("{id}", "1")
                .replace("{doc}", &uuid::Uuid::new_v4().to_string());
            let (ct, body) = smuggled_event(before.version);
            let res = admin
                .send(spec.method.clone(), &path, Some(&ct), body)
                .await;
            assert_eq!(res.status, 403, "{} {path}: {}", spec.method, res.body);
            let (ct, body) = multipart(&[("csrf", "wrong")], &[("a.png", &png("x"))]);
            let res = admin
                .send(spec.method.clone(), &path, Some(&ct), body)
                .await;
            assert_eq!(res.status, 403, "{} {path}: {}", spec.method, res.body);
        }
        assert_eq!(app.request(pid).await.state, before.state);
        assert_eq!(
            admin.get("/staff").await.status,
            200,
            "the session was not logged out by a forged post"
        );
        // The control: the same event with the token, as the page sends it, does act.
        let res = admin
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &csrf),
                    ("event", "approve_identity"),
                    ("version", &version),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_ne!(app.request(pid).await.state, before.state);
    }
);

/// Logs in with the password and enrols TOTP through the account page; returns the browser
/// (logged in), the address, the password and the secret.
async fn enrolled(app: &TestApp) -> (Client, String, String, Vec<u8>) {
    let (email, password) = staff_user(app, Role::Officer).await;
    let c = app.client.fresh();
    let res = c
        .post_login(&[("email", &email), ("password", &password)])
        .await;
    assert_eq!(res.status, 303);
    let csrf = c.get("/staff/account").await.csrf();
    let page = c
        .post_form(
            "/staff/account/totp",
            &[("csrf", &csrf), ("password", &password)],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let key = secret_on(&page.body);
    let code = code_in(&key, -1);
    let done = c
        .post_form(
            "/staff/account/totp/confirm",
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    (c, email, password, key)
}

fn secret_on(body: &str) -> Vec<u8> {
    let marker = "<p><code class=\"number\">";
    let start = body.find(marker).expect("the new key is shown") + marker.len();
    let secret = body[start..].split('<').next().unwrap();
    madoguchi_service::totp::base32_decode(secret).unwrap()
}

/// The code of the step `offset` steps from now (the service accepts one step either side).
fn code_in(key: &[u8], offset: i64) -> String {
    let step = chrono::Utc::now().timestamp() / 30 + offset;
    madoguchi_service::totp::code_at(key, step as u64)
}

fn wrong_code(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

async fn password_step(app: &TestApp, email: &str, password: &str) -> Client {
    let c = app.client.fresh();
    let res = c
        .post_login(&[("email", email), ("password", password)])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("name=\"code\""));
    c
}

async fn staff_actions(app: &TestApp, action: &str) -> usize {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    madoguchi_store::entities::audit_entry::Entity::find()
        .filter(madoguchi_store::entities::audit_entry::Column::Action.eq(action))
        .all(app.service.db().conn())
        .await
        .unwrap()
        .len()
}

on_both!(
    totp_codes_are_limited_per_account_and_accepted_once,
    |app: TestApp| async move {
        let (_, email, password, key) = enrolled(&app).await;
        // Five wrong codes on one pending login: four are wrong, the fifth locks.
        let c = password_step(&app, &email, &password).await;
        let right = code_in(&key, 0);
        for _ in 0..4 {
            let res = c.post_login_totp(&[("code", wrong_code(&right))]).await;
            assert_eq!(res.status, 401);
        }
        let res = c.post_login_totp(&[("code", wrong_code(&right))]).await;
        assert_eq!(res.status, 429, "the fifth wrong code locks the account");
        let res = c.post_login_totp(&[("code", &right)]).await;
        assert_ne!(res.status, 303, "the right code waits out the lock");
        let res = app
            .client
            .fresh()
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        assert_eq!(res.status, 429, "and so does the password");
        assert_eq!(c.get("/staff").await.status, 303, "no session was opened");
    }
);

on_both!(one_totp_code_opens_one_session, |app: TestApp| async move {
    let (_, email, password, key) = enrolled(&app).await;
    let code = code_in(&key, 1);
    let first = password_step(&app, &email, &password).await;
    let second = password_step(&app, &email, &password).await;
    let res = first.post_login_totp(&[("code", &code)]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let res = second.post_login_totp(&[("code", &code)]).await;
    assert_eq!(res.status, 401, "a code already used is refused");
    assert_eq!(second.get("/staff").await.status, 303);
    assert_eq!(first.get("/staff").await.status, 200);
});

on_both!(
    concurrent_totp_guesses_are_checked_no_more_than_the_limit,
    |app: TestApp| async move {
        let (_, email, password, key) = enrolled(&app).await;
        let c = password_step(&app, &email, &password).await;
        let right = code_in(&key, 0);
        let failed_before = staff_actions(&app, "login.failed").await;
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let c = c.clone();
            let wrong = wrong_code(&right);
            tasks.push(tokio::spawn(async move {
                c.post_login_totp(&[("code", wrong)]).await.status
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let checked = staff_actions(&app, "login.failed").await - failed_before;
        assert!(checked <= 5, "{checked} codes were checked: {statuses:?}");
        // Refused (429), wrong (401), or too late: the locked account's pending login is gone
        // (401, nothing checked). Never a session.
        assert!(
            statuses.iter().all(|s| [401, 429].contains(s)),
            "{statuses:?}"
        );
        assert!(statuses.contains(&429), "{statuses:?}");
    }
);

on_both!(
    starting_enrolment_keeps_the_factor_in_force,
    |app: TestApp| async move {
        let (c, email, password, old_key) = enrolled(&app).await;
        let csrf = c.get("/staff/account").await.csrf();
        // Without the password, nothing changes.
        let res = c
            .post_form(
                "/staff/account/totp",
                &[("csrf", &csrf), ("password", "not-the-password")],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        let page = c
            .post_form(
                "/staff/account/totp",
                &[("csrf", &csrf), ("password", &password)],
            )
            .await;
        assert_eq!(page.status, 200);
        let new_key = secret_on(&page.body);
        // Enrolment started, not confirmed: the password alone still does not log in, and
        // the old key's code still does.
        let other = password_step(&app, &email, &password).await;
        let res = other
            .post_login_totp(&[("code", &code_in(&old_key, 0))])
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        // Confirmed: the new key replaces the old.
        let res = c
            .post_form(
                "/staff/account/totp/confirm",
                &[("csrf", &csrf), ("code", &code_in(&new_key, 1))],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let third = password_step(&app, &email, &password).await;
        let res = third
            .post_login_totp(&[("code", &code_in(&old_key, 1))])
            .await;
        assert_eq!(res.status, 401, "the old key no longer works");
        for action in [
            "totp.enabled",
            "totp.enrolment_refused",
            "totp.enrolment_started",
            "totp.replaced",
        ] {
            assert!(
                staff_actions(&app, action).await >= 1,
                "{action} is audited"
            );
        }
    }
);

on_both!(
    concurrent_password_guesses_are_checked_no_more_than_the_limit,
    |app: TestApp| async move {
        let (email, password) = staff_user(&app, Role::Officer).await;
        let failed_before = staff_actions(&app, "login.failed").await;
        let mut tasks = Vec::new();
        for i in 0..30 {
            let c = app.client.fresh();
            let (email, guess) = (
                email.clone(),
                if i == 29 {
                    password.clone()
                } else {
                    format!("guess-{i}")
                },
            );
            tasks.push(tokio::spawn(async move {
                c.post_login(&[("email", &email), ("password", &guess)])
                    .await
                    .status
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let failed = staff_actions(&app, "login.failed").await - failed_before;
        let succeeded = statuses.iter().filter(|s| **s == 303).count();
        // At most five wrong passwords are ever checked. The right one, if it got a turn,
        // gives its turn back (a right secret does not count against the account), which can
        // let one more wrong guess be checked, never a sixth.
        assert!(
            failed <= 5 && succeeded <= 1,
            "{failed} wrong and {succeeded} right passwords were checked: {statuses:?}"
        );
        assert!(statuses.iter().filter(|s| **s == 429).count() >= 24);
    }
);

on_both!(
    unknown_and_known_addresses_lock_alike,
    |app: TestApp| async move {
        let (email, _) = staff_user(&app, Role::Officer).await;
        for address in [email.as_str(), "nobody-here@example.jp"] {
            let c = app.client.fresh();
            let mut statuses = Vec::new();
            for _ in 0..6 {
                statuses.push(
                    c.post_login(&[("email", address), ("password", "wrong")])
                        .await
                        .status,
                );
            }
            assert_eq!(statuses, [401, 401, 401, 401, 429, 429], "{address}");
        }
    }
);

on_both!(
    concurrent_wrong_codes_are_checked_no_more_than_five,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "code-race@example.jp").await;
        let browser = app.client.fresh();
        let status = browser.get(&format!("/r/{pid}")).await;
        let res = browser
            .post_form(&format!("/r/{pid}/code"), &[("csrf", &status.csrf())])
            .await;
        assert_eq!(res.status, 303);
        let code = latest_code(&app, "code-race@example.jp").await;
        let csrf = browser.get(&format!("/r/{pid}/access")).await.csrf();
        let mut tasks = Vec::new();
        for i in 0..60 {
            let (b, csrf) = (browser.clone(), csrf.clone());
            // The right code among the last of them: it must not get through once five
            // guesses have been checked.
            let guess = if i == 59 {
                code.clone()
            } else {
                wrong_code(&code).to_owned()
            };
            tasks.push(tokio::spawn(async move {
                b.post_form(
                    &format!("/r/{pid}/access"),
                    &[("csrf", &csrf), ("code", &guess)],
                )
                .await
                .status
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let wrong = statuses.iter().filter(|s| **s == 422).count();
        let opened = statuses.iter().filter(|s| **s == 303).count();
        assert!(wrong <= 4, "{wrong} wrong codes were answered as wrong");
        assert!(wrong + opened <= 5, "{statuses:?}");
        let attempts: i32 = {
            use sea_orm::EntityTrait;
            madoguchi_store::entities::subject_token::Entity::find()
                .all(app.service.db().conn())
                .await
                .unwrap()
                .into_iter()
                .filter(|t| t.purpose == "access_code")
                .map(|t| t.attempts)
                .max()
                .unwrap()
        };
        assert_eq!(attempts, 5, "exactly five attempts were counted");
    }
);

on_both!(
    a_stranger_cannot_spend_the_subjects_code_allowance,
    vars = [("MADOGUCHI_TRUSTED_PROXIES", "127.0.0.1,::1")],
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "allowance@example.jp").await;
        let ask = |client: &'static str| {
            let b = app.client.fresh();
            async move {
                let status = b.get(&format!("/r/{pid}")).await;
                let csrf = status.csrf();
                let cookie = b.cookies();
                let cookie: String = cookie
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                b.send_with_headers(
                    Method::POST,
                    &format!("/r/{pid}/code"),
                    "application/x-www-form-urlencoded",
                    format!("csrf={csrf}").into_bytes(),
                    &[("x-forwarded-for", client), ("cookie", &cookie)],
                )
                .await
                .status
            }
        };
        let mut stranger = Vec::new();
        for _ in 0..5 {
            stranger.push(ask("192.0.2.66").await);
        }
        assert_eq!(stranger, [303, 303, 303, 429, 429]);
        assert_eq!(
            ask("198.51.100.7").await,
            303,
            "the subject still gets a code"
        );
    }
);

on_both!(
    control_characters_are_refused_naming_the_field,
    |app: TestApp| async move {
        // The form: a NUL in the name, in English and in Japanese.
        let csrf = app.client.get("/?kind=disclosure").await.csrf();
        for (lang, label) in [("ja", "「お名前」"), ("en", "“Name”")] {
            let res = app
                .client
                .post_form(
                    "/requests",
                    &with_field(
                        intake_form(&csrf, "nul@example.jp", lang),
                        "subject_name",
                        "山田\0花子",
                    ),
                )
                .await;
            assert_eq!(res.status, 422, "{}", res.body);
            assert!(res.body.contains(label), "{lang}: {}", res.body);
            assert!(!res.body.contains("subject_name"), "no internal names");
        }
        // A line break in a one-line field is refused by the form, next to the field.
        let res = app
            .client
            .post_form(
                "/requests",
                &with_field(
                    intake_form(&csrf, "crlf@example.jp", "ja"),
                    "subject_name",
                    "山田\r\nBcc: x@example.com",
                ),
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(res.body.contains("1行で入力してください"), "{}", res.body);
        // The API: a problem document naming the field.
        let mut body = valid_json("nul-api@example.jp");
        body["details"] = serde_json::json!("a\u{0}b");
        let res = app.client.post_json("/api/v1/requests", &body).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert_eq!(res.header("content-type"), "application/problem+json");
        assert_eq!(res.json()["errors"][0]["field"], "details");
        assert_eq!(res.json()["errors"][0]["code"], "control_character");
        // Line breaks in a free-text field are text.
        let mut body = valid_json("lines@example.jp");
        body["details"] = serde_json::json!("一行目\n二行目");
        let res = app.client.post_json("/api/v1/requests", &body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        assert_eq!(app.request_count().await, 1, "nothing refused was stored");
        // A staff form too.
        let pid = file_and_confirm(&app, "nul-staff@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        let csrf = officer.get(&format!("/staff/requests/{pid}")).await.csrf();
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &csrf),
                    ("event", "request_info"),
                    ("message", "\u{1b}[2Jhello"),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
    }
);

/// Reads from a raw connection until the server closes it or `limit` passes; returns whether
/// it closed, and what it sent.
async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> (bool, String) {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (true, String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (false, String::from_utf8_lossy(&got).into_owned()),
        }
    }
}

on_both!(
    silent_and_idle_connections_are_closed,
    vars = [("MADOGUCHI_HEADER_TIMEOUT_SECS", "1")],
    |app: TestApp| async move {
        // The whole app is moved in (an async block would capture only the fields it uses,
        // and dropping the rest stops the server).
        let app = app;
        use tokio::io::AsyncWriteExt;
        let limit = std::time::Duration::from_secs(5);
        assert_eq!(app.client.get("/healthz").await.status, 200);
        // Headers begun and never finished.
        let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: madoguchi.test\r\n")
            .await
            .unwrap();
        let (closed, _) = closed_within(&mut slow, limit).await;
        assert!(closed, "a connection with unfinished headers is closed");
        // One request answered, then nothing: the kept-alive connection is closed too.
        let mut idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: madoguchi.test\r\n\r\n")
            .await
            .unwrap();
        let (closed, got) = closed_within(&mut idle, limit).await;
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        assert!(closed, "an idle kept-alive connection is closed");
    }
);

on_both!(
    oversized_bodies_and_out_of_range_values_are_refused_clearly,
    |app: TestApp| async move {
        let app = app;
        use tokio::io::AsyncWriteExt;
        // A body announced larger than any limit: refused before it is read, as a problem.
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(
            b"POST /api/v1/requests HTTP/1.1\r\nHost: madoguchi.test\r\nContent-Type: application/json\r\nContent-Length: 80000000\r\n\r\n{",
        )
        .await
        .unwrap();
        let (_, got) = closed_within(&mut s, std::time::Duration::from_secs(5)).await;
        assert!(got.starts_with("HTTP/1.1 413"), "{got}");
        assert!(got.contains("application/problem+json"), "{got}");
        // The same on a page: the visitor's language, not the framework's text.
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(
            b"POST /requests HTTP/1.1\r\nHost: madoguchi.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 80000000\r\n\r\na",
        )
        .await
        .unwrap();
        let (_, got) = closed_within(&mut s, std::time::Duration::from_secs(5)).await;
        assert!(got.starts_with("HTTP/1.1 413"), "{got}");
        assert!(got.contains("text/html"), "{got}");
        assert!(got.contains("送信された内容が大きすぎます"), "{got}");

        // A fee of i64::MAX yen.
        let token = staff_token(&app, Role::Admin).await;
        let res = app
            .client
            .with_bearer(
                Method::PUT,
                "/api/v1/staff/settings/fees",
                &token,
                Some(serde_json::json!({"disclosure": i64::MAX})),
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        let res = app
            .client
            .with_bearer(Method::GET, "/api/v1/staff/settings/fees", &token, None)
            .await;
        assert!(
            res.body.contains("3000"),
            "the seed fee stands: {}",
            res.body
        );

        // A request entered by staff as received on 0001-01-01.
        let officer = staff_client(&app, Role::Officer).await;
        let csrf = officer.get("/staff/intake").await.csrf();
        let res = officer
            .post_form(
                "/staff/intake",
                &with_field(
                    with_field(
                        intake_form(&csrf, "paper@example.jp", "ja"),
                        "channel",
                        "post",
                    ),
                    "received_on",
                    "0001-01-01",
                ),
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(res.body.contains("過去1年以内"), "{}", res.body);
        assert_eq!(app.request_count().await, 0);

        // An internationalised mail domain goes out in its ASCII form.
        let mut body = valid_json("taro@例え.jp");
        body["lang"] = serde_json::json!("ja");
        let res = app.client.post_json("/api/v1/requests", &body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        app.deliver_mail().await;
        let mails = app.mails().await;
        assert!(
            mails.iter().any(|m| m.to.contains("taro@xn--r8jz45g.jp")),
            "{:?}",
            mails.iter().map(|m| &m.to).collect::<Vec<_>>()
        );
    }
);

on_both!(
    a_forged_login_form_logs_nobody_in,
    |app: TestApp| async move {
        let (email, password) = staff_user(&app, Role::Officer).await;
        // A cross-site form knows the attacker's own credentials but not the victim's token.
        let victim = app.client.fresh();
        let res = victim
            .post_form(
                "/staff/login",
                &[("email", &email), ("password", &password)],
            )
            .await;
        assert_eq!(res.status, 403, "{}", res.body);
        assert!(res.body.contains("有効期限"), "{}", res.body);
        assert!(victim.cookie("madoguchi_staff").is_none());
        assert_eq!(victim.get("/staff").await.status, 303);
        // The same form from the login page itself logs in.
        let res = victim
            .post_login(&[("email", &email), ("password", &password)])
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
    }
);

on_both!(
    behind_tls_the_csrf_cookie_cannot_be_planted_from_a_sibling_domain,
    vars = [("MADOGUCHI_BASE_URL", "https://madoguchi.test")],
    |app: TestApp| async move {
        let app = app;
        let page = app.client.fresh().get("/").await;
        let set = page.header("set-cookie").to_owned();
        assert!(set.starts_with("__Host-madoguchi_csrf="), "{set}");
        assert!(set.contains("; Secure") && set.contains("Path=/"), "{set}");
        assert!(!set.contains("Domain="), "{set}");
        // Cookie tossing: a sibling domain can plant `madoguchi_csrf` (no prefix) with an id
        // whose token the attacker learned; the service no longer reads that cookie.
        let planted = "a".repeat(64);
        let token = app.service.csrf_token(&planted);
        let victim = app.client.fresh();
        victim.set_cookie("madoguchi_csrf", &planted);
        let res = victim
            .post_form("/requests", &intake_form(&token, "tossed@example.jp", "ja"))
            .await;
        assert_eq!(res.status, 403, "{}", res.body);
        assert_eq!(app.request_count().await, 0);
    }
);

on_both!(
    a_message_that_cannot_be_opened_fails_alone,
    |app: TestApp| async move {
        let app = app;
        app.halt().await;
        let db = app.service.db().conn();
        for to in ["first@example.jp", "second@example.jp"] {
            madoguchi_store::change::commit_office_mail(
                app.service.db(),
                app.service.cipher(),
                vec![madoguchi_store::outbox::NewMessage {
                    request_id: None,
                    recipient: to.into(),
                    lang: madoguchi_domain::Lang::Ja,
                    template: "staff_new_request".into(),
                    context: serde_json::to_value(madoguchi_mail::sample("ja")).unwrap(),
                    by_post: false,
                }],
                "madoguchi.test",
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        }
        // The first one's context sealed under a key the ring does not hold.
        app.sql(
            "UPDATE outbox SET context = 'sealed:v1:gone:000000000000000000000000:00' \
             WHERE id = (SELECT MIN(id) FROM outbox)",
        )
        .await;
        app.worker.drain().await.unwrap();
        use sea_orm::EntityTrait;
        let rows = madoguchi_store::entities::outbox::Entity::find()
            .all(db)
            .await
            .unwrap();
        let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(
            statuses,
            ["failed", "sent"],
            "the damaged one fails, the other goes"
        );
        assert_eq!(app.mails_to("second@example.jp").await.len(), 1);
    }
);
