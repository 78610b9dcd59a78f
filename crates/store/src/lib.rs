#![doc = include_str!("../README.md")]

pub mod audit;
pub mod batch;
pub mod change;
pub mod complaints;
pub mod counters;
pub mod counts;
pub mod customers;
pub mod datamap;
pub mod db;
pub mod entities;
pub mod error;
pub mod gather;
pub mod incidents;
pub mod jobs;
pub mod ledger;
pub mod limits;
pub mod notes;
pub mod outbox;
pub mod provisions;
pub mod requests;
pub mod sealed;
pub mod secrets;
pub mod seed;
pub mod sso_logins;
pub mod tokens;
pub mod webhooks;

pub use uuid;

pub use db::{Db, connect};
pub use error::{Refused, StoreError};
pub use sea_orm;
