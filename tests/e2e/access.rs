//! The subject's way back to their request (issue 21): the code mail's link opens the page
//! with the code typed in (the person still presses the button: fetching the link uses
//! nothing up), and once open the page stays open while it is used, up to its maximum.

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::helpers::*;
use crate::on_both;

on_both!(
    the_code_link_fills_the_code_and_a_used_session_lasts,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "return@example.jp").await;
        let browser = app.client.fresh();
        let status = browser.get(&format!("/r/{pid}")).await;
        let res = browser
            .post_form(&format!("/r/{pid}/code"), &[("csrf", &status.csrf())])
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let code = latest_code(&app, "return@example.jp").await;
        let mail = app
            .mails_to("return@example.jp")
            .await
            .into_iter()
            .rev()
            .find(|m| m.subject.contains("確認コード"))
            .unwrap();
        let link = format!("/r/{pid}/access?code={code}");
        assert!(mail.text.contains(&link), "{}", mail.text);
        // The HTML button says where it leads.
        assert!(
            mail.html.contains("確認コードを入力済みのページを開く"),
            "{}",
            mail.html
        );
        // Opening the link (as a mail scanner would) shows the code typed in, and uses
        // nothing: the code still opens the page afterwards.
        let page = browser.get(&link).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains(&format!("value=\"{code}\"")),
            "{}",
            page.body
        );
        browser.get(&link).await;
        // Only digits are typed in from a link.
        let odd = browser
            .get(&format!("/r/{pid}/access?code=12%22%3E%3Cb%3E34"))
            .await;
        assert!(odd.body.contains("value=\"1234\""), "{}", odd.body);
        let res = browser
            .post_form(
                &format!("/r/{pid}/access"),
                &[("csrf", &page.csrf()), ("code", &code)],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        // The cookie lives as long as a session may (8 hours); the server ends it sooner.
        assert!(
            res.header("set-cookie").contains("Max-Age=28800"),
            "{}",
            res.header("set-cookie")
        );
        let private = format!("/r/{pid}/private");
        assert_eq!(browser.get(&private).await.status, 200);

        use madoguchi_store::entities::subject_token as t;
        let conn = app.service.db().conn().clone();
        let session = || async {
            t::Entity::find()
                .filter(t::Column::Purpose.eq("subject_session"))
                .one(&conn)
                .await
                .unwrap()
                .unwrap()
        };
        // Twenty minutes without a visit: the next visit gives it another thirty.
        let set = |expires: chrono::DateTime<Utc>, created: chrono::DateTime<Utc>| {
            let conn = conn.clone();
            async move {
                t::Entity::update_many()
                    .col_expr(t::Column::ExpiresAt, Expr::value(expires))
                    .col_expr(t::Column::CreatedAt, Expr::value(created))
                    .filter(t::Column::Purpose.eq("subject_session"))
                    .exec(&conn)
                    .await
                    .unwrap();
            }
        };
        set(
            Utc::now() + Duration::minutes(10),
            Utc::now() - Duration::minutes(20),
        )
        .await;
        assert_eq!(browser.get(&private).await.status, 200);
        let extended = session().await.expires_at;
        assert!(extended > Utc::now() + Duration::minutes(29), "{extended}");
        // Near its eight hours it is not extended past them...
        let opened = Utc::now() - Duration::hours(8) + Duration::minutes(10);
        set(Utc::now() + Duration::minutes(2), opened).await;
        assert_eq!(browser.get(&private).await.status, 200);
        let capped = session().await.expires_at;
        assert!(
            capped <= opened + Duration::hours(8) + Duration::seconds(1),
            "{capped}"
        );
        // ...and once past, the page asks for a code again.
        set(Utc::now() - Duration::seconds(1), opened).await;
        let res = browser.get(&private).await;
        assert_ne!(res.status, 200);
    }
);
