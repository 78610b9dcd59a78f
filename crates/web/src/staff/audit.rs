//! The auditor's workspace: the global trail with filters, "who viewed this subject's data",
//! streamed CSV and JSON Lines exports, and verification on demand.

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, TimeZone, Utc};
use madoguchi_domain::policy::jst;
use madoguchi_service::Lang;
use madoguchi_service::TrailFilter;
use madoguchi_service::rows::audit_entry;
use madoguchi_service::staff::StaffIdentity;
use serde::Deserialize;

use super::pages::{AuditFilterEcho, AuditPage, Chrome};
use crate::error::PageError;
use crate::lang::PageLang;
use crate::pages::{render, urlencode};
use crate::state::AppState;

/// The trail's query string.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct TrailQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    actor_id: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    before: String,
}

impl TrailQuery {
    async fn filter(&self, state: &AppState) -> TrailFilter {
        let day = |s: &str, end: bool| -> Option<chrono::DateTime<Utc>> {
            let d: NaiveDate = s.trim().parse().ok()?;
            let t = if end {
                d.and_hms_opt(23, 59, 59)?
            } else {
                d.and_hms_opt(0, 0, 0)?
            };
            jst()
                .from_local_datetime(&t)
                .single()
                .map(|t| t.with_timezone(&Utc))
        };
        let request_id = if self.number.trim().is_empty() {
            None
        } else {
            // An unknown number must match nothing, not everything.
            Some(
                state
                    .service
                    .request_row_by_number(self.number.trim())
                    .await
                    .map_or(-1, |r| r.id),
            )
        };
        TrailFilter {
            actor_kind: Some(self.actor.clone()).filter(|s| !s.is_empty()),
            actor_id: Some(self.actor_id.trim().to_owned()).filter(|s| !s.is_empty()),
            action: Some(self.action.trim().to_owned()).filter(|s| !s.is_empty()),
            request_id,
            from: day(&self.from, false),
            until: day(&self.until, true),
            before_id: self.before.parse().ok(),
            after_id: None,
            limit: 100,
        }
    }

    fn query_string(&self) -> String {
        [
            ("actor", &self.actor),
            ("actor_id", &self.actor_id),
            ("action", &self.action),
            ("number", &self.number),
            ("from", &self.from),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

async fn page(
    state: &AppState,
    who: &StaffIdentity,
    lang: Lang,
    q: TrailQuery,
    verify_result: String,
    verify_ok: bool,
) -> Result<Response, PageError> {
    let entries = state.service.audit_trail(&q.filter(state).await).await?;
    let checkpoint = state.service.latest_checkpoint().await?.map_or_else(
        || "—".to_owned(),
        |c| format!("#{} {} {}", c.seq, super::pages::jst_time(&c.at), c.hash),
    );
    let next = if entries.len() == 100 {
        entries
            .last()
            .map(|e| format!("/staff/audit?{}&before={}", q.query_string(), e.id))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(render(&AuditPage {
        c: Chrome::new(who, lang),
        f: AuditFilterEcho {
            actor: q.actor.clone(),
            actor_id: q.actor_id.clone(),
            action: q.action.clone(),
            number: q.number.clone(),
            from: q.from.clone(),
            until: q.until.clone(),
        },
        query: q.query_string(),
        entries,
        next,
        checkpoint,
        verify_result,
        verify_ok,
    }))
}

/// The global trail.
pub async fn show_trail(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    Query(q): Query<TrailQuery>,
) -> Result<Response, PageError> {
    page(&state, &who, lang, q, String::new(), false).await
}

/// Verifies the whole trail now and shows the outcome.
pub async fn verify_now(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    let started = std::time::Instant::now();
    let (text, ok) = match state.service.verify_audit_and_alert(Utc::now()).await? {
        Ok(s) => (
            if lang.is_en() {
                format!(
                    "OK: no tampering found ({} entries, {} chains, {} checkpoints, {:.2} s).",
                    s.entries,
                    s.chains,
                    s.checkpoints,
                    started.elapsed().as_secs_f64()
                )
            } else {
                format!(
                    "改ざんは検出されませんでした（記録 {} 件、チェーン {} 本、チェックポイント {} 件、{:.2} 秒）。",
                    s.entries,
                    s.chains,
                    s.checkpoints,
                    started.elapsed().as_secs_f64()
                )
            },
            true,
        ),
        Err(b) => (
            format!(
                "{} {} #{}: {}",
                if lang.is_en() {
                    "BROKEN:"
                } else {
                    "検証失敗:"
                },
                b.chain,
                b.seq,
                b.reason
            ),
            false,
        ),
    };
    page(&state, &who, lang, TrailQuery::default(), text, ok).await
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv_line(e: &audit_entry::Model) -> String {
    [
        e.id.to_string(),
        e.at.to_rfc3339(),
        e.chain.clone(),
        e.seq.to_string(),
        e.actor_kind.clone(),
        e.actor_id.clone().unwrap_or_default(),
        e.role.clone().unwrap_or_default(),
        e.action.clone(),
        e.detail.clone(),
        e.ip.clone().unwrap_or_default(),
        e.prev_hash.clone(),
        e.hash.clone(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
        + "\n"
}

fn jsonl_line(e: &audit_entry::Model) -> String {
    serde_json::json!({
        "id": e.id, "at": e.at, "chain": e.chain, "seq": e.seq, "request_id": e.request_id,
        "actor_kind": e.actor_kind, "actor_id": e.actor_id, "role": e.role, "action": e.action,
        "detail": e.detail, "ip": e.ip, "user_agent": e.user_agent, "prev_hash": e.prev_hash, "hash": e.hash,
    })
    .to_string()
        + "\n"
}

/// Streams the filtered trail, oldest first, a batch at a time: memory stays flat however
/// long the trail.
async fn export(state: AppState, q: TrailQuery, csv: bool) -> Response {
    let mut filter = q.filter(&state).await;
    filter.limit = 2000;
    filter.before_id = None;
    let header_line = if csv {
        // A byte-order mark first: Excel in Japan reads UTF-8 CSV as Shift_JIS without one.
        "\u{feff}id,at,chain,seq,actor_kind,actor_id,role,action,detail,ip,prev_hash,hash\n"
            .to_owned()
    } else {
        String::new()
    };
    let stream = futures_util::stream::unfold(
        (state, filter, Some(header_line), false),
        move |(state, mut filter, header, done)| async move {
            if let Some(h) = header {
                return Some((
                    Ok::<Bytes, std::io::Error>(Bytes::from(h)),
                    (state, filter, None, done),
                ));
            }
            if done {
                return None;
            }
            filter.after_id = Some(filter.after_id.unwrap_or(0));
            match state.service.audit_trail(&filter).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map(|r| r.id);
                    let chunk: String = rows
                        .iter()
                        .map(|e| if csv { csv_line(e) } else { jsonl_line(e) })
                        .collect();
                    filter.after_id = last;
                    let finished = rows.len() < 2000;
                    Some((Ok(Bytes::from(chunk)), (state, filter, None, finished)))
                }
                Err(e) => Some((
                    Err(std::io::Error::other(e.to_string())),
                    (state, filter, None, true),
                )),
            }
        },
    );
    let (ct, name) = if csv {
        ("text/csv; charset=utf-8", "audit.csv")
    } else {
        ("application/x-ndjson", "audit.jsonl")
    };
    (
        [
            (header::CONTENT_TYPE, ct.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// CSV export.
pub async fn export_csv(State(state): State<AppState>, Query(q): Query<TrailQuery>) -> Response {
    export(state, q, true).await
}

/// JSON Lines export.
pub async fn export_jsonl(State(state): State<AppState>, Query(q): Query<TrailQuery>) -> Response {
    export(state, q, false).await
}
