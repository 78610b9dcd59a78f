//! Mail through a real SMTP server (aiosmtpd, installed by .ci/run), outages and refusals,
//! and several instances sharing one outbox.

use std::process::{Child, Command};
use std::time::Duration;

use chrono::Utc;
use madoguchi_domain::Role;
use madoguchi_mail::Sender;
use madoguchi_worker::MailWorker;

use crate::helpers::*;
use crate::on_both;

pub(crate) struct Smtpd {
    child: Child,
    pub(crate) port: u16,
    pub(crate) maildir: std::path::PathBuf,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes sure Python's aiosmtpd is importable, installing it from PyPI once if not, so the
/// README's test command works on a fresh machine.
fn ensure_aiosmtpd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let importable = || {
            Command::new("python3")
                .args(["-c", "import aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !importable() {
            let _ = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "aiosmtpd",
                ])
                .status();
        }
        assert!(
            importable(),
            "the mail tests need Python's aiosmtpd: pip install aiosmtpd"
        );
    });
}

/// aiosmtpd writing every message into a maildir.
pub(crate) async fn smtpd(port: u16) -> Smtpd {
    ensure_aiosmtpd();
    let maildir =
        std::env::temp_dir().join(format!("madoguchi-smtpd-{}", uuid::Uuid::new_v4().simple()));
    let child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&maildir)
        .spawn()
        .expect("python3 with aiosmtpd (pip install aiosmtpd; .ci/run installs it)");
    // Owned at once, so the process is reaped even if the wait below fails.
    let server = Smtpd {
        child,
        port,
        maildir,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);
    panic!("aiosmtpd did not start; is it installed (pip install aiosmtpd)?");
}

pub(crate) fn maildir_messages(dir: &std::path::Path) -> Vec<String> {
    let new = dir.join("new");
    std::fs::read_dir(new)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| std::fs::read_to_string(e.path()).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn worker(app: &TestApp, port: u16) -> MailWorker {
    let sender = Sender::smtp(&format!("smtp://127.0.0.1:{port}")).unwrap();
    MailWorker::new(app.service.clone(), sender)
}

/// Delivers what is queued, then stops the app's own file-writing worker so that the
/// workers under test are the only ones.
/// The `mail` chain's entries, oldest first, after checking that the whole trail verifies and
/// that no entry names an address or quotes the transport's error.
async fn mail_trail(app: &TestApp) -> Vec<madoguchi_store::entities::audit_entry::Model> {
    let verdict = madoguchi_store::audit::verify(app.service.db().conn())
        .await
        .unwrap();
    assert!(verdict.is_ok(), "{verdict:?}");
    let mut entries = app
        .service
        .audit_trail(&madoguchi_service::audit_jobs::TrailFilter {
            action: Some("mail.".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    entries.reverse();
    for e in &entries {
        assert_eq!(e.chain, madoguchi_store::outbox::MAIL_CHAIN);
        assert_eq!(e.actor_kind, "system");
        assert!(
            !e.detail.contains('@'),
            "no address in the trail: {}",
            e.detail
        );
        assert!(!e.detail.contains("550"), "no transport error in the trail");
    }
    entries
}

fn actions(entries: &[madoguchi_store::entities::audit_entry::Model]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

async fn quiet_outbox(app: &TestApp) {
    app.deliver_mail().await;
    app.halt().await;
}

on_both!(
    mail_reaches_a_real_smtp_server_with_japanese_headers_intact,
    |app: TestApp| async move {
        let server = smtpd(free_port()).await;
        quiet_outbox(&app).await;
        let w = worker(&app, server.port);
        let input: madoguchi_web::intake::IntakeInput =
            serde_json::from_value(valid_json("smtp@example.jp")).unwrap();
        let new = input
            .parse(
                madoguchi_service::Channel::Api,
                &app.service.config().policy,
                madoguchi_domain::jst_date(Utc::now()),
            )
            .unwrap();
        let before = mail_trail(&app).await.len();
        let filed = app
            .service
            .file_request(new, &Default::default(), Utc::now())
            .await
            .unwrap();
        assert_eq!(w.drain().await.unwrap(), 1);
        let trail = mail_trail(&app).await;
        let sent = &trail[before..];
        assert_eq!(
            actions(sent),
            ["mail.sent"],
            "every delivery is on the trail"
        );
        let row = app.request(filed.pid).await;
        assert_eq!(
            sent[0].request_id,
            Some(row.id),
            "found by the request filter"
        );
        assert!(
            sent[0].detail.contains("\"template\":\"confirm_address\""),
            "{}",
            sent[0].detail
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let all = maildir_messages(&server.maildir);
        assert_eq!(all.len(), 1, "aiosmtpd received the mail");
        let raw = &all[0];
        assert!(raw.contains("To: smtp@example.jp"));
        assert!(raw.contains("Message-ID: <"));
        let subject: String = raw
            .split("\nSubject: ")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| !l.contains(": ") || l.starts_with(' '))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            subject.contains("=?utf-8?b?"),
            "RFC 2047 encoded: {subject}"
        );
        let decoded: String = subject
            .split_whitespace()
            .map(|w| {
                match w
                    .strip_prefix("=?utf-8?b?")
                    .and_then(|w| w.strip_suffix("?="))
                {
                    Some(b) => {
                        use base64::Engine;
                        String::from_utf8(
                            base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
                        )
                        .unwrap()
                    }
                    None => w.to_owned(),
                }
            })
            .collect();
        assert!(
            decoded.contains("開示等のご請求を受け付けました"),
            "{decoded}"
        );
        assert!(raw.contains("multipart/alternative"));
    }
);

on_both!(
    an_smtp_outage_is_retried_and_nothing_is_lost,
    |app: TestApp| async move {
        quiet_outbox(&app).await;
        let port = free_port();
        let w = worker(&app, port);
        for i in 0..3 {
            madoguchi_store::change::commit_office_mail(
                app.service.db(),
                app.service.cipher(),
                vec![madoguchi_store::outbox::NewMessage {
                    request_id: None,
                    recipient: format!("down{i}@example.jp"),
                    lang: madoguchi_domain::Lang::Ja,
                    template: "staff_new_request".into(),
                    context: serde_json::to_value(madoguchi_mail::sample("ja")).unwrap(),
                    by_post: false,
                }],
                "madoguchi.test",
                Utc::now(),
            )
            .await
            .unwrap();
        }
        let before = mail_trail(&app).await.len();
        let claimed = w.deliver_batch(Utc::now()).await.unwrap();
        assert_eq!(claimed, 3);
        assert_eq!(
            actions(&mail_trail(&app).await[before..]),
            ["mail.retrying"; 3]
        );
        let db = app.service.db().conn();
        use sea_orm::EntityTrait;
        // Recipients are sealed at rest: open every row, then pick.
        let rows: Vec<_> = madoguchi_store::entities::outbox::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| app.service.cipher().open_message(r).unwrap())
            .filter(|r| r.recipient.starts_with("down"))
            .collect();
        let retrying: Vec<_> = rows
            .iter()
            .filter(|r| r.status == "pending" && r.last_error.is_some())
            .collect();
        assert_eq!(
            retrying.len(),
            claimed,
            "every message the SMTP worker claimed waits for a retry"
        );
        assert!(
            retrying.iter().all(|r| r.next_attempt_at > Utc::now()),
            "with a backoff"
        );
        let server = smtpd(port).await;
        app.sql("UPDATE outbox SET next_attempt_at = created_at WHERE status = 'pending'")
            .await;
        w.drain().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Recipients are sealed at rest: open every row, then pick.
        let rows: Vec<_> = madoguchi_store::entities::outbox::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| app.service.cipher().open_message(r).unwrap())
            .filter(|r| r.recipient.starts_with("down"))
            .collect();
        assert!(rows.iter().all(|r| r.status == "sent"), "{rows:?}");
        assert_eq!(maildir_messages(&server.maildir).len(), claimed);
        assert_eq!(
            actions(&mail_trail(&app).await[before..]),
            [
                "mail.retrying",
                "mail.retrying",
                "mail.retrying",
                "mail.sent",
                "mail.sent",
                "mail.sent"
            ]
        );
    }
);

/// An SMTP server that refuses every recipient with 550.
async fn refusing_smtp() -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 refuser ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let u = line.to_ascii_uppercase();
                    let reply: &[u8] = if u.starts_with("EHLO") {
                        b"250 refuser\r\n"
                    } else if u.starts_with("RCPT") {
                        b"550 5.1.1 no such user\r\n"
                    } else if u.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    port
}

on_both!(
    a_refused_recipient_fails_visibly_and_can_be_retried,
    |app: TestApp| async move {
        // Staff see failures on the mail page while the app runs: a message that cannot even be
        // built fails at once in the app's own worker.
        madoguchi_store::change::commit_office_mail(
            app.service.db(),
            app.service.cipher(),
            vec![madoguchi_store::outbox::NewMessage {
                request_id: None,
                recipient: "broken@example.jp".into(),
                lang: madoguchi_domain::Lang::Ja,
                template: "no_such_template".into(),
                context: serde_json::json!({}),
                by_post: false,
            }],
            "madoguchi.test",
            Utc::now(),
        )
        .await
        .unwrap();
        app.deliver_mail().await;
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/mail").await;
        assert!(
            page.body.contains("broken@example.jp"),
            "the failure is visible"
        );
        assert!(page.body.contains("unknown template"));
        let id = madoguchi_store::outbox::failed(app.service.db().conn(), app.service.cipher())
            .await
            .unwrap()[0]
            .id;
        let res = admin
            .post_form(
                &format!("/staff/admin/mail/{id}/retry"),
                &[("csrf", &page.csrf())],
            )
            .await;
        assert_eq!(res.status, 303);
        app.deliver_mail().await;
        app.sql("DELETE FROM outbox WHERE template = 'no_such_template'")
            .await;
        // Then a real SMTP refusal, with the app's worker out of the way.
        quiet_outbox(&app).await;
        let port = refusing_smtp().await;
        let w = worker(&app, port);
        madoguchi_store::change::commit_office_mail(
            app.service.db(),
            app.service.cipher(),
            vec![madoguchi_store::outbox::NewMessage {
                request_id: None,
                recipient: "nobody@example.jp".into(),
                lang: madoguchi_domain::Lang::Ja,
                template: "staff_new_request".into(),
                context: serde_json::to_value(madoguchi_mail::sample("ja")).unwrap(),
                by_post: false,
            }],
            "madoguchi.test",
            Utc::now(),
        )
        .await
        .unwrap();
        let before = mail_trail(&app).await.len();
        assert_eq!(w.deliver_batch(Utc::now()).await.unwrap(), 1);
        assert_eq!(actions(&mail_trail(&app).await[before..]), ["mail.failed"]);
        let failed = madoguchi_store::outbox::failed(app.service.db().conn(), app.service.cipher())
            .await
            .unwrap();
        assert_eq!(
            failed.len(),
            1,
            "a permanent refusal is not retried for ever"
        );
        assert!(
            failed[0]
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("550")
        );
        assert!(
            madoguchi_store::outbox::retry_failed(
                app.service.db().conn(),
                failed[0].id,
                Utc::now()
            )
            .await
            .unwrap()
        );
        assert!(
            madoguchi_store::outbox::failed(app.service.db().conn(), app.service.cipher())
                .await
                .unwrap()
                .is_empty(),
            "retried by hand"
        );
    }
);

on_both!(
    two_instances_deliver_a_thousand_messages_exactly_once,
    |app: TestApp| async move {
        quiet_outbox(&app).await;
        let messages: Vec<_> = (0..1000)
            .map(|i| madoguchi_store::outbox::NewMessage {
                request_id: None,
                recipient: format!("many{i}@example.jp"),
                lang: madoguchi_domain::Lang::Ja,
                template: "staff_new_request".into(),
                context: serde_json::to_value(madoguchi_mail::sample("ja")).unwrap(),
                by_post: false,
            })
            .collect();
        for chunk in messages.chunks(200) {
            madoguchi_store::change::commit_office_mail(
                app.service.db(),
                app.service.cipher(),
                chunk.to_vec(),
                "madoguchi.test",
                Utc::now(),
            )
            .await
            .unwrap();
        }
        // Three instances (own pools, own mail directories) against the same database.
        let mut dirs = Vec::new();
        let mut tasks = Vec::new();
        for n in 0..3 {
            let service = madoguchi::Application::build_offline(app_config(&app))
                .await
                .unwrap();
            let dir = std::env::temp_dir().join(format!(
                "madoguchi-instance-{n}-{}",
                uuid::Uuid::new_v4().simple()
            ));
            dirs.push(dir.clone());
            let w = MailWorker::new(service, Sender::Files(dir));
            tasks.push(tokio::spawn(async move { w.drain().await.unwrap() }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut seen = std::collections::HashMap::new();
        for dir in &dirs {
            for e in std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
            {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".eml")
                    && std::fs::read_to_string(e.path()).unwrap().contains("many")
                {
                    *seen.entry(name).or_insert(0) += 1;
                }
            }
        }
        assert_eq!(seen.len(), 1000, "every message delivered");
        assert!(seen.values().all(|n| *n == 1), "none delivered twice");
    }
);

on_both!(
    timers_fire_once_across_instances,
    |app: TestApp| async move {
        let mut pids = Vec::new();
        for i in 0..10 {
            pids.push(file_via_api(&app, &format!("timer{i}@example.jp")).await);
        }
        let later = Utc::now() + chrono::Duration::hours(73);
        let other = madoguchi::Application::build_offline(app_config(&app))
            .await
            .unwrap();
        let a = app.service.clone();
        let (x, y) = tokio::join!(a.expire_due(later), other.expire_due(later));
        assert_eq!(
            x.unwrap() + y.unwrap(),
            10,
            "each request expired exactly once"
        );
        for pid in pids {
            let actions = app.audit_actions(pid).await;
            assert_eq!(actions.iter().filter(|a| *a == "request.expire").count(), 1);
        }
        app.verify_audit().await;
    }
);
