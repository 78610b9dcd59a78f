//! End-to-end tests: the real application on port 0, a fresh database per test (SQLite file,
//! or a new PostgreSQL database), real HTTP, mail read back from the mail directory.
//!
//! Every scenario runs on both backends through the `on_both!` macro. PostgreSQL comes from
//! `MADOGUCHI_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`); set it to
//! `skip` to run SQLite only on a machine without PostgreSQL.

mod fake_stripe;
mod helpers;

mod access;
mod answers;
mod api;
mod at_rest;
mod atomicity;
mod audit;
mod backup;
mod browser;
mod complaints;
mod concurrency;
mod connectors;
mod crash;
mod datamap;
mod documents;
mod erase;
mod example_shop;
mod http_connector;
mod identity;
mod incidents;
mod intake;
mod jurisdictions;
mod lifecycle;
mod limits;
mod mail;
mod metrics;
mod outcomes;
mod owner_tasks;
mod paper;
mod payments;
mod privacy;
mod security;
mod settings;
mod sso;
mod staff;
mod timers;
mod webhooks;
mod wording;
mod workspace;
