//! The officer's workspace (issue 21): the request, its documents (shown inline) and its
//! timeline beside the actions that move it on, the rest one step away; notes for colleagues
//! (sealed, on the trail, never shown to the requester); answer templates an officer starts a
//! message from.

use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

/// The public id after `?doc=` in a page (the first document's link).
fn first_document(body: &str) -> String {
    let at = body.find("?doc=").expect("a document link") + "?doc=".len();
    body[at..at + 36].to_owned()
}

on_both!(
    the_next_step_comes_first_and_a_document_opens_beside_it,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "workspace@example.jp").await;
        let subject = subject_session(&app, pid, "workspace@example.jp").await;
        let csrf = subject.get(&format!("/r/{pid}/private")).await.csrf();
        let (ct, body) = multipart(
            &[("csrf", &csrf), ("purpose", "identity")],
            &[("licence.png", &png("front"))],
        );
        let res = subject
            .send(
                hyper::Method::POST,
                &format!("/r/{pid}/documents"),
                Some(&ct),
                body,
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        assert_eq!(page.status, 200);
        // Under review, approving (or asking for more) moves it on; rejecting and withdrawing
        // are inside "other actions", after them.
        let approve = page.body.find("id=\"form-approve_identity\"").unwrap();
        let more = page.body.find("<details class=\"more\"").unwrap();
        let reject = page.body.find("id=\"form-reject_identity\"").unwrap();
        assert!(approve < more && more < reject, "{}", page.body);
        assert!(page.body.contains("id=\"form-request_more_evidence\""));
        assert!(
            !page.body.contains("<details class=\"more\" open"),
            "the other actions start closed"
        );
        // The document opens in the workspace, titled by its name, not in a raw tab; the
        // page itself records no view of it until the image is fetched.
        let doc = first_document(&page.body);
        let views = |t: Vec<(String, String, String)>| {
            t.iter().filter(|(_, a, _)| a == "data.viewed").count()
        };
        let before = views(trail(&app, pid).await);
        let page = officer
            .get(&format!("/staff/requests/{pid}?doc={doc}"))
            .await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains(&format!(
                "<img src=\"/staff/requests/{pid}/documents/{doc}\" alt=\"提出された書類の画像: licence.png\">"
            )),
            "{}",
            page.body
        );
        assert!(page.body.contains("<h2 id=\"viewer-h\">licence.png</h2>"));
        let image = officer
            .get(&format!("/staff/requests/{pid}/documents/{doc}"))
            .await;
        assert_eq!(image.status, 200);
        assert_eq!(image.header("content-type"), "image/png");
        // Opening the request page is one view; the image one more.
        assert_eq!(views(trail(&app, pid).await), before + 2);
        // A document id that is not this request's shows no viewer (and no error).
        let other = uuid::Uuid::new_v4();
        let page = officer
            .get(&format!("/staff/requests/{pid}?doc={other}"))
            .await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("id=\"viewer-h\""));
        // The keys are on the page.
        assert!(page.body.contains("accesskey=\"e\""));
        assert!(page.body.contains("<kbd>E</kbd>"));
    }
);

on_both!(
    notes_for_colleagues_are_sealed_on_the_trail_and_never_the_requesters,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "notes@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains("メモはまだありません。"));
        // An empty note is refused, naming the field.
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/notes"),
                &[("csrf", &page.csrf()), ("text", "  ")],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body
                .contains("メモ: 内容を入力してください（4,000文字以内）。")
        );
        // Shown at the note's own field, which keeps what was typed.
        assert!(
            res.body.contains("aria-invalid=\"true\">  </textarea>"),
            "{}",
            res.body
        );
        let written = "お電話で確認済み。免許証の裏面を明日再送とのこと。";
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/notes"),
                &[("csrf", &page.csrf()), ("text", written)],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(
            res.header("location"),
            format!("/staff/requests/{pid}?done=note#notes-h")
        );
        // A colleague reads it, with who wrote it.
        let colleague = staff_client(&app, Role::Officer).await;
        let page = colleague.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains(written), "{}", page.body);
        // Who wrote it, inside the note (the header names the reader, not the author).
        assert!(page.body.contains("</time> officer</p>"), "{}", page.body);
        // An auditor reads it and cannot write one.
        let auditor = staff_client(&app, Role::Auditor).await;
        let page = auditor.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains(written));
        assert!(!page.body.contains("id=\"note-text\""));
        // On the trail, as the officer's, without its words.
        let entries = trail(&app, pid).await;
        let note = entries.iter().find(|(_, a, _)| a == "note.added").unwrap();
        assert!(!note.2.contains("再送とのこと"), "{note:?}");
        // Sealed at rest.
        use sea_orm::EntityTrait;
        let stored = madoguchi_store::entities::request_note::Entity::find()
            .all(app.service.db().conn())
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert!(stored[0].text.starts_with("sealed:v1:"), "{stored:?}");
        assert!(!stored[0].text.contains("再送とのこと"));
        // The requester never sees it.
        let subject = subject_session(&app, pid, "notes@example.jp").await;
        let private = subject.get(&format!("/r/{pid}/private")).await;
        assert!(!private.body.contains("再送とのこと"));
        let status = app.client.get(&format!("/r/{pid}")).await;
        assert!(!status.body.contains("再送とのこと"));
    }
);

on_both!(
    an_officer_starts_a_message_from_a_template,
    |app: TestApp| async move {
        let admin = staff_client(&app, Role::Admin).await;
        let settings = admin.get("/staff/admin/settings").await;
        // A template without a title is refused, the field named in words.
        let res = admin
            .post_form(
                "/staff/admin/settings/templates",
                &[("csrf", &settings.csrf()), ("title", ""), ("text", "x")],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body
                .contains("定型文の題名: 空欄、範囲外、または長すぎます。"),
            "{}",
            res.body
        );
        let res = admin
            .post_form(
                "/staff/admin/settings/templates",
                &[
                    ("csrf", &settings.csrf()),
                    ("title", "裏面の提出依頼"),
                    (
                        "text",
                        "{氏名} 様\n受付番号 {受付番号} のご請求について、本人確認書類の裏面の写しをご提出ください。",
                    ),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert!(res.body.contains("裏面の提出依頼"));
        // A second template of the same title is refused: officers pick by title.
        let res = admin
            .post_form(
                "/staff/admin/settings/templates",
                &[
                    ("csrf", &settings.csrf()),
                    ("title", "裏面の提出依頼"),
                    ("text", "別の文"),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body.contains("定型文の題名: 同じものが既にあります。"),
            "{}",
            res.body
        );
        let entries = app
            .service
            .audit_trail(&madoguchi_service::TrailFilter {
                action: Some("settings.templates_changed".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);

        let pid = file_and_confirm(&app, "template@example.jp").await;
        let number = app.request(pid).await.number;
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        let title = urlencode("裏面の提出依頼");
        let link = format!(
            "/staff/requests/{pid}?template={title}&amp;for=request_more_evidence#form-request_more_evidence"
        );
        assert!(page.body.contains(&link), "{}", page.body);
        let page = officer
            .get(&format!(
                "/staff/requests/{pid}?template={title}&for=request_more_evidence"
            ))
            .await;
        let expected = format!(
            "<textarea name=\"text\" id=\"text-request_more_evidence\">山田 太郎 様\n受付番号 {number} のご請求について、本人確認書類の裏面の写しをご提出ください。</textarea>"
        );
        assert!(page.body.contains(&expected), "{}", page.body);
        // Only an action the page offers takes it; an unknown template fills nothing.
        let unknown = urlencode("別の定型文");
        for query in [
            format!("template={title}&for=complete"),
            format!("template={unknown}&for=request_more_evidence"),
        ] {
            let page = officer.get(&format!("/staff/requests/{pid}?{query}")).await;
            assert_eq!(page.status, 200);
            assert!(
                !page
                    .body
                    .contains("裏面の写しをご提出ください。</textarea>"),
                "{query}"
            );
        }
        // Removed by its title.
        let settings = admin.get("/staff/admin/settings").await;
        let res = admin
            .post_form(
                "/staff/admin/settings/templates/remove",
                &[("csrf", &settings.csrf()), ("title", "裏面の提出依頼")],
            )
            .await;
        assert_eq!(res.status, 200);
        assert!(res.body.contains("定型文はまだありません。"));
    }
);

on_both!(
    the_queue_and_the_request_show_a_paused_clock,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "paused@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        // Under review the clock runs.
        let queue = officer.get("/staff").await;
        assert!(!queue.body.contains("期限停止中"), "{}", queue.body);
        act(
            &officer,
            &app,
            pid,
            &[
                ("event", "request_more_evidence"),
                ("text", "運転免許証の裏面"),
            ],
        )
        .await;
        // Waiting for the requester's documents, it stands still (APPI's default policy):
        // since 10:00 on 30 November in Japan, as stored.
        {
            use madoguchi_store::entities::request as r;
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
            let since = chrono::DateTime::parse_from_rfc3339("2026-11-30T01:00:00Z")
                .unwrap()
                .to_utc();
            r::Entity::update_many()
                .col_expr(r::Column::PausedSince, Expr::value(Some(since)))
                .filter(r::Column::Pid.eq(pid))
                .exec(app.service.db().conn())
                .await
                .unwrap();
        }
        let expected = "2026年11月30日から期限停止中（請求者の対応待ち）";
        let queue = officer.get("/staff").await;
        assert!(queue.body.contains(expected), "{}", queue.body);
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains(expected));
    }
);
