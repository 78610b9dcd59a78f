//! Administration: staff accounts and settings. Auditors may read both.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use chrono::Utc;
use madoguchi_domain::{FeeSchedule, RequestKind, Role, Yen};
use madoguchi_service::staff::StaffIdentity;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{Chrome, SettingsPage, UsersPage};
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

async fn users_page(
    state: &AppState,
    who: &StaffIdentity,
    en: bool,
    new_password: Option<String>,
    flash: String,
) -> Result<Response, PageError> {
    let users = state
        .service
        .staff_users()
        .await
        .map_err(|e| PageError(e.into(), en))?;
    let mut c = Chrome::new(who, en);
    c.flash = flash;
    Ok(render(&UsersPage {
        c,
        users,
        new_password,
    }))
}

/// Lists accounts.
pub async fn list_users(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    users_page(&state, &who, lang.en(), None, String::new()).await
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// Creates an account and shows its one-time password once.
pub async fn invite_user(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<InviteForm>,
) -> Result<Response, PageError> {
    let en = lang.en();
    let role =
        Role::parse(&f.role).ok_or_else(|| PageError(AppError::BadRequest("role".into()), en))?;
    if f.name.trim().is_empty() {
        return Err(PageError(AppError::BadRequest("name".into()), en));
    }
    let (_, password) = state
        .service
        .create_staff_user(&f.email, &f.name, role, &who.actor(), &origin, Utc::now())
        .await
        .map_err(|e| PageError(e.into(), en))?;
    users_page(&state, &who, en, Some(password), String::new()).await
}

#[derive(Debug, Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    disabled: String,
}

/// Changes a role or disables an account.
pub async fn update_user(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    Form(f): Form<UpdateForm>,
) -> Result<Response, PageError> {
    let en = lang.en();
    let pid = Uuid::parse_str(&pid).map_err(|_| PageError(AppError::NotFound, en))?;
    let disabled = match f.disabled.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    if pid == who.pid
        && (disabled == Some(true) || Role::parse(&f.role).is_some_and(|r| r != Role::Admin))
    {
        // An administrator cannot lock themselves out; another administrator must.
        return Err(PageError(
            AppError::Conflict("cannot demote or disable yourself".into()),
            en,
        ));
    }
    state
        .service
        .update_staff_user(
            pid,
            Role::parse(&f.role),
            disabled,
            &who.actor(),
            &origin,
            Utc::now(),
        )
        .await
        .map_err(|e| PageError(e.into(), en))?;
    users_page(
        &state,
        &who,
        en,
        None,
        if en {
            "Saved.".into()
        } else {
            "保存しました。".into()
        },
    )
    .await
}

async fn settings_page(
    state: &AppState,
    who: &StaffIdentity,
    en: bool,
    error: String,
    flash: String,
) -> Result<Response, PageError> {
    let fees = state
        .service
        .fee_schedule()
        .await
        .map_err(|e| PageError(e.into(), en))?;
    let mut c = Chrome::new(who, en);
    c.flash = flash;
    let rows = RequestKind::ALL
        .into_iter()
        .map(|k| {
            (
                k.as_str().to_owned(),
                if en { k.label_en() } else { k.label_ja() }.to_owned(),
                fees.fee(k).0,
            )
        })
        .collect();
    let mut res = render(&SettingsPage {
        c,
        fees: rows,
        error: error.clone(),
    });
    if !error.is_empty() {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

/// Shows the settings.
pub async fn show_settings(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    settings_page(&state, &who, lang.en(), String::new(), String::new()).await
}

/// Saves the fee schedule; Art. 38 violations are refused with the reason.
pub async fn update_fees(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let en = lang.en();
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError(AppError::BadRequest("form".into()), en))?;
    let mut fees = FeeSchedule::free();
    for kind in RequestKind::ALL {
        let raw = fields
            .iter()
            .find(|(k, _)| k == kind.as_str())
            .map_or("0", |(_, v)| v.as_str());
        let amount: i64 = match raw.trim().replace([',', '¥'], "").parse() {
            Ok(a) => a,
            Err(_) => {
                return settings_page(
                    &state,
                    &who,
                    en,
                    format!(
                        "{}: {}",
                        kind.as_str(),
                        if en {
                            "enter an amount in yen"
                        } else {
                            "金額を数字で入力してください"
                        }
                    ),
                    String::new(),
                )
                .await;
            }
        };
        if let Err(e) = fees.set(kind, Yen(amount)) {
            return settings_page(&state, &who, en, e.to_string(), String::new()).await;
        }
    }
    state
        .service
        .set_fee_schedule(fees, &who, &origin, Utc::now())
        .await
        .map_err(|e| PageError(e.into(), en))?;
    settings_page(
        &state,
        &who,
        en,
        String::new(),
        if en {
            "Saved.".into()
        } else {
            "保存しました。".into()
        },
    )
    .await
}
