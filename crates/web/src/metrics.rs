//! Monitoring (`/metrics`, Prometheus/OpenMetrics text) on its own listener
//! (`MADOGUCHI_METRICS_LISTEN`): how long each route takes (a histogram by method, route
//! pattern and status class, counted in-process), and at every scrape the counts the
//! database holds (requests by kind and state, overdue and due soon, the outbox by status,
//! connector jobs by purpose and state, complaints). Labels are stored spellings and route
//! patterns only: never an address, a number or a name.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    method: &'static str,
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindState {
    kind: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Job {
    purpose: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComplaintState {
    state: String,
}

type Latency = Family<Route, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The application's own measurements (shared by every clone of the state).
#[derive(Clone, Debug)]
pub struct Metrics {
    http: Latency,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            http: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl Metrics {
    /// Renders the text a scrape reads: the in-process histograms and the database's counts.
    pub async fn render(
        &self,
        state: &AppState,
    ) -> Result<String, madoguchi_service::ServiceError> {
        let counts = state.service.counts().await?;
        let mut registry = Registry::with_prefix("madoguchi");
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by method, route pattern and status class",
            prometheus_client::registry::Unit::Seconds,
            self.http.clone(),
        );
        // Every known value is reported, 0 where nothing is counted: a series that appears
        // only with its first failure would be missed by an alert on its increase.
        let requests = Family::<KindState, Gauge>::default();
        for kind in madoguchi_domain::RequestKind::ALL {
            for state in madoguchi_domain::State::ALL {
                requests
                    .get_or_create(&KindState {
                        kind: kind.as_str().to_owned(),
                        state: state.as_str().to_owned(),
                    })
                    .set(0);
            }
        }
        for (kind, state, n) in &counts.requests {
            requests
                .get_or_create(&KindState {
                    kind: kind.clone(),
                    state: state.clone(),
                })
                .set(*n);
        }
        registry.register("requests", "Requests by kind and state", requests);
        let overdue = Gauge::<i64>::default();
        overdue.set(counts.overdue);
        registry.register(
            "requests_overdue",
            "Open requests past their due day",
            overdue,
        );
        let due_soon = Gauge::<i64>::default();
        due_soon.set(counts.due_soon);
        registry.register(
            "requests_due_soon",
            "Open requests due within seven days",
            due_soon,
        );
        let outbox = Family::<Status, Gauge>::default();
        for status in madoguchi_service::rows::OUTBOX_STATUSES {
            outbox
                .get_or_create(&Status {
                    status: (*status).to_owned(),
                })
                .set(0);
        }
        for (status, n) in &counts.outbox {
            outbox
                .get_or_create(&Status {
                    status: status.clone(),
                })
                .set(*n);
        }
        registry.register(
            "outbox_messages",
            "Mail and letters by status (pending and sending: the backlog; failed: gave up)",
            outbox,
        );
        let jobs = Family::<Job, Gauge>::default();
        for purpose in madoguchi_service::rows::JOB_PURPOSES {
            for state in madoguchi_service::rows::JOB_STATES {
                jobs.get_or_create(&Job {
                    purpose: (*purpose).to_owned(),
                    state: (*state).to_owned(),
                })
                .set(0);
            }
        }
        for (purpose, state, n) in &counts.jobs {
            jobs.get_or_create(&Job {
                purpose: purpose.clone(),
                state: state.clone(),
            })
            .set(*n);
        }
        registry.register(
            "connector_jobs",
            "Connector jobs (gather, erase, correct, tasks by hand) by purpose and state",
            jobs,
        );
        let complaints = Family::<ComplaintState, Gauge>::default();
        for state in madoguchi_domain::complaint::ComplaintState::ALL {
            complaints
                .get_or_create(&ComplaintState {
                    state: state.as_str().to_owned(),
                })
                .set(0);
        }
        for (state, n) in &counts.complaints {
            complaints
                .get_or_create(&ComplaintState {
                    state: state.clone(),
                })
                .set(*n);
        }
        registry.register("complaints", "Complaints by state", complaints);
        let late = Gauge::<i64>::default();
        late.set(counts.complaints_past_target);
        registry.register(
            "complaints_past_target",
            "Complaints awaiting a first reply past their target day",
            late,
        );
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        Ok(text)
    }
}

/// Times every routed request (the route's pattern, not its path: `/r/{pid}`, never a pid).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // A fixed set: any token is a valid HTTP method, and a label per invented one would
    // grow without end.
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let res = next.run(req).await;
    let status = match res.status().as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    state
        .metrics
        .http
        .get_or_create(&Route {
            method,
            route,
            status,
        })
        .observe(started.elapsed().as_secs_f64());
    res
}

/// The metrics listener's only route.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    match state.metrics.render(&state).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics: the counts could not be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
