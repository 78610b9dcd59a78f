//! Connecting to SQLite or PostgreSQL, and starting write transactions that behave the same
//! on both.

use std::time::Duration;

use madoguchi_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// A connection pool and its backend.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
}

/// Opens the pool. SQLite files get WAL (readers never block the writer) and a busy timeout;
/// both backends get bounded pools so a burst queues instead of exhausting the server.
pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    // TLS to a server on the same host protects nothing and costs every row a decryption
    // (sqlx's default `prefer` negotiates it); an explicit `sslmode` is always kept.
    let explicit_tls = url.contains("sslmode=");
    opts.map_sqlx_postgres_opts(move |o| {
        let host = o.get_host();
        let local = matches!(host, "127.0.0.1" | "localhost" | "::1") || host.starts_with('/');
        if local && !explicit_tls {
            o.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable)
        } else {
            o
        }
    });
    // The whole pool stays open: a connection opened under load costs the request that
    // waits for it (on PostgreSQL a new backend, with cold catalog caches, ~10-20 ms).
    opts.max_connections(max_connections)
        .min_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                // In WAL mode NORMAL loses no committed transaction on a process crash; only
                // a power loss can drop the last commits. The durability tests kill processes.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Deleted and overwritten content is zeroed, not left in free pages: a value
                // re-sealed or erased must not survive in the file's slack.
                .pragma("secure_delete", "ON")
                .create_if_missing(true)
        });
    let conn = Database::connect(opts).await?;
    Ok(Db { conn })
}

impl Db {
    /// Wraps an existing connection.
    pub fn from_connection(conn: DatabaseConnection) -> Self {
        Db { conn }
    }

    /// The pool.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Which database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// Opens `n` connections (one after another, all held until the last is open) and has
    /// each read the tables the first pages read, so the first requests after a start do not
    /// pay for connecting and for PostgreSQL's per-backend catalog caches. Called once before
    /// the service reports ready; `n` is at most the pool's size.
    pub async fn warm(&self, n: u32) -> Result<(), DbErr> {
        const TOUCH: &str = "SELECT (SELECT 1 FROM requests LIMIT 1), \
             (SELECT 1 FROM audit_entries LIMIT 1), (SELECT 1 FROM api_tokens LIMIT 1), \
             (SELECT 1 FROM staff_sessions LIMIT 1), (SELECT 1 FROM staff_users LIMIT 1), \
             (SELECT 1 FROM settings LIMIT 1), (SELECT 1 FROM outbox LIMIT 1)";
        let err = |e: sea_orm::sqlx::Error| {
            DbErr::Conn(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e)))
        };
        macro_rules! warm_pool {
            ($pool:expr) => {{
                let pool = $pool;
                let mut held = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let mut c = pool.acquire().await.map_err(err)?;
                    sea_orm::sqlx::query(TOUCH)
                        .execute(&mut *c)
                        .await
                        .map_err(err)?;
                    // Held until all are open, so each is a different connection.
                    held.push(c);
                }
            }};
        }
        match self.backend() {
            DatabaseBackend::Postgres => warm_pool!(self.conn.get_postgres_connection_pool()),
            DatabaseBackend::Sqlite => warm_pool!(self.conn.get_sqlite_connection_pool()),
            _ => {}
        }
        Ok(())
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at BEGIN, so
    /// two writers queue on the busy timeout instead of failing on a lock upgrade.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let mode = match self.backend() {
            DatabaseBackend::Sqlite => Some(SqliteTransactionMode::Immediate),
            _ => None,
        };
        self.conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: mode,
                ..TransactionOptions::default()
            })
            .await
    }

    /// On SQLite, moves the write-ahead log into the database file and truncates it, so that
    /// page images from before a re-seal or an erasure are gone from the log too. A no-op on
    /// PostgreSQL, whose old row versions `VACUUM` reclaims.
    pub async fn checkpoint(&self) -> Result<(), DbErr> {
        if self.backend() == DatabaseBackend::Sqlite {
            use sea_orm::ConnectionTrait;
            self.conn
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
        }
        Ok(())
    }

    /// Writes a consistent copy of a SQLite database to `to` while the service runs: `VACUUM
    /// INTO` reads the database in one transaction, so the copy is the database at one moment
    /// (writers carry on meanwhile; WAL mode lets them). Refused on PostgreSQL, which has its
    /// own tools (`pg_dump`, base backups: docs/operations.md), and when `to` exists (a backup
    /// never overwrites).
    pub async fn backup_to(&self, to: &std::path::Path) -> Result<(), BackupError> {
        use sea_orm::ConnectionTrait;
        if self.backend() != DatabaseBackend::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        if to.exists() {
            return Err(BackupError::Exists);
        }
        let path = to.to_str().ok_or(BackupError::Path)?;
        // A path is data, not SQL: quotes doubled, so no name can end the literal.
        let quoted = path.replace('\'', "''");
        self.conn
            .execute_unprepared(&format!("VACUUM INTO '{quoted}'"))
            .await?;
        // The copy holds everything the database does: readable by its owner only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
                .map_err(BackupError::Io)?;
        }
        Ok(())
    }

    /// Checks that the database answers (readiness probe).
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }
}

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// PostgreSQL is backed up with its own tools.
    #[error(
        "the database is PostgreSQL: back it up with pg_dump or a base backup (docs/operations.md)"
    )]
    NotSqlite,
    /// The target exists.
    #[error("the backup file already exists; name a new one")]
    Exists,
    /// The target is not a UTF-8 path.
    #[error("the backup path is not valid UTF-8")]
    Path,
    /// The copy's permissions could not be set.
    #[error("setting the backup's permissions: {0}")]
    Io(std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}
