//! An administrator's settings: the policy new requests are filed under, retention and
//! download limits, the business details in mail and on pages; each change audited with its
//! old and new values, refused with the reason when it is wrong, read-only for auditors.

use madoguchi_domain::{Period, Role, jst_date};

use crate::helpers::*;
use crate::on_both;

/// The policy form as an administrator submits it, with `changes` laid over APPI's defaults.
fn policy_form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("jurisdiction", "appi"),
        ("deadline_n", "14"),
        ("deadline_unit", "days"),
        ("extension_n", ""),
        ("extension_unit", "days"),
        ("pause_while_waiting", "1"),
        ("identity", "document"),
        ("confirm_within_hours", "72"),
        ("answer_within_days", "30"),
        ("warn_before_expiry_hours", "72"),
        ("refund_before_work", "1"),
    ];
    for (k, v) in changes {
        match form.iter_mut().find(|(f, _)| f == k) {
            Some(slot) => slot.1 = v,
            None => form.push((k, v)),
        }
    }
    form
}

async fn settings_trail(app: &TestApp) -> Vec<(String, String)> {
    app.service
        .audit_trail(&madoguchi_service::TrailFilter {
            action: Some("settings.".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.detail))
        .collect()
}

on_both!(
    an_administrators_policy_governs_new_requests_only_and_is_audited,
    |app: TestApp| async move {
        let before = file_via_api(&app, "before-policy@example.jp").await;
        let due_before = app.request(before).await.due_on;
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/settings").await;
        assert_eq!(page.status, 200);
        let csrf = page.csrf();

        // A refused change says why, next to its form, and changes nothing.
        let res = admin
            .post_form(
                "/staff/admin/settings/policy",
                &policy_form(&csrf, &[("deadline_n", "0")]),
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("role=\"alert\""), "{}", res.body);
        let res = admin
            .post_form(
                "/staff/admin/settings/policy",
                &policy_form(&csrf, &[("deadline_n", "ten")]),
            )
            .await;
        assert_eq!(res.status, 422);
        // The field is named as the form labels it, not by its key.
        assert!(
            res.body.contains("期限: 半角数字で入力してください"),
            "{}",
            res.body
        );
        let res = admin
            .post_form(
                "/staff/admin/settings/fees",
                &[
                    ("csrf", &csrf),
                    ("disclosure", "3000"),
                    ("correction", "500"),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body.contains(
                "訂正・追加・削除: 法第38条により、この種類の請求には手数料を求められません。"
            ),
            "{}",
            res.body
        );
        assert!(settings_trail(&app).await.is_empty(), "nothing was saved");

        let res = admin
            .post_form(
                "/staff/admin/settings/policy",
                &policy_form(
                    &csrf,
                    &[
                        ("deadline_n", "10"),
                        ("deadline_unit", "business_days"),
                        ("identity_purpose_notification", "email_only"),
                    ],
                ),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert!(res.body.contains("保存しました"));
        // Saving the same policy again writes nothing.
        admin
            .post_form(
                "/staff/admin/settings/policy",
                &policy_form(
                    &csrf,
                    &[
                        ("deadline_n", "10"),
                        ("deadline_unit", "business_days"),
                        ("identity_purpose_notification", "email_only"),
                    ],
                ),
            )
            .await;

        let after = file_via_api(&app, "after-policy@example.jp").await;
        let row = app.request(after).await;
        assert_eq!(
            row.due_on,
            Period::BusinessDays(10).after(jst_date(row.arrived_at)),
            "a request filed now follows the new policy"
        );
        assert_eq!(
            app.request(before).await.due_on,
            due_before,
            "one filed before keeps its own"
        );
        let procedures = app.client.get("/procedures").await;
        assert!(
            procedures.body.contains("10営業日"),
            "the publication follows"
        );

        let trail = settings_trail(&app).await;
        assert_eq!(trail.len(), 1, "{trail:?}");
        let (action, detail) = &trail[0];
        assert_eq!(action, "settings.policy_changed");
        assert!(
            detail.contains("\"deadline.period.unit\":\"days → business_days\""),
            "{detail}"
        );
        assert!(
            detail.contains("\"deadline.period.n\":\"14 → 10\""),
            "{detail}"
        );
        assert!(
            detail.contains("identity_by_kind.purpose_notification"),
            "{detail}"
        );
        app.verify_audit().await;
    }
);

on_both!(
    business_details_and_retention_reach_mail_pages_and_downloads,
    |app: TestApp| async move {
        let admin = staff_client(&app, Role::Admin).await;
        let csrf = admin.get("/staff/admin/settings").await.csrf();
        let business = [
            ("csrf", csrf.as_str()),
            ("name", "株式会社テスト窓口"),
            ("address", "大阪府大阪市北区1-1"),
            ("representative", "代表取締役 鈴木一郎"),
            ("contact", "desk@example.jp"),
            ("mail_from", "テスト窓口 <desk@example.jp>"),
            ("staff_address", "office2@example.jp"),
        ];
        let mut bad = business;
        bad[6] = ("staff_address", "not an address");
        let res = admin
            .post_form("/staff/admin/settings/business", &bad)
            .await;
        assert_eq!(res.status, 422);
        assert!(
            res.body.contains("staff_address"),
            "the reason names the field"
        );
        let mut injected = business;
        injected[1] = ("name", "A\r\nBcc: x@example.jp");
        let res = admin
            .post_form("/staff/admin/settings/business", &injected)
            .await;
        assert_eq!(
            res.status, 422,
            "no header injection through the business name"
        );
        let res = admin
            .post_form("/staff/admin/settings/business", &business)
            .await;
        assert_eq!(res.status, 200, "{}", res.body);

        assert!(
            app.client
                .get("/procedures")
                .await
                .body
                .contains("代表取締役 鈴木一郎")
        );
        file_and_confirm(&app, "business-mail@example.jp").await;
        app.deliver_mail().await;
        let mails = app.mails_to("business-mail@example.jp").await;
        let last = mails.last().expect("mail to the subject");
        assert!(last.from.contains("desk@example.jp"), "{}", last.from);
        assert!(last.text.contains("株式会社テスト窓口"), "{}", last.text);
        assert!(
            !app.mails_to("office2@example.jp").await.is_empty(),
            "staff mail goes to the new office address"
        );

        let res = admin
            .post_form(
                "/staff/admin/settings/retention",
                &[
                    ("csrf", &csrf),
                    ("documents_days", "90"),
                    ("download_days", "14"),
                    ("download_limit", "0"),
                ],
            )
            .await;
        assert_eq!(res.status, 422);
        let res = admin
            .post_form(
                "/staff/admin/settings/retention",
                &[
                    ("csrf", &csrf),
                    ("documents_days", "90"),
                    ("download_days", "14"),
                    ("download_limit", "2"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let s = app.service.settings().await.unwrap();
        assert_eq!(
            (
                s.retention.documents_days,
                s.retention.download_days,
                s.retention.download_limit
            ),
            (90, 14, 2)
        );

        let actions: Vec<String> = settings_trail(&app)
            .await
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(
            actions,
            ["settings.retention_changed", "settings.business_changed"],
            "newest first, refusals not recorded"
        );
        app.verify_audit().await;

        // An auditor reads the settings but has nothing to submit; an officer cannot change them.
        let auditor = staff_client(&app, Role::Auditor).await;
        let page = auditor.get("/staff/admin/settings").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("株式会社テスト窓口"));
        assert!(!page.body.contains("を保存</button>"), "no save buttons");
        assert!(page.body.contains("<fieldset disabled>"));
        let officer = staff_client(&app, Role::Officer).await;
        let csrf = officer.get("/staff").await.csrf();
        let res = officer
            .post_form(
                "/staff/admin/settings/retention",
                &[
                    ("csrf", &csrf),
                    ("documents_days", "1"),
                    ("download_days", "1"),
                    ("download_limit", "1"),
                ],
            )
            .await;
        assert_eq!(res.status, 403);
    }
);

on_both!(
    another_instance_applies_a_change_within_the_snapshots_life,
    |app: TestApp| async move {
        let mut config = app_config(&app);
        config.listen = "127.0.0.1:0".parse().unwrap();
        let second = madoguchi::Application::build(config).await.unwrap();
        let other = Client::new(second.local_addr());
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(second.run(stop_rx));
        assert!(other.get("/procedures").await.body.contains("¥3,000"));

        let admin = staff_client(&app, Role::Admin).await;
        let csrf = admin.get("/staff/admin/settings").await.csrf();
        let res = admin
            .post_form(
                "/staff/admin/settings/fees",
                &[
                    ("csrf", &csrf),
                    ("disclosure", "1500"),
                    ("third_party_record_disclosure", "1500"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        // This instance at once; the other once its snapshot is older than FRESH_FOR.
        assert!(app.client.get("/procedures").await.body.contains("¥1,500"));
        tokio::time::sleep(
            madoguchi_service::settings::FRESH_FOR + std::time::Duration::from_millis(300),
        )
        .await;
        assert!(other.get("/procedures").await.body.contains("¥1,500"));
        let res = other
            .post_json("/api/v1/requests", &valid_json("fee-elsewhere@example.jp"))
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
        assert_eq!(
            app.request(pid).await.fee,
            1500,
            "filed on the other instance"
        );
        let _ = stop.send(true);
    }
);

on_both!(
    the_business_brand_reaches_pages_mail_and_letters,
    |app: TestApp| async move {
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/settings").await;
        // The forms are in the page's body, and its title is only a title.
        assert!(
            page.body.contains("<title>設定 | Madoguchi</title>"),
            "{}",
            page.body
        );
        let main = &page.body[page.body.find("<main").unwrap()..];
        for form in [
            "/staff/admin/settings/branding",
            "/staff/admin/settings/logo",
            "/staff/admin/settings/templates",
        ] {
            assert!(main.contains(&format!("action=\"{form}\"")), "{form}");
        }
        let csrf = page.csrf();
        let branding = |colour: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("colour", colour.to_owned()),
                ("site_url", "https://shop.example.jp".to_owned()),
                ("privacy_url", "https://shop.example.jp/privacy".to_owned()),
                ("phone", "03-1234-5678".to_owned()),
                ("hours", "平日 9:00〜17:00".to_owned()),
            ]
        };
        let as_refs =
            |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
        // Yellow cannot be read on white: refused, the field named in words.
        let fields = as_refs(&branding("#ffff00"));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = admin
            .post_form("/staff/admin/settings/branding", &pairs)
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body.contains("色: #で始まる6桁の16進数で"),
            "{}",
            res.body
        );
        let fields = as_refs(&branding("#0F5132"));
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = admin
            .post_form("/staff/admin/settings/branding", &pairs)
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        // A text file named logo.png is not a logo.
        let (ct, body) = multipart(&[("csrf", &csrf)], &[("logo.png", b"not an image")]);
        let res = admin
            .send(
                hyper::Method::POST,
                "/staff/admin/settings/logo",
                Some(&ct),
                body,
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body.contains("ロゴ: 200KB以下のPNGまたはJPEGの画像"),
            "{}",
            res.body
        );
        let logo = png("shop-logo");
        let (ct, body) = multipart(&[("csrf", &csrf)], &[("logo.png", &logo)]);
        let res = admin
            .send(
                hyper::Method::POST,
                "/staff/admin/settings/logo",
                Some(&ct),
                body,
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        // The trail keeps the image's hash, not the image.
        let trail = settings_trail(&app).await;
        let (_, detail) = trail
            .iter()
            .find(|(a, _)| a == "settings.logo_changed")
            .expect("the logo's entry");
        assert!(detail.contains("sha256"), "{detail}");
        assert!(detail.len() < 400, "{detail}");

        // Pages: the colour, the logo, the links and the phone.
        let css = app.client.get("/static/brand.css").await;
        assert_eq!(css.body.trim(), ":root { --accent: #0f5132; }");
        let served = app.client.get("/brand/logo").await;
        assert_eq!(served.status, 200);
        assert_eq!(served.header("content-type"), "image/png");
        assert_eq!(served.bytes, logo);
        let form = app.client.get("/").await;
        for shown in [
            "<img src=\"/brand/logo\"",
            "href=\"https://shop.example.jp/privacy\">プライバシーポリシー</a>",
            "href=\"tel:03-1234-5678\"",
            "（受付時間: 平日 9:00〜17:00）",
            "/static/brand.css",
        ] {
            assert!(form.body.contains(shown), "{shown}: {}", form.body);
        }
        // Mail: the phone and the policy in the signature, the buttons in the colour.
        let pid = file_via_api(&app, "brand@example.jp").await;
        let mail = app.mails_to("brand@example.jp").await.pop().unwrap();
        assert!(
            mail.text
                .contains("電話: 03-1234-5678（受付時間: 平日 9:00〜17:00）"),
            "{}",
            mail.text
        );
        assert!(
            mail.text
                .contains("プライバシーポリシー: https://shop.example.jp/privacy")
        );
        assert!(mail.html.contains("background: #0f5132;"), "{}", mail.html);
        // Letters: the logo at the top, the phone with the contact.
        let letter = admin.get(&format!("/staff/requests/{pid}/letter")).await;
        assert_eq!(letter.status, 200);
        assert!(
            letter.body.contains("<img src=\"/brand/logo\""),
            "{}",
            letter.body
        );
        assert!(
            letter
                .body
                .contains("電話: 03-1234-5678（受付時間: 平日 9:00〜17:00）")
        );

        // Removed, the logo is gone from the pages.
        let (ct, body) = multipart(&[("csrf", &csrf), ("remove", "1")], &[]);
        let res = admin
            .send(
                hyper::Method::POST,
                "/staff/admin/settings/logo",
                Some(&ct),
                body,
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(app.client.get("/brand/logo").await.status, 404);
        assert!(!app.client.get("/").await.body.contains("/brand/logo"));
    }
);
