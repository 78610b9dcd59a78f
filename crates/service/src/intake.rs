//! A new request as parsed at the boundary: every field already valid.

use chrono::{DateTime, NaiveDate, Utc};
use madoguchi_domain::{DeliveryMethod, EmailAddress, RequestKind, Requester, SuspensionGround};
use madoguchi_store::entities::request;
use madoguchi_store::sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use madoguchi_domain::Lang;

/// How the request reached the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The web form.
    Web,
    /// The JSON API.
    Api,
    /// 郵送, entered by an officer.
    Post,
    /// Telephone, entered by an officer.
    Phone,
    /// At the counter, entered by an officer.
    Counter,
    /// A mail to the privacy desk's own address, entered by an officer.
    Email,
}

impl Channel {
    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Api => "api",
            Channel::Post => "post",
            Channel::Phone => "phone",
            Channel::Counter => "counter",
            Channel::Email => "email",
        }
    }
}

/// The requester's contact address, if they gave one: a request entered by staff from a
/// letter may have none (stored as the empty string, sealed like any address).
pub fn email_of(row: &request::Model) -> Option<&str> {
    Some(row.email.as_str()).filter(|e| !e.is_empty())
}

/// A request entered by a clerk: who entered it, and how the requester was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entered {
    /// The clerk.
    pub by: madoguchi_domain::Actor,
    /// How the clerk confirmed who sent it.
    pub how: madoguchi_domain::ContactCheck,
}

/// The agent filing for the subject (代理人).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Agent's name.
    pub name: String,
    /// Agent's furigana.
    pub kana: String,
    /// Relationship to the subject, e.g. 親権者, 成年後見人, 弁護士.
    pub relationship: String,
}

impl Agent {
    /// Who a request is answered to: the agent who filed it, else the subject. Mail and the
    /// receipt address the same person.
    pub fn addressee(row: &madoguchi_store::entities::request::Model) -> String {
        row.agent
            .as_deref()
            .and_then(|a| serde_json::from_str::<Agent>(a).ok())
            .map_or_else(|| row.subject_name.clone(), |a| a.name)
    }
}

/// A request ready to be filed.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// What is asked.
    pub kind: RequestKind,
    /// Who asks.
    pub requester: Requester,
    /// The subject's name.
    pub subject_name: String,
    /// The subject's furigana.
    pub subject_kana: String,
    /// The subject's date of birth: compared with customer records, and shown to the officer
    /// (a legal representative of an adult is flagged). Personal data: never logged or audited.
    pub subject_birth_date: Option<NaiveDate>,
    /// The contact address (the agent's, when an agent files). Only a clerk may enter a
    /// request without one; its notices then go by post.
    pub email: Option<EmailAddress>,
    /// The subject's own address, which an agent may give so that the result can reach the
    /// subject (`MADOGUCHI_RESULTS_TO`). Not confirmed: it only receives results and codes.
    pub subject_email: Option<EmailAddress>,
    /// Optional phone.
    pub phone: Option<String>,
    /// Postal address, required for paper delivery.
    pub postal_address: Option<String>,
    /// Delivery method, for disclosure kinds.
    pub delivery: Option<DeliveryMethod>,
    /// Ground, for suspension and third-party stop.
    pub ground: Option<SuspensionGround>,
    /// What data, and what to do.
    pub details: String,
    /// For correction: the content as held.
    pub current_content: Option<String>,
    /// For correction: the correct content.
    pub correct_content: Option<String>,
    /// The agent, when one files.
    pub agent: Option<Agent>,
    /// The language to answer in.
    pub lang: Lang,
    /// How it arrived.
    pub channel: Channel,
    /// When it reached the business, if earlier than its entry (post, counter).
    pub arrived_at: Option<DateTime<Utc>>,
    /// Set when a clerk entered it (post, counter, phone, the desk's mailbox): filed and
    /// confirmed at once, audited as the clerk's.
    pub entered: Option<Entered>,
    /// Taken up from a complaint made to the desk (marked converted in the same change).
    pub from_complaint: Option<crate::complaints::ComplaintLink>,
}

impl NewRequest {
    /// What the law's intake rules look at (`madoguchi_domain::check_filing`).
    pub fn facts(&self) -> madoguchi_domain::FilingFacts<'_> {
        madoguchi_domain::FilingFacts {
            kind: Some(self.kind),
            requester: Some(self.requester),
            delivery: self.delivery,
            postal_address: self.postal_address.as_deref(),
            ground: self.ground,
            current_content: self.current_content.as_deref(),
            correct_content: self.correct_content.as_deref(),
            agent: self.agent.as_ref().map(|a| madoguchi_domain::AgentFacts {
                name: &a.name,
                kana: &a.kana,
                relationship: &a.relationship,
            }),
            birth_date_given: self.subject_birth_date.is_some(),
            has_email: self.email.is_some(),
        }
    }

    pub(crate) fn to_active_model(
        &self,
        pid: Uuid,
        number: &str,
        duplicate_of: Option<i64>,
        email_index: String,
        now: DateTime<Utc>,
    ) -> request::ActiveModel {
        request::ActiveModel {
            pid: Set(pid),
            number: Set(number.to_owned()),
            version: Set(1),
            lang: Set(self.lang.as_str().to_owned()),
            channel: Set(self.channel.as_str().to_owned()),
            requester: Set(self.requester.as_str().to_owned()),
            subject_name: Set(self.subject_name.clone()),
            subject_kana: Set(self.subject_kana.clone()),
            email: Set(self
                .email
                .as_ref()
                .map_or_else(String::new, |e| e.as_str().to_owned())),
            // The address's blind index (`RowCipher::email_index`), never the address.
            email_norm: Set(email_index),
            subject_birth_date: Set(self.subject_birth_date),
            subject_email: Set(self.subject_email.as_ref().map(|e| e.as_str().to_owned())),
            phone: Set(self.phone.clone()),
            postal_address: Set(self.postal_address.clone()),
            delivery: Set(self.delivery.map(|d| d.as_str().to_owned())),
            ground: Set(self.ground.map(|g| g.as_str().to_owned())),
            details: Set(self.details.clone()),
            current_content: Set(self.current_content.clone()),
            correct_content: Set(self.correct_content.clone()),
            agent: Set(self
                .agent
                .as_ref()
                .map(|a| serde_json::to_string(a).expect("an agent always serialises"))),
            subject_message: Set(None),
            subject_reply: Set(None),
            assignee_id: Set(None),
            duplicate_of: Set(duplicate_of),
            // Set, though empty, so that the row as it will be stored is known before the
            // insert (a new request's mail is made from it on PostgreSQL).
            answer: Set(None),
            datamap_hash: Set(None),
            incident_id: Set(None),
            purged_at: Set(None),
            subject_birth_date_sealed: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}
