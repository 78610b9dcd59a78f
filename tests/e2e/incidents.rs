//! The incident register (issue 19, APPI Art. 26): an officer records a breach, the rules say
//! whether and by when it is reported, the 速報 and 確報 are recorded once each, the report's
//! draft is laid out item by item, everything is on the `incidents` trail without the report's
//! words, which are sealed at rest.

use hyper::Method;
use madoguchi_domain::Role;

use crate::helpers::*;
use crate::on_both;

fn facts<'a>(csrf: &'a str, people: &'a str, unlawful: bool) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("csrf", csrf),
        ("aware_on", "2026年11月20日"),
        ("people", people),
        (
            "item_summary",
            "顧客名簿のファイルが外部から閲覧可能な状態になっていた。",
        ),
        ("item_cause", "ストレージの公開設定の誤り"),
    ];
    if unlawful {
        f.push(("unlawful_intent", "1"));
    }
    f
}

fn pid_of(location: &str) -> String {
    location.trim_start_matches("/staff/incidents/").to_owned()
}

on_both!(
    a_breach_is_assessed_reported_twice_and_drafted,
    |app: TestApp| async move {
        let officer = staff_client(&app, Role::Officer).await;
        let form = officer.get("/staff/incidents/new").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf();
        // A day of awareness that is not a date is refused, naming the field.
        let mut bad = facts(&csrf, "1,200", true);
        bad[1] = ("aware_on", "先週");
        let res = officer.post_form("/staff/incidents", &bad).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body.contains("知った日: 2026年12月1日のように"),
            "{}",
            res.body
        );
        assert!(
            res.body.contains("顧客名簿のファイル"),
            "what was typed stays"
        );

        // 1,200 people, an unlawful purpose suspected: reportable under 7(3) and 7(4).
        let res = officer
            .post_form("/staff/incidents", &facts(&csrf, "1,200", true))
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let pid = pid_of(res.header("location"));
        let page = officer.get(&format!("/staff/incidents/{pid}")).await;
        assert_eq!(page.status, 200);
        for shown in [
            "個人情報保護委員会への報告が必要です",
            "不正の目的をもって行われたおそれがある（規則第7条第3号）",
            "本人の数が1,000人を超える（規則第7条第4号）",
            // Aware 20 November (day 1): 速報 aimed at day 3, due day 5; 確報 day 60.
            "2026年11月22日",
            "2026年11月24日",
            "2027年1月18日",
        ] {
            assert!(page.body.contains(shown), "{shown}: {}", page.body);
        }
        // Overdue (today is after 24 November) in the register.
        let list = officer.get("/staff/incidents").await;
        assert!(
            list.body
                .contains("<span class=\"badge overdue\">速報: 2026年11月24日まで</span>"),
            "{}",
            list.body
        );

        // The dashboard counts it, and the office's daily digest lists it (number, report,
        // day; nothing of what happened).
        let dashboard = officer.get("/staff/dashboard").await;
        assert!(
            dashboard.body.contains("漏えい等の報告期限が2日以内・超過（法第26条）</a> <strong class=\"overdue\">1</strong>"),
            "{}",
            dashboard.body
        );
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
        let number = list.body[list.body.find("I-20").unwrap()..][..11].to_owned();
        assert!(
            digest.text.contains(&format!(
                "{number}  速報 / preliminary  2026年11月24日  期限超過 / overdue"
            )),
            "{}",
            digest.text
        );
        assert!(!digest.text.contains("顧客名簿"));

        // The 確報 cannot come before the 速報.
        let csrf = page.csrf();
        let report = |stage: &'static str,
                      on: &'static str,
                      reference: &'static str,
                      version: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("version", version.to_owned()),
                ("stage", stage.to_owned()),
                ("reported_on", on.to_owned()),
                ("reference", reference.to_owned()),
            ]
        };
        let send = |fields: Vec<(&'static str, String)>| {
            let officer = &officer;
            let pid = pid.clone();
            async move {
                let pairs: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                officer
                    .post_form(&format!("/staff/incidents/{pid}/reports"), &pairs)
                    .await
            }
        };
        let res = send(report("final", "2026/11/25", "PPC-F", "1")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(res.body.contains("先に速報を記録してください。"));
        // A day before awareness is refused.
        let res = send(report("preliminary", "2026/11/19", "PPC-0001", "1")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        let res = send(report("preliminary", "2026/11/22", "PPC-0001", "1")).await;
        assert_eq!(res.status, 303, "{}", res.body);
        // The same page sent twice (a double click) is a conflict, not a second record.
        let res = send(report("preliminary", "2026/11/22", "PPC-0001", "1")).await;
        assert_eq!(res.status, 409, "{}", res.body);
        assert!(
            res.body.contains("この報告は既に記録されています。"),
            "{}",
            res.body
        );
        // A reference is what goes on the trail: no words that could name a person.
        let res = send(report("final", "2026/11/30", "山田様へ連絡済み", "2")).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body.contains("受付番号等: 英数字と記号"),
            "{}",
            res.body
        );
        assert!(
            res.body.contains("value=\"山田様へ連絡済み\""),
            "the words typed stay"
        );
        let page = officer.get(&format!("/staff/incidents/{pid}")).await;
        assert!(
            page.body.contains("報告済み: 2026年11月22日（PPC-0001）"),
            "{}",
            page.body
        );
        let list = officer.get("/staff/incidents").await;
        assert!(
            list.body.contains("確報: 2027年1月18日まで"),
            "{}",
            list.body
        );

        // The draft, item by item, the number of people from the register.
        let draft = officer.get(&format!("/staff/incidents/{pid}/report")).await;
        assert_eq!(draft.status, 200);
        for shown in [
            "1. 概要</th><td class=\"pre\">顧客名簿のファイルが外部から閲覧可能な状態になっていた。",
            "3. 漏えい等が発生し、又は発生したおそれがある個人データに係る本人の数</th><td class=\"pre\">1200人（判明分または推定）",
            "4. 原因</th><td class=\"pre\">ストレージの公開設定の誤り",
            "9. その他参考となる事項</th><td class=\"pre\">（未記入）",
        ] {
            assert!(draft.body.contains(shown), "{shown}: {}", draft.body);
        }

        // On the trail: the rules and dates, never the report's words.
        let trail = app
            .service
            .audit_trail(&madoguchi_service::TrailFilter {
                action: Some("incident.".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["incident.preliminary_reported", "incident.opened"]
        );
        let opened = &trail[1].detail;
        assert!(
            opened.contains("7(3),7(4)") && opened.contains("commission"),
            "{opened}"
        );
        assert!(opened.contains("2027-01-18"), "{opened}");
        assert!(trail.iter().all(|e| !e.detail.contains("顧客名簿")));
        app.verify_audit().await;
        // Sealed at rest.
        use sea_orm::EntityTrait;
        let rows = madoguchi_store::entities::incident::Entity::find()
            .all(app.service.db().conn())
            .await
            .unwrap();
        assert!(rows[0].report.starts_with("sealed:v1:"));
        assert!(!rows[0].report.contains("顧客名簿"));

        // An auditor reads it and changes nothing.
        let auditor = staff_client(&app, Role::Auditor).await;
        assert_eq!(
            auditor.get(&format!("/staff/incidents/{pid}")).await.status,
            200
        );
        let page = auditor.get(&format!("/staff/incidents/{pid}")).await;
        let res = auditor
            .post_form(
                &format!("/staff/incidents/{pid}/reports"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", "2"),
                    ("stage", "final"),
                    ("reported_on", "2026/11/30"),
                    ("reference", "x"),
                ],
            )
            .await;
        assert_eq!(res.status, 403);
    }
);

on_both!(
    a_small_mistake_is_recorded_and_a_processor_tells_its_entruster,
    |app: TestApp| async move {
        let officer = staff_client(&app, Role::Officer).await;
        let csrf = officer.get("/staff/incidents/new").await.csrf();
        // Twelve people, nothing else: on record, not reported.
        let res = officer
            .post_form("/staff/incidents", &facts(&csrf, "12", false))
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let pid = pid_of(res.header("location"));
        let page = officer.get(&format!("/staff/incidents/{pid}")).await;
        assert!(
            page.body
                .contains("報告対象の事態に当たりません（記録は残します）")
        );
        // The day comes back in a shape the form reads, in either language.
        assert!(page.body.contains("value=\"2026/11/20\""), "{}", page.body);
        let english = officer
            .get(&format!("/staff/incidents/{pid}?lang=en"))
            .await;
        assert!(english.body.contains("value=\"2026/11/20\""));
        let res = officer
            .post_form(
                &format!("/staff/incidents/{pid}/reports"),
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("stage", "preliminary"),
                    ("reported_on", "2026/11/21"),
                    ("reference", "x"),
                ],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(res.body.contains("この事態は報告の対象ではありません。"));
        // Updated with what was learnt later: card numbers were in it, and the data was
        // handled for another business, which is told (and reports).
        let mut update = facts(&csrf, "12", false);
        update.push(("version", "1"));
        update.push(("financial_risk", "1"));
        update.push(("entrusted_by", "株式会社アスター"));
        let res = officer
            .post_form(&format!("/staff/incidents/{pid}"), &update)
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = officer.get(&format!("/staff/incidents/{pid}")).await;
        assert!(
            page.body
                .contains("委託元（株式会社アスター）への通知が必要です"),
            "{}",
            page.body
        );
        assert!(
            !page.body.contains("確報の期限"),
            "the processor's duty ends with the notice"
        );
        // A second officer's update from the page read before is refused as stale.
        let res = officer
            .post_form(&format!("/staff/incidents/{pid}"), &update)
            .await;
        assert_eq!(res.status, 409, "{}", res.body);
        assert!(
            res.body.contains("他の担当者が先に更新しました。"),
            "{}",
            res.body
        );
        // What was typed stays, under the version posted: sending it again is refused
        // again, never an overwrite of the colleague's change.
        assert!(
            res.body.contains("name=\"version\" value=\"1\""),
            "{}",
            res.body
        );
        assert!(res.body.contains("value=\"株式会社アスター\""));
        // Full-width digits are read; a number no incident could name is refused in words.
        let mut update = facts(&csrf, "１，２００", false);
        update.push(("version", "2"));
        let res = officer
            .post_form(&format!("/staff/incidents/{pid}"), &update)
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let mut update = facts(&csrf, "5000000000", false);
        update.push(("version", "3"));
        let res = officer
            .post_form(&format!("/staff/incidents/{pid}"), &update)
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body
                .contains("本人の数: 0から1億までの数で入力してください")
        );
        // Nine items at their longest are taken whole (the form has a limit of its own).
        let long = "漏".repeat(4000);
        let keys: Vec<String> = [
            "summary",
            "items",
            "people",
            "cause",
            "secondary",
            "response",
            "publication",
            "prevention",
            "other",
        ]
        .iter()
        .map(|k| format!("item_{k}"))
        .collect();
        let mut full: Vec<(&str, &str)> = vec![
            ("csrf", &csrf),
            ("aware_on", "2026/11/20"),
            ("people", "1200"),
            ("version", "3"),
        ];
        for k in &keys {
            full.push((k.as_str(), long.as_str()));
        }
        let res = officer
            .post_form(&format!("/staff/incidents/{pid}"), &full)
            .await;
        assert_eq!(res.status, 303, "{}", &res.body[..res.body.len().min(500)]);
        let stored = app.service.incident(pid.parse().unwrap()).await.unwrap();
        assert_eq!(
            stored
                .incident
                .report
                .get("other")
                .map(|t| t.chars().count()),
            Some(4000)
        );
    }
);

on_both!(
    a_report_due_within_two_days_is_warned_and_one_further_off_is_not,
    |app: TestApp| async move {
        // Written from today's date in Japan: aware today (day 1), the 速報 is due on day 5,
        // four days on (not yet warned); aware two days ago, today is day 3 and it is due in
        // two (warned, not late).
        let today = madoguchi_domain::jst_date(chrono::Utc::now());
        let officer = staff_client(&app, Role::Officer).await;
        let csrf = officer.get("/staff/incidents/new").await.csrf();
        for aware in [today, today - chrono::Duration::days(2)] {
            let day = aware.format("%Y/%m/%d").to_string();
            let res = officer
                .post_form(
                    "/staff/incidents",
                    &[
                        ("csrf", &csrf),
                        ("aware_on", &day),
                        ("people", "1"),
                        ("special_care", "1"),
                    ],
                )
                .await;
            assert_eq!(res.status, 303, "{}", res.body);
        }
        let dashboard = officer.get("/staff/dashboard").await;
        assert!(
            dashboard
                .body
                .contains("漏えい等の報告期限が2日以内・超過（法第26条）</a> <strong class=\"overdue\">1</strong>"),
            "{}",
            dashboard.body
        );
        let list = officer.get("/staff/incidents").await;
        assert_eq!(list.body.matches("badge soon").count(), 1, "{}", list.body);
        assert_eq!(list.body.matches("badge ok").count(), 1, "{}", list.body);
    }
);

/// The people an incident involves are imported all or none, told by mail or by letter with
/// the items the rules require, a mail that bounces is shown with who it was for, the letters
/// are printed and recorded as posted, and the publication made instead is recorded.
async fn a_notice_run(backend: Backend) {
    let port = picky_smtp("bounce").await;
    let url = format!("smtp://127.0.0.1:{port}");
    let Some(app) = (match backend {
        Backend::Sqlite => {
            Some(TestApp::spawn_with(backend, &[("MADOGUCHI_SMTP_URL", &url)]).await)
        }
        Backend::Postgres => TestApp::spawn_postgres_with(&[("MADOGUCHI_SMTP_URL", &url)]).await,
    }) else {
        return;
    };
    let officer = staff_client(&app, Role::Officer).await;
    let csrf = officer.get("/staff/incidents/new").await.csrf();
    let mut f = facts(&csrf, "3", false);
    f.push(("special_care", "1"));
    let res = officer.post_form("/staff/incidents", &f).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let pid = pid_of(res.header("location"));
    let page = officer.get(&format!("/staff/incidents/{pid}")).await;
    assert!(
        page.body
            .contains("報告対象の事態のため、本人への通知が必要です")
    );
    let csrf = page.csrf();
    let import = |csv: &'static str, version: &'static str| {
        let officer = officer.clone();
        let csrf = csrf.clone();
        let pid = pid.clone();
        async move {
            let (ct, body) = multipart_named(
                &[("csrf", csrf.as_str()), ("version", version)],
                &[("files", "people.csv", csv.as_bytes())],
            );
            officer
                .send(
                    Method::POST,
                    &format!("/staff/incidents/{pid}/people"),
                    Some(&ct),
                    body,
                )
                .await
        }
    };
    // A wrong header, then a line without any address: nothing is imported, each line named.
    let res = import("氏名,メール\n山田,a@example.jp\n", "1").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body
            .contains("1行目の見出しは name,email,postal_address としてください"),
        "{}",
        &res.body[res.body.find("<main").unwrap_or(0)..]
    );
    let res = import(
        "name,email,postal_address\n山田 花子,ok@example.jp,\n住所 なし,,\n",
        "1",
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body
            .contains("行3: email か postal_address のどちらかが必要です"),
        "{}",
        res.body
    );
    assert!(
        !res.body.contains("住所 なし"),
        "a line's content is not echoed"
    );
    let stored = app.service.incident(pid.parse().unwrap()).await.unwrap();
    assert!(
        app.service
            .incident_people(stored.incident.row.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Three people: one by mail, one whose mail bounces (a letter can follow: the address
    // is known), one by letter.
    const PEOPLE: &str = "name,email,postal_address\n山田 花子,ok@example.jp,\n\"鈴木, 一郎\",bounce@example.jp,〒530-0001 大阪府大阪市北区梅田1-1\n郵便 次郎,,〒100-0001 東京都千代田区千代田1-1\n";
    let res = import(PEOPLE, "1").await;
    assert_eq!(res.status, 303, "{}", res.body);
    // The same file again: refused by line, nobody imported twice.
    let res = import(PEOPLE, "2").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body.contains("行2: 同じ方が既に取り込まれているか"),
        "{}",
        res.body
    );
    assert_eq!(
        app.service
            .incident_people(stored.incident.row.id)
            .await
            .unwrap()
            .len(),
        3
    );
    let page = officer.get(&format!("/staff/incidents/{pid}")).await;
    assert!(
        page.body.contains("未通知の方に通知する（3人）"),
        "{}",
        page.body
    );
    // The report lacks the data items and the secondary damage: no notice can go yet.
    assert!(page.body.contains("通知の前に報告事項へ記入が必要な項目: 漏えい等が発生し、又は発生したおそれがある個人データの項目、二次被害又はそのおそれの有無及びその内容"), "{}", page.body);
    let res = officer
        .post_form(
            &format!("/staff/incidents/{pid}/notices"),
            &[("csrf", &csrf), ("version", "2")],
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body
            .contains("通知には、報告事項の「概要」「個人データの項目」「原因」")
    );
    let mut full = facts(&csrf, "3", false);
    full.push(("special_care", "1"));
    full.push(("version", "2"));
    full.push(("item_items", "氏名、健康診断の結果"));
    full.push(("item_secondary", "現時点で二次被害は確認されていません。"));
    let res = officer
        .post_form(&format!("/staff/incidents/{pid}"), &full)
        .await;
    assert_eq!(res.status, 303, "{}", res.body);

    // Sent once: the second click (the same version) is refused, and nothing more goes.
    let send = |version: &'static str| {
        let officer = officer.clone();
        let csrf = csrf.clone();
        let pid = pid.clone();
        async move {
            officer
                .post_form(
                    &format!("/staff/incidents/{pid}/notices"),
                    &[("csrf", &csrf), ("version", version)],
                )
                .await
        }
    };
    use madoguchi_store::entities::outbox;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let notices = || async {
        outbox::Entity::find()
            .filter(outbox::Column::Template.eq("incident_notice"))
            .count(app.service.db().conn())
            .await
            .unwrap()
    };
    let res = send("3").await;
    assert_eq!(res.status, 303, "{}", res.body);
    let res = send("3").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(notices().await, 3, "one notice each, once");
    app.deliver_mail().await;
    let people = app
        .service
        .incident_people(stored.incident.row.id)
        .await
        .unwrap();
    let status: Vec<(&str, madoguchi_service::incidents::NoticeStatus)> =
        people.iter().map(|p| (p.name.as_str(), p.status)).collect();
    use madoguchi_service::incidents::NoticeStatus as N;
    assert_eq!(
        status,
        [
            ("山田 花子", N::Sent),
            ("鈴木, 一郎", N::Failed),
            ("郵便 次郎", N::ToPost)
        ]
    );
    let page = officer.get(&format!("/staff/incidents/{pid}")).await;
    assert!(page.body.contains("<span class=\"badge overdue\">1</span>"));
    assert!(
        page.body
            .contains("<td>鈴木, 一郎</td><td>bounce@example.jp</td>")
    );
    assert!(page.body.contains("郵送する書面を印刷する"));
    // The one whose mail bounced is written to, their address being known.
    let res = officer
        .post_form(
            &format!("/staff/incidents/{pid}/failed-letters"),
            &[("csrf", &csrf), ("version", "4")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let people = app
        .service
        .incident_people(stored.incident.row.id)
        .await
        .unwrap();
    assert_eq!(people[1].status, N::ToPost);
    assert_eq!(notices().await, 3, "the failed mail replaced by its letter");

    // The letter carries the items the rules require, addressed to the person.
    let letters = officer
        .get(&format!("/staff/incidents/{pid}/letters"))
        .await;
    assert_eq!(letters.status, 200);
    // The items the rules require, each under its own heading, as the officer wrote them.
    for shown in [
        "〒100-0001 東京都千代田区千代田1-1",
        "郵便 次郎 様",
        "〒530-0001 大阪府大阪市北区梅田1-1",
        "鈴木, 一郎 様",
        "個人情報の漏えい等に関するお知らせとお詫び",
        "<th scope=\"row\">概要</th><td>顧客名簿のファイルが外部から閲覧可能な状態になっていた。</td>",
        "<th scope=\"row\">漏えい等が発生し、又は発生したおそれがある個人データの項目</th><td>氏名、健康診断の結果</td>",
        "<th scope=\"row\">原因</th><td>ストレージの公開設定の誤り</td>",
        "<th scope=\"row\">二次被害又はそのおそれの有無及びその内容</th><td>現時点で二次被害は確認されていません。</td>",
        "<p>拝啓</p>",
    ] {
        assert!(letters.body.contains(shown), "{shown}: {}", letters.body);
    }
    assert!(
        !letters.body.contains("ご清祥"),
        "an apology opens without the season's greeting"
    );
    // Only the letters printed are recorded as posted: one prepared after printing waits.
    let upto = {
        let marker = "name=\"upto\" value=\"";
        let at = letters.body.find(marker).unwrap() + marker.len();
        letters.body[at..at + letters.body[at..].find('"').unwrap()].to_owned()
    };
    let res = officer
        .post_form(
            &format!("/staff/incidents/{pid}/letters"),
            &[
                ("csrf", &csrf),
                ("upto", &(upto.parse::<i64>().unwrap() - 1).to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let people = app
        .service
        .incident_people(stored.incident.row.id)
        .await
        .unwrap();
    assert_eq!((people[1].status, people[2].status), (N::ToPost, N::Posted));
    let res = officer
        .post_form(
            &format!("/staff/incidents/{pid}/letters"),
            &[("csrf", &csrf), ("upto", &upto)],
        )
        .await;
    assert_eq!(res.status, 303);
    let people = app
        .service
        .incident_people(stored.incident.row.id)
        .await
        .unwrap();
    assert_eq!(people[1].status, N::Posted);

    // The one the mail did not reach is covered by publication.
    let res = officer
        .post_form(
            &format!("/staff/incidents/{pid}/published"),
            &[
                ("csrf", &csrf),
                ("version", "5"),
                ("published_on", "先週"),
                ("published_how", "当社ウェブサイト"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("value=\"当社ウェブサイト\""),
        "kept as typed"
    );
    let today = madoguchi_domain::jst_date(chrono::Utc::now());
    let res = officer
        .post_form(
            &format!("/staff/incidents/{pid}/published"),
            &[
                ("csrf", &csrf),
                ("version", "5"),
                ("published_on", &today.format("%Y/%m/%d").to_string()),
                (
                    "published_how",
                    "当社ウェブサイトのお知らせ https://example.jp/news/1",
                ),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = officer.get(&format!("/staff/incidents/{pid}")).await;
    assert!(page.body.contains("公表済み"));

    // On the trail: counts and days, never a name or an address.
    let trail = app
        .service
        .audit_trail(&madoguchi_service::TrailFilter {
            action: Some("incident.".into()),
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "incident.published",
            "incident.letters_posted",
            "incident.letters_posted",
            "incident.letters_prepared",
            "incident.notices_sent",
            "incident.updated",
            "incident.people_imported",
            "incident.opened"
        ]
    );
    let sent = &trail[4].detail;
    assert!(
        sent.contains("\"mails\":\"2\"") && sent.contains("\"letters\":\"1\""),
        "{sent}"
    );
    assert!(
        trail[3].detail.contains("\"letters\":\"1\""),
        "{}",
        trail[3].detail
    );
    for e in &trail {
        for personal in ["山田", "鈴木", "郵便", "example.jp", "千代田"] {
            assert!(!e.detail.contains(personal), "{}", e.detail);
        }
    }
    app.verify_audit().await;
    // Sealed at rest.
    let rows = madoguchi_store::entities::incident_person::Entity::find()
        .all(app.service.db().conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert!(r.name.starts_with("sealed:v1:"));
    }
    // At the end of retention (three years by default) the people and their notices go;
    // their count stays on the trail.
    assert_eq!(
        app.service
            .purge_incident_people(chrono::Utc::now())
            .await
            .unwrap(),
        0
    );
    let later = chrono::Utc::now() + chrono::Duration::days(4 * 366);
    assert_eq!(app.service.purge_incident_people(later).await.unwrap(), 3);
    assert_eq!(
        app.service.purge_incident_people(later).await.unwrap(),
        0,
        "once"
    );
    let people = app
        .service
        .incident_people(stored.incident.row.id)
        .await
        .unwrap();
    assert!(
        people
            .iter()
            .all(|p| p.erased && p.name.is_empty() && p.email.is_none())
    );
    assert_eq!(notices().await, 0);
    app.verify_audit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_run_with_a_failed_address_sqlite() {
    a_notice_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_run_with_a_failed_address_postgres() {
    a_notice_run(Backend::Postgres).await;
}

on_both!(
    a_request_on_the_breach_ground_cites_the_incident_and_its_answer_names_it,
    |app: TestApp| async move {
        let officer = staff_client(&app, Role::Officer).await;
        let csrf = officer.get("/staff/incidents/new").await.csrf();
        let mut f = facts(&csrf, "2000", false);
        f[1] = ("aware_on", "2026年11月20日");
        let res = officer.post_form("/staff/incidents", &f).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let incident = pid_of(res.header("location"));

        // A disclosure cannot cite one (not on the breach ground).
        let other = file_via_api(&app, "other@example.jp").await;
        let page = officer.get(&format!("/staff/requests/{other}")).await;
        assert!(!page.body.contains("理由とされた漏えい等の事態"));
        let res = officer
            .post_form(
                &format!("/staff/requests/{other}/incident"),
                &[("csrf", &page.csrf()), ("incident", &incident)],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);

        let mut body = valid_json("breach@example.jp");
        body["kind"] = "suspension_or_erasure".into();
        body["ground"] = "reportable_breach".into();
        let res = app.client.post_json("/api/v1/requests", &body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
        crate::answers::bring_in_progress(&app, pid, "breach@example.jp").await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(
            page.body
                .contains("理由とされた漏えい等の事態（法第35条第5項）")
        );
        let number = format!(
            "I-{}-0001",
            madoguchi_domain::jst_date(chrono::Utc::now()).format("%Y")
        );
        assert!(
            page.body.contains(&format!(
                "<option value=\"{incident}\">{number}（2026年11月20日）</option>"
            )),
            "{}",
            page.body
        );
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/incident"),
                &[("csrf", &page.csrf()), ("incident", &incident)],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains(&format!(
            "<a href=\"/staff/incidents/{incident}\">{number}</a>"
        )));
        // Linked once: a second link (a colleague's stale page) is refused.
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/incident"),
                &[("csrf", &page.csrf()), ("incident", &incident)],
            )
            .await;
        assert_ne!(res.status, 303, "{}", res.body);
        assert!(trail(&app, pid).await.iter().any(|(_, action, detail)| {
            action == "request.incident_linked" && detail.contains(&number)
        }));

        // The refusal names it.
        act(
            &officer,
            &app,
            pid,
            &[
                ("event", "refuse"),
                ("grounds", "not_justified"),
                ("text", "利用停止等を行う必要がないため"),
            ],
        )
        .await;
        app.deliver_mail().await;
        let refusal = app
            .mails_to("breach@example.jp")
            .await
            .into_iter()
            .last()
            .unwrap();
        assert!(
            refusal.text.contains(&format!(
                "ご請求の理由とされた漏えい等の事態: 整理番号 {number}（2026年11月20日に当社が把握）"
            )),
            "{}",
            refusal.text
        );
        app.verify_audit().await;
    }
);

on_both!(
    a_weekend_spanning_preliminary_window_and_a_thirty_day_final_report,
    |app: TestApp| async move {
        // Aware on Friday 27 November 2026 (day 1), special-care data, no unlawful purpose:
        // the 速報 is aimed at Sunday 29 November (day 3) and due Tuesday 1 December (day 5),
        // the weekend counted and nothing moved; the 確報 is due Saturday 26 December (day 30).
        let officer = staff_client(&app, Role::Officer).await;
        let csrf = officer.get("/staff/incidents/new").await.csrf();
        let res = officer
            .post_form(
                "/staff/incidents",
                &[
                    ("csrf", &csrf),
                    ("aware_on", "2026/11/27"),
                    ("people", "1"),
                    ("special_care", "1"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let page = officer.get(res.header("location")).await;
        for (label, day) in [
            ("速報の目安（3日目）", "2026年11月29日"),
            ("速報の期限（5日目）", "2026年12月1日"),
            ("確報の期限", "2026年12月26日"),
        ] {
            let at = page.body.find(label).unwrap_or_else(|| panic!("{label}"));
            let dd = &page.body[at..at + page.body[at..].find("</dd>").unwrap()];
            assert!(dd.contains(day), "{label}: {dd}");
        }
    }
);
