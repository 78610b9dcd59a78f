//! Routes, grouped by feature. Each module's `router()` lists its own routes.

pub mod api;
pub mod complaints;
pub mod health;
pub mod owner;
pub mod payments;
pub mod public;
pub mod subject;
