//! Where a request stands, as the requester's page shows it: the steps every request of its
//! kind goes through (received, contact confirmed, identity, the fee where one is due, the
//! work, the answer), each done, under way, still ahead, or not reached because the request
//! ended before it. Pure: from the request alone.

use crate::{Request, State, Yen};

/// A step of the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The request reached the business.
    Received,
    /// The requester's address (or, for a clerk's entry, the requester) was confirmed.
    ContactConfirmed,
    /// Identity (and an agent's authority) established.
    Identity,
    /// The fee paid (only where one is due).
    Fee,
    /// The business works on the request.
    Work,
    /// The answer given.
    Answer,
}

impl Step {
    /// The step in words.
    pub fn label(self, en: bool) -> &'static str {
        let (ja, en_words) = match self {
            Step::Received => ("受付", "Received"),
            Step::ContactConfirmed => ("ご連絡先の確認", "Contact confirmed"),
            Step::Identity => ("本人確認", "Identity check"),
            Step::Fee => ("手数料のお支払い", "Fee paid"),
            Step::Work => ("ご請求への対応", "Work on your request"),
            Step::Answer => ("回答", "Answer"),
        };
        if en { en_words } else { ja }
    }
}

/// How far a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Behind us.
    Done,
    /// Where the request stands now.
    Current,
    /// Still ahead.
    Ahead,
}

impl Mark {
    /// The mark in words (for those who cannot see the page's symbols).
    pub fn label(self, en: bool) -> &'static str {
        let (ja, en_words) = match self {
            Mark::Done => ("完了", "done"),
            Mark::Current => ("現在の段階", "now"),
            Mark::Ahead => ("これから", "ahead"),
        };
        if en { en_words } else { ja }
    }
}

/// Each step with its mark, in order; empty for a request that ended without an answer
/// (rejected, withdrawn, expired): its page says how it ended, and a row of steps never
/// reached would say nothing more.
pub fn progress(r: &Request) -> Vec<(Step, Mark)> {
    let mut steps = vec![Step::Received, Step::ContactConfirmed, Step::Identity];
    if r.fee > Yen::ZERO {
        steps.push(Step::Fee);
    }
    steps.extend([Step::Work, Step::Answer]);
    let at = match r.state {
        State::Submitted => Step::ContactConfirmed,
        State::IdentityReview | State::AwaitingIdentity => Step::Identity,
        State::AwaitingPayment => Step::Fee,
        State::InProgress | State::AwaitingInfo => Step::Work,
        State::Fulfilled | State::PartiallyFulfilled | State::NoData | State::Refused => {
            return steps.into_iter().map(|s| (s, Mark::Done)).collect();
        }
        State::Rejected | State::Withdrawn | State::Expired => return Vec::new(),
    };
    let mut before = true;
    steps
        .into_iter()
        .map(|s| {
            let mark = if s == at {
                before = false;
                Mark::Current
            } else if before {
                Mark::Done
            } else {
                Mark::Ahead
            };
            (s, mark)
        })
        .collect()
}
