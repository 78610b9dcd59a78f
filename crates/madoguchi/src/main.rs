//! `madoguchi`: the privacy-rights request service.

use anyhow::Context;
use clap::{Parser, Subcommand};
use madoguchi::Application;
use madoguchi_config::{Config, LogFormat};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "madoguchi",
    version,
    about = "Privacy-rights requests (開示等の請求) under Japan's APPI"
)]
struct Cli {
    /// Write logs as JSON lines (same as MADOGUCHI_LOG_FORMAT=json).
    #[arg(long, global = true)]
    json_logs: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server, the mail outbox worker and the timers.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of a SQLite database while the service runs (PostgreSQL: use
    /// pg_dump; see docs/operations.md). Keep the keys (MADOGUCHI_SECRET, the vault keys) with
    /// it, apart from it: without them the sealed columns and files cannot be read.
    Backup {
        /// The file to write (must not exist).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// File encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Measure the service: intake against the database floor, transitions, the queue at
    /// scale, audit verification, outbox delivery, memory, start-up. Build with --release.
    Bench {
        /// Requests per intake level.
        #[arg(long, default_value_t = 2000)]
        intake: usize,
        /// Queue sizes to seed and measure, comma-separated.
        #[arg(long, default_value = "100000,1000000", value_delimiter = ',')]
        queue: Vec<u64>,
        /// Audit entries to verify.
        #[arg(long, default_value_t = 1_000_000)]
        audit_entries: u64,
        /// Messages for the outbox measurement.
        #[arg(long, default_value_t = 2000)]
        mails: usize,
        /// Run only this part.
        #[arg(long, value_enum)]
        only: Option<madoguchi::bench::Part>,
        /// Customers in each business system, for `--only connectors`.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The data map (保有個人データの台帳, docs/datamap.md).
    Datamap {
        #[command(subcommand)]
        command: DatamapCommand,
    },
    /// Customer records for identity by record (MADOGUCHI_IDENTITY…=customer_record).
    Customers {
        #[command(subcommand)]
        command: CustomersCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CustomersCommand {
    /// Add or replace customers from a UTF-8 CSV file with the header
    /// `email,name,date_of_birth[,external_ref]` (dates YYYY-MM-DD). Every row or none: a bad
    /// row is reported by line number and nothing is imported. Only keyed hashes are stored.
    Import {
        /// The CSV file.
        #[arg(long)]
        csv: std::path::PathBuf,
    },
    /// Print how many customer records are stored.
    Count,
}

#[derive(Debug, Subcommand)]
enum DatamapCommand {
    /// Check a map file: prints every problem as FILE:LINE: message and exits 1 if there is
    /// any. Nothing is installed (MADOGUCHI_DATAMAP or the console does that).
    Check {
        /// The TOML file.
        file: std::path::PathBuf,
        /// Messages in English (Japanese by default).
        #[arg(long)]
        en: bool,
    },
    /// Print the JSON Schema of the format (also served at /api/datamap.schema.json).
    Schema,
    /// Check that each system a connector reads can be reached and each of its tables read,
    /// without reading a row. Credentials come from the environment variables the map names.
    Test {
        /// The TOML file.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-encrypt every file under the newest key. With keys in the data directory, a new
    /// key is generated first; with MADOGUCHI_FILE_KEYS, put the new key first there.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a staff account and print its one-time password.
    Add {
        /// Login e-mail address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// admin, officer or auditor.
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every hash chain; exits non-zero at the first broken entry.
    Verify,
    /// Write a checkpoint now and print its hash, to anchor outside the system.
    Checkpoint,
}

fn init_tracing(format: LogFormat) {
    init_tracing_with(format, "info,sqlx=warn,sea_orm=warn");
}

fn init_tracing_with(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load().context("reading configuration")?;
    if matches!(cli.command, Command::Bench { .. }) && std::env::var_os("RUST_LOG").is_none() {
        // The table is the output; per-message logs would bury it.
        init_tracing_with(LogFormat::Human, "warn");
    } else {
        init_tracing(if cli.json_logs {
            LogFormat::Json
        } else {
            config.log_format
        });
    }
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            madoguchi::open_database(&config).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Backup { to } => {
            // Refused before connecting: opening the database applies migrations, which a
            // backup of a PostgreSQL deployment must not do on the operator's behalf.
            if !config.database_url.starts_with("sqlite:") {
                return Err(madoguchi_store::db::BackupError::NotSqlite.into());
            }
            // Nor is a missing database created, or an old one migrated, to be backed up:
            // the copy is of the database as it is.
            let file = config
                .database_url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
                .split('?')
                .next()
                .unwrap_or_default();
            if !std::path::Path::new(file).is_file() {
                anyhow::bail!("no database at {file}: check DATABASE_URL and MADOGUCHI_DATA_DIR");
            }
            let db = madoguchi_store::connect(&config.database_url, 1)
                .await
                .context("connecting to the database")?;
            db.backup_to(&to).await?;
            tracing::info!(to = %to.display(), "backup written");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => verify(config).await,
        Command::Audit {
            command: AuditCommand::Checkpoint,
        } => checkpoint(config).await,
        Command::Keys {
            command: KeysCommand::Rotate,
        } => rotate_keys(config).await,
        Command::Bench {
            intake,
            queue,
            audit_entries,
            mails,
            only,
            customers,
        } => {
            madoguchi::bench::run(madoguchi::bench::BenchOptions {
                intake,
                queue_sizes: queue,
                audit_entries,
                mails,
                only,
                customers,
            })
            .await
        }
        Command::User {
            command: UserCommand::Add { email, name, role },
        } => add_user(config, &email, &name, &role).await,
        Command::Datamap {
            command: DatamapCommand::Check { file, en },
        } => check_datamap(&file, en),
        Command::Datamap {
            command: DatamapCommand::Test { file },
        } => test_datamap(&file).await,
        Command::Datamap {
            command: DatamapCommand::Schema,
        } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&madoguchi_datamap::json_schema())?
            );
            Ok(())
        }
        Command::Customers {
            command: CustomersCommand::Import { csv },
        } => import_customers(config, &csv).await,
        Command::Customers {
            command: CustomersCommand::Count,
        } => {
            let service = Application::build_offline(config).await?;
            let n = service
                .customer_count()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{n} customer records");
            Ok(())
        }
    }
}

fn check_datamap(path: &std::path::Path, en: bool) -> anyhow::Result<()> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (a UTF-8 TOML file)", path.display()))?;
    match madoguchi_datamap::DataMap::load(&source) {
        Ok(map) => {
            println!(
                "{}: OK — version {}, {} systems, {} datasets, {} recipients, sha256 {}",
                path.display(),
                map.version,
                map.systems.len(),
                map.datasets.len(),
                map.recipients.len(),
                madoguchi_datamap::version_hash(&source)
            );
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                println!("{}:{}: {}", path.display(), p.line, p.kind.message(en));
            }
            eprintln!("{} problem(s)", problems.len());
            std::process::exit(1);
        }
    }
}

async fn test_datamap(path: &std::path::Path) -> anyhow::Result<()> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (a UTF-8 TOML file)", path.display()))?;
    let map = match madoguchi_datamap::DataMap::load(&source) {
        Ok(m) => m,
        Err(problems) => {
            for p in &problems {
                println!("{}:{}: {}", path.display(), p.line, p.kind.message(true));
            }
            std::process::exit(1);
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let mut failed = 0;
    for system in madoguchi_connectors::readable_systems(&map) {
        match madoguchi_connectors::test_system(&map, &system, &env).await {
            Ok(madoguchi_connectors::Checked::Tables(n)) => {
                println!("{system}: OK ({n} datasets readable)")
            }
            Ok(madoguchi_connectors::Checked::Reached) => println!(
                "{system}: OK (the service answers; its datasets are first read for a request)"
            ),
            Err(e) => {
                failed += 1;
                println!("{system}: {e}");
            }
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn import_customers(config: Config, path: &std::path::Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 (save the CSV as UTF-8)", path.display()))?;
    let service = Application::build_offline(config).await?;
    match service
        .import_customers(
            &text,
            &madoguchi_store::audit::Origin::default(),
            chrono::Utc::now(),
        )
        .await
    {
        Ok(r) => {
            println!(
                "imported {} customers: {} new, {} updated",
                r.rows, r.inserted, r.updated
            );
            Ok(())
        }
        Err(madoguchi_service::ImportError::Rejected(errors)) => {
            for e in &errors {
                eprintln!("{}: {e}", path.display());
            }
            eprintln!("{} problem(s); nothing was imported", errors.len());
            std::process::exit(1);
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

async fn rotate_keys(config: Config) -> anyhow::Result<()> {
    let service = Application::build_offline(config.clone()).await?;
    if config.file_keys.is_none() {
        let mut ring = madoguchi::load_keys(&config)?;
        let next = format!("k{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
        ring.rotate(&next);
        madoguchi::write_private(&config.data_dir.join("file-keys"), &ring.to_spec())?;
        service.set_keys(ring);
        println!(
            "new key {next} written to {}",
            config.data_dir.join("file-keys").display()
        );
    }
    let n = service
        .reencrypt_documents()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("re-encrypted {n} files");
    let n = service
        .reseal_totp_secrets()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("re-sealed the TOTP secrets of {n} staff accounts");
    let (requests, messages) = service
        .reseal_personal_data()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("re-sealed {requests} requests and {messages} messages");
    Ok(())
}

async fn add_user(config: Config, email: &str, name: &str, role: &str) -> anyhow::Result<()> {
    let role =
        madoguchi_domain::Role::parse(role).context("--role must be admin, officer or auditor")?;
    let name = if name.is_empty() {
        email.split('@').next().unwrap_or(email)
    } else {
        name
    };
    let app = Application::build_offline(config).await?;
    let (user, password) = app
        .create_staff_user(
            email,
            name,
            role,
            &madoguchi_domain::Actor::System,
            &Default::default(),
            chrono::Utc::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("created {} ({}) as {}", user.email, user.pid, role.as_str());
    println!("one-time password: {password}");
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.local_addr(), "listening");
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    app.run(stop_rx).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn checkpoint(config: Config) -> anyhow::Result<()> {
    let db = madoguchi::open_database(&config).await?;
    madoguchi_store::audit::write_checkpoint(
        db.conn(),
        chrono::Utc::now() + chrono::Duration::seconds(10),
    )
    .await?;
    match madoguchi_store::audit::latest_checkpoint(db.conn()).await? {
        Some(c) => println!("checkpoint {} at {}: {}", c.seq, c.at, c.hash),
        None => println!("no audit entries yet"),
    }
    Ok(())
}

async fn verify(config: Config) -> anyhow::Result<()> {
    let db = madoguchi::open_database(&config).await?;
    let started = std::time::Instant::now();
    match madoguchi_store::audit::verify(db.conn()).await? {
        Ok(summary) => {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "audit trail OK: {} entries in {} chains ({} requests), {} checkpoints, {:.3}s ({:.0} entries/s)",
                summary.entries,
                summary.chains,
                summary.requests,
                summary.checkpoints,
                secs,
                summary.entries as f64 / secs.max(1e-9)
            );
            Ok(())
        }
        Err(broken) => {
            eprintln!(
                "audit trail BROKEN at {} entry {}: {}",
                broken.chain, broken.seq, broken.reason
            );
            std::process::exit(1);
        }
    }
}
