//! The `madoguchi` binary's library half: building and running the application, so that the
//! end-to-end tests start exactly what `madoguchi serve` starts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub mod bench;
mod bench_connectors;
mod bench_cpu;

use anyhow::Context;
use madoguchi_config::{Config, MailTransport};
use madoguchi_mail::Sender;
use madoguchi_service::Service;
use madoguchi_worker::MailWorker;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A built application: database migrated, listener bound, background work ready.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    /// `/metrics`, when `MADOGUCHI_METRICS_LISTEN` asks for it.
    metrics_listener: Option<TcpListener>,
    service: Service,
    worker: MailWorker,
    config: Arc<Config>,
}

/// Opens the database (creating the SQLite directory), applies migrations and returns it.
pub async fn open_database(config: &Config) -> anyhow::Result<madoguchi_store::Db> {
    if config.is_sqlite() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
    }
    let db = madoguchi_store::connect(&config.database_url, config.db_max_connections)
        .await
        .context("connecting to the database")?;
    db.migrate().await.context("applying migrations")?;
    Ok(db)
}

/// The key for link tokens and CSRF: from the environment, or generated once into the data
/// directory (development only; the config refuses production without one).
pub fn load_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &config.secret {
        return Ok(s.expose_secret().as_bytes().to_vec());
    }
    let path = config.data_dir.join("secret.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let secret = madoguchi_store::secrets::random_token();
    write_private(&path, &secret)?;
    Ok(secret.into_bytes())
}

/// The file key ring: from the environment, or generated once into the data directory
/// (development only; the config refuses production without keys).
pub fn load_keys(config: &Config) -> anyhow::Result<madoguchi_vault::KeyRing> {
    if let Some(spec) = &config.file_keys {
        return madoguchi_vault::KeyRing::parse(spec.expose_secret())
            .context("MADOGUCHI_FILE_KEYS");
    }
    let path = config.data_dir.join("file-keys");
    if let Ok(spec) = std::fs::read_to_string(&path) {
        return madoguchi_vault::KeyRing::parse(spec.trim())
            .with_context(|| format!("reading {}", path.display()));
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let ring = madoguchi_vault::KeyRing::generate("k1");
    write_private(&path, &ring.to_spec())?;
    Ok(ring)
}

/// Writes a file only the owner can read.
pub fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The mail sender the configuration asks for.
pub fn mail_sender(config: &Config) -> anyhow::Result<Sender> {
    Ok(match &config.mail {
        MailTransport::File(dir) => Sender::Files(dir.clone()),
        MailTransport::Smtp(url) => Sender::smtp(url.expose_secret())?,
    })
}

impl Application {
    /// Builds everything and binds the listener (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let config = Arc::new(config);
        let db = open_database(&config).await?;
        db.warm(config.db_max_connections)
            .await
            .context("opening the connection pool")?;
        let secret = load_secret(&config)?;
        let mut service = Service::new(db, config.clone(), secret, load_keys(&config)?);
        if let Some(stripe) = &config.stripe {
            let settings = madoguchi_pay::StripeSettings {
                secret_key: stripe.secret_key.expose_secret().to_owned(),
                webhook_secret: stripe.webhook_secret.expose_secret().to_owned(),
                api_base: stripe.api_base.clone(),
            };
            service = service.with_payments(madoguchi_pay::StripePayments::new(&settings)?);
        }
        if let Some(sso) = &config.sso {
            // Checked now (an issuer that is not https stops the start); nothing is fetched
            // from the provider until someone signs in.
            let client = madoguchi_sso::SsoClient::new(madoguchi_sso::Settings {
                issuer: sso.issuer.clone(),
                client_id: sso.client_id.clone(),
                client_secret: sso.client_secret.clone(),
                redirect_uri: format!("{}/staff/sso/callback", config.base_url),
                scopes: sso.scopes.clone(),
            })
            .context("single sign-on (MADOGUCHI_OIDC_ISSUER)")?;
            service = service.with_sso(client);
        }
        if let Some(path) = &config.datamap {
            // A map with problems stops the start: answers must not be built on it.
            let loaded = service
                .load_datamap_file(path, chrono::Utc::now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match loaded {
                Ok(true) => tracing::info!(path = %path.display(), "data map installed"),
                Ok(false) => {}
                Err(problems) => {
                    let list: Vec<String> = problems
                        .iter()
                        .map(|p| format!("{}:{}: {}", path.display(), p.line, p.kind.message(true)))
                        .collect();
                    anyhow::bail!("MADOGUCHI_DATAMAP has problems:\n{}", list.join("\n"));
                }
            }
        }
        let worker = MailWorker::new(service.clone(), mail_sender(&config)?)
            .with_lease(chrono::Duration::seconds(i64::from(config.mail_lease_secs)));
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr} (MADOGUCHI_METRICS_LISTEN)"))?,
            ),
            None => None,
        };
        Ok(Application {
            listener,
            metrics_listener,
            service,
            worker,
            config,
        })
    }

    /// The service without a listener (for CLI commands).
    pub async fn build_offline(config: Config) -> anyhow::Result<Service> {
        let config = Arc::new(config);
        let db = open_database(&config).await?;
        let secret = load_secret(&config)?;
        let keys = load_keys(&config)?;
        Ok(Service::new(db, config, secret, keys))
    }

    /// Where the server listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    /// The service (tests use it to drive and inspect).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The mail worker (tests drain it instead of waiting).
    pub fn worker(&self) -> &MailWorker {
        &self.worker
    }

    /// Serves until `stop` turns true, with the outbox worker and timers running beside it.
    pub async fn run(self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let state = madoguchi_web::AppState {
            service: self.service.clone(),
            config: self.config.clone(),
            metrics: madoguchi_web::metrics::Metrics::default(),
        };
        let header_timeout = Duration::from_secs(self.config.header_timeout_secs.max(1));
        let metrics = self.metrics_listener.map(|listener| {
            tokio::spawn(serve(
                listener,
                madoguchi_web::metrics::router(state.clone()),
                header_timeout,
                stop.clone(),
            ))
        });
        let app = madoguchi_web::router(state);
        let mail = tokio::spawn(self.worker.clone().run(stop.clone()));
        let timers = tokio::spawn(madoguchi_worker::run_timers(
            self.service.clone(),
            Duration::from_secs(30),
            stop.clone(),
        ));
        let gatherer = tokio::spawn(madoguchi_worker::run_gatherer(
            self.service.clone(),
            stop.clone(),
        ));
        let webhooks = tokio::spawn(madoguchi_worker::run_webhooks(
            self.service.clone(),
            stop.clone(),
        ));
        serve(self.listener, app, header_timeout, stop.clone()).await?;
        if let Some(m) = metrics
            && let Err(e) = m.await
        {
            tracing::error!(error = %e, "the metrics listener stopped abnormally");
        }
        let _ = mail.await;
        let _ = timers.await;
        let _ = gatherer.await;
        let _ = webhooks.await;
        Ok(())
    }
}

/// How long in-flight requests may run on after shutdown is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Accepts HTTP/1.1 connections until `stop` turns true, then lets in-flight requests finish.
/// `axum::serve` gives no way to bound header reads or idle connections; hyper's connection
/// builder does, once it has a timer. `header_timeout` bounds both the time a client takes to
/// send a request's headers and the time a kept-alive connection waits for its next request,
/// so slow or silent clients cannot hold the server's connections.
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                app.clone().oneshot(req)
            });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away or times out is not an error of ours.
            let _ = conn.await;
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("in-flight requests did not finish before the drain timeout");
        }
    }
    Ok(())
}
