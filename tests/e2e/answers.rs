//! Detailed answers (issue 6): a disclosure item by item (Art. 33), a correction's result and
//! content (Art. 34), an erasure's where and when or an alternative measure (Art. 35). The
//! words go to the subject and stay with the request; the audit trail holds only results and
//! grounds by position.

use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

/// Files a request of `kind` (with what the kind needs), confirms it, approves identity and
/// pays the fee where there is one: the request is in progress.
pub(crate) async fn in_progress(app: &TestApp, email: &str, kind: &str, lang: &str) -> uuid::Uuid {
    let mut body = valid_json(email);
    body["kind"] = kind.into();
    body["current_content"] = "住所: 東京都千代田区1-1".into();
    body["correct_content"] = "住所: 東京都港区2-2".into();
    body["ground"] = "no_longer_needed".into();
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    bring_in_progress(app, pid, email).await;
    // The language the subject chose (set here rather than at filing: the helper reads links
    // from plain text, which English mail wraps).
    let number = app.request(pid).await.number;
    app.sql(&format!(
        "UPDATE requests SET lang = '{lang}' WHERE number = '{number}'"
    ))
    .await;
    pid
}

/// Confirms a filed request, approves identity and pays the fee where there is one.
pub(crate) async fn bring_in_progress(app: &TestApp, pid: uuid::Uuid, email: &str) {
    let path = app.confirmation_path(email).await;
    let page = app.client.get(&path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    let res = app.client.post_form(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let token = staff_token(app, Role::Officer).await;
    let event = |body: serde_json::Value| {
        let token = token.clone();
        async move {
            let res = app
                .client
                .with_bearer(
                    hyper::Method::POST,
                    &format!("/api/v1/staff/requests/{pid}/events"),
                    &token,
                    Some(body),
                )
                .await;
            assert_eq!(res.status, 200, "{}", res.body);
        }
    };
    let v = app.request(pid).await.version;
    event(serde_json::json!({"event": "approve_identity", "version": v})).await;
    let row = app.request(pid).await;
    if row.state == "awaiting_payment" {
        event(serde_json::json!({
            "event": "record_payment", "version": row.version,
            "method": "bank_transfer", "amount": row.fee, "reference": "振込 0001"
        }))
        .await;
    }
    assert_eq!(app.request(pid).await.state, "in_progress");
}

/// A quoted-printable body as text (lettre picks QP for mostly-ASCII English mail).
pub(crate) fn unqp(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8 mail")
}

/// Every audit detail of a request, as one text.
async fn audit_details(app: &TestApp, pid: uuid::Uuid) -> String {
    madoguchi_store::audit::for_request(app.service.db().conn(), pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}\n", e.action, e.detail))
        .collect()
}

async fn answer_detail(app: &TestApp, pid: uuid::Uuid) -> serde_json::Value {
    let entry = madoguchi_store::audit::for_request(app.service.db().conn(), pid)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "answer.recorded")
        .expect("the answer is audited");
    serde_json::from_str(&entry.detail).unwrap()
}

async fn api_event(
    app: &TestApp,
    token: &str,
    pid: uuid::Uuid,
    body: serde_json::Value,
) -> Response {
    app.client
        .with_bearer(
            hyper::Method::POST,
            &format!("/api/v1/staff/requests/{pid}/events"),
            token,
            Some(body),
        )
        .await
}

on_both!(
    a_disclosure_answered_item_by_item_is_told_in_mail_page_and_letter,
    |app: TestApp| async move {
        let email = "items@example.jp";
        let pid = in_progress(&app, email, "disclosure", "ja").await;
        let c = staff_client(&app, Role::Officer).await;
        let page = c.get(&format!("/staff/requests/{pid}")).await;
        assert!(
            page.body.contains("name=\"item_label_5\""),
            "five item rows"
        );
        assert!(page.body.contains("value=\"under_other_law\""));
        let v = app.request(pid).await.version.to_string();
        let res = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", &v),
                    ("event", "complete"),
                    ("outcome", "fulfilled"),
                    ("item_label_1", "会員情報"),
                    ("item_result_1", "disclosed"),
                    ("item_label_2", "購買履歴"),
                    ("item_result_2", "partially_disclosed"),
                    ("item_grounds_2", "harm_to_persons"),
                    // Row 3 left blank: ignored.
                    ("item_label_3", ""),
                    ("item_result_3", "disclosed"),
                    ("item_label_4", "問合せ履歴"),
                    ("item_result_4", "no_data"),
                    ("item_result_5", "disclosed"),
                    ("text", "開示する情報を同封します"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let row = app.request(pid).await;
        assert_eq!(row.state, "partially_fulfilled");
        assert!(row.answer.as_deref().unwrap().contains("購買履歴"));

        let lines = [
            "1. 会員情報: 開示",
            "2. 購買履歴: 一部開示（理由: 本人又は第三者の生命、身体、財産その他の権利利益を害するおそれがあるため（第33条第2項第1号））",
            "3. 問合せ履歴: 該当する個人データなし",
        ];
        let mail = app
            .mails_to(email)
            .await
            .into_iter()
            .find(|m| m.subject.contains("対応が完了しました"))
            .expect("the completed mail");
        for l in lines {
            assert!(mail.text.contains(l), "{l} in {}", mail.text);
        }
        assert!(mail.text.contains("開示する情報を同封します"));

        let status = app.client.get(&format!("/r/{pid}")).await;
        for l in lines {
            assert!(status.body.contains(l), "{l} on the status page");
        }
        let status_en = app.client.get(&format!("/r/{pid}?lang=en")).await;
        assert!(status_en.body.contains("1. 会員情報: Disclosed"));
        assert!(status_en.body.contains("3. 問合せ履歴: No such data held"));

        let letter = c.get(&format!("/staff/requests/{pid}/letter")).await;
        assert_eq!(letter.status, 200);
        for l in lines {
            assert!(letter.body.contains(l), "{l} in the letter");
        }
        let page = c.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains("回答の内容") && page.body.contains(lines[0]));

        // The trail: results and grounds by position, never a label or the message.
        let detail = answer_detail(&app, pid).await;
        assert_eq!(
            detail,
            serde_json::json!({
                "items": "3",
                "item1": "disclosed",
                "item2": "partially_disclosed:harm_to_persons",
                "item3": "no_data",
            })
        );
        let trail = audit_details(&app, pid).await;
        for word in ["会員情報", "購買履歴", "問合せ履歴", "同封"] {
            assert!(!trail.contains(word), "{word} in the trail:\n{trail}");
        }
        app.verify_audit().await;
    }
);

on_both!(
    every_item_refused_needs_an_explanation_on_the_page_and_in_the_api,
    |app: TestApp| async move {
        let email = "refused@example.jp";
        let pid = in_progress(&app, email, "disclosure", "ja").await;
        let c = staff_client(&app, Role::Officer).await;
        let page = c.get(&format!("/staff/requests/{pid}")).await;
        let v = app.request(pid).await.version.to_string();
        let res = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", &v),
                    ("event", "complete"),
                    ("item_label_1", "会員情報"),
                    ("item_result_1", "refused"),
                    ("item_grounds_1", "serious_business_interference"),
                    ("item_label_2", "購買履歴"),
                    ("item_result_2", "under_other_law"),
                    ("item_law_2", "割賦販売法"),
                    ("text", "  "),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(res.body.contains("id=\"action-errors\""));
        assert!(
            res.body.contains(
                "すべての項目が不開示です。本人への理由の説明（法36条）を記入してください"
            )
        );
        // What the officer wrote comes back filled in, not emptied.
        for filled in [
            "value=\"会員情報\"",
            "value=\"購買履歴\"",
            "value=\"割賦販売法\"",
            "<option value=\"refused\" selected>",
            "<option value=\"under_other_law\" selected>",
            "value=\"serious_business_interference\" id=\"ig-1-serious_business_interference\" checked",
        ] {
            assert!(res.body.contains(filled), "{filled} refilled");
        }
        // A partial item without a ground is named by its row.
        let res = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", &v),
                    ("event", "complete"),
                    ("item_label_1", "会員情報"),
                    ("item_result_1", "partially_disclosed"),
                ],
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(
            res.body
                .contains("1行目: 応じない部分の法定の理由を1つ以上選んでください")
        );

        let token = staff_token(&app, Role::Officer).await;
        let items = serde_json::json!([
            {"label": "会員情報", "result": "refused", "grounds": ["serious_business_interference"]},
            {"label": "購買履歴", "result": "under_other_law", "law": "割賦販売法"},
        ]);
        let v = app.request(pid).await.version;
        let res = api_event(
            &app,
            &token,
            pid,
            serde_json::json!({"event": "complete", "version": v, "items": items}),
        )
        .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert_eq!(res.header("content-type"), "application/problem+json");
        let problem = res.json();
        assert_eq!(problem["errors"][0]["field"], "text");
        assert_eq!(problem["errors"][0]["code"], "required");
        let res = api_event(
            &app,
            &token,
            pid,
            serde_json::json!({"event": "complete", "version": v, "items": [{"label": "", "result": "disclosed"}]}),
        )
        .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert_eq!(res.json()["errors"][0]["field"], "items[0]");
        assert_eq!(app.request(pid).await.state, "in_progress");
        assert_eq!(app.request(pid).await.version, v, "nothing changed");

        let res = api_event(
            &app,
            &token,
            pid,
            serde_json::json!({
                "event": "complete", "version": v, "items": items,
                "text": "ご請求の情報は業務の適正な実施に著しい支障を及ぼすおそれがあるため開示いたしません。",
            }),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(res.json()["request"]["state"], "refused");
        let mail = app
            .mails_to(email)
            .await
            .into_iter()
            .find(|m| m.text.contains("応じることができない"))
            .expect("the refusal mail");
        assert!(mail.text.contains("1. 会員情報: 不開示（理由: "));
        assert!(
            mail.text
                .contains("2. 購買履歴: 他の法令による開示の対象（法第33条第4項）（割賦販売法）")
        );
        assert!(
            mail.text
                .contains("理由: 他の法令により同等の開示の手続が定められているため")
        );
        assert!(
            mail.text
                .contains("著しい支障を及ぼすおそれがあるため開示いたしません")
        );
        let detail = answer_detail(&app, pid).await;
        assert_eq!(detail["item2"], "under_other_law");
        let trail = audit_details(&app, pid).await;
        assert!(!trail.contains("割賦販売法") && !trail.contains("会員情報"));
        app.verify_audit().await;
    }
);

on_both!(
    a_correction_records_its_content_and_the_subjects_mail_carries_it,
    |app: TestApp| async move {
        let email = "correction@example.jp";
        // The subject chose English: the mail and the status page answer in English.
        let pid = in_progress(&app, email, "correction", "en").await;
        let token = staff_token(&app, Role::Officer).await;
        let v = app.request(pid).await.version;
        let missing = api_event(
            &app,
            &token,
            pid,
            serde_json::json!({
                "event": "complete", "version": v, "correction": "corrected",
                "investigated": "会員情報の住所",
            }),
        )
        .await;
        assert_eq!(missing.status, 422, "{}", missing.body);
        assert_eq!(missing.json()["errors"][0]["field"], "content");
        let res = api_event(
            &app,
            &token,
            pid,
            serde_json::json!({
                "event": "complete", "version": v, "correction": "corrected",
                "investigated": "会員情報の住所",
                "content": "住所を「東京都港区2-2」に訂正しました",
            }),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(app.request(pid).await.state, "fulfilled");
        let mail = app
            .mails_to(email)
            .await
            .into_iter()
            .find(|m| m.subject.contains("answered"))
            .expect("the completed mail");
        let text = unqp(&mail.text);
        assert!(
            text.contains("What we investigated: 会員情報の住所"),
            "{text}"
        );
        assert!(text.contains("Result: Corrected"));
        assert!(text.contains("What was corrected: 住所を「東京都港区2-2」に訂正しました"));
        // The status page opens without a code: the result, not the content.
        let status = app.client.get(&format!("/r/{pid}?lang=en")).await;
        assert!(status.body.contains("Result: Corrected"));
        assert!(!status.body.contains("東京都港区2-2"));
        // Behind the one-time code, the subject's own page carries the content in full.
        let browser = subject_session(&app, pid, email).await;
        let private = browser.get(&format!("/r/{pid}/private?lang=en")).await;
        assert_eq!(private.status, 200);
        assert!(
            private
                .body
                .contains("What was corrected: 住所を「東京都港区2-2」に訂正しました"),
            "{}",
            private.body
        );
        assert_eq!(
            answer_detail(&app, pid).await,
            serde_json::json!({"correction": "corrected"})
        );
        let trail = audit_details(&app, pid).await;
        assert!(!trail.contains("東京都港区") && !trail.contains("会員情報の住所"));
        app.verify_audit().await;
    }
);

on_both!(
    an_erasure_records_where_and_when_or_the_alternative_measure,
    |app: TestApp| async move {
        let email = "erasure@example.jp";
        let pid = in_progress(&app, email, "suspension_or_erasure", "ja").await;
        let c = staff_client(&app, Role::Officer).await;
        let page = c.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains("name=\"remedy\"") && page.body.contains("value=\"erased\""));
        assert!(
            !page.body.contains("value=\"stopped_provision\""),
            "only the measures of this kind"
        );
        let v = app.request(pid).await.version.to_string();
        let post = |fields: Vec<(&'static str, &'static str)>| {
            let c = c.clone();
            let csrf = page.csrf();
            let v = v.clone();
            async move {
                let mut all = vec![
                    ("csrf", csrf.as_str()),
                    ("version", v.as_str()),
                    ("event", "complete"),
                ];
                all.extend(fields);
                c.post_form(&format!("/staff/requests/{pid}/events"), &all)
                    .await
            }
        };
        let res = post(vec![
            ("remedy", "done"),
            ("measure", "erased"),
            ("what", "購買履歴"),
            ("done_on", "2026-11-30"),
        ])
        .await;
        assert_eq!(res.status, 422);
        assert!(
            res.body
                .contains("実施した場所（システム等）を記入してください")
        );
        let res = post(vec![
            ("remedy", "done"),
            ("measure", "erased"),
            ("what", "購買履歴"),
            ("systems", "会員DB、分析基盤"),
            ("done_on", "2026-11-30"),
        ])
        .await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(app.request(pid).await.state, "fulfilled");
        let mail = app
            .mails_to(email)
            .await
            .into_iter()
            .find(|m| m.subject.contains("対応が完了しました"))
            .expect("the completed mail");
        for l in [
            "措置: 消去",
            "対象: 購買履歴",
            "実施した場所（システム等）: 会員DB、分析基盤",
            "実施日: 2026-11-30",
        ] {
            assert!(mail.text.contains(l), "{l} in {}", mail.text);
        }
        assert_eq!(
            answer_detail(&app, pid).await,
            serde_json::json!({"remedy": "done:erased"})
        );
        let letter = c.get(&format!("/staff/requests/{pid}/letter")).await;
        assert!(
            letter
                .body
                .contains("実施した場所（システム等）: 会員DB、分析基盤")
        );

        // Where erasure from backups would be very costly: an alternative measure.
        let email = "alternative@example.jp";
        let pid = in_progress(&app, email, "suspension_or_erasure", "ja").await;
        let token = staff_token(&app, Role::Officer).await;
        let v = app.request(pid).await.version;
        let res = api_event(
            &app,
            &token,
            pid,
            serde_json::json!({
                "event": "complete", "version": v, "remedy": "alternative",
                "alternative": "バックアップからの消去に代えて、当該データへのアクセスを遮断しました",
                "what": "購買履歴（バックアップ）", "done_on": "2026-11-30",
            }),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(app.request(pid).await.state, "partially_fulfilled");
        let mail = app
            .mails_to(email)
            .await
            .into_iter()
            .find(|m| m.subject.contains("対応が完了しました"))
            .expect("the completed mail");
        assert!(
            mail.text
                .contains("代わるべき措置: バックアップからの消去に代えて")
        );
        assert!(
            mail.text
                .contains("（法第35条第2項・第4項・第6項ただし書）")
        );
        let trail = audit_details(&app, pid).await;
        assert!(trail.contains("alternative"));
        assert!(!trail.contains("バックアップ") && !trail.contains("購買履歴"));
        app.verify_audit().await;
    }
);
