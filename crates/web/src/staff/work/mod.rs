//! The queue, the request page and the actions an officer takes on it.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use madoguchi_domain::{
    DeliveryMethod, Event, Jurisdiction, Outcome, PaymentMethod, RefusalGround, RequestKind,
    State as RState, Yen, available_events, is_next_step, jst_date, represented_adult_age,
};
use madoguchi_service::Lang;
use madoguchi_service::queue::{Assignee, QueueFilter, cursor_from_str, cursor_to_string};
use madoguchi_service::staff::StaffIdentity;
use madoguchi_service::{EventText, ServiceError};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{
    ActionForm, Chrome, DetailPage, FilterEcho, PaymentRow, QueuePage, QueueRow, badge,
};
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

mod actions;
mod queue;
mod request;

pub use actions::*;
pub use queue::*;
pub use request::*;

fn kind_label(kind: &str, lang: Lang) -> String {
    RequestKind::parse(kind).map_or_else(
        || kind.to_owned(),
        |k| {
            if lang.is_en() {
                k.label_en()
            } else {
                k.label_ja()
            }
            .to_owned()
        },
    )
}

fn state_label(state: &str, lang: Lang) -> String {
    RState::parse(state).map_or_else(
        || state.to_owned(),
        |s| {
            if lang.is_en() {
                s.label_en()
            } else {
                s.label_ja()
            }
            .to_owned()
        },
    )
}

/// While the answer's clock stands still (waiting for the requester), since when, in words;
/// empty while it runs.
pub(crate) fn paused_words(since: Option<chrono::DateTime<Utc>>, lang: Lang) -> String {
    since.map_or_else(String::new, |at| {
        let day = madoguchi_domain::written_date(jst_date(at), lang.is_en());
        if lang.is_en() {
            format!("Clock paused since {day} (awaiting the requester)")
        } else {
            format!("{day}から期限停止中（請求者の対応待ち）")
        }
    })
}

/// A request's public id from the path; an id that is not one is a page not found.
fn request_pid(pid: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(pid).map_err(|_| PageError::from(AppError::NotFound))
}

/// Back to the request's page (at a section), after an action.
fn back_to(pid: Uuid, section: &str) -> Response {
    Redirect::to(&format!("/staff/requests/{pid}{section}")).into_response()
}

/// A due day as the queue shows it: the day, and for an open request the days left or over
/// (lateness in words, not colour only).
fn due_words(due: chrono::NaiveDate, today: chrono::NaiveDate, closed: bool, lang: Lang) -> String {
    let day = madoguchi_domain::written_date(due, lang.is_en());
    if closed {
        return day;
    }
    let left = (due - today).num_days();
    match (left, lang.is_en()) {
        (0, false) => format!("{day}（本日）"),
        (0, true) => format!("{day} (today)"),
        (n, false) if n > 0 => format!("{day}（あと{n}日）"),
        (1, true) => format!("{day} (1 day left)"),
        (-1, true) => format!("{day} (1 day overdue)"),
        (n, true) if n > 0 => format!("{day} ({n} days left)"),
        (n, false) => format!("{day}（{}日超過）", -n),
        (n, true) => format!("{day} ({} days overdue)", -n),
    }
}

/// Art. 39: once the subject may sue and the request is still open, the queue says so (the
/// officer should answer before a court is asked to order it).
pub(crate) fn may_sue_words(
    from: chrono::NaiveDate,
    today: chrono::NaiveDate,
    closed: bool,
    lang: Lang,
) -> String {
    if closed || today < from {
        return String::new();
    }
    let day = madoguchi_domain::written_date(from, lang.is_en());
    if lang.is_en() {
        format!("May sue since {day} (Art. 39)")
    } else {
        format!("{day}から提訴可能（法第39条）")
    }
}
