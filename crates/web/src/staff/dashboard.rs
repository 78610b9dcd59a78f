//! The dashboard: what is open, what is late, how long requests take, as tables and small
//! server-rendered SVG bar charts (no JavaScript), plus the monthly CSV report.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use madoguchi_domain::{RequestKind, State as RState, jst_date};
use madoguchi_service::Lang;
use madoguchi_service::queue::{ClosedRow, QueueFilter};
use madoguchi_service::staff::StaffIdentity;

use super::pages::{Chrome, CloseStat, DashboardPage};
use crate::error::PageError;
use crate::lang::PageLang;
use crate::pages::{escape, render};
use crate::state::AppState;

/// A horizontal bar chart with accessible text: a `<title>` and the numbers as labels.
fn bar_chart(title: &str, bars: &[(String, i64)]) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let height = 24 * bars.len().max(1) + 8;
    let mut svg = format!(
        "<svg role=\"img\" aria-labelledby=\"t-{id}\" width=\"100%\" height=\"{height}\" viewBox=\"0 0 600 {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"t-{id}\">{t}</title>",
        id = title.len(),
        t = escape(title)
    );
    for (i, (label, n)) in bars.iter().enumerate() {
        let y = 4 + i * 24;
        let w = (*n as f64 / max as f64 * 330.0).round() as i64;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{ty}\" font-size=\"13\">{l}</text><rect x=\"220\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"#1d4ed8\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"13\">{n}</text>",
            ty = y + 14,
            l = escape(label),
            tx = 226 + w,
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn close_stats(rows: &[ClosedRow], lang: Lang) -> Vec<CloseStat> {
    let mut groups: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for r in rows {
        let Some(closed) = r.closed_at else { continue };
        let month = jst_date(closed).format("%Y-%m").to_string();
        let kind = RequestKind::parse(&r.kind).map_or(r.kind.clone(), |k| {
            if lang.is_en() {
                k.label_en()
            } else {
                k.label_ja()
            }
            .to_owned()
        });
        groups
            .entry((month, kind))
            .or_default()
            .push((jst_date(closed) - jst_date(r.arrived_at)).num_days());
    }
    groups
        .into_iter()
        .rev()
        .map(|((month, kind), mut days)| {
            days.sort_unstable();
            CloseStat {
                month,
                kind,
                count: days.len(),
                median: percentile(&days, 0.5),
                p90: percentile(&days, 0.9),
            }
        })
        .collect()
}

/// Shows the dashboard.
pub async fn show_dashboard(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    let now = Utc::now();
    let today = jst_date(now);
    let err = |e: madoguchi_service::ServiceError| PageError::from(e);
    let counts = state.service.state_counts().await.map_err(err)?;
    let by_kind = state.service.open_by_kind().await.map_err(err)?;
    let open: i64 = counts
        .iter()
        .filter(|(s, _)| !s.is_terminal())
        .map(|c| c.1)
        .sum();
    let count_filter = |f: QueueFilter| f;
    // Counted, not listed: a queue page stops at 200.
    let due_week = state
        .service
        .queue_count(
            &count_filter(QueueFilter {
                due_within_days: Some(7),
                ..Default::default()
            }),
            today,
        )
        .await
        .map_err(err)?;
    let overdue = state
        .service
        .queue_count(
            &QueueFilter {
                overdue: true,
                ..Default::default()
            },
            today,
        )
        .await
        .map_err(err)?;
    let may_sue = state
        .service
        .queue_count(
            &QueueFilter {
                may_sue: true,
                ..Default::default()
            },
            today,
        )
        .await
        .map_err(err)?;
    let closed = state
        .service
        .closed_since(now - Duration::days(366))
        .await
        .map_err(err)?;
    let label_state = |s: RState| {
        if lang.is_en() {
            s.label_en()
        } else {
            s.label_ja()
        }
        .to_owned()
    };
    let by_state_svg = bar_chart(
        if lang.is_en() {
            "Open requests by state"
        } else {
            "状態別の未完了件数"
        },
        &counts
            .iter()
            .filter(|(s, _)| !s.is_terminal())
            .map(|(s, n)| (label_state(*s), *n))
            .collect::<Vec<_>>(),
    );
    let by_kind_svg = bar_chart(
        if lang.is_en() {
            "Open requests by kind"
        } else {
            "種類別の未完了件数"
        },
        &by_kind
            .iter()
            .map(|(k, n)| {
                (
                    if lang.is_en() {
                        k.label_en()
                    } else {
                        k.label_ja()
                    }
                    .to_owned(),
                    *n,
                )
            })
            .collect::<Vec<_>>(),
    );
    let failing_connectors = state
        .service
        .failing_connectors(lang.is_en())
        .await
        .map_err(err)?;
    let incidents_due = state.service.incidents_due(today).await.map_err(err)?.len();
    let complaints_due = state
        .service
        .complaints_due(today)
        .await
        .map_err(err)?
        .len();
    let complaints_month = state
        .service
        .complaint_figures(today, today)
        .await
        .map_err(err)?;
    Ok(render(&DashboardPage {
        failing_connectors,
        c: Chrome::new(&who, lang),
        open,
        due_week,
        overdue,
        may_sue,
        incidents_due,
        complaints_due,
        complaints_month,
        by_state_svg,
        by_kind_svg,
        close_stats: close_stats(&closed, lang),
    }))
}

/// Days to close and outcome counts of one month and kind.
type MonthGroup = (Vec<i64>, BTreeMap<String, usize>);

/// The monthly report for the business's annual disclosure: per month and kind, requests
/// closed, by outcome, with median and 90th-percentile days to close.
pub async fn monthly_report(State(state): State<AppState>) -> Result<Response, PageError> {
    let closed = state
        .service
        .closed_since(Utc::now() - Duration::days(366))
        .await?;
    let mut groups: BTreeMap<(String, String), MonthGroup> = BTreeMap::new();
    for r in &closed {
        let Some(c) = r.closed_at else { continue };
        let g = groups
            .entry((jst_date(c).format("%Y-%m").to_string(), r.kind.clone()))
            .or_default();
        g.0.push((jst_date(c) - jst_date(r.arrived_at)).num_days());
        *g.1.entry(r.state.clone()).or_default() += 1;
    }
    // A byte-order mark first: Excel in Japan reads UTF-8 CSV as Shift_JIS without one.
    let mut csv = String::from(
        "\u{feff}month,kind,closed,fulfilled,partially_fulfilled,no_data,refused,rejected,withdrawn,expired,median_days,p90_days\n",
    );
    for ((month, kind), (mut days, outcomes)) in groups {
        days.sort_unstable();
        let o = |s: &str| outcomes.get(s).copied().unwrap_or(0);
        csv.push_str(&format!(
            "{month},{kind},{},{},{},{},{},{},{},{},{},{}\n",
            days.len(),
            o("fulfilled"),
            o("partially_fulfilled"),
            o("no_data"),
            o("refused"),
            o("rejected"),
            o("withdrawn"),
            o("expired"),
            percentile(&days, 0.5),
            percentile(&days, 0.9)
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"madoguchi-monthly.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}
