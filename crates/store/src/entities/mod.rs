//! sea-orm entities, one per table, mirroring `migrations/`. Logic lives outside this module.

pub mod api_token;
pub mod attachment;
pub mod audit_chain;
pub mod audit_checkpoint;
pub mod audit_entry;
pub mod complaint;
pub mod complaint_message;
pub mod customer;
pub mod datamap_version;
pub mod gather_job;
pub mod incident;
pub mod incident_person;
pub mod login_throttle;
pub mod outbox;
pub mod payment;
pub mod provider_event;
pub mod provision_record;
pub mod request;
pub mod request_note;
pub mod setting;
pub mod staff_session;
pub mod staff_user;
pub mod subject_token;
pub mod timer_job;
pub mod webhook_delivery;
pub mod webhook_endpoint;
