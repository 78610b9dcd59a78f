#![doc = include_str!("../README.md")]

use std::time::Duration;

use chrono::{DateTime, Utc};
use madoguchi_domain::Mail;
use madoguchi_mail::{MailContext, MailError, Sender};
use madoguchi_service::{MailLinks, Service};
use madoguchi_store::entities::outbox as outbox_row;
use madoguchi_store::outbox::Delivery;
use madoguchi_store::{StoreError, outbox};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Attempts before a message is marked failed.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long the sender lets commits gather after a wake-up before it claims them.
pub const GATHER: Duration = Duration::from_millis(25);
/// How long a claim lasts; a worker that dies mid-send releases its messages after this.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(120);

/// Delivers the outbox.
#[derive(Debug, Clone)]
pub struct MailWorker {
    service: Service,
    sender: Sender,
    batch: u64,
    lease: chrono::Duration,
}

impl MailWorker {
    /// A worker sending through `sender`, from the address the settings name.
    pub fn new(service: Service, sender: Sender) -> Self {
        MailWorker {
            service,
            sender,
            batch: 64,
            lease: LEASE,
        }
    }

    /// Sets how long a claim lasts.
    pub fn with_lease(mut self, lease: chrono::Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Claims one batch, sends it, and records the outcomes (rows and trail) as they arrive,
    /// each group in one transaction. Returns how many messages were claimed.
    pub async fn deliver_batch(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let claimed = outbox::claim(
            self.service.db().conn(),
            self.service.cipher(),
            self.batch,
            self.lease,
            now,
        )
        .await?;
        let n = claimed.len();
        if n == 0 {
            return Ok(0);
        }
        let from: std::sync::Arc<str> = match self.service.settings().await {
            Ok(s) => s.business.mail_from.as_str().into(),
            Err(e) => {
                tracing::error!(error = %e, "settings unreadable; sending from the configured address");
                self.service.config().mail_from.as_str().into()
            }
        };
        let mut tasks = JoinSet::new();
        for msg in claimed {
            let me = self.clone();
            let from = from.clone();
            tasks.spawn(async move {
                let outcome = me.deliver_one(&msg, &from).await;
                (msg, outcome)
            });
        }
        // Outcomes are recorded as they arrive (whatever has finished by the time the last
        // record committed, in one transaction), not once the slowest send of the batch is
        // done: a message the server accepted is marked sent within one commit of it, which
        // is the window in which a crash makes it go twice (docs/reliability.md).
        while let Some(first) = tasks.join_next().await {
            let mut finished = vec![first];
            while let Some(more) = tasks.try_join_next() {
                finished.push(more);
            }
            let mut done = Vec::with_capacity(finished.len());
            for f in finished {
                match f {
                    Ok(d) => done.push(d),
                    // The message stays claimed and goes again when its lease runs out.
                    Err(e) => tracing::error!(error = %e, "a delivery task panicked"),
                }
            }
            done.sort_by_key(|(m, _)| m.id);
            if let Err(e) = outbox::record_deliveries(self.service.db(), &done, Utc::now()).await {
                // Sent messages go again after the lease (same Message-ID), so nothing is lost.
                tracing::error!(error = %e, "recording delivery outcomes failed");
                return Err(e);
            }
        }
        Ok(n)
    }

    /// Sends until nothing is due. Tests call this instead of waiting for the loop.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self.deliver_batch(Utc::now()).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    async fn deliver_one(&self, msg: &outbox_row::Model, from: &str) -> Delivery {
        match self.send(msg, from).await {
            Ok(()) => {
                tracing::info!(outbox_id = msg.id, template = %msg.template, "mail sent");
                Delivery::Sent
            }
            Err(e) => {
                let permanent = matches!(
                    e,
                    MailError::Transport {
                        permanent: true,
                        ..
                    } | MailError::Build(_)
                        | MailError::Template(_)
                );
                let retry_at = (!permanent && msg.attempts < MAX_ATTEMPTS)
                    .then(|| Utc::now() + backoff(msg.attempts));
                tracing::warn!(
                    outbox_id = msg.id,
                    attempt = msg.attempts,
                    permanent,
                    will_retry = retry_at.is_some(),
                    "mail delivery failed"
                );
                Delivery::NotSent {
                    error: e.to_string(),
                    retry_at,
                }
            }
        }
    }

    async fn send(&self, msg: &outbox_row::Model, from: &str) -> Result<(), MailError> {
        let mail = Mail::parse(&msg.template)
            .ok_or_else(|| MailError::Build(format!("unknown template {}", msg.template)))?;
        let mut ctx: MailContext = serde_json::from_str(&msg.context)
            .map_err(|e| MailError::Build(format!("context: {e}")))?;
        if let Some(nonce) = ctx.code_nonce.take() {
            ctx.code = self.service.access_code(&nonce);
        }
        if let Some(nonce) = ctx.confirm_nonce.take() {
            let token = self.service.confirmation_token(&nonce);
            ctx.link = MailLinks::confirm(&self.service.config().base_url, &token);
        }
        if let Some(nonce) = ctx.owner_nonce.take() {
            let token = self.service.owner_token(&nonce);
            ctx.link = MailLinks::owner(&self.service.config().base_url, &token);
        }
        let rendered = madoguchi_mail::render(mail, &ctx)?;
        let message =
            madoguchi_mail::build_message(from, &msg.recipient, &msg.message_id, &rendered)?;
        self.sender.send(&message, &msg.message_id).await
    }

    /// Runs until `stop` turns true: sends when woken by a commit, and polls every second for
    /// retries and for mail enqueued by other instances.
    ///
    /// Woken by a commit, it waits [`GATHER`] before claiming, so that a burst of commits is
    /// claimed in one batch: one claim, and a record for each group of sends that finish
    /// together (write transactions which on SQLite queue behind the same lock as intake).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let wakeup = self.service.mail_wakeup();
        loop {
            match self.deliver_batch(Utc::now()).await {
                // A full batch: more is probably waiting.
                Ok(n) if n as u64 == self.batch => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox claim failed"),
            }
            tokio::select! {
                () = wakeup.notified() => tokio::time::sleep(GATHER).await,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

/// Exponential backoff from 10 s, capped at an hour, with up to 25 % jitter so that retries
/// of a batch that failed together do not arrive together.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let base = 10i64
        .saturating_mul(1i64 << attempts.clamp(0, 12))
        .min(3600);
    let mut b = [0u8; 2];
    let jitter = if getrandom::fill(&mut b).is_ok() {
        i64::from(u16::from_le_bytes(b)) * base / 4 / i64::from(u16::MAX)
    } else {
        0
    };
    chrono::Duration::seconds(base + jitter)
}

/// Runs the timers every `every` until `stop`: expiry warnings and expiry of requests the
/// subject let lapse, card refunds, retention, audit checkpoints, and the shared jobs — hourly
/// verification of the audit trail, the staff's daily digest, the failing-mail alert — which
/// one instance claims per run.
pub async fn run_timers(service: Service, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        match service.audit_checkpoint(Utc::now()).await {
            Ok(Some(seq)) => tracing::info!(checkpoint = seq, "audit checkpoint written"),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "audit checkpoint failed"),
        }
        if let Err(e) = service.verify_audit_if_due(Utc::now()).await {
            tracing::error!(error = %e, "audit verification could not run");
        }
        match service.warn_expiring(Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(warned = n, "expiry warnings sent"),
            Err(e) => tracing::error!(error = %e, "expiry warning sweep failed"),
        }
        match service.staff_digest(Utc::now()).await {
            Ok(true) => tracing::info!("staff digest sent"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "staff digest failed"),
        }
        match service.webhook_deadlines(Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deliveries = n, "deadline webhooks written"),
            Err(e) => tracing::error!(error = %e, "deadline webhooks failed"),
        }
        match service.alert_failing_mail(Utc::now()).await {
            Ok(true) => tracing::warn!("mail delivery failing: staff alerted"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "mail alert check failed"),
        }
        match service.expire_due(Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "requests expired"),
            Err(e) => tracing::error!(error = %e, "expiry sweep failed"),
        }
        match service.process_card_refunds(Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(refunds = n, "card refunds sent"),
            Err(e) => tracing::error!(error = %e, "refund sweep failed"),
        }
        if let Err(e) = service.sweep_rate_limits(Utc::now()).await {
            tracing::error!(error = %e, "rate-limit sweep failed");
        }
        match service.purge_register(Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "provision records past their period deleted"),
            Err(e) => tracing::error!(error = %e, "register purge failed"),
        }
        match service.retention_sweep(Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "documents deleted under the retention policy"),
            Err(e) => tracing::error!(error = %e, "retention sweep failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Runs connector jobs until `stop`: every due job in turn, then a second's pause. Any number
/// of instances may run this; each job is claimed by one. Once a minute it also reminds the
/// owners of tasks due within two days.
pub async fn run_gatherer(service: Service, mut stop: watch::Receiver<bool>) {
    let mut tick: u64 = 0;
    loop {
        // Owners' reminders are a matter of days: once a minute is plenty.
        if tick.is_multiple_of(60)
            && let Err(e) = service.remind_owners(Utc::now()).await
        {
            tracing::error!(error = %e, "owners could not be reminded");
        }
        tick = tick.wrapping_add(1);
        loop {
            match service.run_gather_job(Utc::now()).await {
                Ok(true) => {
                    if *stop.borrow() {
                        return;
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    tracing::error!(error = %e, "a connector job could not be run");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Sends webhook deliveries as they fall due (every instance runs one: a delivery is claimed
/// by one), until `stop`.
pub async fn run_webhooks(service: Service, mut stop: watch::Receiver<bool>) {
    let client = match madoguchi_service::webhooks::WebhookClient::new(Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the webhook sender could not start");
            return;
        }
    };
    loop {
        loop {
            match service.deliver_webhooks(&client, Utc::now()).await {
                Ok(0) => break,
                Ok(_) => {
                    if *stop.borrow() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "webhook deliveries could not be sent");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) >= chrono::Duration::seconds(10));
        assert!(backoff(0) <= chrono::Duration::seconds(13));
        assert!(backoff(3) >= chrono::Duration::seconds(80));
        assert!(backoff(30) <= chrono::Duration::seconds(4500));
    }
}
