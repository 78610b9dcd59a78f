//! A local stand-in for the Stripe API: the real async-stripe client talks to it over HTTP.
//! It answers Checkout Session and Refund creation (honouring idempotency keys) and can be
//! told to fail.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// A recorded call: which endpoint, and its form fields.
pub type Call = (String, Vec<(String, String)>);

#[derive(Default)]
pub struct Inner {
    pub fail: AtomicBool,
    pub counter: AtomicU64,
    pub calls: Mutex<Vec<Call>>,
    idempotent: Mutex<HashMap<String, String>>,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub addr: SocketAddr,
    pub inner: Arc<Inner>,
}

pub const WEBHOOK_SECRET: &str = "whsec_test_madoguchi";

/// A Checkout Session object with every field the SDK requires.
pub fn session_json(
    id: &str,
    reference: &str,
    amount: i64,
    currency: &str,
    status: &str,
    payment_intent: Option<&str>,
) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "id": id,
        "object": "checkout.session",
        "created": now,
        "expires_at": now + 86400,
        "livemode": false,
        "mode": "payment",
        "payment_status": status,
        "status": if status == "paid" { "complete" } else { "open" },
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "payment_method_types": ["card"],
        "shipping_options": [],
        "amount_total": amount,
        "amount_subtotal": amount,
        "currency": currency,
        "client_reference_id": reference,
        "payment_intent": payment_intent,
        "url": format!("https://checkout.stripe.test/c/pay/{id}"),
        "metadata": {}
    })
}

async fn create_session(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    inner
        .calls
        .lock()
        .unwrap()
        .push(("checkout".into(), fields.clone()));
    if inner.fail.load(Ordering::SeqCst) {
        let err = serde_json::json!({"error": {"type": "api_error", "message": "Stripe is having a bad day"}});
        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(err)).into_response();
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if let Some(previous) = inner.idempotent.lock().unwrap().get(&key) {
        return ([("content-type", "application/json")], previous.clone()).into_response();
    }
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let n = inner.counter.fetch_add(1, Ordering::SeqCst);
    let amount: i64 = get("line_items[0][price_data][unit_amount]")
        .parse()
        .unwrap_or(0);
    let body = session_json(
        &format!("cs_test_{n}"),
        &get("client_reference_id"),
        amount,
        &get("line_items[0][price_data][currency]"),
        "unpaid",
        None,
    )
    .to_string();
    inner.idempotent.lock().unwrap().insert(key, body.clone());
    ([("content-type", "application/json")], body).into_response()
}

async fn create_refund(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    inner
        .calls
        .lock()
        .unwrap()
        .push(("refund".into(), fields.clone()));
    let amount: i64 = fields
        .iter()
        .find(|(k, _)| k == "amount")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let n = inner.counter.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::json!({"id": format!("re_test_{n}"), "object": "refund", "amount": amount, "created": chrono::Utc::now().timestamp(), "currency": "jpy", "status": "succeeded"});
    ([("content-type", "application/json")], body.to_string()).into_response()
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/refunds", post(create_refund))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeStripe { addr, inner }
    }

    pub fn calls(&self, kind: &str) -> Vec<Vec<(String, String)>> {
        self.inner
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// A signed webhook delivery: (payload, Stripe-Signature header).
pub fn signed_event(id: &str, kind: &str, object: serde_json::Value, at: i64) -> (String, String) {
    let payload = serde_json::json!({
        "id": id,
        "object": "event",
        "api_version": "2026-09-30.endive",
        "created": at,
        "livemode": false,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": object}
    })
    .to_string();
    let sig = madoguchi_pay::sign_webhook(&payload, WEBHOOK_SECRET, at);
    (payload, sig)
}
