//! Filing through the HTML form, in Japanese and English.

use crate::helpers::*;
use crate::on_both;

/// The helpers' valid form, in Japanese.
fn form<'a>(csrf: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    intake_form(csrf, email, "ja")
}

on_both!(
    form_request_reaches_identity_review_after_the_email_link,
    |app: TestApp| async move {
        let page = app.client.get("/").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<html lang=\"ja\""));
        assert!(
            page.body.contains("¥3,000"),
            "the fee is published before filing"
        );
        // The first step picks the kind and who files (by GET: it changes nothing) and asks
        // for nothing else; sent without a kind it says so.
        assert!(page.body.contains("<form method=\"get\" action=\"/\""));
        assert!(!page.body.contains("id=\"subject_name\""));
        let page = app.client.get("/?requester=subject&next=1").await;
        assert!(
            page.body.contains("請求の種類: 選択してください。"),
            "{}",
            page.body
        );
        // The second shows what a disclosure by the person needs: no agent, no correction,
        // no ground; the delivery, and the fee of that kind.
        let page = app
            .client
            .get("/?kind=disclosure&requester=subject&next=1")
            .await;
        assert_eq!(page.status, 200);
        for shown in [
            "id=\"subject_name\"",
            "id=\"delivery-electronic\"",
            "手順 2／2",
            "¥3,000",
        ] {
            assert!(page.body.contains(shown), "{shown}");
        }
        for hidden in [
            "id=\"agent_name\"",
            "id=\"current_content\"",
            "id=\"ground-select\"",
        ] {
            assert!(!page.body.contains(hidden), "{hidden}");
        }
        // A correction by an agent: both contents and the agent; no delivery, no ground.
        let other = app
            .client
            .get("/?kind=correction&requester=appointed_agent&next=1")
            .await;
        for shown in [
            "id=\"agent_name\"",
            "id=\"current_content\"",
            "id=\"correct_content\"",
        ] {
            assert!(other.body.contains(shown), "{shown}");
        }
        for hidden in ["id=\"delivery-electronic\"", "id=\"ground-select\""] {
            assert!(!other.body.contains(hidden), "{hidden}");
        }
        // Choosing again goes back to the first step with the choices made.
        let again = app
            .client
            .get("/?choose=1&kind=correction&requester=appointed_agent&lang=ja")
            .await;
        assert!(again.body.contains("<form method=\"get\" action=\"/\""));
        assert!(
            again.body.contains("value=\"correction\" checked"),
            "{}",
            again.body
        );
        assert!(again.body.contains("value=\"appointed_agent\" checked"));
        let csrf = page.csrf();

        let res = app
            .client
            .post_form("/requests", &form(&csrf, "hanako@example.jp"))
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let location = res.header("location").to_owned();
        let pid = pid_from_location(&location);

        let receipt = app.client.get(&location).await;
        assert_eq!(receipt.status, 200);
        let row = app.request(pid).await;
        assert!(row.number.starts_with("R-20"));
        assert!(
            receipt.body.contains(&row.number),
            "the receipt shows the request number"
        );
        assert!(receipt.body.contains("メールアドレスの確認待ち"));
        assert_eq!(row.state, "submitted");

        let mails = app.mails_to("hanako@example.jp").await;
        assert_eq!(mails.len(), 1);
        assert!(mails[0].subject.contains(&row.number));
        assert!(mails[0].subject.contains("受け付けました"));
        assert!(mails[0].text.starts_with("山田 花子 様"), "{:?}", mails[0]);
        assert!(
            mails[0].message_id.ends_with("@madoguchi.test>"),
            "a stable Message-ID"
        );
        assert!(
            mails[0].html.contains("<html lang=\"ja\">"),
            "an HTML alternative"
        );
        let link = mails[0].link_path("/confirm/").unwrap();

        // Following the link shows a button; a mail scanner's GET changes nothing.
        let confirm = app.client.get(&link).await;
        assert_eq!(confirm.status, 200);
        assert_eq!(app.request(pid).await.state, "submitted");
        let done = app
            .client
            .post_form(&link, &[("csrf", &confirm.csrf())])
            .await;
        assert_eq!(done.status, 303);
        let status = app.client.get(done.header("location")).await;
        assert!(status.body.contains("本人確認中"), "{}", status.body);
        assert_eq!(app.request(pid).await.state, "identity_review");

        assert_eq!(
            app.audit_actions(pid).await,
            vec!["request.filed", "request.confirm_email"]
        );
        app.verify_audit().await;
        let staff = app.mails_to("privacy-office@example.jp").await;
        assert_eq!(
            staff.len(),
            1,
            "staff hear of the request once it is confirmed"
        );
    }
);

on_both!(
    invalid_form_is_shown_again_with_input_and_messages_in_the_subjects_language,
    |app: TestApp| async move {
        let csrf = app.client.get("/?kind=disclosure").await.csrf();
        let mut fields = form(&csrf, "not-an-address");
        fields.retain(|(k, _)| *k != "consent");
        let res = app.client.post_form("/requests", &fields).await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("メールアドレスの形式が正しくありません"));
        assert!(res.body.contains("同意いただく必要があります"));
        assert!(
            res.body.contains("value=\"not-an-address\""),
            "input is kept"
        );
        assert!(res.body.contains("value=\"山田 花子\""));
        assert!(
            res.body
                .contains("aria-invalid=\"true\" aria-describedby=\"email-error\"")
        );

        let csrf = app.client.get("/?kind=disclosure&lang=en").await.csrf();
        let mut fields = form(&csrf, "not-an-address");
        fields[1] = ("lang", "en");
        let res = app.client.post_form("/requests?lang=en", &fields).await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("<html lang=\"en\""));
        assert!(res.body.contains("Enter an e-mail address like"));
        assert_eq!(
            app.request_count().await,
            0,
            "nothing is written for invalid input"
        );
    }
);

on_both!(
    a_form_without_its_csrf_token_is_refused_and_writes_nothing,
    |app: TestApp| async move {
        app.client.get("/?kind=disclosure").await;
        let res = app
            .client
            .post_form("/requests", &form("forged", "x@example.jp"))
            .await;
        assert_eq!(res.status, 403);
        let other = app.client.fresh();
        let res = other
            .post_form("/requests", &form("", "x@example.jp"))
            .await;
        assert_eq!(res.status, 403);
        assert_eq!(app.request_count().await, 0);
    }
);

on_both!(
    a_double_submit_is_linked_to_the_open_request,
    |app: TestApp| async move {
        let csrf = app.client.get("/?kind=disclosure").await.csrf();
        let first = app
            .client
            .post_form("/requests", &form(&csrf, "dup@example.jp"))
            .await;
        let second = app
            .client
            .post_form("/requests", &form(&csrf, "DUP@example.jp"))
            .await;
        assert_eq!(first.status, 303);
        assert_eq!(second.status, 303);
        let a = app
            .request(pid_from_location(first.header("location")))
            .await;
        let b = app
            .request(pid_from_location(second.header("location")))
            .await;
        assert_eq!(b.duplicate_of, Some(a.id), "staff see the link");
        // The receipt page says nothing about other requests (anyone can type an address); the
        // e-mail to that address does.
        let mails = app.mails_to("DUP@example.jp").await;
        assert!(mails.last().unwrap().text.contains(&a.number));
    }
);

on_both!(an_oversized_form_is_refused, |app: TestApp| async move {
    let csrf = app.client.get("/?kind=disclosure").await.csrf();
    let huge = "あ".repeat(40_000);
    let mut fields = form(&csrf, "big@example.jp");
    fields.push(("details", &huge));
    let res = app.client.post_form("/requests", &fields).await;
    assert_eq!(res.status, 413);
    assert_eq!(app.request_count().await, 0);
});

on_both!(
    pages_carry_security_headers_and_published_procedures,
    |app: TestApp| async move {
        let res = app.client.get("/procedures").await;
        assert_eq!(res.status, 200);
        assert!(res.body.contains("株式会社サンプル"));
        assert!(res.body.contains("代表取締役"));
        assert_eq!(res.header("x-content-type-options"), "nosniff");
        assert_eq!(res.header("x-frame-options"), "DENY");
        assert_eq!(res.header("referrer-policy"), "no-referrer");
        assert!(
            res.header("content-security-policy")
                .contains("frame-ancestors 'none'")
        );
        assert!(
            !res.header("content-security-policy")
                .contains("unsafe-inline")
        );
        assert_eq!(app.client.get("/healthz").await.status, 200);
        assert_eq!(app.client.get("/readyz").await.status, 200);
        assert_eq!(app.client.get("/no/such/page").await.status, 404);
        assert_eq!(app.client.get("/r/not-a-uuid").await.status, 404);
        assert_eq!(
            app.client
                .get(&format!("/r/{}", uuid::Uuid::new_v4()))
                .await
                .status,
            404
        );
    }
);

on_both!(
    the_core_refuses_a_filing_that_breaks_the_intake_rules_whatever_the_channel,
    |app: TestApp| async move {
        // A filing a channel let through without its delivery method (Art. 33(1)) or its
        // correct content (Art. 34): the service refuses it itself, naming the fields.
        let input: madoguchi_web::intake::IntakeInput =
            serde_json::from_value(valid_json("core-rules@example.jp")).unwrap();
        let policy = madoguchi_domain::Policy::appi();
        let mut new = input
            .parse_now(madoguchi_service::Channel::Api, &policy)
            .unwrap();
        new.delivery = None;
        let err = app
            .service
            .file_request(new.clone(), &Default::default(), chrono::Utc::now())
            .await
            .unwrap_err();
        match err {
            madoguchi_service::ServiceError::Filing(broken) => {
                let fields: Vec<_> = broken.iter().map(|e| (e.field, e.code)).collect();
                assert_eq!(fields, [("delivery", "required")]);
            }
            other => panic!("expected the intake rules to refuse it, got {other:?}"),
        }
        new.kind = madoguchi_domain::RequestKind::Correction;
        new.current_content = Some("旧住所".into());
        new.correct_content = None;
        let err = app
            .service
            .file_request(new, &Default::default(), chrono::Utc::now())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, madoguchi_service::ServiceError::Filing(b) if b.len() == 1 && b[0].field == "correct_content"),
            "{err:?}"
        );
        assert_eq!(app.request_count().await, 0, "nothing was filed");
    }
);
