//! The real binary, logging at debug level, through a whole flow: no name, e-mail, phone or
//! free text of the subject may appear in its logs.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_carry_no_personal_data() {
    let dir =
        std::env::temp_dir().join(format!("madoguchi-logs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let env = [
        ("MADOGUCHI_DATA_DIR", dir.display().to_string()),
        ("MADOGUCHI_LISTEN", format!("127.0.0.1:{port}")),
        (
            "MADOGUCHI_SECRET",
            "log-test-secret-log-test-secret-log-test".to_owned(),
        ),
        ("RUST_LOG", "debug".to_owned()),
        // The date of birth is asked for and the customer-record lookup runs.
        (
            "MADOGUCHI_IDENTITY_DISCLOSURE",
            "customer_record".to_owned(),
        ),
    ];
    let exe = env!("CARGO_BIN_EXE_madoguchi");
    let mut child = Command::new(exe)
        .arg("serve")
        .envs(env.iter().cloned())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let client = Client::new(addr);
    let mut ready = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok()
            && client.get("/readyz").await.status == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the server started");

    let birth_date = "1987-06-05";
    let (name, kana, email, phone, details) = (
        "漏洩確認 太郎",
        "ロウエイカクニン タロウ",
        "leak-canary@example.jp",
        "03-9999-8888",
        "CANARY-FREE-TEXT-42",
    );
    let form = client.get("/?kind=disclosure").await;
    let res = client
        .post_form(
            "/requests",
            &[
                ("csrf", &form.csrf()),
                ("kind", "disclosure"),
                ("requester", "subject"),
                ("subject_name", name),
                ("subject_kana", kana),
                ("email", email),
                ("phone", phone),
                ("date_of_birth", birth_date),
                ("delivery", "electronic"),
                ("details", details),
                ("consent", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // A bad submission too: validation errors must not be logged with their values.
    let bad = client
        .post_form(
            "/requests",
            &[
                ("csrf", &form.csrf()),
                ("email", "leak-canary@@example.jp"),
                ("subject_name", name),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    // Follow the confirmation link from the mail file.
    let mut link = None;
    for _ in 0..100 {
        let found = std::fs::read_dir(dir.join("mail"))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .find_map(|e| {
                let raw = std::fs::read_to_string(e.path()).ok()?;
                raw.contains("leak-canary").then_some(raw)
            });
        if let Some(raw) = found {
            use base64::Engine;
            let body: String = raw
                .split("\r\n\r\n")
                .nth(2)
                .unwrap_or("")
                .lines()
                .take_while(|l| !l.starts_with("--"))
                .collect();
            let text = String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(body.trim())
                    .unwrap_or_default(),
            )
            .unwrap_or_default();
            link = text
                .split_whitespace()
                .find(|w| w.contains("/confirm/"))
                .map(|u| format!("/confirm/{}", u.rsplit('/').next().unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link = link.expect("a confirmation mail");
    let page = client.get(&link).await;
    assert_eq!(
        client
            .post_form(&link, &[("csrf", &page.csrf())])
            .await
            .status,
        303
    );
    // Staff read the request (a view of personal data).
    let out = Command::new(exe)
        .args([
            "user",
            "add",
            "--email",
            "officer-log@example.jp",
            "--role",
            "officer",
        ])
        .envs(env.iter().cloned())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("one-time password: "))
        .unwrap()
        .trim()
        .to_owned();
    let staff = client.fresh();
    assert_eq!(
        staff
            .post_login(&[("email", "officer-log@example.jp"), ("password", &password)])
            .await
            .status,
        303
    );
    // The handed-over password is replaced first (the passwords must not reach the log either).
    let page = staff.get("/staff/account/password").await;
    let new_password = format!("{password}-mine");
    let res = staff
        .post_form(
            "/staff/account/password",
            &[
                ("csrf", page.csrf().as_str()),
                ("current_password", password.as_str()),
                ("new_password", new_password.as_str()),
                ("confirm_password", new_password.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let queue = staff.get("/staff").await;
    let detail_link = queue
        .body
        .split("href=\"/staff/requests/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let detail = staff.get(&format!("/staff/requests/{detail_link}")).await;
    assert!(detail.body.contains(email), "staff see the data");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = child.kill();
    let _ = child.wait();

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.contains("request filed"), "the flow was logged at all");
    assert!(logs.lines().count() > 20, "debug logging was on");
    for canary in [
        name,
        kana,
        email,
        "leak-canary",
        phone,
        "9999-8888",
        details,
        "漏洩確認",
        birth_date,
    ] {
        assert!(!logs.contains(canary), "`{canary}` leaked into the logs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
