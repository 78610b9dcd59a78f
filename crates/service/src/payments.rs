//! Card payment of the fee: Checkout Sessions on demand, the Stripe webhook (verified, each
//! event applied once, out-of-order and duplicate deliveries harmless, wrong amounts flagged)
//! and card refunds executed from committed refund rows.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use madoguchi_domain::{
    Actor, AuditOnly, Event, FlagReason, LedgerKind, Mail, PaymentMethod, Recipient, RefundDue,
    State, Yen,
};
use madoguchi_pay::{CheckoutRequest, PayError, WebhookEvent};
use madoguchi_store::audit::Origin;
use madoguchi_store::entities::{payment, request};
use madoguchi_store::sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};
use madoguchi_store::{outbox, requests};
use uuid::Uuid;

use crate::files::Also;
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
        let kind = madoguchi_domain::RequestKind::parse(&row.kind)
            .unwrap_or(madoguchi_domain::RequestKind::Disclosure);
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
        payment::Entity::insert(payment::ActiveModel {
            request_id: Set(row.id),
            method: Set(PaymentMethod::Card.as_str().to_owned()),
            amount: Set(due),
            kind: Set(LedgerKind::Checkout.as_db().to_owned()),
            reference: Set(Some(checkout.url.clone())),
            provider_ref: Set(Some(checkout.id)),
            receipt_number: Set(None),
            recorded_by: Set(None),
            created_at: Set(now.trunc_subsecs(6)),
            ..Default::default()
        })
        .exec(self.db().conn())
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
        let seen = madoguchi_store::entities::provider_event::Entity::find_by_id(event_id.clone())
            .one(self.db().conn())
            .await?;
        if seen.is_some() {
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
                payment::Entity::update_many()
                    .col_expr(
                        payment::Column::Kind,
                        Expr::value(LedgerKind::RefundDone.as_db()),
                    )
                    .filter(payment::Column::Kind.eq(LedgerKind::RefundSent.as_db()))
                    .filter(payment::Column::Reference.eq(pi))
                    .exec(self.db().conn())
                    .await?;
            }
            // Expired or not-yet-paid sessions change nothing: the next click makes a new one,
            // and a late "expired" after "paid" must not undo the payment.
            _ => {}
        }
        let insert = madoguchi_store::entities::provider_event::Entity::insert(
            madoguchi_store::entities::provider_event::ActiveModel {
                id: Set(event_id),
                kind: Set(kind.to_owned()),
                received_at: Set(now.trunc_subsecs(6)),
            },
        )
        .exec(self.db().conn())
        .await;
        if let Err(e) = insert
            && !madoguchi_store::StoreError::from(e.clone()).is_unique_violation()
        {
            return Err(e.into());
        }
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
        let flagged = payment::ActiveModel {
            request_id: Set(row.id),
            method: Set(PaymentMethod::Card.as_str().to_owned()),
            amount: Set(amount.unwrap_or(0)),
            kind: Set(LedgerKind::Flagged(reason).as_db().to_owned()),
            reference: Set(currency.map(str::to_owned)),
            provider_ref: Set(Some(pi)),
            receipt_number: Set(None),
            recorded_by: Set(None),
            created_at: Set(now.trunc_subsecs(6)),
            ..Default::default()
        };
        let t = madoguchi_domain::apply(
            &requests::to_domain(&row)?,
            &Event::Record(AuditOnly::PaymentFlagged {
                reason: reason.as_str().to_owned(),
                amount: amount.unwrap_or(0),
            }),
            &Actor::PaymentProvider,
            now,
        )?;
        let tell = self
            .staff_message(&row, Mail::StaffPaymentFlagged, now)
            .await?;
        self.append_with(
            pid,
            &t,
            &Actor::PaymentProvider,
            &Origin::default(),
            now,
            Also::Payment(flagged, vec![tell], self.mail_host().to_owned()),
        )
        .await?;
        self.mail_wakeup.notify_one();
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
            lang: "ja".into(),
            template: mail.as_str().to_owned(),
            context: serde_json::to_value(ctx).expect("a mail context serialises"),
        })
    }

    /// Sends card refunds that committed transitions decided. Each row is claimed before the
    /// call (so two instances never refund twice) and the call carries an idempotency key (so
    /// a retry after a crash is the same refund).
    pub async fn process_card_refunds(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let Some(stripe) = &self.payments else {
            return Ok(0);
        };
        let due = payment::Entity::find()
            .filter(payment::Column::Kind.is_in(LedgerKind::refunds_due()))
            .filter(payment::Column::Method.eq(PaymentMethod::Card.as_str()))
            .all(self.db().conn())
            .await?;
        let mut sent = 0;
        for r in due {
            let claimed = payment::Entity::update_many()
                .col_expr(
                    payment::Column::Kind,
                    Expr::value(LedgerKind::RefundProcessing.as_db()),
                )
                .filter(payment::Column::Id.eq(r.id))
                .filter(payment::Column::Kind.eq(r.kind.clone()))
                .exec(self.db().conn())
                .await?;
            if claimed.rows_affected != 1 {
                continue;
            }
            // A refund that names its payment (a flagged one) goes back to that payment;
            // otherwise to the request's accepted card payment.
            let original = match &r.reference {
                Some(pi) => Some(pi.clone()),
                None => payment::Entity::find()
                    .filter(payment::Column::RequestId.eq(r.request_id))
                    .filter(payment::Column::Kind.eq(LedgerKind::Payment.as_db()))
                    .filter(payment::Column::Method.eq(PaymentMethod::Card.as_str()))
                    .order_by_desc(payment::Column::Id)
                    .one(self.db().conn())
                    .await?
                    .and_then(|o| o.provider_ref),
            };
            let Some(pi) = original else {
                payment::Entity::update_many()
                    .col_expr(
                        payment::Column::Kind,
                        Expr::value(LedgerKind::RefundManual.as_db()),
                    )
                    .filter(payment::Column::Id.eq(r.id))
                    .exec(self.db().conn())
                    .await?;
                continue;
            };
            match stripe
                .refund(&pi, r.amount, &format!("refund-{}", r.id))
                .await
            {
                Ok(refund_id) => {
                    payment::Entity::update_many()
                        .col_expr(
                            payment::Column::Kind,
                            Expr::value(LedgerKind::RefundSent.as_db()),
                        )
                        .col_expr(payment::Column::Reference, Expr::value(Some(pi.clone())))
                        .col_expr(payment::Column::ProviderRef, Expr::value(Some(refund_id)))
                        .filter(payment::Column::Id.eq(r.id))
                        .exec(self.db().conn())
                        .await?;
                    let row =
                        requests::find_by_id(self.db().conn(), &self.cipher, r.request_id).await?;
                    let t = madoguchi_domain::apply(
                        &requests::to_domain(&row)?,
                        &Event::Record(AuditOnly::RefundSent { amount: r.amount }),
                        &Actor::System,
                        now,
                    )?;
                    self.append_with(
                        row.pid,
                        &t,
                        &Actor::System,
                        &Origin::default(),
                        now,
                        Also::Nothing,
                    )
                    .await?;
                    sent += 1;
                }
                Err(e) => {
                    tracing::warn!(payment = r.id, error = %e, "card refund failed; will retry");
                    payment::Entity::update_many()
                        .col_expr(payment::Column::Kind, Expr::value(r.kind.clone()))
                        .filter(payment::Column::Id.eq(r.id))
                        .exec(self.db().conn())
                        .await?;
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
        let t = madoguchi_domain::apply(
            &requests::to_domain(&row)?,
            &Event::Record(AuditOnly::RefundRecorded {
                amount: refund.amount,
                method: refund.method.clone(),
            }),
            actor,
            now,
        )?;
        let also = Also::RefundPaidBack {
            id: refund.id,
            due_kind,
            reference: reference.chars().take(200).collect(),
            by: actor.staff_id().map(str::to_owned),
        };
        self.append_with(pid, &t, actor, origin, now, also).await
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
        let t = madoguchi_domain::apply(
            &requests::to_domain(&row)?,
            &Event::Record(AuditOnly::FlaggedRefundOrdered {
                amount: flagged.amount,
            }),
            actor,
            now,
        )?;
        let refund = payment::ActiveModel {
            request_id: Set(row.id),
            method: Set(PaymentMethod::Card.as_str().to_owned()),
            amount: Set(flagged.amount),
            kind: Set(LedgerKind::RefundDue(RefundDue::FlaggedPayment)
                .as_db()
                .to_owned()),
            // The payment to refund: this one, not the request's accepted payment.
            reference: Set(flagged.provider_ref.clone()),
            provider_ref: Set(None),
            receipt_number: Set(None),
            recorded_by: Set(actor.staff_id().map(str::to_owned)),
            created_at: Set(now.trunc_subsecs(6)),
            ..Default::default()
        };
        let also = Also::FlaggedRefund {
            id: flagged.id,
            flagged_kind,
            refund,
        };
        self.append_with(pid, &t, actor, origin, now, also).await
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
