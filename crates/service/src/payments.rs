//! Card payment of the fee: Checkout Sessions on demand, the Stripe webhook (verified, each
//! event applied once, out-of-order and duplicate deliveries harmless, wrong amounts flagged)
//! and card refunds executed from committed refund rows.

use chrono::{DateTime, Duration, Utc};
use madoguchi_domain::{
    Actor, AuditOnly, Event, FlagReason, LedgerKind, Mail, PaymentMethod, Recipient, RefundDue,
    State, Yen,
};
use madoguchi_pay::{CheckoutRequest, PayError, WebhookEvent};
use madoguchi_store::audit::Origin;
use madoguchi_store::change::{Change, LineMove, LineRef, NewLine, Write};
use madoguchi_store::entities::{payment, request};
use madoguchi_store::sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use madoguchi_store::{outbox, requests};
use uuid::Uuid;

use crate::{EventText, Service, ServiceError, context};

/// Why a card payment could not start.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// Card payment is not configured.
    #[error("card payment is not offered")]
    NotOffered,
    /// Nothing is due.
    #[error("no fee is due")]
    NothingDue,
    /// Stripe refused or could not be reached; the request stays payable.
    #[error("the payment provider is unavailable")]
    Provider,
}

impl Service {
    /// A Checkout Session URL for the fee due. An open session less than a day old is reused,
    /// so double clicks and the e-mail link lead to the same payment.
    pub async fn card_checkout(
        &self,
        pid: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Result<String, CardError>, ServiceError> {
        let Some(stripe) = &self.payments else {
            return Ok(Err(CardError::NotOffered));
        };
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, pid).await?;
        let due = row.fee - row.paid;
        if row.state != State::AwaitingPayment.as_str() || due <= 0 {
            return Ok(Err(CardError::NothingDue));
        }
        let previous = payment::Entity::find()
            .filter(payment::Column::RequestId.eq(row.id))
            .filter(payment::Column::Kind.eq(LedgerKind::Checkout.as_db()))
            .order_by_desc(payment::Column::Id)
            .all(self.db().conn())
            .await?;
        if let Some(open) = previous
            .iter()
            .find(|p| p.created_at > now - Duration::hours(23) && p.amount == due)
            && let Some(url) = &open.reference
        {
            return Ok(Ok(url.clone()));
        }
        let base = &self.config().base_url;
        let kind = requests::to_domain(&row)?.kind;
        let req = CheckoutRequest {
            request_pid: pid.to_string(),
            number: row.number.clone(),
            amount_jpy: due,
            description: format!("{}の手数料 ({})", kind.label_ja(), row.number),
            success_url: format!("{base}/r/{pid}?paid=1"),
            cancel_url: format!("{base}/r/{pid}"),
            idempotency_key: format!("checkout-{pid}-{}-{due}", previous.len()),
        };
        let checkout = match stripe.create_checkout(&req).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(request = %pid, error = %e, "checkout session could not be created");
                return Ok(Err(CardError::Provider));
            }
        };
        // An open checkout is no event of the request's (no money moved): a ledger line only.
        let opened = Write::AddLine(NewLine {
            kind: LedgerKind::Checkout,
            method: PaymentMethod::Card,
            amount: Yen(due),
            reference: Some(checkout.url.clone()),
            provider_ref: Some(checkout.id),
            receipt_number: None,
            recorded_by: None,
        });
        self.commit_change(
            Change::trail(&row, Vec::new()).with(opened),
            &Origin::default(),
            now,
        )
        .await?;
        Ok(Ok(checkout.url))
    }

    /// Handles a Stripe webhook. A bad signature is an error and changes nothing.
    pub async fn stripe_webhook(
        &self,
        payload: &str,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), PayError>, ServiceError> {
        let Some(stripe) = &self.payments else {
            return Ok(Err(PayError::Config(
                "card payment is not configured".into(),
            )));
        };
        let event = match stripe.verify_webhook(payload, signature) {
            Ok(e) => e,
            Err(e) => return Ok(Err(e)),
        };
        let (event_id, kind) = match &event {
            WebhookEvent::Paid { event_id, .. } => (event_id.clone(), "paid"),
            WebhookEvent::NotPaid { event_id, .. } => (event_id.clone(), "not_paid"),
            WebhookEvent::Expired { event_id, .. } => (event_id.clone(), "expired"),
            WebhookEvent::Refunded { event_id, .. } => (event_id.clone(), "refunded"),
            WebhookEvent::Other { event_id, .. } => (event_id.clone(), "other"),
        };
        if madoguchi_store::ledger::provider_event_seen(self.db().conn(), &event_id).await? {
            return Ok(Ok(()));
        }
        match event {
            WebhookEvent::Paid {
                client_reference,
                amount,
                currency,
                payment_intent,
                ..
            } => {
                self.card_paid(
                    client_reference.as_deref(),
                    amount,
                    currency.as_deref(),
                    payment_intent.as_deref(),
                    now,
                )
                .await?;
            }
            WebhookEvent::Refunded {
                payment_intent: Some(pi),
                ..
            } => {
                let refunded =
                    madoguchi_store::ledger::request_of_reference(self.db().conn(), &pi).await?;
                if let Some(request_id) = refunded {
                    let row =
                        requests::find_by_id(self.db().conn(), &self.cipher, request_id).await?;
                    let done = Write::MoveLine(LineMove {
                        line: LineRef::Reference(pi),
                        from: LedgerKind::RefundSent,
                        to: LedgerKind::RefundDone,
                        reference: None,
                        provider_ref: None,
                        recorded_by: None,
                    });
                    let change = Change::trail(&row, Vec::new()).with(done);
                    self.commit_change(change, &Origin::default(), now).await?;
                }
            }
            // Expired or not-yet-paid sessions change nothing: the next click makes a new one,
            // and a late "expired" after "paid" must not undo the payment.
            _ => {}
        }
        madoguchi_store::ledger::remember_provider_event(self.db().conn(), &event_id, kind, now)
            .await?;
        Ok(Ok(()))
    }

    async fn card_paid(
        &self,
        reference: Option<&str>,
        amount: Option<i64>,
        currency: Option<&str>,
        payment_intent: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let Some(pid) = reference.and_then(|r| Uuid::parse_str(r).ok()) else {
            tracing::warn!("a paid checkout session names no request");
            return Ok(());
        };
        let row = match requests::find_by_pid(self.db().conn(), &self.cipher, pid).await {
            Ok(r) => r,
            Err(madoguchi_store::StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let pi = payment_intent.unwrap_or("").to_owned();
        // The same payment delivered again (another event id, or a retry): already recorded.
        if !pi.is_empty() {
            let known = payment::Entity::find()
                .filter(payment::Column::RequestId.eq(row.id))
                .filter(payment::Column::ProviderRef.eq(pi.clone()))
                .count(self.db().conn())
                .await?;
            if known > 0 {
                return Ok(());
            }
        }
        let due = row.fee - row.paid;
        let awaiting = row.state == State::AwaitingPayment.as_str();
        let matches = currency == Some("jpy") && amount == Some(due);
        if awaiting && matches {
            let text = EventText {
                message: None,
                reference: Some(pi),
            };
            let event = Event::RecordPayment {
                amount: Yen(due),
                method: PaymentMethod::Card,
            };
            return match self
                .act(
                    pid,
                    None,
                    &event,
                    &Actor::PaymentProvider,
                    &text,
                    &Origin::default(),
                    now,
                )
                .await
            {
                // Two deliveries racing: the loser finds the request already paid.
                Ok(_) | Err(ServiceError::Transition(_)) => Ok(()),
                Err(e) => Err(e),
            };
        }
        // Money we did not ask for, or for a request no longer waiting: never accepted as
        // payment; kept as a flagged row and sent to staff, who decide on the refund.
        let reason = if matches {
            FlagReason::NotAwaitingPayment
        } else {
            FlagReason::AmountOrCurrencyMismatch
        };
        // The row and the mail that tells staff of it in one change: the office hears of
        // every such row and of no row that was not written.
        let flagged = Write::AddLine(NewLine {
            kind: LedgerKind::Flagged(reason),
            method: PaymentMethod::Card,
            amount: Yen(amount.unwrap_or(0)),
            reference: currency.map(str::to_owned),
            provider_ref: Some(pi),
            receipt_number: None,
            recorded_by: None,
        });
        let event = AuditOnly::PaymentFlagged {
            reason: reason.as_str().to_owned(),
            amount: amount.unwrap_or(0),
        };
        let tell = self
            .staff_message(&row, Mail::StaffPaymentFlagged, now)
            .await?;
        self.record(
            pid,
            vec![event],
            &Actor::PaymentProvider,
            vec![flagged],
            vec![tell],
            &Origin::default(),
            now,
        )
        .await?;
        Ok(())
    }

    /// A message to the office about `row`, to enqueue in the caller's transaction.
    async fn staff_message(
        &self,
        row: &request::Model,
        mail: Mail,
        now: DateTime<Utc>,
    ) -> Result<outbox::NewMessage, ServiceError> {
        let next = requests::to_domain(row)?;
        let settings = self.settings().await?;
        let ctx = context::build(
            self.office(&settings),
            row,
            &next,
            mail,
            Recipient::Staff,
            &context::Extra::default(),
            now,
        );
        Ok(outbox::NewMessage {
            request_id: Some(row.id),
            recipient: settings.business.staff_address.clone(),
            lang: madoguchi_domain::Lang::Ja,
            template: mail.as_str().to_owned(),
            context: serde_json::to_value(ctx).expect("a mail context serialises"),
            by_post: false,
        })
    }

    /// Sends card refunds that committed transitions decided. Each row is claimed before the
    /// call (so two instances never refund twice) and the call carries an idempotency key (so
    /// a retry after a crash is the same refund).
    pub async fn process_card_refunds(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let Some(stripe) = &self.payments else {
            return Ok(0);
        };
        let due = madoguchi_store::ledger::card_refunds_due(self.db().conn()).await?;
        let mut sent = 0;
        for r in due {
            let row = requests::find_by_id(self.db().conn(), &self.cipher, r.request_id).await?;
            let kind = madoguchi_store::ledger::kind_of(&r)?;
            let moved = |to: LedgerKind, from: LedgerKind| LineMove {
                line: LineRef::Id(r.id),
                from,
                to,
                reference: None,
                provider_ref: None,
                recorded_by: None,
            };
            // Claimed before the call: of two instances, one moves the line and sends it.
            let claim = Write::MoveLine(moved(LedgerKind::RefundProcessing, kind));
            let origin = Origin::default();
            match self
                .commit_change(Change::trail(&row, Vec::new()).with(claim), &origin, now)
                .await
            {
                Ok(_) => {}
                Err(ServiceError::Conflict) => continue,
                Err(e) => return Err(e),
            }
            // A refund that names its payment (a flagged one) goes back to that payment;
            // otherwise to the request's accepted card payment.
            let original = match &r.reference {
                Some(pi) => Some(pi.clone()),
                None => {
                    madoguchi_store::ledger::accepted_card_payment(self.db().conn(), r.request_id)
                        .await?
                }
            };
            let Some(pi) = original else {
                let manual = Write::MoveLine(moved(
                    LedgerKind::RefundManual,
                    LedgerKind::RefundProcessing,
                ));
                let change = Change::trail(&row, Vec::new()).with(manual);
                self.commit_change(change, &origin, now).await?;
                continue;
            };
            match stripe
                .refund(&pi, r.amount, &format!("refund-{}", r.id))
                .await
            {
                Ok(refund_id) => {
                    // The provider's answer and its entry in one change.
                    let done = Write::MoveLine(LineMove {
                        reference: Some(pi.clone()),
                        provider_ref: Some(refund_id),
                        ..moved(LedgerKind::RefundSent, LedgerKind::RefundProcessing)
                    });
                    self.record(
                        row.pid,
                        vec![AuditOnly::RefundSent { amount: r.amount }],
                        &Actor::System,
                        vec![done],
                        Vec::new(),
                        &origin,
                        now,
                    )
                    .await?;
                    sent += 1;
                }
                Err(e) => {
                    tracing::warn!(payment = r.id, error = %e, "card refund failed; will retry");
                    let back = Write::MoveLine(moved(kind, LedgerKind::RefundProcessing));
                    let change = Change::trail(&row, Vec::new()).with(back);
                    self.commit_change(change, &origin, now).await?;
                }
            }
        }
        Ok(sent)
    }
}

impl Service {
    /// Records that an officer paid back an offline refund (a transfer back, cash at the
    /// counter, the money order returned). The refund row and its audit entry are written in
    /// one transaction, and only a refund still due can be recorded, once.
    pub async fn record_offline_refund(
        &self,
        pid: Uuid,
        payment_id: i64,
        reference: &str,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(ServiceError::Invalid(
                "say how the money went back (transfer id, counter receipt)",
            ));
        }
        if !actor.is_worker() {
            return Err(ServiceError::Transition(
                madoguchi_domain::TransitionError::Forbidden {
                    event: "record_refund",
                    actor: actor.kind_str(),
                },
            ));
        }
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, pid).await?;
        let refund = payment::Entity::find_by_id(payment_id)
            .filter(payment::Column::RequestId.eq(row.id))
            .one(self.db().conn())
            .await?
            .ok_or(ServiceError::NotFound)?;
        let due_kind = madoguchi_store::ledger::kind_of(&refund)?;
        if !due_kind.is_refund_due() {
            return Err(ServiceError::Invalid("this refund is not due"));
        }
        if refund.method == PaymentMethod::Card.as_str() {
            return Err(ServiceError::Invalid(
                "card refunds go back through Stripe by themselves",
            ));
        }
        let event = AuditOnly::RefundRecorded {
            amount: refund.amount,
            method: refund.method.clone(),
        };
        // Refused unless the line is still due, so it is recorded once.
        let paid_back = Write::MoveLine(LineMove {
            line: LineRef::Id(refund.id),
            from: due_kind,
            to: LedgerKind::RefundRecorded,
            reference: Some(reference.chars().take(200).collect()),
            provider_ref: None,
            recorded_by: actor.staff_id().map(str::to_owned),
        });
        self.record(
            pid,
            vec![event],
            actor,
            vec![paid_back],
            Vec::new(),
            origin,
            now,
        )
        .await?;
        Ok(())
    }

    /// An officer sends a flagged card payment (wrong amount or currency) back to the card it
    /// came from. The flagged row is marked, and a refund due on that very payment is written
    /// beside it, with its audit entry, in one transaction; the refund timer then sends it
    /// through Stripe like any other (idempotently, once).
    pub async fn refund_flagged_payment(
        &self,
        pid: Uuid,
        payment_id: i64,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if !actor.is_worker() {
            return Err(ServiceError::Transition(
                madoguchi_domain::TransitionError::Forbidden {
                    event: "refund_flagged_payment",
                    actor: actor.kind_str(),
                },
            ));
        }
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, pid).await?;
        let flagged = payment::Entity::find_by_id(payment_id)
            .filter(payment::Column::RequestId.eq(row.id))
            .one(self.db().conn())
            .await?
            .ok_or(ServiceError::NotFound)?;
        let flagged_kind = madoguchi_store::ledger::kind_of(&flagged)?;
        if !flagged_kind.is_flagged() || flagged.provider_ref.is_none() {
            return Err(ServiceError::Invalid(
                "this payment is not a flagged card payment",
            ));
        }
        let event = AuditOnly::FlaggedRefundOrdered {
            amount: flagged.amount,
        };
        // Refused unless the line is still flagged, so the refund is ordered once.
        let marked = Write::MoveLine(LineMove {
            line: LineRef::Id(flagged.id),
            from: flagged_kind,
            to: LedgerKind::FlaggedRefunded,
            reference: None,
            provider_ref: None,
            recorded_by: None,
        });
        let refund = Write::AddLine(NewLine {
            kind: LedgerKind::RefundDue(RefundDue::FlaggedPayment),
            method: PaymentMethod::Card,
            amount: Yen(flagged.amount),
            // The payment to refund: this one, not the request's accepted payment.
            reference: flagged.provider_ref.clone(),
            provider_ref: None,
            receipt_number: None,
            recorded_by: actor.staff_id().map(str::to_owned),
        });
        self.record(
            pid,
            vec![event],
            actor,
            vec![marked, refund],
            Vec::new(),
            origin,
            now,
        )
        .await?;
        Ok(())
    }

    /// The payments a subject holds receipts for, oldest first.
    pub async fn receipts(&self, request_id: i64) -> Result<Vec<payment::Model>, ServiceError> {
        Ok(payment::Entity::find()
            .filter(payment::Column::RequestId.eq(request_id))
            .filter(payment::Column::Kind.eq(LedgerKind::Payment.as_db()))
            .filter(payment::Column::ReceiptNumber.is_not_null())
            .order_by_asc(payment::Column::Id)
            .all(self.db().conn())
            .await?)
    }
}
