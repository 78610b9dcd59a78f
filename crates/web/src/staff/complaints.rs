//! The complaints desk's pages (苦情・相談, Art. 40): the queue with each complaint's target
//! day and the month's figures; a complaint with its messages and what an officer can do
//! (assign, reply by mail, close with a category and an outcome, reopen, take it up as a
//! request through the staff intake, prefilled).

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate, Utc};
use madoguchi_domain::complaint::{Category, ComplaintKind, ComplaintState, Month, Outcome};
use madoguchi_domain::{written_date, written_time};
use madoguchi_service::Lang;
use madoguchi_service::ServiceError;
use madoguchi_service::complaints::{Command, Complaint};
use madoguchi_service::staff::StaffIdentity;
use uuid::Uuid;

use super::form::Fields;
use super::pages::Chrome;
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

/// A complaint in the queue.
#[derive(Debug, Clone)]
pub struct Row {
    pub pid: String,
    pub number: String,
    pub kind: &'static str,
    pub state: &'static str,
    pub received: String,
    /// The first reply's target day, while none went (empty after).
    pub due: String,
    /// `overdue`, `soon` or `ok`.
    pub badge: &'static str,
    pub assignee: String,
}

/// The month's figures in words.
#[derive(Debug, Clone)]
pub struct MonthView {
    pub title: String,
    pub m: Month,
    pub by_category: Vec<(&'static str, u32)>,
}

#[derive(Debug, Template)]
#[template(path = "staff/complaints.html")]
pub struct QueuePage {
    pub c: Chrome,
    pub rows: Vec<Row>,
    pub months: Vec<MonthView>,
}

#[derive(Debug, Template)]
#[template(path = "staff/complaint.html")]
pub struct ComplaintPage {
    pub c: Chrome,
    pub pid: String,
    pub number: String,
    pub version: i32,
    pub kind: &'static str,
    pub state: &'static str,
    pub open: bool,
    pub closed: bool,
    pub received: String,
    pub due: String,
    pub badge: &'static str,
    pub first_reply: String,
    pub closed_at: String,
    pub category: String,
    pub outcome: String,
    pub request: Option<String>,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub lang: &'static str,
    pub assignee: String,
    pub assignee_id: Option<i64>,
    /// (staff row, name) of who can be assigned.
    pub staff: Vec<(i64, String)>,
    /// (from the office?, who, when, text)
    pub messages: Vec<(bool, String, String, String)>,
    pub categories: Vec<(&'static str, &'static str)>,
    pub outcomes: Vec<(&'static str, &'static str)>,
    pub error: String,
    /// A refused reply's text, kept.
    pub reply: String,
}

macro_rules! bilingual {
    ($($t:ty),*) => {$(
        impl $t {
            /// Japanese or English, by the page's language.
            pub fn t<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
                if self.c.lang.is_en() { en } else { ja }
            }
        }
    )*};
}

bilingual!(QueuePage, ComplaintPage);

impl ComplaintPage {
    /// Whether this staff row is the assignee (the select's current choice).
    pub fn assigned(&self, id: &i64) -> bool {
        self.assignee_id == Some(*id)
    }
}

fn badge(due: NaiveDate, today: NaiveDate) -> &'static str {
    if due < today {
        "overdue"
    } else if due <= today + chrono::Duration::days(1) {
        "soon"
    } else {
        "ok"
    }
}

fn month_view(m: Month, first: NaiveDate, lang: Lang) -> MonthView {
    MonthView {
        title: if lang.is_en() {
            first.format("%B %Y").to_string()
        } else {
            format!("{}年{}月", first.year(), first.month())
        },
        by_category: m
            .by_category
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.label(lang.is_en()), *n))
            .collect(),
        m,
    }
}

/// The queue and the figures of this month and the last.
pub async fn queue(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    let now = Utc::now();
    let today = madoguchi_domain::jst_date(now);
    let err = |e: ServiceError| PageError::from(e);
    let rows = state
        .service
        .complaint_queue(now)
        .await
        .map_err(err)?
        .into_iter()
        .map(|q| {
            let waiting = q.state == ComplaintState::Open;
            Row {
                pid: q.row.pid.to_string(),
                number: q.row.number.clone(),
                kind: q.kind.label(lang.is_en()),
                state: q.state.label(lang.is_en()),
                received: written_date(q.row.received_on, lang.is_en()),
                due: if waiting {
                    written_date(q.row.reply_due, lang.is_en())
                } else {
                    String::new()
                },
                badge: badge(q.row.reply_due, today),
                assignee: q.assignee,
            }
        })
        .collect();
    let this_month = today.with_day(1).expect("day 1");
    let last_month = (this_month - chrono::Duration::days(1))
        .with_day(1)
        .expect("day 1");
    let mut months = Vec::new();
    for first in [this_month, last_month] {
        let m = state
            .service
            .complaint_figures(first, today)
            .await
            .map_err(err)?;
        months.push(month_view(m, first, lang));
    }
    Ok(render(&QueuePage {
        c: Chrome::new(&who, lang),
        rows,
        months,
    }))
}

fn complaint_pid(pid: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(pid).map_err(|_| PageError::from(AppError::NotFound))
}

async fn page(
    state: &AppState,
    who: &StaffIdentity,
    c: Complaint,
    lang: Lang,
    error: String,
    reply: String,
) -> Result<ComplaintPage, PageError> {
    let err = |e: ServiceError| PageError::from(e);
    let r = &c.row;
    let corrupt = |what: &str| {
        PageError::from(AppError::Internal(format!(
            "complaint {}: {what}",
            r.number
        )))
    };
    let kind = ComplaintKind::parse(&r.kind).ok_or_else(|| corrupt("kind"))?;
    let st = ComplaintState::parse(&r.state).ok_or_else(|| corrupt("state"))?;
    let today = madoguchi_domain::jst_date(Utc::now());
    let staff = state
        .service
        .assignable_staff()
        .await
        .map_err(err)?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let request = match r.request_id {
        Some(_) => c.request_number.clone(),
        None => None,
    };
    Ok(ComplaintPage {
        c: Chrome::new(who, lang),
        pid: r.pid.to_string(),
        number: r.number.clone(),
        version: r.version,
        kind: kind.label(lang.is_en()),
        state: st.label(lang.is_en()),
        open: st.is_open(),
        closed: st == ComplaintState::Closed,
        received: written_date(r.received_on, lang.is_en()),
        due: written_date(r.reply_due, lang.is_en()),
        badge: if st == ComplaintState::Open {
            badge(r.reply_due, today)
        } else {
            "ok"
        },
        first_reply: r
            .first_reply_at
            .map(|t| written_time(t, lang.is_en()))
            .unwrap_or_default(),
        closed_at: r
            .closed_at
            .map(|t| written_time(t, lang.is_en()))
            .unwrap_or_default(),
        category: r
            .category
            .as_deref()
            .and_then(Category::parse)
            .map(|c| c.label(lang.is_en()).to_owned())
            .unwrap_or_default(),
        outcome: r
            .outcome
            .as_deref()
            .and_then(Outcome::parse)
            .map(|o| o.label(lang.is_en()).to_owned())
            .unwrap_or_default(),
        request,
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone().unwrap_or_default(),
        lang: if r.lang == "en" {
            if lang.is_en() { "English" } else { "英語" }
        } else if lang.is_en() {
            "Japanese"
        } else {
            "日本語"
        },
        assignee: c.assignee.clone(),
        assignee_id: r.assignee_id,
        staff,
        messages: c
            .messages
            .iter()
            .map(|m| {
                let who = if !m.outgoing {
                    if lang.is_en() {
                        "The person"
                    } else {
                        "ご本人"
                    }
                    .to_owned()
                } else if m.author.is_empty() {
                    if lang.is_en() { "The office" } else { "当社" }.to_owned()
                } else if lang.is_en() {
                    format!("The office ({})", m.author)
                } else {
                    format!("当社（{}）", m.author)
                };
                (
                    m.outgoing,
                    who,
                    written_time(m.at, lang.is_en()),
                    m.body.clone(),
                )
            })
            .collect(),
        categories: Category::ALL
            .iter()
            .map(|c| (c.as_str(), c.label(lang.is_en())))
            .collect(),
        outcomes: Outcome::ALL
            .iter()
            .map(|o| (o.as_str(), o.label(lang.is_en())))
            .collect(),
        error,
        reply,
    })
}

/// One complaint.
pub async fn show(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let c = state.service.complaint(complaint_pid(&pid)?).await?;
    Ok(render(
        &page(&state, &who, c, lang, String::new(), String::new()).await?,
    ))
}

fn refusal_words(field: &str, lang: Lang) -> &'static str {
    let (ja, en_words) = match field {
        "reply" => (
            "回答: 1文字以上4,000文字以内で、制御文字を含めずに入力してください。",
            "Reply: 1 to 4,000 characters, with no control characters.",
        ),
        "assignee" => (
            "担当者: 対応できる担当者を選択してください。",
            "Assignee: choose a colleague who works complaints.",
        ),
        "category" => (
            "分類と結果を選択してください。",
            "Choose a category and an outcome.",
        ),
        "not_open" => (
            "この苦情・相談は既に完了しているため、この操作はできません（必要なら対応を再開してください）。",
            "This complaint is closed: that cannot be done now (reopen it first if need be).",
        ),
        "not_closed" => (
            "この苦情・相談は完了していないため、再開できません。",
            "This complaint is not closed, so it cannot be reopened.",
        ),
        "converted" => (
            "この苦情・相談は開示等の請求として受け付けたため、以後は請求の画面で対応してください。",
            "This complaint became a request: work on it from the request's page.",
        ),
        "purged" => (
            "保存期間が終わり、この苦情・相談の個人情報は消去されています。",
            "Its retention ended and its personal data were erased.",
        ),
        "conflict" => (
            "他の担当者が先に更新しました。最新の内容を確認してから、もう一度操作してください。",
            "A colleague changed this complaint first. Check the latest version, then try again.",
        ),
        _ => (
            "入力内容をご確認ください。",
            "Please check what you entered.",
        ),
    };
    if lang.is_en() { en_words } else { ja }
}

/// Applies an officer's change (`action`: assign, reply, close, reopen) at the version read.
pub async fn act(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path((pid, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, PageError> {
    let pid = complaint_pid(&pid)?;
    let f = Fields::parse(&body)?;
    let version: i32 = f
        .get("version")
        .parse()
        .map_err(|_| PageError::from(AppError::BadRequest("version".into())))?;
    let refuse = |field: &'static str, reply: String, status| {
        let state = state.clone();
        let who = who.clone();
        async move {
            let c = state.service.complaint(pid).await?;
            let p = page(
                &state,
                &who,
                c,
                lang,
                refusal_words(field, lang).to_owned(),
                reply,
            )
            .await?;
            let mut res = render(&p);
            *res.status_mut() = status;
            Ok::<Response, PageError>(res)
        }
    };
    let unprocessable = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    let command = match action.as_str() {
        "assign" => match f.get("assignee") {
            "" => Command::Assign(None),
            id => match id.parse() {
                Ok(id) => Command::Assign(Some(id)),
                Err(_) => return refuse("assignee", String::new(), unprocessable).await,
            },
        },
        "reply" => Command::Reply(f.get("text").to_owned()),
        "record" => Command::Record(f.get("text").to_owned()),
        "close" => match (
            Category::parse(f.get("category")),
            Outcome::parse(f.get("outcome")),
        ) {
            (Some(c), Some(o)) => Command::Close(c, o),
            _ => return refuse("category", String::new(), unprocessable).await,
        },
        "reopen" => Command::Reopen,
        _ => return Err(PageError::from(AppError::NotFound)),
    };
    let typed = match &command {
        Command::Reply(t) | Command::Record(t) => t.clone(),
        _ => String::new(),
    };
    match state
        .service
        .act_on_complaint(pid, version, command, &who, &origin, Utc::now())
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/staff/complaints/{pid}")).into_response()),
        Err(ServiceError::Invalid(field)) => refuse(field, typed, unprocessable).await,
        Err(ServiceError::Conflict) => {
            refuse("conflict", typed, axum::http::StatusCode::CONFLICT).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}
