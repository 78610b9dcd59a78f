#![doc = include_str!("../README.md")]

pub mod actor;
pub mod answer;
pub mod chain;
pub mod complaint;
pub mod contact;
pub mod event;
pub mod fee;
pub mod files;
pub mod filing;
pub mod ground;
pub mod holidays;
pub mod incident;
pub mod kind;
pub mod lang;
pub mod ledger;
pub mod policy;
pub mod progress;
pub mod register;
pub mod request;
pub mod review;
pub mod role_map;
pub mod state;
pub mod table;
pub mod timeline;

pub use actor::{Actor, Role};
pub use answer::{
    Answer, AnswerError, AnswerText, CorrectionResult, ItemResult, ItemText, Measure, Recorded,
    RemedyResult, Verdict,
};
pub use contact::{
    ContactError, EmailAddress, normalize_name, parse_birth_date, parse_kana, parse_phone,
};
pub use event::{
    AuditOnly, AuditRecord, ContactCheck, CustomerMatch, Effect, Event, Mail, Outcome, Recipient,
    RefundReason,
};
pub use fee::{FeeError, FeeSchedule, Yen};
pub use files::{DocumentPurpose, FileType, sniff};
pub use filing::{AgentFacts, FilingFacts, IntakeError, check_filing};
pub use ground::{PaymentMethod, RefusalGround};
pub use kind::{DeliveryMethod, RequestKind, Requester, SuspensionGround};
pub use lang::Lang;
pub use ledger::{FlagReason, LedgerKind, RefundDue};
pub use policy::{
    DeadlineRule, IdentityByKind, IdentityMethod, Jurisdiction, Period, Policy, PolicyError,
    age_on, is_adult_at, jst_date, may_sue_from, represented_adult_age, written_date, written_time,
};
pub use request::{Request, Transition, TransitionError, apply, available_events, is_next_step};
pub use review::{FieldDecision, Review, check_second_officer, decision_for, review_key};
pub use state::State;
