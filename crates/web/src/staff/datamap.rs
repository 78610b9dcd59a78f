//! The data map's console page (view; replace, for administrators) and the third-party
//! provision register (view, import by form or API).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use madoguchi_domain::jst_date;
use madoguchi_service::Lang;
use madoguchi_service::gather::Checked;
use madoguchi_service::register::{self, ProvisionRow};
use madoguchi_service::staff::StaffIdentity;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::pages::{Chrome, DatamapPage, RegisterPage, jst_time};
use crate::error::{ApiError, AppError, FieldError, PageError, Problem};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

/// The console's view of the map in force.
pub async fn show_datamap(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    datamap_page(
        &state,
        &who,
        lang,
        None,
        Vec::new(),
        String::new(),
        Vec::new(),
    )
    .await
}

/// Checks each connector's system without reading a row, and shows the result.
pub async fn test_connections(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    let results = state.service.test_connectors(lang.is_en()).await?;
    let tested = results
        .into_iter()
        .map(|(system, r)| {
            let said = match (r, lang.is_en()) {
                (Ok(Checked::Tables(n)), true) => format!("OK ({n} tables readable)"),
                (Ok(Checked::Tables(n)), false) => format!("OK（{n} テーブルを読み取れます）"),
                (Ok(Checked::Reached), true) => {
                    "OK (the service answers; its data is first read for a request)".to_owned()
                }
                (Ok(Checked::Reached), false) => {
                    "OK（接続できました。データは請求の処理時に初めて読み取ります）".to_owned()
                }
                (Err(e), _) => e,
            };
            (system, said)
        })
        .collect();
    datamap_page(&state, &who, lang, None, Vec::new(), String::new(), tested).await
}

async fn datamap_page(
    state: &AppState,
    who: &StaffIdentity,
    lang: Lang,
    submitted: Option<String>,
    problems: Vec<(usize, String)>,
    flash: String,
    tested: Vec<(String, String)>,
) -> Result<Response, PageError> {
    let fail = |e: madoguchi_service::ServiceError| PageError::from(e);
    let current = state.service.datamap().await.map_err(fail)?;
    let history = state.service.datamap_history().await.map_err(fail)?;
    let datasets = current
        .as_ref()
        .map(|m| {
            m.map
                .datasets
                .iter()
                .map(|d| {
                    let system = m.map.system(d.system.get_ref()).map_or_else(
                        || d.system.get_ref().clone(),
                        |s| s.name.get(lang.is_en()).to_owned(),
                    );
                    let purposes = d
                        .purposes
                        .iter()
                        .filter_map(|p| m.map.purpose(p.get_ref()))
                        .map(|p| p.label.get(lang.is_en()).to_owned())
                        .collect::<Vec<_>>()
                        .join(" / ");
                    let categories = d
                        .categories()
                        .iter()
                        .filter_map(|c| m.map.category(c))
                        .map(|c| c.label.get(lang.is_en()).to_owned())
                        .collect::<Vec<_>>()
                        .join("、");
                    (
                        d.label.get(lang.is_en()).to_owned(),
                        system,
                        purposes,
                        categories,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let failed = !problems.is_empty();
    let mut c = Chrome::new(who, lang);
    c.flash = flash;
    let mut res = render(&DatamapPage {
        c,
        current: current.as_ref().map(|m| {
            (
                m.map.version.clone(),
                m.hash.clone(),
                jst_time(&m.installed_at),
            )
        }),
        source: submitted
            .or_else(|| current.as_ref().map(|m| m.source.clone()))
            .unwrap_or_default(),
        problems,
        history: history
            .into_iter()
            .map(|v| {
                (
                    v.label,
                    v.hash.chars().take(12).collect(),
                    jst_time(&v.installed_at),
                    v.by.map_or_else(
                        || {
                            if lang.is_en() {
                                "at start"
                            } else {
                                "起動時"
                            }
                            .to_owned()
                        },
                        |_| {
                            if lang.is_en() {
                                "an administrator"
                            } else {
                                "管理者"
                            }
                            .to_owned()
                        },
                    ),
                )
            })
            .collect(),
        datasets,
        tested,
    });
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub struct MapForm {
    #[serde(default)]
    source: String,
}

/// Checks and installs a replacement map; every problem comes back with its line and the
/// submitted text, and nothing changes.
pub async fn replace_datamap(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: MapForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let installed = state
        .service
        .install_datamap(&form.source, Some(&who), &origin, Utc::now())
        .await?;
    match installed {
        Ok(added) => {
            let flash = match (added, lang.is_en()) {
                (true, true) => "The data map was checked and is now in force.",
                (true, false) => "データマップを検査し、差し替えました。",
                (false, true) => "This is the data map already in force; nothing changed.",
                (false, false) => "現在の版と同じ内容のため、変更はありません。",
            };
            datamap_page(
                &state,
                &who,
                lang,
                None,
                Vec::new(),
                flash.into(),
                Vec::new(),
            )
            .await
        }
        Err(problems) => {
            let problems = problems
                .into_iter()
                .map(|p| (p.line, p.kind.message(lang.is_en())))
                .collect();
            datamap_page(
                &state,
                &who,
                lang,
                Some(form.source),
                problems,
                String::new(),
                Vec::new(),
            )
            .await
        }
    }
}

/// The format's JSON Schema (public: a business's tooling validates its file against it).
pub async fn datamap_schema() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(madoguchi_datamap::json_schema()),
    )
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: u64,
}

/// The register, a page at a time; each view is audited.
pub async fn show_register(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    // A page that is not a number is the first page.
    let page = query.map_or(0, |q| q.page.min(1_000_000));
    register_page(
        &state,
        &who,
        lang,
        &origin,
        page,
        Vec::new(),
        String::new(),
        "csv",
    )
    .await
}

fn record_row(r: &ProvisionRow, lang: Lang) -> [String; 7] {
    let x = &r.record;
    let person = [
        Some(x.subject_name.clone()),
        x.subject_email.clone(),
        x.subject_phone.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" / ");
    [
        x.occurred_on.format("%Y-%m-%d").to_string(),
        x.direction.label(lang.is_en()).to_owned(),
        x.counterparty.clone(),
        person,
        x.items.clone(),
        x.basis.label(lang.is_en()).to_owned(),
        r.retain_until.format("%Y-%m-%d").to_string(),
    ]
}

#[expect(
    clippy::too_many_arguments,
    reason = "the page and what the form sent back"
)]
async fn register_page(
    state: &AppState,
    who: &StaffIdentity,
    lang: Lang,
    origin: &madoguchi_service::Origin,
    page: u64,
    problems: Vec<(usize, String)>,
    submitted: String,
    format: &str,
) -> Result<Response, PageError> {
    let (rows, total) = state
        .service
        .register_page(who, page, origin, Utc::now())
        .await?;
    let failed = !problems.is_empty();
    let mut res = render(&RegisterPage {
        c: Chrome::new(who, lang),
        records: rows.iter().map(|r| record_row(r, lang)).collect(),
        total,
        page,
        pages: total.div_ceil(50).max(1),
        problems,
        submitted,
        format: format.to_owned(),
    });
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    format: String,
    #[serde(default)]
    records: String,
}

/// Imports records pasted into the form, all or none.
pub async fn import_register_form(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: ImportForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let today = jst_date(Utc::now());
    let json = form.format == "json";
    let parsed = if json {
        register::parse_json(&form.records, today, lang.is_en())
    } else {
        register::parse_csv(&form.records, today, lang.is_en())
    };
    let format = if json { "json" } else { "csv" };
    match parsed {
        Ok(records) => {
            state
                .service
                .import_register(&records, &who, &origin, Utc::now())
                .await?;
            register_page(
                &state,
                &who,
                lang,
                &origin,
                0,
                Vec::new(),
                String::new(),
                format,
            )
            .await
        }
        Err(errors) => {
            let problems = errors.into_iter().map(|e| (e.line, e.message)).collect();
            register_page(
                &state,
                &who,
                lang,
                &origin,
                0,
                problems,
                form.records,
                format,
            )
            .await
        }
    }
}

/// How many records an import added.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    /// Records added.
    pub imported: usize,
}

/// Imports provision or receipt records (Arts. 29, 30) from the business's systems, all or
/// none: a JSON array of records, or CSV (`Content-Type: text/csv`) with the header
/// `direction,occurred_on,counterparty,counterparty_address,counterparty_representative,
/// subject_name,subject_email,subject_phone,items,basis,acquisition,retention_years`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/register",
    tag = "staff",
    security(("bearer" = [])),
    request_body(content = Vec<serde_json::Value>, content_type = "application/json", description = "Records: direction (provided|received), occurred_on (YYYY-MM-DD), counterparty, counterparty_address, counterparty_representative, subject_name, subject_email, subject_phone, items, basis (consent|opt_out|foreign_consent|as_provider_states), acquisition, retention_years (1|3)"),
    responses(
        (status = 201, description = "Every record was added", body = Imported),
        (status = 400, description = "Not a JSON array", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Administrators and officers only", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Records with problems, each by record or line; nothing was added", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import_register_api(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Imported>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::BadRequest("the body is not UTF-8".into()))?;
    let today = jst_date(Utc::now());
    let parsed = match content_type.as_str() {
        "application/json" => {
            if serde_json::from_str::<Vec<serde_json::Value>>(text).is_err() {
                return Err(AppError::BadRequest("expected a JSON array of records".into()).into());
            }
            register::parse_json(text, today, true)
        }
        "text/csv" => register::parse_csv(text, today, true),
        _ => return Err(AppError::UnsupportedMediaType.into()),
    };
    let records = parsed.map_err(|errors| {
        AppError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError {
                    field: format!("line {}", e.line),
                    code: "record".into(),
                    message: e.message,
                })
                .collect(),
        )
    })?;
    let n = state
        .service
        .import_register(&records, &who, &origin, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(Imported { imported: n })))
}
