//! Requests by letter (Art. 37(1)): entered by a clerk, no e-mail address, every notice a
//! letter that is printed and whose posting is recorded; the deemed arrival (Art. 39(2)) sets
//! the due date and the date from which the subject may sue.

use chrono::{Duration, Utc};
use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

/// The print links of the letters listed on the request's page, in order (the posting forms'
/// actions end in `/posted` and are not counted).
fn letter_links(body: &str, pid: uuid::Uuid) -> Vec<String> {
    let marker = format!("/staff/requests/{pid}/letters/");
    body.split(&marker)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .map(|id| format!("{marker}{id}"))
        .collect()
}

on_both!(
    a_letter_from_someone_without_email_is_answered_by_letter,
    |app: TestApp| async move {
        // The office has written how to pay by postal money order.
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/settings").await;
        let res = admin
            .post_form(
                "/staff/admin/settings/payment",
                &[
                    ("csrf", &page.csrf()),
                    ("bank_transfer", ""),
                    (
                        "money_order",
                        "定額小為替を請求書に同封して郵送してください",
                    ),
                    ("counter", ""),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);

        // A signed request form arrived by post three days ago; the requester gave no
        // e-mail address.
        let officer = staff_client(&app, Role::Officer).await;
        let received = madoguchi_domain::jst_date(Utc::now()) - Duration::days(3);
        let received_s = received.to_string();
        let csrf = officer.get("/staff/intake").await.csrf();
        let form = [
            ("csrf", csrf.as_str()),
            ("channel", "post"),
            ("received_on", received_s.as_str()),
            ("confirmed_by", "signed_form"),
            ("lang", "ja"),
            ("kind", "disclosure"),
            ("requester", "subject"),
            ("subject_name", "郵便 太郎"),
            ("subject_kana", "ユウビン タロウ"),
            ("email", ""),
            ("postal_address", "〒530-0001 大阪府大阪市北区梅田1-1-1"),
            ("delivery", "paper"),
            ("details", "会員情報と購入履歴の開示を求めます"),
            ("consent", "on"),
        ];
        // Asking for an electronic answer without an address is refused, naming the
        // field, and what was typed stays on the page.
        let mut electronic = form.to_vec();
        electronic[11] = ("delivery", "electronic");
        let res = officer.post_form("/staff/intake", &electronic).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body
                .contains("電磁的記録による提供にはメールアドレスが必要です"),
            "{}",
            res.body
        );
        assert!(res.body.contains("value=\"郵便 太郎\""), "{}", res.body);
        assert_eq!(app.request_count().await, 0);

        let res = officer.post_form("/staff/intake", &form).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let pid = staff_pid(&res);

        // Filed and confirmed at once: it waits for no link, and the clock runs from the
        // letter's arrival (Art. 39(2)): due 14 days after it, suit from the 15th day (the
        // day of arrival not counted, Civil Code Art. 140).
        let row = app.request(pid).await;
        assert_eq!(row.state, "identity_review");
        assert_eq!(row.email, "");
        assert_eq!(row.channel, "post");
        assert_eq!(row.due_on, received + Duration::days(14));
        assert_eq!(row.may_sue_from, received + Duration::days(15));
        let entries = trail(&app, pid).await;
        let filed = entries
            .iter()
            .find(|(_, a, _)| a == "request.filed")
            .unwrap();
        assert_eq!(filed.0, "staff", "filed as the clerk, not as the subject");
        assert!(filed.2.contains("\"channel\":\"post\""), "{}", filed.2);
        let confirmed = entries
            .iter()
            .find(|(_, a, _)| a == "requester.confirmed")
            .unwrap();
        assert_eq!(confirmed.0, "staff");
        assert!(confirmed.2.contains("signed_form"), "{}", confirmed.2);
        assert!(!entries.iter().any(|(k, _, _)| k == "subject"));

        // The enclosed copy of the identity document, scanned by the clerk.
        let csrf = officer.get(&format!("/staff/requests/{pid}")).await.csrf();
        let (ct, body) = multipart(
            &[("csrf", &csrf), ("purpose", "identity")],
            &[("scan.png", &png("enclosed-licence"))],
        );
        let res = officer
            .send(
                hyper::Method::POST,
                &format!("/staff/requests/{pid}/evidence"),
                Some(&ct),
                body,
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let detail = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(detail.body.contains("scan.png"), "{}", detail.body);
        assert!(detail.body.contains("なし（ご通知は書面で郵送）"));
        // A paper answer without an address cannot turn electronic (its codes go by mail).
        assert!(!detail.body.contains("value=\"change_delivery\""));
        let v = app.request(pid).await.version.to_string();
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &detail.csrf()),
                    ("version", &v),
                    ("event", "change_delivery"),
                    ("delivery", "electronic"),
                    ("text", "電子で"),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert_eq!(app.request(pid).await.delivery.as_deref(), Some("paper"));
        // Nobody can ask for a code: there is no address to send it to.
        let status = app.client.get(&format!("/r/{pid}")).await;
        assert!(status.body.contains("住所へ郵送します"), "{}", status.body);
        assert!(!status.body.contains("確認コードを送る"));
        let res = app
            .client
            // A forged or old form: the page offers none.
            .post_form(
                &format!("/r/{pid}/code"),
                &[("csrf", &app.client.get("/?kind=disclosure").await.csrf())],
            )
            .await;
        assert_eq!(res.status, 409, "{}", res.body);
        assert!(
            !trail(&app, pid)
                .await
                .iter()
                .any(|(_, a, _)| a.starts_with("access_code"))
        );

        // Identity approved: the fee is asked for by letter, with the money-order
        // instructions, and nothing is mailed to anyone but the office.
        act(&officer, &app, pid, &[("event", "approve_identity")]).await;
        assert_eq!(app.request(pid).await.state, "awaiting_payment");
        let detail = officer.get(&format!("/staff/requests/{pid}")).await;
        let letters = letter_links(&detail.body, pid);
        assert_eq!(letters.len(), 1, "{}", detail.body);
        let fee_letter = officer.get(&letters[0]).await;
        assert_eq!(fee_letter.status, 200);
        for expected in [
            "手数料のお支払いのお願い",
            "郵便 太郎 様",
            "〒530-0001 大阪府大阪市北区梅田1-1-1",
            "¥3,000",
            "定額小為替を請求書に同封して郵送してください",
            "記",
            "以上",
            "拝啓",
        ] {
            assert!(
                fee_letter.body.contains(expected),
                "{expected}: {}",
                fee_letter.body
            );
        }
        assert!(
            !fee_letter.body.contains("/r/"),
            "no page a letter's reader cannot open"
        );
        assert!(!fee_letter.body.contains("クレジットカード"));

        // The clerk records the posting; a second recording (a double click) changes
        // nothing.
        let csrf = detail.csrf();
        let posted = format!("{}/posted", letters[0]);
        let res = officer
            .post_form(&posted, &[("csrf", &csrf), ("tracking", "AB-1234-5678")])
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let res = officer
            .post_form(&posted, &[("csrf", &csrf), ("tracking", "AB-1234-5678")])
            .await;
        assert_eq!(res.status, 409, "{}", res.body);
        let postings: Vec<_> = trail(&app, pid)
            .await
            .into_iter()
            .filter(|(_, a, _)| a == "letter.posted")
            .collect();
        assert_eq!(postings.len(), 1);
        assert!(
            postings[0].2.contains("payment_requested"),
            "{}",
            postings[0].2
        );
        assert!(postings[0].2.contains("AB-1234-5678"), "{}", postings[0].2);

        // The money order arrives; the answer is given on paper and goes by letter too.
        act(
            &officer,
            &app,
            pid,
            &[
                ("event", "record_payment"),
                ("method", "postal_money_order"),
                ("amount", "3000"),
            ],
        )
        .await;
        act(&officer, &app, pid, &[("event", "start_work")]).await;
        act(
            &officer,
            &app,
            pid,
            &[("event", "complete"), ("outcome", "fulfilled")],
        )
        .await;
        let detail = officer.get(&format!("/staff/requests/{pid}")).await;
        let letters = letter_links(&detail.body, pid);
        assert_eq!(letters.len(), 2, "{}", detail.body);
        let result = officer.get(&letters[1]).await;
        assert!(
            result
                .body
                .contains("保有個人データの開示のご請求について（ご通知）"),
            "{}",
            result.body
        );
        assert!(!result.body.contains("保有個人データの保有個人データ"));
        // The answer itself (the printed data) goes by registered post: its posting too.
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/posted"),
                &[("csrf", &detail.csrf()), ("tracking", "RR123456789JP")],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let answer_posted = trail(&app, pid)
            .await
            .into_iter()
            .find(|(_, a, _)| a == "answer.posted")
            .expect("the answer's posting is on the trail");
        assert!(
            answer_posted.2.contains("RR123456789JP"),
            "{}",
            answer_posted.2
        );

        // Nothing went by e-mail to the requester: only the office heard.
        app.deliver_mail().await;
        let staff_address = app_config(&app).staff_address;
        assert!(!app.mails().await.is_empty(), "the office was told");
        assert!(
            app.mails()
                .await
                .iter()
                .all(|m| m.to.contains(&staff_address)),
            "{:?}",
            app.mails().await.iter().map(|m| &m.to).collect::<Vec<_>>()
        );
        app.verify_audit().await;
    }
);

on_both!(
    the_printable_request_form_is_public_and_linked,
    |app: TestApp| async move {
        let page = app.client.get("/procedures").await;
        assert!(
            page.body.contains("href=\"/procedures/form\""),
            "{}",
            page.body
        );
        let form = app.client.get("/procedures/form").await;
        assert_eq!(form.status, 200);
        assert!(form.body.contains("保有個人データ開示等請求書"));
        assert!(form.body.contains("¥3,000"), "{}", form.body);
        assert!(form.body.contains("請求者の署名"));
        // Art. 32(1), Cabinet Order Art. 10: where requests and complaints go.
        assert!(page.body.contains("請求・苦情の申出先"), "{}", page.body);
        assert!(
            page.body.contains(&app_config(&app).business.contact),
            "{}",
            page.body
        );
    }
);

on_both!(
    an_officer_asks_which_data_and_the_clock_waits_for_the_answer,
    |app: TestApp| async move {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        // A correction (no fee), filed on the web and confirmed.
        let email = "which-data@example.jp";
        let mut body = valid_json(email);
        body["kind"] = serde_json::json!("correction");
        body["current_content"] = serde_json::json!("住所: 東京都港区1-1");
        body["correct_content"] = serde_json::json!("住所: 大阪府大阪市北区1-1");
        body.as_object_mut().unwrap().remove("delivery");
        let res = app.client.post_json("/api/v1/requests", &body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let pid: uuid::Uuid = res.json()["id"].as_str().unwrap().parse().unwrap();
        let path = app.confirmation_path(email).await;
        let page = app.client.get(&path).await;
        let res = app.client.post_form(&path, &[("csrf", &page.csrf())]).await;
        assert_eq!(res.status, 303);
        let officer = staff_client(&app, Role::Officer).await;
        act(&officer, &app, pid, &[("event", "approve_identity")]).await;
        assert_eq!(app.request(pid).await.state, "in_progress");
        let due_before = app.request(pid).await.due_on;

        // Art. 37(2): the officer asks which records are meant.
        let question = "会員情報と配送先のどちらの住所の訂正をご希望ですか。";
        act(
            &officer,
            &app,
            pid,
            &[("event", "request_info"), ("text", question)],
        )
        .await;
        let row = app.request(pid).await;
        assert_eq!(row.state, "awaiting_info");
        assert!(
            row.paused_since.is_some(),
            "the clock stops (policy: pause)"
        );
        app.deliver_mail().await;
        let mail = app
            .mails_to(email)
            .await
            .into_iter()
            .find(|m| crate::answers::unqp(&m.text).contains("法第37条第2項"))
            .expect("the question is mailed");
        assert!(
            crate::answers::unqp(&mail.text).contains(question),
            "{}",
            mail.text
        );

        // Three days pass before the subject answers.
        let three_days_ago = Utc::now() - Duration::days(3);
        madoguchi_store::entities::request::Entity::update_many()
            .col_expr(
                madoguchi_store::entities::request::Column::PausedSince,
                Expr::value(Some(three_days_ago)),
            )
            .filter(madoguchi_store::entities::request::Column::Pid.eq(pid))
            .exec(app.service.db().conn())
            .await
            .unwrap();

        let subject = subject_session(&app, pid, email).await;
        let private = subject.get(&format!("/r/{pid}/private")).await;
        assert!(private.body.contains(question), "{}", private.body);
        let res = subject
            .post_form(
                &format!("/r/{pid}/info"),
                &[("csrf", &private.csrf()), ("answer", "会員情報の住所です")],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);

        // The clock runs again, and the three days waited are added to the due date.
        let row = app.request(pid).await;
        assert_eq!(row.state, "in_progress");
        assert!(row.paused_since.is_none());
        assert_eq!(row.due_on, due_before + Duration::days(3));
        let detail = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(detail.body.contains("会員情報の住所です"));
        let entries = trail(&app, pid).await;
        assert!(
            entries
                .iter()
                .any(|(k, a, _)| k == "subject" && a == "request.provide_info"),
            "{entries:?}"
        );
        app.verify_audit().await;
    }
);

on_both!(
    a_refusal_lets_the_subject_sue_at_once_and_the_page_says_so,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "refused@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        let filed_may_sue = app.request(pid).await.may_sue_from;
        let today = madoguchi_domain::jst_date(Utc::now());
        assert_eq!(filed_may_sue, today + Duration::days(15));
        act(&officer, &app, pid, &[("event", "approve_identity")]).await;
        act(
            &officer,
            &app,
            pid,
            &[
                ("event", "record_payment"),
                ("method", "cash"),
                ("amount", "3000"),
            ],
        )
        .await;
        act(&officer, &app, pid, &[("event", "start_work")]).await;
        act(
            &officer,
            &app,
            pid,
            &[
                ("event", "refuse"),
                ("grounds", "harm_to_persons"),
                ("text", "第三者の生命を害するおそれがあるため"),
            ],
        )
        .await;
        let row = app.request(pid).await;
        assert_eq!(row.state, "refused");
        assert_eq!(row.may_sue_from, today, "from the day of the refusal");
    }
);

on_both!(
    a_letter_received_weeks_ago_shows_the_subject_may_sue,
    |app: TestApp| async move {
        // Entered late: the letter arrived 20 days ago (deemed arrival, Art. 39(2)).
        let officer = staff_client(&app, Role::Officer).await;
        let received = madoguchi_domain::jst_date(Utc::now()) - Duration::days(20);
        let received_s = received.to_string();
        let pid = staff_intake(
            &officer,
            &[
                ("channel", "email"),
                ("received_on", received_s.as_str()),
                ("confirmed_by", "reply_mail"),
                ("kind", "purpose_notification"),
                ("requester", "subject"),
                ("subject_name", "窓口 花子"),
                ("subject_kana", "マドグチ ハナコ"),
                ("email", "madoguchi-hanako@example.jp"),
                ("email_confirm", "madoguchi-hanako@example.jp"),
                ("details", "利用目的を知りたい"),
                ("consent", "on"),
            ],
        )
        .await;
        let row = app.request(pid).await;
        assert_eq!(row.channel, "email");
        assert_eq!(row.due_on, received + Duration::days(14));
        assert_eq!(row.may_sue_from, received + Duration::days(15));
        // The requester answered the desk's reply from that address: no link is needed.
        app.deliver_mail().await;
        assert!(
            app.mails_to("madoguchi-hanako@example.jp")
                .await
                .iter()
                .all(|m| m.link_path("/confirm/").is_none())
        );
        // The queue and the dashboard say the subject may already sue.
        let may_sue_day = madoguchi_domain::written_date(received + Duration::days(15), false);
        let queue = officer.get("/staff").await;
        assert!(
            queue
                .body
                .contains(&format!("{may_sue_day}から提訴可能（法第39条）")),
            "{}",
            queue.body
        );
        let only = officer.get("/staff?may_sue=1").await;
        assert!(only.body.contains(&row.number), "{}", only.body);
        let dashboard = officer.get("/staff/dashboard").await;
        assert!(
            dashboard.body.contains("提訴可能日を過ぎた未完了"),
            "{}",
            dashboard.body
        );
    }
);

on_both!(
    what_a_letter_only_requester_sends_back_is_recorded_by_the_clerk,
    |app: TestApp| async move {
        let officer = staff_client(&app, Role::Officer).await;
        let today = madoguchi_domain::jst_date(Utc::now()).to_string();
        let pid = staff_intake(
            &officer,
            &[
                ("channel", "post"),
                ("received_on", today.as_str()),
                ("confirmed_by", "signed_form"),
                ("kind", "correction"),
                ("requester", "subject"),
                ("subject_name", "書面 次郎"),
                ("subject_kana", "ショメン ジロウ"),
                ("postal_address", "〒060-0001 北海道札幌市中央区1-1"),
                ("details", "登録住所の訂正"),
                ("current_content", "札幌市北区"),
                ("correct_content", "札幌市中央区"),
                ("consent", "on"),
            ],
        )
        .await;
        // The enclosed copy is unreadable: more is asked for by letter.
        act(
            &officer,
            &app,
            pid,
            &[
                ("event", "request_more_evidence"),
                ("text", "運転免許証の写し（裏面も）"),
            ],
        )
        .await;
        assert_eq!(app.request(pid).await.state, "awaiting_identity");
        let detail = officer.get(&format!("/staff/requests/{pid}")).await;
        let letters = letter_links(&detail.body, pid);
        assert_eq!(letters.len(), 1);
        let letter = officer.get(&letters[0]).await;
        assert!(letter.body.contains("本人確認書類のご提出のお願い"));
        assert!(letter.body.contains("運転免許証の写し（裏面も）"));
        // The copy arrives by post: the clerk records it for the requester.
        act(&officer, &app, pid, &[("event", "submit_evidence")]).await;
        assert_eq!(app.request(pid).await.state, "identity_review");
        act(&officer, &app, pid, &[("event", "approve_identity")]).await;
        act(&officer, &app, pid, &[("event", "start_work")]).await;
        act(
            &officer,
            &app,
            pid,
            &[("event", "request_info"), ("text", "どの住所の訂正ですか")],
        )
        .await;
        // The answer comes by phone: the clerk records it as the requester's reply.
        act(
            &officer,
            &app,
            pid,
            &[("event", "provide_info"), ("text", "配送先の住所です")],
        )
        .await;
        let row = app.request(pid).await;
        assert_eq!(row.state, "in_progress");
        assert_eq!(row.subject_reply.as_deref(), Some("配送先の住所です"));
        let entries = trail(&app, pid).await;
        for action in ["request.submit_evidence", "request.provide_info"] {
            let e = entries.iter().find(|(_, a, _)| a == action).unwrap();
            assert_eq!(e.0, "staff", "{action} is recorded as the clerk's");
        }
        app.verify_audit().await;
    }
);

on_both!(
    an_address_typed_by_a_clerk_is_typed_twice_and_then_used,
    |app: TestApp| async move {
        let officer = staff_client(&app, Role::Officer).await;
        let today = madoguchi_domain::jst_date(Utc::now()).to_string();
        let csrf = officer.get("/staff/intake").await.csrf();
        let form = |again: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("channel", "phone".to_owned()),
                ("received_on", today.clone()),
                ("confirmed_by", "call_back".to_owned()),
                ("kind", "purpose_notification".to_owned()),
                ("requester", "subject".to_owned()),
                ("subject_name", "電話 三郎".to_owned()),
                ("subject_kana", "デンワ サブロウ".to_owned()),
                ("email", "denwa@example.jp".to_owned()),
                ("email_confirm", again.to_owned()),
                ("details", "利用目的の通知".to_owned()),
                ("consent", "on".to_owned()),
            ]
        };
        let send = |fields: Vec<(&'static str, String)>| {
            let officer = &officer;
            async move {
                let pairs: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                officer.post_form("/staff/intake", &pairs).await
            }
        };
        // A slip of the hand: refused, naming the field, nothing filed.
        let res = send(form("denwa@example.co.jp")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body
                .contains("同じメールアドレスをもう一度入力してください")
        );
        assert_eq!(app.request_count().await, 0);
        // Typed twice alike: confirmed by the clerk, no link to wait for or lapse without.
        let res = send(form("denwa@example.jp")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let pid = staff_pid(&res);
        assert_eq!(app.request(pid).await.state, "identity_review");
        let filed = trail(&app, pid)
            .await
            .into_iter()
            .find(|(_, a, _)| a == "request.filed")
            .unwrap();
        assert_eq!(filed.0, "staff");
        assert!(filed.2.contains("\"channel\":\"phone\""), "{}", filed.2);
        app.deliver_mail().await;
        assert!(
            app.mails_to("denwa@example.jp")
                .await
                .iter()
                .all(|m| m.link_path("/confirm/").is_none())
        );
    }
);

on_both!(
    a_closed_request_is_purged_after_retention_and_its_trail_still_verifies,
    |app: TestApp| async move {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        // An administrator keeps closed requests for 60 days.
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/settings").await;
        let res = admin
            .post_form(
                "/staff/admin/settings/retention",
                &[
                    ("csrf", &page.csrf()),
                    ("documents_days", "30"),
                    ("download_days", "14"),
                    ("download_limit", "3"),
                    ("records_days", "60"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        // Shorter than the documents' period is refused.
        let res = admin
            .post_form(
                "/staff/admin/settings/retention",
                &[
                    ("csrf", &page.csrf()),
                    ("documents_days", "90"),
                    ("download_days", "14"),
                    ("download_limit", "3"),
                    ("records_days", "60"),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);

        // Two requests withdrawn: one 61 days ago, one yesterday.
        let old = file_and_confirm(&app, "purge-old@example.jp").await;
        let recent = file_and_confirm(&app, "purge-recent@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        for pid in [old, recent] {
            let page = officer.get(&format!("/staff/requests/{pid}")).await;
            let res = officer
                .post_form(
                    &format!("/staff/requests/{pid}/notes"),
                    &[("csrf", &page.csrf()), ("text", "山田様より電話あり")],
                )
                .await;
            assert_eq!(res.status, 303, "{}", res.body);
            act(&officer, &app, pid, &[("event", "withdraw")]).await;
        }
        let backdate = |pid: uuid::Uuid, days: i64| {
            let conn = app.service.db().conn().clone();
            async move {
                madoguchi_store::entities::request::Entity::update_many()
                    .col_expr(
                        madoguchi_store::entities::request::Column::ClosedAt,
                        Expr::value(Some(Utc::now() - Duration::days(days))),
                    )
                    .filter(madoguchi_store::entities::request::Column::Pid.eq(pid))
                    .exec(&conn)
                    .await
                    .unwrap();
            }
        };
        backdate(old, 61).await;
        backdate(recent, 1).await;
        let before = app.request(old).await;
        assert_eq!(before.subject_name, "山田 太郎");

        let swept = app.service.retention_sweep(Utc::now()).await.unwrap();
        assert!(swept >= 1);
        let row = app.request(old).await;
        // The personal data are gone...
        assert_eq!(row.subject_name, "");
        assert_eq!(row.subject_kana, "");
        assert_eq!(row.email, "");
        assert_eq!(row.details, "");
        assert!(row.purged_at.is_some());
        assert_ne!(
            row.email_norm, before.email_norm,
            "not findable by the address"
        );
        // ...the record of the request stays.
        assert_eq!(row.number, before.number);
        assert_eq!(row.kind, "disclosure");
        assert_eq!(row.state, "withdrawn");
        assert_eq!(row.arrived_at, before.arrived_at);
        assert_eq!(row.due_on, before.due_on);
        // Its mail (which named the subject) is gone; the other request is untouched.
        assert!(
            madoguchi_store::outbox::for_request(
                app.service.db().conn(),
                app.service.cipher(),
                row.id
            )
            .await
            .unwrap()
            .is_empty()
        );
        assert_eq!(app.request(recent).await.subject_name, "山田 太郎");
        assert!(app.request(recent).await.purged_at.is_none());
        // Officers' notes (which may name the person) go with it; the other's stay.
        let notes = |id| {
            madoguchi_store::notes::of_request(app.service.db().conn(), app.service.cipher(), id)
        };
        assert!(notes(row.id).await.unwrap().is_empty());
        // And no new note about the person can be written on it.
        let page = officer.get(&format!("/staff/requests/{old}")).await;
        let res = officer
            .post_form(
                &format!("/staff/requests/{old}/notes"),
                &[("csrf", &page.csrf()), ("text", "山田様より再度電話あり")],
            )
            .await;
        assert_eq!(res.status, 409, "{}", res.body);
        assert!(notes(row.id).await.unwrap().is_empty());
        assert_eq!(notes(app.request(recent).await.id).await.unwrap().len(), 1);
        // On the trail once, as the system's; a second sweep purges nothing more.
        let actions = app.audit_actions(old).await;
        assert_eq!(actions.iter().filter(|a| *a == "request.purged").count(), 1);
        app.service.retention_sweep(Utc::now()).await.unwrap();
        assert_eq!(
            app.audit_actions(old)
                .await
                .iter()
                .filter(|a| *a == "request.purged")
                .count(),
            1
        );
        // The staff page says so, and the chain still verifies.
        let detail = officer.get(&format!("/staff/requests/{old}")).await;
        assert_eq!(detail.status, 200);
        assert!(
            detail
                .body
                .contains("個人データ（氏名・連絡先・請求と回答の内容）は消去されました")
        );
        assert!(!detail.body.contains("purge-old@example.jp"));
        app.verify_audit().await;
    }
);
