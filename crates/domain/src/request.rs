//! The request as the state machine sees it, and the one transition function.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::event::{
    AuditOnly, AuditRecord, CustomerMatch, Effect, Event, Mail, Outcome, Recipient, RefundReason,
};
use crate::fee::{FeeSchedule, Yen};
use crate::ground::PaymentMethod;
use crate::kind::{DeliveryMethod, RequestKind, Requester};
use crate::policy::{IdentityMethod, Period, Policy, jst_date};
use crate::state::State;

/// The part of a request the lifecycle depends on. Personal data lives elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// What is asked.
    pub kind: RequestKind,
    /// Who filed it: the subject or an agent (an agent's request is never matched against
    /// customer records).
    #[serde(default)]
    pub requester: Requester,
    /// Where it stands.
    pub state: State,
    /// The rules it was filed under.
    pub policy: Policy,
    /// The fee fixed when it was filed.
    pub fee: Yen,
    /// What has been paid, net of nothing: refunds are tracked by the payment ledger.
    pub paid: Yen,
    /// Identity (and agency) approved by an officer or by policy.
    pub identity_verified: bool,
    /// An officer has started substantive work (ends the free-refund window).
    pub work_started: bool,
    /// The one extension has been taken.
    pub extended: bool,
    /// When it reached the business (deemed arrival, Art. 39(2)).
    pub arrived_at: DateTime<Utc>,
    /// The answer is due by the end of this date, Japan time.
    pub due_on: NaiveDate,
    /// Set while the clock is paused waiting for the subject.
    pub paused_since: Option<DateTime<Utc>>,
    /// When the subject's turn runs out (confirmation, evidence, payment, information).
    pub expires_at: Option<DateTime<Utc>>,
    /// The expiry the subject was last warned about; a new waiting period warns again.
    pub expiry_warned_for: Option<DateTime<Utc>>,
    /// When it reached a terminal state; starts the retention clock.
    pub closed_at: Option<DateTime<Utc>>,
    /// How a disclosure is delivered: the subject's choice at intake (set by the caller after
    /// filing), changed only by [`Event::ChangeDelivery`]. `None` for the other kinds.
    #[serde(default)]
    pub delivery: Option<DeliveryMethod>,
}

/// The result of an accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The request after the event.
    pub next: Request,
    /// What to do in the same transaction that stores `next`.
    pub effects: Vec<Effect>,
}

/// Why an event was refused. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The event makes no sense in this state.
    #[error("`{event}` is not possible while the request is {state:?}")]
    NotAllowed {
        /// The event's name.
        event: &'static str,
        /// The current state.
        state: State,
    },
    /// The actor's role may not do this.
    #[error("{actor} may not `{event}`")]
    Forbidden {
        /// The event's name.
        event: &'static str,
        /// The actor kind or role.
        actor: &'static str,
    },
    /// The event's data is incomplete or contradicts the request.
    #[error("{0}")]
    Invalid(&'static str),
    /// A detailed answer breaks one of its rules (items, grounds, explanation).
    #[error(transparent)]
    Answer(#[from] crate::answer::AnswerError),
    /// Less than the fee still due arrived.
    #[error("payment of {got} is short of the {due} due")]
    ShortPayment {
        /// Still due.
        due: Yen,
        /// Received.
        got: Yen,
    },
}

fn audit(action: &str, detail: Vec<(&str, String)>) -> Effect {
    Effect::Audit(AuditRecord {
        action: action.to_owned(),
        detail: detail.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    })
}

fn mail(to: Recipient, mail: Mail) -> Effect {
    Effect::Email { to, mail }
}

impl Request {
    /// Files a new request: the first transition, from nothing to `submitted`.
    pub fn file(
        kind: RequestKind,
        policy: Policy,
        fees: &FeeSchedule,
        now: DateTime<Utc>,
    ) -> Transition {
        Request::file_at(kind, policy, fees, now, now)
    }

    /// Files a request that reached the business at `arrived_at` (by post, say) but is entered
    /// `now`: the deadline counts from arrival, the confirmation link's life from now.
    pub fn file_at(
        kind: RequestKind,
        policy: Policy,
        fees: &FeeSchedule,
        arrived_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Transition {
        Request::file_by(kind, Requester::Subject, policy, fees, arrived_at, now)
    }

    /// Files a request made by `requester` (the subject or an agent); otherwise as
    /// [`Request::file_at`].
    pub fn file_by(
        kind: RequestKind,
        requester: Requester,
        policy: Policy,
        fees: &FeeSchedule,
        arrived_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Transition {
        let arrived_at = arrived_at.min(now);
        let arrival = jst_date(arrived_at);
        let fee = fees.fee(kind);
        let request = Request {
            kind,
            requester,
            state: State::Submitted,
            policy,
            fee,
            paid: Yen::ZERO,
            identity_verified: false,
            work_started: false,
            extended: false,
            arrived_at,
            due_on: policy.deadline.period.after(arrival),
            paused_since: policy.deadline.pause_while_waiting.then_some(now),
            expires_at: Some(now + Duration::hours(i64::from(policy.confirm_within_hours))),
            closed_at: None,
            expiry_warned_for: None,
            delivery: None,
        };
        let effects = vec![
            audit(
                "request.filed",
                vec![
                    ("kind", kind.as_str().to_owned()),
                    ("requester", requester.as_str().to_owned()),
                    ("identity", policy.identity_for(kind).as_str().to_owned()),
                    ("jurisdiction", policy.jurisdiction.as_str().to_owned()),
                    ("fee", fee.0.to_string()),
                    ("due_on", request.due_on.to_string()),
                    ("to", State::Submitted.as_str().to_owned()),
                ],
            ),
            mail(Recipient::Subject, Mail::ConfirmAddress),
        ];
        Transition {
            next: request,
            effects,
        }
    }

    /// A request entered by a clerk from a letter, the counter, a call or the desk's mailbox:
    /// filed and, in the same change, confirmed by the clerk (`how`), so it never waits for a
    /// confirmation link the requester may have no address to receive. Every entry is the
    /// clerk's.
    #[expect(
        clippy::too_many_arguments,
        reason = "what, who asks, under which rules and fees, when it arrived, how it was confirmed, by whom, now"
    )]
    pub fn enter_by(
        kind: RequestKind,
        requester: Requester,
        policy: Policy,
        fees: &FeeSchedule,
        arrived_at: DateTime<Utc>,
        how: crate::event::ContactCheck,
        clerk: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Transition, TransitionError> {
        let filed = Request::file_by(kind, requester, policy, fees, arrived_at, now);
        let confirmed = apply(&filed.next, &Event::ConfirmRequester { how }, clerk, now)?;
        let mut effects: Vec<Effect> = filed
            .effects
            .into_iter()
            .filter(|e| {
                !matches!(
                    e,
                    Effect::Email {
                        mail: Mail::ConfirmAddress,
                        ..
                    }
                )
            })
            .collect();
        effects.extend(confirmed.effects);
        Ok(Transition {
            next: confirmed.next,
            effects,
        })
    }

    /// From when the subject may sue (Art. 39(1)): two weeks after arrival, or at once from
    /// the day the business refused, wholly or in part (the proviso: 拒んだとき).
    pub fn may_sue_from(&self) -> NaiveDate {
        let after_wait = crate::policy::may_sue_from(self.arrived_at);
        match (self.state, self.closed_at) {
            (State::Refused | State::Rejected | State::PartiallyFulfilled, Some(at)) => {
                after_wait.min(jst_date(at))
            }
            _ => after_wait,
        }
    }

    /// The fee still due.
    pub fn amount_due(&self) -> Yen {
        Yen((self.fee.0 - self.paid.0).max(0))
    }

    /// Whether the subject should be warned now that their turn runs out: within the policy's
    /// warning lead, before the expiry itself, and not yet warned for this waiting period.
    /// An unconfirmed address gets nothing: it may not be the subject's.
    pub fn expiry_warning_due(&self, now: DateTime<Utc>) -> bool {
        let Some(at) = self.expires_at else {
            return false;
        };
        self.state.awaits_subject()
            && self.state != State::Submitted
            && now < at
            && now >= at - Duration::hours(i64::from(self.policy.warn_before_expiry_hours))
            && self.expiry_warned_for != Some(at)
    }

    /// Whether the answer is late at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.state.is_terminal() && jst_date(now) > self.due_on
    }
}

/// Applies one event. The only way a request changes state.
pub fn apply(
    request: &Request,
    event: &Event,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Transition, TransitionError> {
    check_role(event, actor)?;
    if let Event::Record(what) = event {
        return Ok(record_only(request, what, actor));
    }
    let from = request.state;
    if from.is_terminal() {
        return Err(not_allowed(event, from));
    }
    let mut next = request.clone();
    let mut effects = Vec::new();
    let to = match event {
        Event::ConfirmEmail => {
            require(from, &[State::Submitted], event)?;
            confirmed(request, &mut next, &mut effects)
        }
        Event::ConfirmRequester { how } => {
            require(from, &[State::Submitted], event)?;
            if request.policy.identity_for(request.kind) == IdentityMethod::EmailOnly {
                // The method proves identity by control of the address, which a clerk's
                // confirmation does not give: the request goes to document review instead.
                effects.push(audit(
                    "identity.documents_instead",
                    vec![("reason", "entered_by_staff".to_owned())],
                ));
            }
            effects.push(audit(
                "requester.confirmed",
                vec![("how", how.as_str().to_owned())],
            ));
            effects.push(mail(Recipient::Staff, Mail::StaffNewRequest));
            State::IdentityReview
        }
        Event::MatchCustomerRecord { result } => {
            require(from, &[State::IdentityReview], event)?;
            if request.policy.identity_for(request.kind) != IdentityMethod::CustomerRecord {
                return Err(TransitionError::Invalid(
                    "the policy does not prove identity by customer record for this kind",
                ));
            }
            if request.identity_verified {
                return Err(TransitionError::Invalid("identity is already verified"));
            }
            match result {
                CustomerMatch::Matched if request.requester.is_agent() => {
                    return Err(TransitionError::Invalid(
                        "an agent's request is never matched automatically: the agent's \
                         identity and authority need documents",
                    ));
                }
                CustomerMatch::Matched => {
                    next.identity_verified = true;
                    effects.push(audit(
                        "identity.matched_customer_record",
                        vec![("method", IdentityMethod::CustomerRecord.as_str().to_owned())],
                    ));
                    identity_passed(&next, &mut effects)
                }
                CustomerMatch::NotFound
                | CustomerMatch::AgentFiled
                | CustomerMatch::Unavailable => {
                    effects.push(audit(
                        "identity.customer_record_not_matched",
                        vec![
                            ("reason", result.as_str().to_owned()),
                            ("next", "document_review".to_owned()),
                        ],
                    ));
                    State::IdentityReview
                }
            }
        }
        Event::SubmitEvidence => {
            require(from, &[State::AwaitingIdentity], event)?;
            effects.push(mail(Recipient::Staff, Mail::StaffSubjectAnswered));
            State::IdentityReview
        }
        Event::ApproveIdentity => {
            require(from, &[State::IdentityReview], event)?;
            next.identity_verified = true;
            identity_passed(&next, &mut effects)
        }
        Event::RequestMoreEvidence { missing } => {
            require(from, &[State::IdentityReview], event)?;
            non_empty(missing, "say what evidence is missing")?;
            effects.push(mail(Recipient::Subject, Mail::IdentityMoreNeeded));
            State::AwaitingIdentity
        }
        Event::RejectIdentity { reason } => {
            require(
                from,
                &[State::IdentityReview, State::AwaitingIdentity],
                event,
            )?;
            non_empty(reason, "give the reason for the rejection")?;
            effects.push(mail(Recipient::Subject, Mail::IdentityRejected));
            State::Rejected
        }
        Event::RecordPayment { amount, method } => {
            require(from, &[State::AwaitingPayment], event)?;
            let card_by_webhook =
                *method == PaymentMethod::Card && *actor == Actor::PaymentProvider;
            let offline_by_staff = method.is_offline() && actor.is_worker();
            if !(card_by_webhook || offline_by_staff) {
                return Err(TransitionError::Forbidden {
                    event: event.name(),
                    actor: actor_label(actor),
                });
            }
            let due = request.amount_due();
            if *amount < due {
                return Err(TransitionError::ShortPayment { due, got: *amount });
            }
            next.paid = Yen(request.paid.0 + amount.0);
            effects.push(audit(
                "payment.recorded",
                vec![
                    ("method", method.as_str().to_owned()),
                    ("amount", amount.0.to_string()),
                ],
            ));
            effects.push(mail(Recipient::Subject, Mail::PaymentReceived));
            effects.push(mail(Recipient::Staff, Mail::StaffPaymentReceived));
            if *amount > due {
                effects.push(Effect::Refund {
                    amount: Yen(amount.0 - due.0),
                    reason: RefundReason::Overpayment,
                });
                effects.push(mail(Recipient::Subject, Mail::Refunded));
            }
            State::InProgress
        }
        Event::StartWork => {
            require(from, &[State::InProgress], event)?;
            if request.work_started {
                return Err(TransitionError::Invalid("work has already started"));
            }
            next.work_started = true;
            State::InProgress
        }
        Event::RequestInfo { question } => {
            require(from, &[State::InProgress], event)?;
            non_empty(question, "write the question to the subject")?;
            next.work_started = true;
            effects.push(mail(Recipient::Subject, Mail::InfoNeeded));
            State::AwaitingInfo
        }
        Event::ProvideInfo => {
            require(from, &[State::AwaitingInfo], event)?;
            effects.push(mail(Recipient::Staff, Mail::StaffSubjectAnswered));
            State::InProgress
        }
        Event::ExtendDeadline { reason } => {
            require(
                from,
                &[
                    State::IdentityReview,
                    State::AwaitingIdentity,
                    State::AwaitingPayment,
                    State::InProgress,
                    State::AwaitingInfo,
                ],
                event,
            )?;
            non_empty(reason, "give the reason for the extension")?;
            let Some(extension) = request.policy.deadline.extension else {
                return Err(TransitionError::Invalid(
                    "this jurisdiction's policy allows no extension",
                ));
            };
            if request.extended {
                return Err(TransitionError::Invalid(
                    "the deadline was already extended",
                ));
            }
            if jst_date(now) > request.due_on {
                return Err(TransitionError::Invalid(
                    "an extension must be noticed before the deadline passes",
                ));
            }
            next.extended = true;
            next.due_on = extension.after(request.due_on);
            effects.push(audit(
                "deadline.extended",
                vec![
                    ("from_due_on", request.due_on.to_string()),
                    ("due_on", next.due_on.to_string()),
                ],
            ));
            effects.push(mail(Recipient::Subject, Mail::DeadlineExtended));
            from
        }
        Event::ChangeDelivery {
            to: new_method,
            reason,
        } => {
            require(
                from,
                &[
                    State::IdentityReview,
                    State::AwaitingIdentity,
                    State::AwaitingPayment,
                    State::InProgress,
                    State::AwaitingInfo,
                ],
                event,
            )?;
            if !request.kind.is_disclosure() {
                return Err(TransitionError::Invalid(
                    "only a disclosure has a delivery method",
                ));
            }
            if request.delivery == Some(*new_method) {
                return Err(TransitionError::Invalid(
                    "the request already has this delivery method",
                ));
            }
            non_empty(reason, "tell the subject why the method changes")?;
            let mut detail = vec![("method", new_method.as_str().to_owned())];
            if let Some(old) = request.delivery {
                detail.insert(0, ("from_method", old.as_str().to_owned()));
            }
            effects.push(audit("delivery.changed", detail));
            next.delivery = Some(*new_method);
            effects.push(mail(Recipient::Subject, Mail::DeliveryChanged));
            from
        }
        Event::Complete(outcome) => {
            require(from, &[State::InProgress], event)?;
            let to = match outcome {
                Outcome::Fulfilled => State::Fulfilled,
                Outcome::NoData => State::NoData,
                Outcome::PartiallyFulfilled { grounds } => {
                    check_grounds(request.kind, grounds)?;
                    effects.push(audit("grounds.recorded", grounds_detail(grounds)));
                    State::PartiallyFulfilled
                }
                Outcome::Answered {
                    answer,
                    explanation,
                } => {
                    let verdict = answer.verdict(request.kind)?;
                    if verdict.state() == State::Refused && explanation.trim().is_empty() {
                        return Err(crate::answer::AnswerError::ExplanationRequired.into());
                    }
                    effects.push(Effect::Audit(AuditRecord {
                        action: "answer.recorded".to_owned(),
                        detail: answer.audit_detail(),
                    }));
                    if !verdict.grounds().is_empty() {
                        effects.push(audit("grounds.recorded", grounds_detail(verdict.grounds())));
                    }
                    verdict.state()
                }
            };
            if to == State::Refused {
                // Nothing granted: the subject gets the refusal, as for `refuse`.
                effects.push(mail(Recipient::Subject, Mail::Refused));
                refund_if_before_work(request, RefundReason::RefusedBeforeWork, &mut effects);
            } else {
                effects.push(mail(Recipient::Subject, Mail::Completed));
            }
            next.work_started = true;
            to
        }
        Event::Refuse {
            grounds,
            explanation,
        } => {
            require(from, &[State::InProgress, State::AwaitingInfo], event)?;
            check_grounds(request.kind, grounds)?;
            non_empty(explanation, "explain the refusal to the subject (Art. 36)")?;
            effects.push(audit("grounds.recorded", grounds_detail(grounds)));
            effects.push(mail(Recipient::Subject, Mail::Refused));
            refund_if_before_work(request, RefundReason::RefusedBeforeWork, &mut effects);
            State::Refused
        }
        Event::Withdraw => {
            if !matches!(actor, Actor::Subject) && !actor.is_worker() {
                return Err(TransitionError::Forbidden {
                    event: event.name(),
                    actor: actor_label(actor),
                });
            }
            effects.push(mail(Recipient::Subject, Mail::Withdrawn));
            effects.push(mail(Recipient::Staff, Mail::StaffWithdrawn));
            refund_if_before_work(request, RefundReason::WithdrawnBeforeWork, &mut effects);
            State::Withdrawn
        }
        Event::Expire => {
            require(
                from,
                &[
                    State::Submitted,
                    State::AwaitingIdentity,
                    State::AwaitingPayment,
                    State::AwaitingInfo,
                ],
                event,
            )?;
            if request.expires_at.is_none_or(|at| now < at) {
                return Err(TransitionError::Invalid("the request has not expired yet"));
            }
            // An unconfirmed address may not be the subject's: nothing is sent to it.
            if from != State::Submitted {
                effects.push(mail(Recipient::Subject, Mail::Expired));
            }
            State::Expired
        }
        Event::WarnExpiry => {
            require(
                from,
                &[
                    State::AwaitingIdentity,
                    State::AwaitingPayment,
                    State::AwaitingInfo,
                ],
                event,
            )?;
            if !request.expiry_warning_due(now) {
                return Err(TransitionError::Invalid("no expiry warning is due"));
            }
            next.expiry_warned_for = request.expires_at;
            effects.push(mail(Recipient::Subject, Mail::ExpiryWarning));
            from
        }
        Event::Record(_) => unreachable!("handled above"),
    };
    move_clock(request, &mut next, to, now);
    next.state = to;
    let mut detail = vec![
        ("from", from.as_str().to_owned()),
        ("to", to.as_str().to_owned()),
    ];
    if next.due_on != request.due_on {
        detail.push(("due_on", next.due_on.to_string()));
    }
    effects.insert(0, audit(&format!("request.{}", event.name()), detail));
    Ok(Transition { next, effects })
}

/// Where a confirmed address leads: straight past identity when the policy proves it by
/// the address alone, else to the officer's review.
fn confirmed(request: &Request, next: &mut Request, effects: &mut Vec<Effect>) -> State {
    if request.policy.identity_for(request.kind) == IdentityMethod::EmailOnly {
        next.identity_verified = true;
        identity_passed(next, effects)
    } else {
        effects.push(mail(Recipient::Subject, Mail::AddressConfirmed));
        effects.push(mail(Recipient::Staff, Mail::StaffNewRequest));
        State::IdentityReview
    }
}

/// Where a request goes once identity is settled: to payment if a fee is due, else to work.
/// The subject gets one mail for it: the fee's (which opens by saying identity is settled),
/// or, with nothing to pay, that identity is settled and work begins. Two mails in the same
/// second said one thing twice.
fn identity_passed(next: &Request, effects: &mut Vec<Effect>) -> State {
    let due = next.amount_due();
    if due > Yen::ZERO {
        effects.push(Effect::RequestPayment { amount: due });
        effects.push(mail(Recipient::Subject, Mail::PaymentRequested));
        State::AwaitingPayment
    } else {
        effects.push(mail(Recipient::Subject, Mail::IdentityApproved));
        State::InProgress
    }
}

fn refund_if_before_work(request: &Request, reason: RefundReason, effects: &mut Vec<Effect>) {
    if request.paid > Yen::ZERO && !request.work_started && request.policy.refund_before_work {
        effects.push(Effect::Refund {
            amount: request.paid,
            reason,
        });
        effects.push(mail(Recipient::Subject, Mail::Refunded));
    }
}

/// Pauses and resumes the deadline clock and sets the subject's expiry as the state changes.
fn move_clock(before: &Request, next: &mut Request, to: State, now: DateTime<Utc>) {
    let policy = before.policy;
    if let Some(since) = before.paused_since.filter(|_| !to.awaits_subject()) {
        let waited = (jst_date(now) - jst_date(since)).num_days().max(0);
        let waited = u32::try_from(waited).unwrap_or(u32::MAX);
        if waited > 0 {
            let by = match policy.deadline.period {
                Period::BusinessDays(_) => Period::BusinessDays(waited),
                Period::Days(_) | Period::Months(_) => Period::Days(waited),
            };
            next.due_on = by.after(next.due_on);
        }
        next.paused_since = None;
    }
    if to.awaits_subject() && to != before.state {
        if policy.deadline.pause_while_waiting && next.paused_since.is_none() {
            next.paused_since = Some(now);
        }
        next.expires_at = Some(now + Duration::days(i64::from(policy.answer_within_days)));
    } else if !to.awaits_subject() {
        next.expires_at = None;
    }
    if to.is_terminal() {
        next.closed_at = Some(now);
        next.paused_since = None;
    }
}

fn record_only(request: &Request, what: &AuditOnly, actor: &Actor) -> Transition {
    let (action, detail) = match what {
        AuditOnly::Viewed { target } => ("data.viewed", vec![("target", target.clone())]),
        AuditOnly::Downloaded { target } => ("file.downloaded", vec![("target", target.clone())]),
        AuditOnly::Note => ("note.added", vec![]),
        AuditOnly::Assigned { assignee } => (
            "request.assigned",
            vec![(
                "assignee",
                assignee.map_or("none".into(), |a| a.to_string()),
            )],
        ),
        AuditOnly::IncidentLinked { number } => (
            "request.incident_linked",
            vec![("incident", number.clone())],
        ),
        AuditOnly::Uploaded { target } => ("document.uploaded", vec![("target", target.clone())]),
        AuditOnly::Attached { target } => ("document.attached", vec![("target", target.clone())]),
        AuditOnly::Posted { tracking } => ("answer.posted", vec![("tracking", tracking.clone())]),
        AuditOnly::LetterPosted { letter, tracking } => (
            "letter.posted",
            vec![("letter", letter.clone()), ("tracking", tracking.clone())],
        ),
        AuditOnly::CodeSent => ("access_code.sent", vec![]),
        AuditOnly::CodeAccepted => ("access_code.accepted", vec![]),
        AuditOnly::CodeLocked => ("access_code.locked", vec![]),
        AuditOnly::PaymentFlagged { reason, amount } => (
            "payment.flagged",
            vec![("reason", reason.clone()), ("amount", amount.to_string())],
        ),
        AuditOnly::FlaggedRefundOrdered { amount } => (
            "payment.flagged_refund_ordered",
            vec![("amount", amount.to_string())],
        ),
        AuditOnly::RefundSent { amount } => (
            "refund.sent",
            vec![
                ("amount", amount.to_string()),
                ("method", "card".to_owned()),
            ],
        ),
        AuditOnly::RefundRecorded { amount, method } => (
            "refund.recorded",
            vec![("amount", amount.to_string()), ("method", method.clone())],
        ),
        AuditOnly::DocumentDeleted { target } => (
            "document.deleted",
            vec![
                ("target", target.clone()),
                ("reason", "retention".to_owned()),
            ],
        ),
        AuditOnly::GatherRequested { systems } => {
            ("gather.requested", vec![("systems", systems.to_string())])
        }
        AuditOnly::Gathered {
            system,
            datasets,
            rows,
            hash,
        } => (
            "data.gathered",
            vec![
                ("system", system.clone()),
                ("datasets", datasets.to_string()),
                ("rows", rows.to_string()),
                ("sha256", hash.clone()),
            ],
        ),
        AuditOnly::GatherFailed {
            system,
            attempts,
            last,
        } => (
            "gather.failed",
            vec![
                ("system", system.clone()),
                ("attempts", attempts.to_string()),
                ("final", last.to_string()),
            ],
        ),
        AuditOnly::OwnerAsked { system, due_on } => (
            "owner.asked",
            vec![("system", system.clone()), ("due_on", due_on.clone())],
        ),
        AuditOnly::OwnerAnswered {
            system,
            datasets,
            rows,
            hash,
        } => (
            "owner.answered",
            vec![
                ("system", system.clone()),
                ("datasets", datasets.to_string()),
                ("rows", rows.to_string()),
                ("sha256", hash.clone()),
            ],
        ),
        AuditOnly::OwnerReminded { system } => ("owner.reminded", vec![("system", system.clone())]),
        AuditOnly::OwnerActed { system, done, rows } => (
            if *done {
                "owner.done"
            } else {
                "owner.declined"
            },
            vec![("system", system.clone()), ("rows", rows.to_string())],
        ),
        AuditOnly::ProvisionStopped { recipients } => (
            "provision.stopped",
            vec![("recipients", recipients.to_string())],
        ),
        AuditOnly::RecipientNotified { recipient, due_on } => (
            "recipient.notified",
            vec![("recipient", recipient.clone()), ("due_on", due_on.clone())],
        ),
        AuditOnly::ErasureOrdered {
            systems,
            rows,
            suspend,
        } => (
            if *suspend {
                "suspension.ordered"
            } else {
                "erasure.ordered"
            },
            vec![("systems", systems.to_string()), ("rows", rows.to_string())],
        ),
        AuditOnly::CorrectionApproved { dataset } => {
            ("correction.approved", vec![("dataset", dataset.clone())])
        }
        AuditOnly::CorrectionOrdered { dataset, fields } => (
            "correction.ordered",
            vec![("dataset", dataset.clone()), ("fields", fields.clone())],
        ),
        AuditOnly::Corrected {
            dataset,
            fields,
            rows,
        } => (
            "data.corrected",
            vec![
                ("dataset", dataset.clone()),
                ("fields", fields.clone()),
                ("rows", rows.to_string()),
            ],
        ),
        AuditOnly::ErasureApproved { systems, suspend } => (
            if *suspend {
                "suspension.approved"
            } else {
                "erasure.approved"
            },
            vec![("systems", systems.to_string())],
        ),
        AuditOnly::Erased {
            system,
            deleted,
            cleared,
            kept,
            suspend,
        } => (
            if *suspend {
                "data.suspended"
            } else {
                "data.erased"
            },
            vec![
                ("system", system.clone()),
                ("deleted", deleted.to_string()),
                ("cleared", cleared.to_string()),
                ("kept", kept.to_string()),
            ],
        ),
        AuditOnly::EraseFailed {
            system,
            attempts,
            last,
        } => (
            "erasure.failed",
            vec![
                ("system", system.clone()),
                ("attempts", attempts.to_string()),
                ("final", last.to_string()),
            ],
        ),
        AuditOnly::RequestPurged => ("request.purged", vec![("reason", "retention".to_owned())]),
        AuditOnly::GatheredDeleted { system } => (
            "data.gathered_deleted",
            vec![
                ("system", system.clone()),
                ("reason", "retention".to_owned()),
            ],
        ),
        AuditOnly::FieldReviewed {
            dataset,
            field,
            decision,
        } => (
            "data.field_reviewed",
            vec![
                ("dataset", dataset.clone()),
                ("field", field.clone()),
                ("decision", decision.clone()),
            ],
        ),
    };
    let mut detail = detail;
    if let Some(role) = actor.role() {
        detail.push(("role", role.as_str().to_owned()));
    }
    Transition {
        next: request.clone(),
        effects: vec![audit(action, detail)],
    }
}

/// Which actor may send which event. Payment is checked again against the method.
fn check_role(event: &Event, actor: &Actor) -> Result<(), TransitionError> {
    let allowed = match event {
        Event::ConfirmEmail => matches!(actor, Actor::Subject),
        // The subject sends evidence or answers on the page; what arrives by post, at the
        // counter or by phone is recorded by a worker for them.
        Event::SubmitEvidence | Event::ProvideInfo => {
            matches!(actor, Actor::Subject) || actor.is_worker()
        }
        Event::ConfirmRequester { .. }
        | Event::ApproveIdentity
        | Event::RequestMoreEvidence { .. }
        | Event::RejectIdentity { .. }
        | Event::StartWork
        | Event::RequestInfo { .. }
        | Event::ExtendDeadline { .. }
        | Event::ChangeDelivery { .. }
        | Event::Complete(_)
        | Event::Refuse { .. }
        | Event::Record(AuditOnly::Note)
        | Event::Record(AuditOnly::Assigned { .. })
        | Event::Record(AuditOnly::IncidentLinked { .. }) => actor.is_worker(),
        Event::RecordPayment { .. } => matches!(actor, Actor::PaymentProvider) || actor.is_worker(),
        Event::Withdraw => matches!(actor, Actor::Subject) || actor.is_worker(),
        Event::Expire | Event::WarnExpiry | Event::MatchCustomerRecord { .. } => {
            matches!(actor, Actor::System)
        }
        Event::Record(AuditOnly::Viewed { .. }) => actor.role().is_some(),
        Event::Record(
            AuditOnly::Downloaded { .. }
            | AuditOnly::Uploaded { .. }
            | AuditOnly::CodeSent
            | AuditOnly::CodeAccepted
            | AuditOnly::CodeLocked,
        ) => matches!(actor, Actor::Subject),
        Event::Record(
            AuditOnly::Attached { .. }
            | AuditOnly::Posted { .. }
            | AuditOnly::LetterPosted { .. }
            | AuditOnly::FlaggedRefundOrdered { .. }
            | AuditOnly::RefundRecorded { .. }
            | AuditOnly::GatherRequested { .. }
            | AuditOnly::FieldReviewed { .. }
            | AuditOnly::ErasureOrdered { .. }
            | AuditOnly::ErasureApproved { .. }
            | AuditOnly::CorrectionOrdered { .. }
            | AuditOnly::CorrectionApproved { .. }
            | AuditOnly::ProvisionStopped { .. },
        ) => actor.is_worker(),
        // Owners and recipients are asked when the officer orders the work, or by the
        // service when a connector gives up.
        Event::Record(AuditOnly::RecipientNotified { .. } | AuditOnly::OwnerAsked { .. }) => {
            actor.is_worker() || matches!(actor, Actor::System)
        }
        Event::Record(AuditOnly::PaymentFlagged { .. }) => {
            matches!(actor, Actor::PaymentProvider)
        }
        Event::Record(
            AuditOnly::RefundSent { .. }
            | AuditOnly::DocumentDeleted { .. }
            | AuditOnly::Gathered { .. }
            | AuditOnly::GatherFailed { .. }
            | AuditOnly::OwnerReminded { .. }
            | AuditOnly::GatheredDeleted { .. }
            | AuditOnly::RequestPurged
            | AuditOnly::Erased { .. }
            | AuditOnly::EraseFailed { .. }
            | AuditOnly::Corrected { .. },
        ) => matches!(actor, Actor::System),
        // The owner answers through a link: the service records it for them (the owner has
        // no account; the entry names the system).
        Event::Record(AuditOnly::OwnerAnswered { .. } | AuditOnly::OwnerActed { .. }) => {
            matches!(actor, Actor::System)
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(TransitionError::Forbidden {
            event: event.name(),
            actor: actor_label(actor),
        })
    }
}

fn actor_label(actor: &Actor) -> &'static str {
    match actor.role() {
        Some(role) => role.as_str(),
        None => actor.kind_str(),
    }
}

fn require(from: State, allowed: &[State], event: &Event) -> Result<(), TransitionError> {
    if allowed.contains(&from) {
        Ok(())
    } else {
        Err(not_allowed(event, from))
    }
}

fn not_allowed(event: &Event, state: State) -> TransitionError {
    TransitionError::NotAllowed {
        event: event.name(),
        state,
    }
}

fn non_empty(text: &str, message: &'static str) -> Result<(), TransitionError> {
    if text.trim().is_empty() {
        Err(TransitionError::Invalid(message))
    } else {
        Ok(())
    }
}

fn check_grounds(
    kind: RequestKind,
    grounds: &[crate::ground::RefusalGround],
) -> Result<(), TransitionError> {
    if grounds.is_empty() {
        return Err(TransitionError::Invalid(
            "name at least one statutory ground",
        ));
    }
    if grounds.iter().any(|g| !g.applies_to(kind)) {
        return Err(TransitionError::Invalid(
            "a ground does not apply to this kind of request",
        ));
    }
    Ok(())
}

fn grounds_detail(grounds: &[crate::ground::RefusalGround]) -> Vec<(&'static str, String)> {
    let list: Vec<&str> = grounds.iter().map(|g| g.as_str()).collect();
    vec![("grounds", list.join(","))]
}

/// Whether an allowed event is what moves the request on from where it stands (approve the
/// identity under review, record the fee awaited, start or complete the work, record
/// the answer awaited), as opposed to the detours and closings (ask again, extend, refuse,
/// withdraw). The officer's workspace shows these first and the rest one step away.
pub fn is_next_step(request: &Request, event: &str) -> bool {
    match request.state {
        State::IdentityReview => matches!(event, "approve_identity" | "request_more_evidence"),
        State::AwaitingIdentity => event == "submit_evidence",
        State::AwaitingPayment => event == "record_payment",
        // Starting shows the requester their request is being worked on; an answer ready
        // at once (a paper answer prepared beforehand) may complete it straight away.
        State::InProgress if !request.work_started => matches!(event, "start_work" | "complete"),
        State::InProgress => event == "complete",
        State::AwaitingInfo => event == "provide_info",
        _ => false,
    }
}

/// The events an actor could send in a state, for showing exactly the allowed actions.
/// Payloads are placeholders: only the event's shape is checked, not its text.
pub fn available_events(request: &Request, actor: &Actor, now: DateTime<Utc>) -> Vec<&'static str> {
    let samples = [
        Event::ConfirmEmail,
        Event::SubmitEvidence,
        Event::ApproveIdentity,
        Event::RequestMoreEvidence {
            missing: "x".into(),
        },
        Event::RejectIdentity { reason: "x".into() },
        Event::RecordPayment {
            amount: request.amount_due(),
            method: if matches!(actor, Actor::PaymentProvider) {
                PaymentMethod::Card
            } else {
                PaymentMethod::BankTransfer
            },
        },
        Event::StartWork,
        Event::RequestInfo {
            question: "x".into(),
        },
        Event::ProvideInfo,
        Event::ExtendDeadline { reason: "x".into() },
        // Either way: a paper answer may turn electronic as well as the reverse.
        Event::ChangeDelivery {
            to: DeliveryMethod::Paper,
            reason: "x".into(),
        },
        Event::ChangeDelivery {
            to: DeliveryMethod::Electronic,
            reason: "x".into(),
        },
        Event::Complete(Outcome::Fulfilled),
        Event::Refuse {
            grounds: vec![crate::ground::RefusalGround::NotRetainedData],
            explanation: "x".into(),
        },
        Event::Withdraw,
        Event::Expire,
        Event::WarnExpiry,
    ];
    let mut names: Vec<&'static str> = samples
        .iter()
        .filter(|e| apply(request, e, actor, now).is_ok())
        .map(Event::name)
        .collect();
    names.dedup();
    names
}
