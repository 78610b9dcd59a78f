#![doc = include_str!("../README.md")]

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_requests;
mod m20261122_000002_create_audit;
mod m20261122_000003_create_outbox_and_tokens;
mod m20261122_000004_create_staff;
mod m20261122_000005_create_payments_and_attachments;
mod m20261122_000006_add_queue_indexes;
mod m20261122_000007_create_rate_limits;
mod m20261122_000008_add_reminders_and_timer_jobs;
mod m20261122_000009_create_customers;
mod m20261122_000010_add_outcome_items;
mod m20261201_000011_add_totp_replay_and_enrolment;
mod m20261201_000012_add_sealed_birth_date;
mod m20261201_000013_create_datamap_and_register;
mod m20261201_000014_create_gather_jobs;
mod m20261202_000015_add_owner_tasks;
mod m20261203_000016_add_purged_at;
mod m20261203_000017_add_must_change_password;
mod m20261204_000018_create_request_notes;
mod m20261205_000019_create_incidents;
mod m20261206_000020_create_complaints;
mod m20261207_000021_add_incident_notices;
mod m20261208_000022_add_request_incident;
mod m20261209_000023_add_metrics_indexes;
mod m20261210_000024_create_webhooks;
mod m20261211_000025_add_staff_sso;
mod m20261212_000026_add_webhook_dedupe;

/// All migrations, in the order they run.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_requests::Migration),
            Box::new(m20261122_000002_create_audit::Migration),
            Box::new(m20261122_000003_create_outbox_and_tokens::Migration),
            Box::new(m20261122_000004_create_staff::Migration),
            Box::new(m20261122_000005_create_payments_and_attachments::Migration),
            Box::new(m20261122_000006_add_queue_indexes::Migration),
            Box::new(m20261122_000007_create_rate_limits::Migration),
            Box::new(m20261122_000008_add_reminders_and_timer_jobs::Migration),
            Box::new(m20261122_000009_create_customers::Migration),
            Box::new(m20261122_000010_add_outcome_items::Migration),
            Box::new(m20261201_000011_add_totp_replay_and_enrolment::Migration),
            Box::new(m20261201_000012_add_sealed_birth_date::Migration),
            Box::new(m20261201_000013_create_datamap_and_register::Migration),
            Box::new(m20261201_000014_create_gather_jobs::Migration),
            Box::new(m20261202_000015_add_owner_tasks::Migration),
            Box::new(m20261203_000016_add_purged_at::Migration),
            Box::new(m20261203_000017_add_must_change_password::Migration),
            Box::new(m20261204_000018_create_request_notes::Migration),
            Box::new(m20261205_000019_create_incidents::Migration),
            Box::new(m20261206_000020_create_complaints::Migration),
            Box::new(m20261207_000021_add_incident_notices::Migration),
            Box::new(m20261208_000022_add_request_incident::Migration),
            Box::new(m20261209_000023_add_metrics_indexes::Migration),
            Box::new(m20261210_000024_create_webhooks::Migration),
            Box::new(m20261211_000025_add_staff_sso::Migration),
            Box::new(m20261212_000026_add_webhook_dedupe::Migration),
        ]
    }
}
