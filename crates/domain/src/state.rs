//! The states a request moves through.

use serde::{Deserialize, Serialize};

/// Where a request stands. Terminal states accept only audit-only events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Filed; the contact e-mail is not yet confirmed.
    Submitted,
    /// E-mail confirmed; an officer reviews the identity evidence.
    IdentityReview,
    /// The officer asked the subject for more identity evidence.
    AwaitingIdentity,
    /// Identity approved; the fee is due.
    AwaitingPayment,
    /// Being worked on by an officer.
    InProgress,
    /// The officer asked the subject to identify the data more precisely (Art. 37(2)).
    AwaitingInfo,
    /// Done in full.
    Fulfilled,
    /// Done in part; the rest withheld or refused with its ground.
    PartiallyFulfilled,
    /// Answered: no such data is held (該当なし). Counts as a disclosure answer.
    NoData,
    /// Refused with statutory grounds (Art. 33(2), 34, 35, 36).
    Refused,
    /// Identity or agency could not be verified (Art. 37, P1).
    Rejected,
    /// Withdrawn by the subject.
    Withdrawn,
    /// The subject did not answer in time (confirmation, evidence, payment or information).
    Expired,
}

impl State {
    /// Every state.
    pub const ALL: [State; 13] = [
        State::Submitted,
        State::IdentityReview,
        State::AwaitingIdentity,
        State::AwaitingPayment,
        State::InProgress,
        State::AwaitingInfo,
        State::Fulfilled,
        State::PartiallyFulfilled,
        State::NoData,
        State::Refused,
        State::Rejected,
        State::Withdrawn,
        State::Expired,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Submitted => "submitted",
            State::IdentityReview => "identity_review",
            State::AwaitingIdentity => "awaiting_identity",
            State::AwaitingPayment => "awaiting_payment",
            State::InProgress => "in_progress",
            State::AwaitingInfo => "awaiting_info",
            State::Fulfilled => "fulfilled",
            State::PartiallyFulfilled => "partially_fulfilled",
            State::NoData => "no_data",
            State::Refused => "refused",
            State::Rejected => "rejected",
            State::Withdrawn => "withdrawn",
            State::Expired => "expired",
        }
    }

    /// Parses [`State::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Closed requests accept no state change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Fulfilled
                | State::PartiallyFulfilled
                | State::NoData
                | State::Refused
                | State::Rejected
                | State::Withdrawn
                | State::Expired
        )
    }

    /// States in which the request was answered on its merits.
    pub fn is_fulfilment(self) -> bool {
        matches!(
            self,
            State::Fulfilled | State::PartiallyFulfilled | State::NoData
        )
    }

    /// Closed with an answer or a refusal: the states whose outcome is a result for the
    /// subject (as opposed to a rejection, withdrawal or expiry).
    pub fn has_result(self) -> bool {
        self.is_fulfilment() || self == State::Refused
    }

    /// States in which the ball is in the subject's court.
    pub fn awaits_subject(self) -> bool {
        matches!(
            self,
            State::Submitted
                | State::AwaitingIdentity
                | State::AwaitingPayment
                | State::AwaitingInfo
        )
    }

    /// Japanese label for the subject's status page.
    pub fn label_ja(self) -> &'static str {
        match self {
            State::Submitted => "メールアドレスの確認待ち",
            State::IdentityReview => "本人確認中",
            State::AwaitingIdentity => "本人確認書類の追加提出待ち",
            State::AwaitingPayment => "手数料のお支払い待ち",
            State::InProgress => "対応中",
            State::AwaitingInfo => "追加情報のご提供待ち",
            State::Fulfilled => "対応完了",
            State::PartiallyFulfilled => "一部対応完了",
            State::NoData => "該当する個人データなし",
            State::Refused => "不開示・不対応の決定",
            State::Rejected => "本人確認ができませんでした",
            State::Withdrawn => "取下げ済み",
            State::Expired => "期限切れ",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            State::Submitted => "Waiting for e-mail confirmation",
            State::IdentityReview => "Identity under review",
            State::AwaitingIdentity => "Waiting for more identity documents",
            State::AwaitingPayment => "Waiting for the fee",
            State::InProgress => "In progress",
            State::AwaitingInfo => "Waiting for more information",
            State::Fulfilled => "Completed",
            State::PartiallyFulfilled => "Partly completed",
            State::NoData => "No such data held",
            State::Refused => "Refused",
            State::Rejected => "Identity could not be verified",
            State::Withdrawn => "Withdrawn",
            State::Expired => "Expired",
        }
    }
}
