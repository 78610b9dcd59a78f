//! `madoguchi bench`: measures the real service over loopback against SQLite (default) or the
//! PostgreSQL in `DATABASE_URL`, and prints one table. The server runs as a child process
//! (`madoguchi serve`), so its memory is its own; the bench seeds data through the store.
//! Every figure that has a physical floor is printed beside it: the same three rows
//! (request, audit entry, outbox message) inserted in one transaction, by `pgbench` on
//! PostgreSQL and by a raw insert loop through the same driver on SQLite.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use madoguchi_config::Config;
use madoguchi_store::sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
use tokio::net::TcpStream;

use crate::bench_cpu::CpuMark;

/// Sizes of the run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Requests per intake level.
    pub intake: usize,
    /// Queue sizes to seed and measure.
    pub queue_sizes: Vec<u64>,
    /// Audit entries for the verify measurement.
    pub audit_entries: u64,
    /// Messages for the outbox measurement.
    pub mails: usize,
    /// Run only this part (default: everything).
    pub only: Option<Part>,
    /// Customers in each business system (`--only connectors`).
    pub customers: u64,
}

/// A part of the bench that can be run alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// `audit verify` over `--audit-entries` generated entries, nothing else: no server, no
    /// floor.
    Audit,
    /// Intake at 1, 16 and 64 clients beside its floor, and the server's memory.
    Intake,
    /// Intake at 64 clients spread over 1, 2 and 4 instances on one PostgreSQL (needs
    /// PostgreSQL in `DATABASE_URL`).
    Instances,
    /// Connectors: one subject's data across the example systems beside the same lookups
    /// sent directly, and 100 subjects at once (needs PostgreSQL and MariaDB).
    Connectors,
}

pub(crate) struct Row {
    pub(crate) figure: String,
    pub(crate) value: String,
    pub(crate) floor: String,
}

pub(crate) fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    tx: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(addr: &str) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (tx, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn { tx })
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<String>,
        bearer: Option<&str>,
    ) -> anyhow::Result<(u16, Bytes)> {
        self.tx.ready().await?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "bench");
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = self
            .tx
            .send_request(req.body(Full::new(Bytes::from(body.unwrap_or_default())))?)
            .await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

fn intake_body(i: usize) -> String {
    serde_json::json!({
        "kind": "disclosure", "requester": "subject", "subject_name": "試験 太郎", "subject_kana": "シケン タロウ",
        "email": format!("bench{i}-{}@example.jp", Utc::now().timestamp_nanos_opt().unwrap_or(0)),
        "delivery": "electronic", "details": "ベンチマーク", "consent": true, "lang": "ja"
    })
    .to_string()
}

/// Runs `n` operations over `clients` connections; returns (ops/s, sorted latencies ms, errors).
async fn load<F, Fut>(
    addr: &str,
    clients: usize,
    n: usize,
    op: F,
) -> anyhow::Result<(f64, Vec<f64>, usize)>
where
    F: Fn(usize, Conn) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Conn, bool)> + Send,
{
    load_spread(&[addr.to_owned()], clients, n, op).await
}

/// As [`load`], the clients' connections spread round-robin over several servers.
async fn load_spread<F, Fut>(
    addrs: &[String],
    clients: usize,
    n: usize,
    op: F,
) -> anyhow::Result<(f64, Vec<f64>, usize)>
where
    F: Fn(usize, Conn) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Conn, bool)> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let conn = Conn::open(&addrs[client % addrs.len()]).await?;
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = conn;
            let mut lat = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                let (c, ok) = op(i, conn).await;
                conn = c;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    Ok((n as f64 / secs, all, errors))
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_server(exe: &Path, env: &[(String, String)]) -> anyhow::Result<(Server, Duration)> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let child = Command::new(exe)
        .arg("serve")
        .envs(env.iter().cloned())
        .env("MADOGUCHI_LISTEN", &addr)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting madoguchi serve")?;
    let server = Server {
        child,
        addr: addr.clone(),
    };
    for _ in 0..600 {
        if let Ok(mut c) = Conn::open(&addr).await
            && let Ok((200, _)) = c.call("GET", "/readyz", None, None).await
        {
            return Ok((server, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("the server did not become ready")
}

/// The floor on SQLite: the same three rows per transaction through sqlx, from `clients`
/// tasks (SQLite serialises writers, as it does for the service).
async fn sqlite_floor(url: &str, n: usize, clients: usize) -> anyhow::Result<f64> {
    let db = madoguchi_store::connect(url, 4).await?;
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (db, next) = (db.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let tx = db.begin_write().await?;
                let b = DatabaseBackend::Sqlite;
                let uid = uuid::Uuid::new_v4();
                let pid = uid.to_string();
                let row = tx
                    .query_one_raw(Statement::from_sql_and_values(
                        b,
                        "INSERT INTO requests (pid, number, kind, state, version, jurisdiction, policy, lang, channel, requester, subject_name, subject_kana, email, email_norm, details, fee, paid, identity_verified, work_started, extended, arrived_at, due_on, may_sue_from, audit_seq, audit_head, created_at, updated_at) VALUES (?, ?, 'disclosure', 'submitted', 1, 'appi', '{}', 'ja', 'api', 'subject', 'x', 'x', 'x@example.jp', 'x@example.jp', 'x', 3000, 0, 0, 0, 0, ?, '2026-12-01', '2026-12-01', 1, 'h', ?, ?) RETURNING id",
                        [uid.into(), format!("F-{pid}").into(), Utc::now().into(), Utc::now().into(), Utc::now().into()],
                    ))
                    .await?
                    .context("no id")?;
                let id: i64 = row.try_get("", "id")?;
                tx.execute_raw(Statement::from_sql_and_values(
                    b,
                    "INSERT INTO audit_entries (chain, seq, request_id, at, actor_kind, action, detail, prev_hash, hash) VALUES (?, 1, ?, ?, 'subject', 'request.filed', '{}', 'p', 'h')",
                    [format!("floor:{pid}").into(), id.into(), Utc::now().into()],
                ))
                .await?;
                tx.execute_raw(Statement::from_sql_and_values(
                    b,
                    "INSERT INTO outbox (message_id, request_id, recipient, lang, template, context, status, attempts, next_attempt_at, created_at) VALUES (?, ?, 'x@example.jp', 'ja', 'confirm_address', '{}', 'sent', 0, ?, ?)",
                    [pid.into(), id.into(), Utc::now().into(), Utc::now().into()],
                ))
                .await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

const PGBENCH_SCRIPT: &str = r"BEGIN;
INSERT INTO requests (pid, number, kind, state, version, jurisdiction, policy, lang, channel, requester, subject_name, subject_kana, email, email_norm, details, fee, paid, identity_verified, work_started, extended, arrived_at, due_on, may_sue_from, audit_seq, audit_head, created_at, updated_at) VALUES (gen_random_uuid(), 'F-' || gen_random_uuid(), 'disclosure', 'submitted', 1, 'appi', '{}', 'ja', 'api', 'subject', 'x', 'x', 'x@example.jp', 'x@example.jp', 'x', 3000, 0, false, false, false, now(), current_date, current_date, 1, 'h', now(), now()) RETURNING id \gset
INSERT INTO audit_entries (chain, seq, request_id, at, actor_kind, action, detail, prev_hash, hash) VALUES ('floor:' || gen_random_uuid(), 1, :id, now(), 'subject', 'request.filed', '{}', 'p', 'h');
INSERT INTO outbox (message_id, request_id, recipient, lang, template, context, status, attempts, next_attempt_at, created_at) VALUES (gen_random_uuid()::text, :id, 'x@example.jp', 'ja', 'confirm_address', '{}', 'sent', 0, now(), now());
END;
";

/// Intake at 64 clients spread over 1, 2 and 4 instances of the service on one PostgreSQL:
/// throughput, p99, and the CPU the instances and PostgreSQL spent per request.
async fn instances(exe: &Path, env: &[(String, String)], n: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut base = None;
    for count in [1usize, 2, 4] {
        let mut servers = Vec::new();
        for _ in 0..count {
            servers.push(start_server(exe, env).await?.0);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
        let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
        let mark = CpuMark::now(&pids);
        let (tput, lat, errors) = load_spread(&addrs, 64, n, |i, mut c| async move {
            let ok = matches!(
                c.call("POST", "/api/v1/requests", Some(intake_body(i)), None)
                    .await,
                Ok((201, _))
            );
            (c, ok)
        })
        .await?;
        let (server_us, pg_us) = mark.per_op_since(&pids, n);
        let base_tput = *base.get_or_insert(tput);
        rows.push(Row {
            figure: format!("intake, 64 clients over {count} instance(s)"),
            value: format!(
                "{tput:.0} req/s; p50 {:.1} ms, p99 {:.1} ms; {errors} errors; server CPU {server_us:.0} µs; PostgreSQL CPU {pg_us:.0} µs per request",
                pct(&lat, 0.5),
                pct(&lat, 0.99),
            ),
            floor: format!("{:.2}× one instance", tput / base_tput),
        });
    }
    Ok(rows)
}

/// What an officer's transition writes, by pgbench: the request's row (state, version, trail
/// head), its audit entry and the mail to the subject, in one transaction, on a random one of
/// the floor's requests.
const PGBENCH_TRANSITION: &str = r"\set id random(1, :maxid)
BEGIN;
UPDATE requests SET state = 'awaiting_payment', version = version + 1, identity_verified = true, audit_seq = audit_seq + 1, audit_head = md5(random()::text), updated_at = now() WHERE id = :id;
INSERT INTO audit_entries (chain, seq, request_id, at, actor_kind, action, detail, prev_hash, hash) VALUES ('floor-t:' || gen_random_uuid(), 1, :id, now(), 'staff', 'identity.approved', '{}', 'p', 'h');
INSERT INTO outbox (message_id, request_id, recipient, lang, template, context, status, attempts, next_attempt_at, created_at) VALUES (gen_random_uuid()::text, :id, 'x@example.jp', 'ja', 'payment_requested', '{}', 'sent', 0, now(), now());
END;
";

/// The transition's floor on the floor's database (the rows the intake floors left): by
/// pgbench on PostgreSQL, by the same statements through sqlx from 16 tasks on SQLite;
/// (transactions per second, transactions).
async fn transition_floor(
    url: &str,
    postgres: bool,
    dir: &Path,
    n: usize,
) -> anyhow::Result<(f64, usize)> {
    let db = madoguchi_store::connect(url, 4).await?;
    let b = db.backend();
    let max: i64 = db
        .conn()
        .query_one_raw(Statement::from_string(
            b,
            "SELECT COALESCE(MAX(id), 0) AS n FROM requests",
        ))
        .await?
        .context("max id")?
        .try_get("", "n")?;
    if max == 0 {
        bail!("the intake floor left no requests to act on");
    }
    if postgres {
        return pg_floor(
            url,
            16,
            dir,
            PGBENCH_TRANSITION,
            &[("maxid", max.to_string())],
        );
    }
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (db, next) = (db.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < n {
                let id = 1 + (uuid::Uuid::new_v4().as_u128() % max as u128) as i64;
                let uid = uuid::Uuid::new_v4().to_string();
                let tx = db.begin_write().await?;
                tx.execute_raw(Statement::from_sql_and_values(
                    b,
                    "UPDATE requests SET state = 'awaiting_payment', version = version + 1, identity_verified = 1, audit_seq = audit_seq + 1, audit_head = ?, updated_at = ? WHERE id = ?",
                    [uid.clone().into(), Utc::now().into(), id.into()],
                ))
                .await?;
                tx.execute_raw(Statement::from_sql_and_values(
                    b,
                    "INSERT INTO audit_entries (chain, seq, request_id, at, actor_kind, action, detail, prev_hash, hash) VALUES (?, 1, ?, ?, 'staff', 'identity.approved', '{}', 'p', 'h')",
                    [format!("floor-t:{uid}").into(), id.into(), Utc::now().into()],
                ))
                .await?;
                tx.execute_raw(Statement::from_sql_and_values(
                    b,
                    "INSERT INTO outbox (message_id, request_id, recipient, lang, template, context, status, attempts, next_attempt_at, created_at) VALUES (?, ?, 'x@example.jp', 'ja', 'payment_requested', '{}', 'sent', 0, ?, ?)",
                    [uid.into(), id.into(), Utc::now().into(), Utc::now().into()],
                ))
                .await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((n as f64 / started.elapsed().as_secs_f64(), n))
}

/// A floor on PostgreSQL: pgbench running `script` for 8 seconds with the variables `vars`;
/// (transactions per second, transactions).
fn pg_floor(
    url: &str,
    clients: usize,
    dir: &Path,
    script: &str,
    vars: &[(&str, String)],
) -> anyhow::Result<(f64, usize)> {
    let path = dir.join("floor.sql");
    std::fs::write(&path, script)?;
    let mut cmd = Command::new("pgbench");
    cmd.args(["-n", "-T", "8", "-c", &clients.to_string(), "-j", "2"]);
    for (k, v) in vars {
        cmd.arg("-D").arg(format!("{k}={v}"));
    }
    let out = cmd
        .arg("-f")
        .arg(&path)
        .arg(url)
        .output()
        .context("running pgbench (install postgresql-client)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str, nth: usize| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(nth))
            .map(str::to_owned)
    };
    let tps = field("tps = ", 2).and_then(|v| v.parse().ok());
    let done = field("number of transactions actually processed: ", 5).and_then(|v| v.parse().ok());
    tps.zip(done).with_context(|| {
        format!(
            "pgbench output: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A minimal SMTP sink: accepts everything, counts messages.
async fn smtp_sink() -> anyhow::Result<(u16, Arc<std::sync::atomic::AtomicUsize>)> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let c = c.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let mut data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if data {
                        if line == "." {
                            data = false;
                            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let _ = w.write_all(b"250 OK\r\n").await;
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("DATA") {
                        data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    Ok((port, count))
}

fn db_bytes_sqlite(dir: &Path) -> u64 {
    ["madoguchi.db", "madoguchi.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Runs everything and prints the table.
pub async fn run(opts: BenchOptions) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let dir: PathBuf =
        std::env::temp_dir().join(format!("madoguchi-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let admin_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    let (url, pg_name) = match &admin_url {
        Some(admin) => {
            let name = format!("madoguchi_bench_{}", uuid::Uuid::new_v4().simple());
            let conn = Database::connect(admin).await?;
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), Some(name))
        }
        None => (format!("sqlite://{}/madoguchi.db", dir.display()), None),
    };
    let backend = if pg_name.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    // Mail goes to a local SMTP sink, as in production (which refuses mail-to-files): written to
    // files, every message costs the server a file creation in one ever-growing directory.
    let (port, delivered) = smtp_sink().await?;
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), url.clone()),
        (
            "MADOGUCHI_SMTP_URL".into(),
            format!("smtp://127.0.0.1:{port}"),
        ),
        ("MADOGUCHI_DATA_DIR".into(), dir.display().to_string()),
        (
            "MADOGUCHI_SECRET".into(),
            "bench-secret-bench-secret-bench-secret-00".into(),
        ),
        ("MADOGUCHI_BASE_URL".into(), "http://bench".into()),
        // The load comes from one address.
        ("MADOGUCHI_INTAKE_PER_IP_PER_HOUR".into(), "0".into()),
    ];
    let mut vars: std::collections::BTreeMap<String, String> = env.iter().cloned().collect();
    vars.insert("MADOGUCHI_LISTEN".into(), "127.0.0.1:0".into());
    let config = Config::from_vars(&vars)?;
    let db = crate::open_database(&config).await?;
    let mut rows: Vec<Row> = Vec::new();
    if opts.only == Some(Part::Connectors) {
        rows.extend(crate::bench_connectors::run(opts.customers, 300).await?);
        let systems = "connectors on PostgreSQL, MariaDB and SQLite business systems";
        return finish(rows, systems, admin_url, pg_name, &dir).await;
    }
    if opts.only == Some(Part::Audit) {
        rows.push(audit_verify(&db, opts.audit_entries).await?);
        return finish(rows, backend, admin_url, pg_name, &dir).await;
    }
    // The floor writes rows that are not valid requests or chains: it gets its own database.
    let floor_url = match &admin_url {
        Some(admin) => {
            let name = format!("{}_floor", pg_name.as_deref().unwrap_or("madoguchi_bench"));
            let conn = Database::connect(admin).await?;
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
        None => format!("sqlite://{}/floor.db", dir.display()),
    };
    madoguchi_store::connect(&floor_url, 2)
        .await?
        .migrate()
        .await?;
    if opts.only == Some(Part::Instances) {
        if pg_name.is_none() {
            bail!("--only instances needs PostgreSQL in DATABASE_URL");
        }
        rows.extend(instances(&exe, &env, opts.intake.max(4000)).await?);
        return finish(rows, backend, admin_url, pg_name, &dir).await;
    }
    let (server, _) = start_server(&exe, &env).await?;
    let pid = server.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid);

    // Intake at 1, 16 and 64 clients, each beside its floor.
    for clients in [1usize, 16, 64] {
        let mark = CpuMark::now(&[pid]);
        let (tput, lat, errors) = load(&server.addr, clients, opts.intake, |i, mut c| async move {
            let ok = matches!(
                c.call("POST", "/api/v1/requests", Some(intake_body(i)), None)
                    .await,
                Ok((201, _))
            );
            (c, ok)
        })
        .await?;
        let (server_us, pg_us) = mark.per_op_since(&[pid], opts.intake);
        let floor_mark = CpuMark::now(&[]);
        let (floor, floor_ops) = match &pg_name {
            Some(_) => pg_floor(&floor_url, clients, &dir, PGBENCH_SCRIPT, &[])?,
            None => {
                let n = opts.intake.min(2000);
                (sqlite_floor(&floor_url, n, clients).await?, n)
            }
        };
        // pgbench's backends end as it exits; their time counts once the postmaster has them.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, floor_pg_us) = floor_mark.per_op_since(&[], floor_ops);
        let db_cpu = |us: f64| match &pg_name {
            Some(_) => format!("; PostgreSQL CPU {us:.0} µs"),
            None => String::new(),
        };
        rows.push(Row {
            figure: format!("intake, {clients} client(s)"),
            value: format!(
                "{tput:.0} req/s; p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms; {errors} errors; server CPU {server_us:.0} µs{} per request",
                pct(&lat, 0.5),
                pct(&lat, 0.9),
                pct(&lat, 0.99),
                db_cpu(pg_us),
            ),
            floor: format!(
                "{floor:.0} tx/s{} → {:.0} % of floor",
                db_cpu(floor_pg_us).replace(" µs", " µs per tx"),
                tput / floor * 100.0
            ),
        });
    }
    let after_intake = rss_kib(pid);
    if opts.only == Some(Part::Intake) {
        rows.push(Row {
            figure: "resident memory idle / after the 64-client intake".into(),
            value: format!(
                "{:.1} / {:.1} MiB",
                idle as f64 / 1024.0,
                after_intake as f64 / 1024.0
            ),
            floor: String::new(),
        });
        drop(server);
        return finish(rows, backend, admin_url, pg_name, &dir).await;
    }

    // Several instances on one PostgreSQL, each its own process, beside the one above.
    let (server, pid) = if pg_name.is_some() {
        drop(server);
        rows.extend(instances(&exe, &env, opts.intake.max(4000)).await?);
        let (server, _) = start_server(&exe, &env).await?;
        let pid = server.child.id();
        (server, pid)
    } else {
        (server, pid)
    };

    // Officer transitions through the staff API at 16 clients.
    let service = crate::Application::build_offline(config.clone()).await?;
    let (user, _) = service
        .create_staff_user(
            &format!("bench-{}@example.jp", uuid::Uuid::new_v4().simple()),
            "bench",
            madoguchi_domain::Role::Admin,
            &madoguchi_domain::Actor::System,
            &Default::default(),
            Utc::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let who = madoguchi_service::staff::StaffIdentity {
        user_id: user.id,
        pid: user.pid,
        email: user.email,
        name: user.name,
        role: madoguchi_domain::Role::Admin,
        csrf: None,
        must_change_password: false,
        totp_enabled: user.totp_enabled,
        sso: false,
    };
    let token: Arc<str> = service
        .create_api_token(
            &who,
            madoguchi_domain::Role::Admin,
            "bench",
            &Default::default(),
            Utc::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into();
    // Requests to act on: confirmed ones, straight through the service.
    let mut targets = Vec::new();
    let filed: Vec<(uuid::Uuid, i64)> = {
        use madoguchi_store::entities::request::{Column, Entity};
        use madoguchi_store::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        Entity::find()
            .select_only()
            .columns([Column::Pid, Column::Id])
            .filter(Column::State.eq("submitted"))
            .limit(opts.intake as u64)
            .into_tuple()
            .all(db.conn())
            .await?
    };
    for (pid, _) in &filed {
        let row = service
            .act(
                *pid,
                None,
                &madoguchi_domain::Event::ConfirmEmail,
                &madoguchi_domain::Actor::Subject,
                &Default::default(),
                &Default::default(),
                Utc::now(),
            )
            .await;
        if let Ok(r) = row {
            targets.push((r.pid, r.version));
        }
    }
    let targets = Arc::new(targets);
    let n = targets.len();
    let (t, tok) = (targets.clone(), token.clone());
    let mark = CpuMark::now(&[pid]);
    let (tput, lat, errors) = load(&server.addr, 16, n, move |i, mut c| {
        let (t, tok) = (t.clone(), tok.clone());
        async move {
            let (pid, version) = t[i];
            let body =
                serde_json::json!({"event": "approve_identity", "version": version}).to_string();
            let ok = matches!(
                c.call(
                    "POST",
                    &format!("/api/v1/staff/requests/{pid}/events"),
                    Some(body),
                    Some(&tok)
                )
                .await,
                Ok((200, _))
            );
            (c, ok)
        }
    })
    .await?;
    let (server_us, pg_us) = mark.per_op_since(&[pid], n);
    let floor_mark = CpuMark::now(&[]);
    let (floor, floor_ops) = transition_floor(&floor_url, pg_name.is_some(), &dir, n).await?;
    // pgbench's backends end as it exits; their time counts once the postmaster has them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, floor_pg_us) = floor_mark.per_op_since(&[], floor_ops);
    let db_cpu = |us: f64| match &pg_name {
        Some(_) => format!("; PostgreSQL CPU {us:.0} µs"),
        None => String::new(),
    };
    rows.push(Row {
        figure: "officer transition (approve identity), 16 clients".into(),
        value: format!(
            "{tput:.0} req/s; p50 {:.1} ms, p99 {:.1} ms; {errors} errors; server CPU {server_us:.0} µs{} per request",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            db_cpu(pg_us),
        ),
        floor: format!(
            "{floor:.0} tx/s{} → {:.0} % of floor",
            db_cpu(floor_pg_us).replace(" µs", " µs per tx"),
            tput / floor * 100.0
        ),
    });

    // Outbox delivery to the local SMTP sink.
    {
        let mconfig = Config::from_vars(&vars)?;
        let sender = crate::mail_sender(&mconfig)?;
        let mservice = crate::Application::build_offline(mconfig.clone()).await?;
        // A known number of fresh messages (with whatever the stopped server left unsent).
        let msgs: Vec<madoguchi_store::outbox::NewMessage> = (0..opts.mails)
            .map(|i| madoguchi_store::outbox::NewMessage {
                request_id: None,
                recipient: format!("sink{i}@example.jp"),
                lang: madoguchi_domain::Lang::Ja,
                template: "staff_new_request".into(),
                context: serde_json::json!({"lang": "ja", "number": format!("R-BENCH-{i}"), "business_name": "Bench"}),
                by_post: false,
            })
            .collect();
        drop(server);
        for chunk in msgs.chunks(500) {
            madoguchi_store::change::commit_office_mail(
                &db,
                mservice.cipher(),
                chunk.to_vec(),
                "bench",
                Utc::now(),
            )
            .await?;
        }
        let worker = madoguchi_worker::MailWorker::new(mservice, sender);
        let before = delivered.load(std::sync::atomic::Ordering::SeqCst);
        let started = Instant::now();
        worker.drain().await?;
        let sent = delivered.load(std::sync::atomic::Ordering::SeqCst) - before;
        let rate = sent as f64 / started.elapsed().as_secs_f64();
        rows.push(Row {
            figure: "outbox → local SMTP".into(),
            value: format!("{rate:.0} messages/s ({sent} delivered)"),
            floor: String::new(),
        });
    }

    let count: i64 = {
        let r = db
            .conn()
            .query_one_raw(Statement::from_string(
                db.backend(),
                "SELECT COUNT(*) AS n FROM requests",
            ))
            .await?
            .context("count")?;
        r.try_get("", "n")?
    };
    let bytes = match &pg_name {
        Some(name) => {
            let r = db
                .conn()
                .query_one_raw(Statement::from_string(
                    db.backend(),
                    format!("SELECT pg_database_size('{name}') AS n"),
                ))
                .await?
                .context("size")?;
            r.try_get::<i64>("", "n")? as u64
        }
        None => db_bytes_sqlite(&dir),
    };
    rows.push(Row {
        figure: "database bytes per request".into(),
        value: format!(
            "{} bytes ({count} requests, all tables)",
            bytes / count.max(1) as u64
        ),
        floor: String::new(),
    });
    rows.push(Row {
        figure: "resident memory, idle".into(),
        value: format!("{:.1} MiB", idle as f64 / 1024.0),
        floor: String::new(),
    });
    rows.push(Row {
        figure: "resident memory, after the 64-client intake".into(),
        value: format!("{:.1} MiB", after_intake as f64 / 1024.0),
        floor: String::new(),
    });

    // The queue at each size: seed in bulk, restart, measure start-to-ready and page latency.
    let mut seeded = count as u64;
    // Seeded rows are sealed with the server's keys, as its own rows are.
    let sealer = crate::Application::build_offline(Config::from_vars(&vars)?).await?;
    for size in &opts.queue_sizes {
        if *size > seeded {
            let now = Utc::now();
            let mut first = 10_000_000 + seeded;
            let mut left = size - seeded;
            while left > 0 {
                let n = left.min(20_000);
                let tx = db.begin_write().await?;
                madoguchi_store::seed::requests(&tx, sealer.cipher(), first, n, now).await?;
                tx.commit().await?;
                first += n;
                left -= n;
            }
            seeded = *size;
            // A database in service has statistics; one just bulk-loaded does not yet.
            let analyze = if pg_name.is_some() {
                "VACUUM ANALYZE requests"
            } else {
                "ANALYZE"
            };
            db.conn().execute_unprepared(analyze).await?;
        }
        let (server, ready) = start_server(&exe, &env).await?;
        rows.push(Row {
            figure: format!("start to ready, {size} requests"),
            value: format!("{:.0} ms", ready.as_secs_f64() * 1000.0),
            floor: String::new(),
        });
        for (label, path) in [
            (
                "default filters",
                "/api/v1/staff/requests?limit=50".to_owned(),
            ),
            (
                "state + kind filter",
                "/api/v1/staff/requests?state=in_progress&kind=correction&limit=50".to_owned(),
            ),
            (
                "search by number",
                format!("/api/v1/staff/requests?q={}", 10_000_000 + size / 2),
            ),
        ] {
            let tok = token.clone();
            let (_, lat, errors) = load(&server.addr, 4, 200, move |_, mut c| {
                let (tok, path) = (tok.clone(), path.clone());
                async move {
                    let ok = matches!(c.call("GET", &path, None, Some(&tok)).await, Ok((200, _)));
                    (c, ok)
                }
            })
            .await?;
            rows.push(Row {
                figure: format!("queue page, {label}, {size} requests"),
                value: format!(
                    "p50 {:.1} ms, p99 {:.1} ms; {errors} errors",
                    pct(&lat, 0.5),
                    pct(&lat, 0.99)
                ),
                floor: String::new(),
            });
        }
    }

    // Audit verification over generated chains.
    rows.push(audit_verify(&db, opts.audit_entries).await?);
    finish(rows, backend, admin_url, pg_name, &dir).await
}

/// Seeds `entries` audit entries in chains of ten and times one full `audit verify`.
async fn audit_verify(db: &madoguchi_store::Db, entries: u64) -> anyhow::Result<Row> {
    madoguchi_store::seed::audit_chains(db, entries).await?;
    let started = Instant::now();
    let summary = madoguchi_store::audit::verify(db.conn())
        .await?
        .map_err(|b| anyhow::anyhow!("verify failed: {b:?}"))?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Row {
        figure: "audit verify".into(),
        value: format!(
            "{:.0} entries/s ({} entries, {:.2} s)",
            summary.entries as f64 / secs,
            summary.entries,
            secs
        ),
        floor: String::new(),
    })
}

/// Prints the table and removes the bench's databases and directory.
async fn finish(
    rows: Vec<Row>,
    backend: &str,
    admin_url: Option<String>,
    pg_name: Option<String>,
    dir: &Path,
) -> anyhow::Result<()> {
    println!(
        "\nmadoguchi bench — {backend}, {} cores\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| figure | result | floor |\n|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} |", r.figure, r.value, r.floor);
    }
    if let (Some(admin), Some(name)) = (admin_url, pg_name) {
        let conn = Database::connect(&admin).await?;
        let _ = conn
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        let _ = conn
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {name}_floor WITH (FORCE)"
            ))
            .await;
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
