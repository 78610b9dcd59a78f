//! The complaints desk (issue 19, APPI Art. 40): a person writes through the public form,
//! is told the number and when to expect a reply; the office replies by mail, closes with a
//! category and an outcome, reopens; a complaint that is really a request becomes one,
//! keeping its history; everything on the `complaints` trail without the person or their
//! words, which are sealed at rest.

use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

const BODY: &str = "退会したのに、御社からのメールマガジンがまだ届きます。\n止めてください。";

fn complaint<'a>(csrf: &'a str, kind: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("kind", kind),
        ("name", "苦情 太郎"),
        ("email", email),
        ("phone", "090-1234-5678"),
        ("body", BODY),
    ]
}

/// Files a complaint through the form; returns its public id.
async fn file(app: &TestApp, kind: &str, email: &str) -> String {
    let csrf = app.client.get("/complaints").await.csrf();
    let res = app
        .client
        .post_form("/complaints", &complaint(&csrf, kind, email))
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.header("location")
        .trim_start_matches("/complaints/")
        .trim_end_matches("/received")
        .to_owned()
}

fn year() -> String {
    madoguchi_domain::jst_date(chrono::Utc::now())
        .format("%Y")
        .to_string()
}

on_both!(
    a_complaint_goes_from_the_form_through_a_reply_to_closing,
    |app: TestApp| async move {
        // The form: Japanese first, what happens next said, no script.
        let form = app.client.get("/complaints").await;
        assert_eq!(form.status, 200);
        assert!(form.body.contains("<html lang=\"ja\""));
        assert!(form.body.contains("5営業日以内を目安にメールでご回答"));
        assert!(!form.body.contains("<script"));
        let csrf = form.csrf();

        // Without a token: refused.
        let mut no_token = complaint("", "complaint", "taro@example.jp");
        no_token.remove(0);
        let res = app.client.post_form("/complaints", &no_token).await;
        assert_eq!(res.status, 403, "{}", res.body);

        // A control character is refused by the form, naming the field and keeping the rest.
        let res = app
            .client
            .post_form(
                "/complaints",
                &[
                    ("csrf", &csrf),
                    ("kind", "complaint"),
                    ("name", "苦情 太郎"),
                    ("email", "taro@example.jp"),
                    ("body", "ベル\u{7}の文字"),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body
                .contains("ご連絡の内容に使えない文字が含まれています。"),
            "{}",
            res.body
        );
        assert!(
            res.body.contains("の文字</textarea>"),
            "what was typed stays"
        );
        // Nothing chosen, a bad address, nothing written: each field named in words, what
        // was typed kept.
        let res = app
            .client
            .post_form(
                "/complaints",
                &[
                    ("csrf", &csrf),
                    ("name", "苦情 太郎"),
                    ("email", "taro@"),
                    ("body", "  "),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        for words in [
            "ご連絡の種別を選択してください。",
            "メールアドレスを name@example.jp の形で入力してください。",
            "ご連絡の内容を入力してください。",
            "value=\"苦情 太郎\"",
        ] {
            assert!(res.body.contains(words), "{words}: {}", res.body);
        }
        // Too long: 4,001 characters.
        let csrf = res.csrf();
        let long = "長".repeat(4001);
        let mut too_long = complaint(&csrf, "complaint", "taro@example.jp");
        too_long[5] = ("body", &long);
        let res = app.client.post_form("/complaints", &too_long).await;
        assert_eq!(res.status, 422);
        assert!(
            res.body
                .contains("ご連絡の内容は4,000文字以内で入力してください。")
        );
        assert_eq!(
            app.service
                .complaint_queue(chrono::Utc::now())
                .await
                .unwrap()
                .len(),
            0
        );

        // Received: the number, the day a reply is aimed at, what happens next.
        let res = app
            .client
            .post_form(
                "/complaints",
                &complaint(&res.csrf(), "complaint", "taro@example.jp"),
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let received = app.client.get(res.header("location")).await;
        assert_eq!(received.status, 200);
        let number = format!("C-{}-0001", year());
        assert!(received.body.contains(&number), "{}", received.body);
        assert!(received.body.contains("このあとの流れ"));
        assert!(
            !received.body.contains("苦情 太郎"),
            "no personal data on it"
        );
        let pid = res
            .header("location")
            .trim_start_matches("/complaints/")
            .trim_end_matches("/received")
            .to_owned();

        // Two mails: the person's (its number, the target day), the office's (a link, no
        // words of the complaint, no name).
        app.deliver_mail().await;
        let to_person = app.mails_to("taro@example.jp").await;
        assert_eq!(to_person.len(), 1);
        assert_eq!(
            to_person[0].subject,
            format!("個人情報の取扱いに関するご連絡を承りました [{number}]")
        );
        assert!(to_person[0].text.starts_with("苦情 太郎 様"));
        assert!(to_person[0].text.contains("ご連絡の種別: 苦情"));
        let to_office = app.mails_to("privacy-office@example.jp").await;
        assert_eq!(to_office.len(), 1, "{to_office:?}");
        assert!(to_office[0].subject.contains(&number));
        assert!(
            to_office[0]
                .text
                .contains(&format!("/staff/complaints/{pid}"))
        );
        assert!(!to_office[0].text.contains("苦情 太郎"));
        assert!(!to_office[0].text.contains("メールマガジン"));

        // The queue: awaiting a reply, unassigned.
        let officer = staff_client(&app, Role::Officer).await;
        let queue = officer.get("/staff/complaints").await;
        assert_eq!(queue.status, 200);
        assert!(queue.body.contains(&number));
        assert!(queue.body.contains("未回答"));
        assert!(queue.body.contains("未割当"));

        // Its page: the person and the message as written.
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        assert_eq!(page.status, 200);
        for shown in [
            "苦情 太郎",
            "taro@example.jp",
            "090-1234-5678",
            "止めてください。",
        ] {
            assert!(page.body.contains(shown), "{shown}");
        }
        let csrf = page.csrf();
        let post = |action: &'static str, fields: Vec<(&'static str, String)>| {
            let officer = officer.clone();
            let csrf = csrf.clone();
            let pid = pid.clone();
            async move {
                let mut all = vec![("csrf", csrf)];
                all.extend(fields);
                let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
                officer
                    .post_form(&format!("/staff/complaints/{pid}/{action}"), &all)
                    .await
            }
        };

        // An empty reply is refused in words; a reply goes by mail, in the person's words.
        let res = post(
            "reply",
            vec![("version", "1".into()), ("text", "  ".into())],
        )
        .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("回答: 1文字以上4,000文字以内"));
        let reply = "ご指摘のメールマガジンの配信を停止いたしました。ご迷惑をおかけしました。";
        let res = post(
            "reply",
            vec![("version", "1".into()), ("text", reply.into())],
        )
        .await;
        assert_eq!(res.status, 303, "{}", res.body);
        // The same form sent again (the version it was read at): a colleague's change first.
        let res = post(
            "reply",
            vec![("version", "1".into()), ("text", reply.into())],
        )
        .await;
        assert_eq!(res.status, 409);
        assert!(res.body.contains("他の担当者が先に更新しました"));
        assert!(res.body.contains(reply), "what was typed stays");
        app.deliver_mail().await;
        let to_person = app.mails_to("taro@example.jp").await;
        assert_eq!(to_person.len(), 2, "one reply mailed, not two");
        let stored = app.service.complaint(pid.parse().unwrap()).await.unwrap();
        assert_eq!((stored.messages.len(), stored.row.version), (2, 2));
        assert_eq!(
            to_person[1].subject,
            format!("個人情報の取扱いに関するご連絡へのご回答 [{number}]")
        );
        assert!(to_person[1].text.contains(reply));
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        assert!(page.body.contains("回答済み（対応中）"));
        assert!(page.body.contains("当社（"), "the reply, with its author");

        // Assigned to the officer; closing needs a category and an outcome.
        let me = app
            .service
            .assignable_staff()
            .await
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        let res = post(
            "assign",
            vec![("version", "2".into()), ("assignee", me.id.to_string())],
        )
        .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let res = post(
            "close",
            vec![("version", "3".into()), ("category", "".into())],
        )
        .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("分類と結果を選択してください。"));
        let res = post(
            "close",
            vec![
                ("version", "3".into()),
                ("category", "marketing".into()),
                ("outcome", "remedied".into()),
            ],
        )
        .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        assert!(page.body.contains("勧誘・広告の送付"));
        assert!(page.body.contains("取扱いを改めた"));
        assert!(
            !page.body.contains("marketing"),
            "no stored spelling on the page"
        );
        // Closed: no reply can go.
        let res = post("reply", vec![("version", "4".into()), ("text", "x".into())]).await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("既に完了しているため"));

        // The month's figures: one complaint, one first reply on target, one closed, by
        // category; the dashboard counts this month's.
        let queue = officer.get("/staff/complaints").await;
        assert!(
            queue.body.contains(
                "<td class=\"number\">1</td><td class=\"number\">0</td><td class=\"number\">1（1）</td><td class=\"number\">1</td><td class=\"number\">0</td><td class=\"number\">0</td><td>勧誘・広告の送付: 1</td>"
            ),
            "{}",
            queue.body
        );
        let dashboard = officer.get("/staff/dashboard").await;
        assert!(
            dashboard
                .body
                .contains("今月の苦情・相談（受付・完了・未完了）</a> <strong>1 / 1 / 0</strong>"),
            "{}",
            dashboard.body
        );

        // Reopened: back in hand, replied before.
        let res = post("reopen", vec![("version", "4".into())]).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        assert!(page.body.contains("回答済み（対応中）"));

        // An auditor reads and changes nothing.
        let auditor = staff_client(&app, Role::Auditor).await;
        let page = auditor.get(&format!("/staff/complaints/{pid}")).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("回答をメールで送る"));
        let res = auditor
            .post_form(
                &format!("/staff/complaints/{pid}/reply"),
                &[("csrf", &page.csrf()), ("version", "5"), ("text", "x")],
            )
            .await;
        assert_eq!(res.status, 403);

        // The trail: what happened, never who or what they wrote.
        let trail = app
            .service
            .audit_trail(&madoguchi_service::TrailFilter {
                action: Some("complaint.".into()),
                limit: 20,
                ..Default::default()
            })
            .await
            .unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "complaint.reopened",
                "complaint.closed",
                "complaint.assigned",
                "complaint.replied",
                "complaint.received"
            ]
        );
        assert!(trail[1].detail.contains("marketing") && trail[1].detail.contains("remedied"));
        for e in &trail {
            assert!(e.detail.contains(&number), "{}", e.detail);
            for personal in ["苦情 太郎", "taro@", "メールマガジン", "090-"] {
                assert!(!e.detail.contains(personal), "{}", e.detail);
            }
        }
        app.verify_audit().await;

        // Sealed at rest: the person and both messages.
        use sea_orm::EntityTrait;
        let db = app.service.db().conn();
        let row = madoguchi_store::entities::complaint::Entity::find()
            .all(db)
            .await
            .unwrap()
            .remove(0);
        for sealed in [&row.name, &row.email, row.phone.as_ref().unwrap()] {
            assert!(sealed.starts_with("sealed:v1:"), "{sealed}");
        }
        let messages = madoguchi_store::entities::complaint_message::Entity::find()
            .all(db)
            .await
            .unwrap();
        assert_eq!(messages.len(), 2);
        for m in &messages {
            assert!(m.body.starts_with("sealed:v1:"));
        }
        // Opened, they are the person's words and the reply, in order.
        let opened = app.service.complaint(pid.parse().unwrap()).await.unwrap();
        let bodies: Vec<&str> = opened.messages.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, [BODY, reply]);
    }
);

on_both!(
    a_complaint_that_is_a_request_becomes_one_and_keeps_its_history,
    |app: TestApp| async move {
        let pid = file(&app, "consultation", "hanako@example.jp").await;
        let number = format!("C-{}-0001", year());
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        assert!(
            page.body
                .contains(&format!("/staff/intake?complaint={pid}\""))
        );

        // The intake opens filled in from the complaint, the web form as its channel.
        // A colleague replies meanwhile: the conversion still goes ahead.
        let csrf = page.csrf();
        let res = officer
            .post_form(
                &format!("/staff/complaints/{pid}/reply"),
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("text", "請求のご案内をいたします。"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let intake = officer.get(&format!("/staff/intake?complaint={pid}")).await;
        assert_eq!(intake.status, 200, "{}", intake.body);
        for shown in [
            "value=\"苦情 太郎\"",
            "value=\"hanako@example.jp\"",
            "value=\"090-1234-5678\"",
            &format!("name=\"complaint\" value=\"{pid}\""),
            "<option value=\"web\" selected>ウェブの苦情・相談フォーム</option>",
            &number,
        ] {
            assert!(intake.body.contains(shown), "{shown}: {}", intake.body);
        }
        let csrf = intake.csrf();
        let today = madoguchi_domain::jst_date(chrono::Utc::now()).to_string();
        let fields = [
            ("csrf", csrf.as_str()),
            ("complaint", pid.as_str()),
            ("channel", "web"),
            ("received_on", today.as_str()),
            ("confirmed_by", "reply_mail"),
            ("lang", "ja"),
            ("kind", "disclosure"),
            ("requester", "subject"),
            ("subject_name", "苦情 太郎"),
            ("subject_kana", "クジョウ タロウ"),
            ("email", "hanako@example.jp"),
            ("email_confirm", "hanako@example.jp"),
            ("delivery", "electronic"),
            ("details", "会員情報の開示を求めます。"),
            ("consent", "on"),
        ];
        let res = officer.post_form("/staff/intake", &fields).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let request = staff_pid(&res);
        let row = app.request(request).await;

        // A double click finds it taken up already: said so, and no second request.
        let res = officer.post_form("/staff/intake", &fields).await;
        assert_eq!(res.status, 409, "{}", res.body);
        assert!(res.body.contains("既に請求として受け付けられています"));
        assert_eq!(app.request_count().await, 1);

        // Each points at the other; the complaint's messages stay.
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        assert!(page.body.contains("開示等の請求として受付"));
        assert!(page.body.contains(&row.number), "{}", page.body);
        assert!(page.body.contains("止めてください。"));
        assert!(!page.body.contains("回答をメールで送る"), "no longer open");
        // Its intake no longer opens from it, and a reply is refused in words.
        let res = officer.get(&format!("/staff/intake?complaint={pid}")).await;
        assert_eq!(res.status, 409);
        let res = officer
            .post_form(
                &format!("/staff/complaints/{pid}/reply"),
                &[("csrf", &page.csrf()), ("version", "3"), ("text", "x")],
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("開示等の請求として受け付けたため"));
        let detail = officer.get(&format!("/staff/requests/{request}")).await;
        assert!(
            detail
                .body
                .contains(&format!("<a href=\"/staff/complaints/{pid}\">{number}</a>")),
            "{}",
            detail.body
        );

        // The desk's trail names the request it became.
        let trail = app
            .service
            .audit_trail(&madoguchi_service::TrailFilter {
                action: Some("complaint.converted".into()),
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(trail.len(), 1);
        assert!(trail[0].detail.contains(&row.number), "{}", trail[0].detail);
        app.verify_audit().await;
    }
);

on_both!(
    a_complaint_past_its_target_is_counted_and_in_the_digest,
    |app: TestApp| async move {
        file(&app, "complaint", "late@example.jp").await;
        let number = format!("C-{}-0001", year());
        // Received a fortnight ago: its target day is long past.
        let past = (madoguchi_domain::jst_date(chrono::Utc::now()) - chrono::Duration::days(14))
            .to_string();
        app.sql(&format!(
            "UPDATE complaints SET received_on = '{past}', reply_due = '{past}' WHERE number = '{number}'"
        ))
        .await;
        let officer = staff_client(&app, Role::Officer).await;
        let dashboard = officer.get("/staff/dashboard").await;
        assert!(
            dashboard.body.contains(
                "苦情・相談の初回回答が本日目安・目安超過（法第40条）</a> <strong class=\"overdue\">1</strong>"
            ),
            "{}",
            dashboard.body
        );
        let queue = officer.get("/staff/complaints").await;
        assert!(queue.body.contains("badge overdue"), "{}", queue.body);
        assert!(queue.body.contains("（超過）"));
        let at = madoguchi_service::reminders::next_digest_at(chrono::Utc::now());
        assert!(app.service.staff_digest(at).await.unwrap());
        app.deliver_mail().await;
        let digest = app
            .mails()
            .await
            .into_iter()
            .rev()
            .find(|m| m.subject.contains("【日次】"))
            .expect("the digest");
        assert!(
            digest.text.contains(&format!("{number}  苦情  ")),
            "{}",
            digest.text
        );
        assert!(digest.text.contains("目安超過 / past target"));
        assert!(!digest.text.contains("苦情 太郎"));
    }
);

on_both!(
    the_form_speaks_english_and_is_limited_like_intake,
    vars = [("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "2")],
    |app: TestApp| async move {
        let form = app.client.get("/complaints?lang=en").await;
        assert!(form.body.contains("<html lang=\"en\""));
        let csrf = form.csrf();
        let mut english = complaint(&csrf, "consultation", "");
        english.push(("lang", "en"));
        let res = app.client.post_form("/complaints", &english).await;
        assert_eq!(res.status, 422);
        assert!(
            res.body
                .contains("Enter the e-mail address we should reply to.")
        );
        let csrf = res.csrf();
        let mut english = complaint(&csrf, "consultation", "jo@example.com");
        english[2] = ("name", "Jo Smith");
        english.push(("lang", "en"));
        let res = app.client.post_form("/complaints", &english).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert!(res.header("location").ends_with("?lang=en"));
        app.deliver_mail().await;
        let mail = app.mails_to("jo@example.com").await.remove(0);
        assert!(mail.subject.starts_with("We have received your message"));
        assert!(mail.text.starts_with("Dear Jo Smith,"), "{}", mail.text);
        assert!(mail.text.contains("About: Question or consultation"));
        // Requests count apart: a request filed now leaves the complaints' count alone; a
        // second complaint is taken, a third refused.
        let csrf = app.client.get("/?kind=disclosure").await.csrf();
        let res = app
            .client
            .post_form("/requests", &intake_form(&csrf, "req@example.jp", "ja"))
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        file(&app, "complaint", "two@example.jp").await;
        let csrf = app.client.get("/complaints").await.csrf();
        let res = app
            .client
            .post_form(
                "/complaints",
                &complaint(&csrf, "complaint", "three@example.jp"),
            )
            .await;
        assert_eq!(res.status, 429, "{}", res.body);
        // In the language the visitor last chose (English, above).
        assert!(res.body.contains("Too many attempts"), "{}", res.body);
        assert_eq!(
            app.service
                .complaint_queue(chrono::Utc::now())
                .await
                .unwrap()
                .len(),
            2
        );
    }
);

on_both!(
    a_message_by_phone_is_recorded_and_a_closed_complaint_is_erased_after_retention,
    |app: TestApp| async move {
        let pid = file(&app, "complaint", "kept@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        let csrf = page.csrf();
        let res = officer
            .post_form(
                &format!("/staff/complaints/{pid}/record"),
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("text", "電話で追加: 先週も届きました。"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        app.deliver_mail().await;
        assert_eq!(
            app.mails_to("kept@example.jp").await.len(),
            1,
            "nothing mailed"
        );
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        assert!(page.body.contains("電話で追加: 先週も届きました。"));
        assert!(
            page.body.contains("未回答"),
            "a message recorded is not a reply"
        );
        let res = officer
            .post_form(
                &format!("/staff/complaints/{pid}/close"),
                &[
                    ("csrf", &csrf),
                    ("version", "2"),
                    ("category", "marketing"),
                    ("outcome", "withdrawn"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        // Not yet: closed today.
        app.service
            .purge_closed_complaints(chrono::Utc::now())
            .await
            .unwrap();
        let kept = app.service.complaint(pid.parse().unwrap()).await.unwrap();
        assert_eq!(kept.name, "苦情 太郎");
        // Past the retention period (three years by default).
        let later = chrono::Utc::now() + chrono::Duration::days(3 * 366);
        assert_eq!(app.service.purge_closed_complaints(later).await.unwrap(), 1);
        assert_eq!(
            app.service.purge_closed_complaints(later).await.unwrap(),
            0,
            "once"
        );
        let purged = app.service.complaint(pid.parse().unwrap()).await.unwrap();
        assert_eq!((purged.name.as_str(), purged.email.as_str()), ("", ""));
        assert!(purged.messages.iter().all(|m| m.body.is_empty()));
        // Its receipt mail is gone from the outbox; the office's notice (no personal data)
        // stays; the number and figures stay.
        use madoguchi_store::entities::outbox;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let db = app.service.db().conn();
        for (template, left) in [("complaint_received", 0), ("staff_new_complaint", 1)] {
            let n = outbox::Entity::find()
                .filter(outbox::Column::Template.eq(template))
                .count(db)
                .await
                .unwrap();
            assert_eq!(n, left, "{template}");
        }
        let page = officer.get(&format!("/staff/complaints/{pid}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&format!("C-{}-0001", year())));
        assert!(!page.body.contains("苦情 太郎"));
        app.verify_audit().await;
    }
);
