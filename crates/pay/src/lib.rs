#![doc = include_str!("../README.md")]

use std::collections::HashMap;
use std::time::Duration;

use stripe::StripeRequest;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    ProductData,
};
use stripe_core::refund::CreateRefund;
use stripe_shared::{CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus};
use stripe_types::Currency;
use stripe_webhook::{EventObject, Webhook};

/// What can go wrong talking to Stripe or reading its webhooks.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// Stripe (or the network) refused the call; the request stays payable.
    #[error("payment provider error: {0}")]
    Api(String),
    /// The webhook signature is missing, wrong or too old.
    #[error("webhook signature rejected")]
    Signature,
    /// The webhook verified but its body did not parse.
    #[error("webhook body unreadable: {0}")]
    Parse(String),
    /// The client could not be configured.
    #[error("payment configuration: {0}")]
    Config(String),
}

/// Keys and endpoint.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `sk_live_…` / `sk_test_…`.
    pub secret_key: String,
    /// `whsec_…`.
    pub webhook_secret: String,
    /// Base URL override (tests); a path needs a trailing slash.
    pub api_base: Option<String>,
}

/// A created Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// `cs_…`.
    pub id: String,
    /// Where to send the payer.
    pub url: String,
}

/// What we ask Stripe to charge.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// The request's public id (client reference).
    pub request_pid: String,
    /// The request number (metadata, shown in Stripe's dashboard).
    pub number: String,
    /// The fee in yen.
    pub amount_jpy: i64,
    /// Line item name.
    pub description: String,
    /// Back to our site after paying.
    pub success_url: String,
    /// Back to our site after cancelling.
    pub cancel_url: String,
    /// Same key, same session: a double click or a retry never creates two.
    pub idempotency_key: String,
}

/// A verified webhook event, reduced to what the service acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// A Checkout Session was paid (completed with `paid`, or async payment succeeded).
    Paid {
        /// `evt_…`, the idempotency key.
        event_id: String,
        /// `cs_…`.
        session_id: String,
        /// Our request's public id.
        client_reference: Option<String>,
        /// Amount charged.
        amount: Option<i64>,
        /// Currency, lower case.
        currency: Option<String>,
        /// `pi_…`, needed for refunds.
        payment_intent: Option<String>,
    },
    /// Completed but not paid yet (delayed methods), or an async payment failed.
    NotPaid {
        /// `evt_…`.
        event_id: String,
        /// `cs_…`.
        session_id: String,
        /// Our request's public id.
        client_reference: Option<String>,
        /// Why.
        status: String,
    },
    /// The session expired unpaid.
    Expired {
        /// `evt_…`.
        event_id: String,
        /// `cs_…`.
        session_id: String,
        /// Our request's public id.
        client_reference: Option<String>,
    },
    /// A charge was refunded.
    Refunded {
        /// `evt_…`.
        event_id: String,
        /// `pi_…`.
        payment_intent: Option<String>,
        /// Total refunded so far.
        amount_refunded: i64,
    },
    /// Anything else; acknowledged and ignored.
    Other {
        /// `evt_…`.
        event_id: String,
        /// Event type.
        kind: String,
    },
}

/// The Stripe connection.
#[derive(Clone)]
pub struct StripePayments {
    client: Client,
    webhook_secret: String,
}

impl std::fmt::Debug for StripePayments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripePayments")
    }
}

fn session_event(id: String, s: &CheckoutSession, paid: bool) -> WebhookEvent {
    let client_reference = s.client_reference_id.clone();
    let session_id = s.id.to_string();
    if paid && s.payment_status == CheckoutSessionPaymentStatus::Paid {
        WebhookEvent::Paid {
            event_id: id,
            session_id,
            client_reference,
            amount: s.amount_total,
            currency: s.currency.as_ref().map(|c| c.to_string().to_lowercase()),
            payment_intent: s.payment_intent.as_ref().map(|p| p.id().to_string()),
        }
    } else {
        WebhookEvent::NotPaid {
            event_id: id,
            session_id,
            client_reference,
            status: s.payment_status.as_str().to_owned(),
        }
    }
}

impl StripePayments {
    /// A client for these keys.
    pub fn new(settings: &StripeSettings) -> Result<Self, PayError> {
        let mut builder = ClientBuilder::new(settings.secret_key.clone())
            .request_strategy(RequestStrategy::Once)
            .timeout(Duration::from_secs(15));
        if let Some(base) = &settings.api_base {
            builder = builder.url(base.clone());
        }
        let client = builder
            .build()
            .map_err(|e| PayError::Config(e.to_string()))?;
        Ok(StripePayments {
            client,
            webhook_secret: settings.webhook_secret.clone(),
        })
    }

    /// Creates a Checkout Session for the fee.
    pub async fn create_checkout(&self, req: &CheckoutRequest) -> Result<Checkout, PayError> {
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(Currency::JPY);
        price.unit_amount = Some(req.amount_jpy);
        price.product_data = Some(ProductData::new(req.description.clone()));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(1);
        let metadata = HashMap::from([
            ("request_number".to_owned(), req.number.clone()),
            ("request_id".to_owned(), req.request_pid.clone()),
        ]);
        let key = IdempotencyKey::new(req.idempotency_key.clone())
            .map_err(|e| PayError::Config(e.to_string()))?;
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .client_reference_id(req.request_pid.clone())
            .metadata(metadata)
            .success_url(req.success_url.clone())
            .cancel_url(req.cancel_url.clone())
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(|e| PayError::Api(e.to_string()))?;
        let url = session
            .url
            .clone()
            .ok_or_else(|| PayError::Api("the session has no URL".into()))?;
        Ok(Checkout {
            id: session.id.to_string(),
            url,
        })
    }

    /// Refunds part or all of a card payment.
    pub async fn refund(
        &self,
        payment_intent: &str,
        amount_jpy: i64,
        idempotency_key: &str,
    ) -> Result<String, PayError> {
        let key =
            IdempotencyKey::new(idempotency_key).map_err(|e| PayError::Config(e.to_string()))?;
        let refund = CreateRefund::new()
            .payment_intent(payment_intent.to_owned())
            .amount(amount_jpy)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(|e| PayError::Api(e.to_string()))?;
        Ok(refund.id.to_string())
    }

    /// Verifies a webhook's signature, then parses it.
    pub fn verify_webhook(&self, payload: &str, signature: &str) -> Result<WebhookEvent, PayError> {
        let event = Webhook::construct_event(payload, signature, &self.webhook_secret).map_err(
            |e| match e {
                stripe_webhook::WebhookError::BadParse(m) => PayError::Parse(m),
                _ => PayError::Signature,
            },
        )?;
        let id = event.id.to_string();
        Ok(match event.data.object {
            EventObject::CheckoutSessionCompleted(s)
            | EventObject::CheckoutSessionAsyncPaymentSucceeded(s) => session_event(id, &s, true),
            EventObject::CheckoutSessionAsyncPaymentFailed(s) => session_event(id, &s, false),
            EventObject::CheckoutSessionExpired(s) => WebhookEvent::Expired {
                event_id: id,
                session_id: s.id.to_string(),
                client_reference: s.client_reference_id.clone(),
            },
            EventObject::ChargeRefunded(c) => WebhookEvent::Refunded {
                event_id: id,
                payment_intent: c.payment_intent.as_ref().map(|p| p.id().to_string()),
                amount_refunded: c.amount_refunded,
            },
            _ => WebhookEvent::Other {
                event_id: id,
                kind: event.type_.as_str().to_owned(),
            },
        })
    }
}

/// Signs a payload exactly as Stripe does (`t=…,v1=HMAC-SHA256(secret, "t.payload")`), for
/// tests and the fake provider.
pub fn sign_webhook(payload: &str, secret: &str, timestamp: i64) -> String {
    Webhook::generate_test_header(payload, secret, Some(timestamp))
}
