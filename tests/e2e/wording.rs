//! No internal value on a page a person reads (issue 21): the request page an officer works
//! on and the status page a subject sees show kinds, states, requesters, deliveries, grounds,
//! channels and identity methods in words, never their stored spellings; the intake form
//! cites the law as Japanese does; the form's address reloaded is the form.

use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

/// The visible text of a page: its tags (and their attributes, where stored values
/// legitimately live) taken out.
fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Stored spellings a person must never read, written out here from the domain's types.
const INTERNAL: &[&str] = &[
    "disclosure",
    "third_party_record_disclosure",
    "purpose_notification",
    "suspension_or_erasure",
    "third_party_stop",
    "legal_representative",
    "appointed_agent",
    "electronic",
    "no_longer_needed",
    "unlawful_provision",
    "email_only",
    "customer_record",
    "in_progress",
    "awaiting_identity",
    "awaiting_payment",
    "identity_review",
    "submitted",
    "request.filed",
    "request.assigned",
    "data.viewed",
    "confirm_address",
];

fn assert_no_internal(page: &str, what: &str) {
    let text = visible_text(page);
    for word in INTERNAL {
        assert!(
            !text.contains(word),
            "{what} shows the internal value {word:?}: {}",
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    // Days as people write them, not ISO dates (YYYY-MM-DD; a request number is no date).
    let iso = text.as_bytes().windows(10).any(|w| {
        w.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
    });
    assert!(
        !iso,
        "{what} shows an ISO date: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
}

on_both!(
    no_request_page_shows_an_internal_value,
    |app: TestApp| async move {
        let officer = staff_client(&app, Role::Officer).await;
        let mut filings = Vec::new();
        let mut body = valid_json("a1@example.jp");
        body["delivery"] = "electronic".into();
        filings.push(body);
        let mut body = valid_json("a2@example.jp");
        body["kind"] = "suspension_or_erasure".into();
        body["ground"] = "no_longer_needed".into();
        body.as_object_mut().unwrap().remove("delivery");
        filings.push(body);
        let mut body = valid_json("a3@example.jp");
        body["kind"] = "third_party_stop".into();
        body["ground"] = "unlawful_provision".into();
        body.as_object_mut().unwrap().remove("delivery");
        filings.push(body);
        let mut body = valid_json("a4@example.jp");
        body["requester"] = "legal_representative".into();
        body["agent_name"] = "山田 花子".into();
        body["agent_kana"] = "ヤマダ ハナコ".into();
        body["agent_relationship"] = "親権者（母）".into();
        filings.push(body);
        for body in filings {
            let res = app.client.post_json("/api/v1/requests", &body).await;
            assert_eq!(res.status, 201, "{}", res.body);
            let pid = res.json()["id"].as_str().unwrap().to_owned();
            // Claimed, so the timeline holds an assignment too.
            let page = officer.get(&format!("/staff/requests/{pid}")).await;
            officer
                .post_form(
                    &format!("/staff/requests/{pid}/claim"),
                    &[("csrf", &page.csrf())],
                )
                .await;
            let page = officer.get(&format!("/staff/requests/{pid}")).await;
            assert!(
                page.body.contains("担当者を割り当てました"),
                "{}",
                page.body
            );
            // An agent's filing is the agent's act on the timeline, not the person's.
            let by = if body["requester"] == "legal_representative" {
                "請求を受け付けました</strong>（代理人）"
            } else {
                "請求を受け付けました</strong>（本人）"
            };
            assert!(page.body.contains(by), "{by}: {}", page.body);
            assert_eq!(page.status, 200);
            assert_no_internal(&page.body, &format!("the request page of {}", body["kind"]));
            let status = app.client.get(&format!("/r/{pid}")).await;
            assert_eq!(status.status, 200);
            assert_no_internal(
                &status.body,
                &format!("the status page of {}", body["kind"]),
            );
        }
        let queue = officer.get("/staff").await;
        assert_no_internal(&queue.body, "the queue");

        // The form cites the law as Japanese does, and English as English does.
        let form = app.client.get("/").await;
        assert!(form.body.contains("（法第33条第1項）"), "{}", form.body);
        assert!(!visible_text(&form.body).contains("(Art. 33(1))"));
        let form = app.client.get("/?lang=en").await;
        assert!(form.body.contains("(APPI Art. 33(1))"));
        // Reloading the form's address after a submit, or switching its language there,
        // shows the form, not an error.
        let res = app.client.get("/requests?lang=en").await;
        assert_eq!(res.status, 303);
        assert_eq!(res.header("location"), "/?lang=en");
    }
);

on_both!(
    the_monthly_report_opens_in_a_japanese_spreadsheet,
    |app: TestApp| async move {
        let admin = staff_client(&app, Role::Admin).await;
        let csv = admin.get("/staff/reports/monthly.csv").await;
        assert_eq!(csv.status, 200, "{}", csv.body);
        // A byte-order mark first: Excel in Japan reads UTF-8 without one as Shift_JIS.
        assert!(
            csv.body.starts_with("\u{feff}month,kind,closed"),
            "{:?}",
            csv.body.chars().take(40).collect::<String>()
        );
    }
);

on_both!(
    a_closed_request_does_not_keep_an_earlier_message_as_its_last_word,
    |app: TestApp| async move {
        use madoguchi_domain::{Actor, Event};
        use madoguchi_service::{EventText, Origin};
        let pid = file_and_confirm(&app, "stale@example.jp").await;
        let officer = Actor::Staff {
            id: "o".into(),
            role: Role::Officer,
        };
        let ask = "ご本人確認のため、運転免許証の裏面もご提出ください。";
        app.service
            .act(
                pid,
                None,
                &Event::RequestMoreEvidence {
                    missing: ask.into(),
                },
                &officer,
                &EventText {
                    message: Some(ask.into()),
                    reference: None,
                },
                &Origin::default(),
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(app.request(pid).await.subject_message.as_deref(), Some(ask));
        // Withdrawn (recorded by the office) without a message of its own: the request for
        // documents no longer stands, so it is no longer shown as the office's message.
        app.service
            .act(
                pid,
                None,
                &Event::Withdraw,
                &officer,
                &EventText::default(),
                &Origin::default(),
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        let row = app.request(pid).await;
        assert_eq!(row.state, "withdrawn");
        assert_eq!(row.subject_message, None);
    }
);

on_both!(
    the_status_page_always_says_what_happens_next,
    |app: TestApp| async move {
        let pid = file_via_api(&app, "next@example.jp").await;
        let page = app.client.get(&format!("/r/{pid}")).await;
        assert!(page.body.contains("今後の流れ"), "{}", page.body);
        assert!(
            page.body
                .contains("お送りしたメールのリンクから、メールアドレスを確認してください。")
        );
        // The row of steps marks where it stands; the fee's step is there for a disclosure.
        assert!(
            page.body.contains(
                "<li class=\"done\">受付<span class=\"mark\">（完了）</span></li><li class=\"current\" aria-current=\"step\">ご連絡先の確認<span class=\"mark\">（現在の段階）</span></li><li class=\"ahead\">本人確認"
            ),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains("手数料のお支払い<span class=\"mark\">（これから）</span>")
        );
        // Confirmed: identity is proven by documents here, so the page asks for them and says
        // where they go (it no longer waits in silence for an officer).
        let pid = file_and_confirm(&app, "next2@example.jp").await;
        let page = app.client.get(&format!("/r/{pid}")).await;
        assert!(
            page.body.contains("次に、本人確認書類をご提出ください。"),
            "{}",
            page.body
        );
        let page = app.client.get(&format!("/r/{pid}?lang=en")).await;
        assert!(
            page.body
                .contains("Next, please send your identity documents")
        );
    }
);

on_both!(each_form_error_names_its_field, |app: TestApp| async move {
    let csrf = app.client.get("/?kind=disclosure").await.csrf();
    let mut fields = intake_form(&csrf, "names@example.jp", "ja");
    fields.retain(|(k, _)| !matches!(*k, "subject_name" | "details" | "requester"));
    let res = app.client.post_form("/requests", &fields).await;
    assert_eq!(res.status, 422);
    // Each says which field, and a choice is chosen, not typed.
    for text in [
        "氏名を入力してください。",
        "請求の内容を入力してください。",
        "請求者の区分を選択してください。",
    ] {
        assert!(res.body.contains(text), "{text}: {}", res.body);
    }
    let csrf = app.client.get("/?kind=disclosure&lang=en").await.csrf();
    let mut fields = intake_form(&csrf, "names@example.jp", "en");
    fields.retain(|(k, _)| *k != "subject_name");
    let res = app.client.post_form("/requests?lang=en", &fields).await;
    assert!(res.body.contains("The name is required."), "{}", res.body);
});

on_both!(
    no_page_of_the_product_shows_an_internal_value,
    |app: TestApp| async move {
        // Requests in several states, a note, a template, a payment: pages with content.
        let pid = file_and_confirm(&app, "every-page@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        act(&officer, &app, pid, &[("event", "approve_identity")]).await;
        act(
            &officer,
            &app,
            pid,
            &[
                ("event", "record_payment"),
                ("method", "postal_money_order"),
                ("amount", "3000"),
                ("reference", "小為替 12-345678"),
            ],
        )
        .await;
        file_via_api(&app, "waiting@example.jp").await;
        let admin = staff_client(&app, Role::Admin).await;
        let settings = admin.get("/staff/admin/settings").await;
        let res = admin
            .post_form(
                "/staff/admin/settings/templates",
                &[
                    ("csrf", &settings.csrf()),
                    ("title", "入金の確認"),
                    ("text", "{氏名} 様、入金を確認しました。"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/notes"),
                &[("csrf", &page.csrf()), ("text", "小為替は経理へ回付済み。")],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let auditor = staff_client(&app, Role::Auditor).await;
        let subject = subject_session(&app, pid, "every-page@example.jp").await;
        let form = officer.get("/staff/incidents/new").await;
        let res = officer
            .post_form(
                "/staff/incidents",
                &[
                    ("csrf", &form.csrf()),
                    ("aware_on", "2026/11/20"),
                    ("people", "3"),
                    ("special_care", "1"),
                    ("item_summary", "健康診断の結果を誤送信"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let incident = res.header("location").to_owned();
        // A complaint, replied to (its page then shows the reply and the state in words).
        let form = app.client.get("/complaints").await;
        let res = app
            .client
            .post_form(
                "/complaints",
                &[
                    ("csrf", &form.csrf()),
                    ("kind", "consultation"),
                    ("name", "相談 花子"),
                    ("email", "every-page@example.jp"),
                    ("body", "退会の手続を教えてください。"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let received = res.header("location").to_owned();
        let complaint = received
            .trim_start_matches("/complaints/")
            .trim_end_matches("/received")
            .to_owned();
        let page = officer.get(&format!("/staff/complaints/{complaint}")).await;
        let res = officer
            .post_form(
                &format!("/staff/complaints/{complaint}/reply"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", "1"),
                    ("text", "会員ページの「退会」からお手続きいただけます。"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let mut pages: Vec<(&Client, String)> = vec![
            (&app.client, "/complaints".into()),
            (&app.client, "/complaints?lang=en".into()),
            (&app.client, received.clone()),
            (&officer, "/staff/complaints".into()),
            (&officer, format!("/staff/complaints/{complaint}")),
            (
                &officer,
                format!("/staff/intake?complaint={complaint}&version=2"),
            ),
            (&auditor, format!("/staff/complaints/{complaint}")),
            (&app.client, "/".into()),
            (
                &app.client,
                "/?kind=suspension_or_erasure&requester=appointed_agent&next=1".into(),
            ),
            (&app.client, "/?lang=en".into()),
            (&app.client, "/procedures".into()),
            (&app.client, "/procedures/form".into()),
            (&app.client, format!("/r/{pid}")),
            (&app.client, format!("/r/{pid}/access")),
            (&subject, format!("/r/{pid}/private")),
            (&officer, "/staff".into()),
            (&officer, "/staff?closed=1".into()),
            (&officer, "/staff/dashboard".into()),
            (&officer, format!("/staff/requests/{pid}")),
            (
                &officer,
                format!(
                    "/staff/requests/{pid}?template={}&for=complete",
                    urlencode("入金の確認")
                ),
            ),
            (&officer, format!("/staff/requests/{pid}/letter")),
            (&officer, "/staff/intake".into()),
            (&officer, "/staff/register".into()),
            (&officer, "/staff/account".into()),
            (&officer, "/staff/account/password".into()),
            (&admin, "/staff/admin/settings".into()),
            (&admin, "/staff/admin/users".into()),
            (&admin, "/staff/admin/mail".into()),
            (&admin, "/staff/admin/datamap".into()),
            (&officer, "/staff/incidents".into()),
            (&officer, "/staff/incidents/new".into()),
            (&officer, incident.clone()),
            (&officer, format!("{incident}/report")),
            (&auditor, "/staff/dashboard".into()),
        ];
        // The receipt, as the private page links it.
        let private = subject.get(&format!("/r/{pid}/private")).await;
        let at = private.body.find("/receipts/").expect("a receipt link");
        let start = private.body[..at].rfind('"').unwrap() + 1;
        let end = at + private.body[at..].find('"').unwrap();
        pages.push((&subject, private.body[start..end].to_owned()));
        for (who, path) in pages {
            let page = who.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            assert_no_internal(&page.body, &path);
        }
    }
);
