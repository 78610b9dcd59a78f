//! Requests that arrive by post, phone or at the counter, entered by an officer. The date
//! the request reached the business is its arrival date for deadlines (Art. 39(2)).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, TimeZone, Utc};
use madoguchi_domain::{RequestKind, SuspensionGround, jst_date, policy::jst};
use madoguchi_service::Channel;
use madoguchi_service::staff::StaffIdentity;

use super::pages::{Chrome, IntakePage, PrintableForm};
use crate::error::{AppError, FieldError, PageError};
use crate::extract::ClientOrigin;
use crate::intake::IntakeInput;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

fn page(who: &StaffIdentity, en: bool, errors: Vec<FieldError>) -> Response {
    render(&IntakePage {
        c: Chrome::new(who, en),
        kinds: RequestKind::ALL
            .into_iter()
            .map(|k| {
                (
                    k.as_str().to_owned(),
                    if en { k.label_en() } else { k.label_ja() }.to_owned(),
                )
            })
            .collect(),
        grounds: SuspensionGround::ALL
            .into_iter()
            .map(|g| {
                (
                    g.as_str().to_owned(),
                    if en { g.label_en() } else { g.label_ja() }.to_owned(),
                )
            })
            .collect(),
        errors,
        today: jst_date(Utc::now()).to_string(),
    })
}

/// The manual intake form.
pub async fn show_intake(lang: PageLang, Extension(who): Extension<StaffIdentity>) -> Response {
    page(&who, lang.en(), Vec::new())
}

/// Registers a request received outside the web form.
pub async fn register_request(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let en = lang.en();
    let input: IntakeInput = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError(AppError::BadRequest("form".into()), en))?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let channel = match get("channel").as_str() {
        "post" => Channel::Post,
        "phone" => Channel::Phone,
        "counter" => Channel::Counter,
        _ => return Err(PageError(AppError::BadRequest("channel".into()), en)),
    };
    let today = jst_date(Utc::now());
    // Within the past year: a received date sets the statutory clock, and one typed as
    // 0001-01-01 would make every deadline long past.
    let earliest = today - chrono::Duration::days(366);
    let received: Option<NaiveDate> = get("received_on")
        .parse()
        .ok()
        .filter(|d| *d <= today && *d >= earliest);
    let mut errors = Vec::new();
    if received.is_none() {
        errors.push(FieldError {
            field: "received_on".into(),
            code: "invalid".into(),
            message: if en {
                "a date within the past year, not in the future, like 2026-11-20".into()
            } else {
                "過去1年以内の、未来でない日付を入力してください（例: 2026-11-20）".into()
            },
        });
    }
    let policy = state
        .service
        .settings()
        .await
        .map_err(|e| PageError(e.into(), en))?
        .policy;
    let parsed = input.parse(channel, &policy, today);
    match (parsed, received) {
        (Ok(mut new), Some(day)) if errors.is_empty() => {
            // Arrival is the start of the day it reached us, Japan time.
            let arrived = jst()
                .from_local_datetime(&day.and_hms_opt(9, 0, 0).expect("valid time"))
                .single()
                .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
            new.arrived_at = Some(arrived);
            let filed = state
                .service
                .file_request(new, &origin, Utc::now())
                .await
                .map_err(|e| PageError(e.into(), en))?;
            tracing::info!(request = %filed.pid, by = %who.pid, "request entered by staff");
            Ok(Redirect::to(&format!("/staff/requests/{}", filed.pid)).into_response())
        }
        (parsed, _) => {
            errors.extend(parsed.err().unwrap_or_default());
            let mut res = page(&who, en, errors);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
    }
}

/// The printable request form (開示等請求書) for subjects who post their request.
pub async fn printable_form(State(state): State<AppState>) -> Result<Response, PageError> {
    let fees = state
        .service
        .fee_schedule()
        .await
        .map_err(|e| PageError(e.into(), false))?;
    let business = state.business().await;
    Ok(render(&PrintableForm {
        business_name: business.name,
        business_address: business.address,
        kinds: RequestKind::ALL
            .into_iter()
            .map(|k| (k.as_str().to_owned(), k.label_ja().to_owned()))
            .collect(),
        fee: fees.fee(RequestKind::Disclosure).to_string(),
    }))
}
