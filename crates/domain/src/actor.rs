//! Who acts on a request, and with which role.

use serde::{Deserialize, Serialize};

/// A staff role. Every staff route and every transition names the roles it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages staff, policies, fees and templates; may also work requests.
    Admin,
    /// Privacy officer (担当者): works the queue.
    Officer,
    /// Auditor (監査担当): reads everything, changes nothing.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Officer, Role::Auditor];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::Auditor => "auditor",
        }
    }

    /// Parses [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role, in words.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Role::Admin, false) => "管理者",
            (Role::Admin, true) => "Administrator",
            (Role::Officer, false) => "担当者",
            (Role::Officer, true) => "Officer",
            (Role::Auditor, false) => "監査担当",
            (Role::Auditor, true) => "Auditor",
        }
    }

    /// Officers and admins work requests; auditors never act.
    pub fn can_work_requests(self) -> bool {
        matches!(self, Role::Admin | Role::Officer)
    }
}

/// The party behind an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The data subject or their agent, proven by a token or one-time code.
    Subject,
    /// A staff member.
    Staff {
        /// The staff account's public id.
        id: String,
        /// Its role at the time of the event.
        role: Role,
    },
    /// The service itself (timers, retention).
    System,
    /// A verified webhook from the payment provider.
    PaymentProvider,
}

impl Actor {
    /// Short label for the audit trail's actor column.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Actor::Subject => "subject",
            Actor::Staff { .. } => "staff",
            Actor::System => "system",
            Actor::PaymentProvider => "webhook",
        }
    }

    /// The staff role, if any.
    pub fn role(&self) -> Option<Role> {
        match self {
            Actor::Staff { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// The staff id, if any.
    pub fn staff_id(&self) -> Option<&str> {
        match self {
            Actor::Staff { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn is_worker(&self) -> bool {
        self.role().is_some_and(Role::can_work_requests)
    }
}
