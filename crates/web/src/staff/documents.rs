//! Documents on the staff side: viewing the subject's uploads (each view audited), attaching
//! the answer, recording a posted answer, and the printable cover letter.

use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::Utc;
use madoguchi_domain::{AuditOnly, DocumentPurpose, Event, jst_date};
use madoguchi_service::EventText;
use madoguchi_service::staff::StaffIdentity;
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{LetterPage, NoticeLetterPage};
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::pages::render;
use crate::routes::subject::file_response;
use crate::state::AppState;

fn uuid(s: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(s).map_err(|_| PageError::from(AppError::NotFound))
}

/// Shows a document inline, in a sandbox, and records who looked.
pub async fn view_document(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path((pid, doc)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (pid, doc) = (uuid(&pid)?, uuid(&doc)?);
    let (meta, bytes) = state
        .service
        .read_document_as_staff(pid, doc, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(file_response(&meta, bytes, "inline"))
}

/// A staff upload form read whole: its text fields and its files (the guard has checked its
/// CSRF field). A body the parser cannot finish is refused whole, never stored in part.
pub(crate) async fn read_upload(
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(Vec<(String, String)>, Vec<(String, Vec<u8>)>), PageError> {
    let mut multipart =
        multipart.map_err(|_| PageError::from(AppError::BadRequest("multipart".into())))?;
    let too_large = || {
        PageError::from(madoguchi_service::ServiceError::File(
            madoguchi_service::FileError::TooLarge,
        ))
    };
    let (mut fields, mut files) = (Vec::new(), Vec::new());
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large());
            }
            Err(_) => return Err(PageError::from(AppError::BadRequest("multipart".into()))),
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "files" {
            let file_name = field.file_name().unwrap_or("").to_owned();
            let bytes = field.bytes().await.map_err(|_| too_large())?;
            if !(file_name.is_empty() && bytes.is_empty()) {
                files.push((file_name, bytes.to_vec()));
            }
        } else {
            let text = field.text().await.map_err(|_| too_large())?;
            fields.push((name, text));
        }
    }
    Ok((fields, files))
}

/// Attaches files to the answer.
pub async fn attach_package(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let pid = uuid(&pid)?;
    let (_, files) = read_upload(multipart).await?;
    state
        .service
        .upload(
            pid,
            DocumentPurpose::Package,
            files,
            &who.actor(),
            &origin,
            Utc::now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/staff/requests/{pid}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct PostingForm {
    #[serde(default)]
    tracking: String,
}

/// Records that the paper answer was posted, with its tracking number.
pub async fn record_posting(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    Form(f): Form<PostingForm>,
) -> Result<Response, PageError> {
    let pid = uuid(&pid)?;
    let tracking = tracking_number(&f.tracking);
    if tracking.is_empty() {
        return Err(PageError::from(AppError::BadRequest("tracking".into())));
    }
    let event = Event::Record(AuditOnly::Posted { tracking });
    state
        .service
        .act(
            pid,
            None,
            &event,
            &who.actor(),
            &EventText::default(),
            &origin,
            Utc::now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/staff/requests/{pid}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RefundForm {
    #[serde(default)]
    reference: String,
}

/// Records that an offline refund was paid back (transfer, counter), with how.
pub async fn record_refund(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path((pid, id)): Path<(String, String)>,
    Form(f): Form<RefundForm>,
) -> Result<Response, PageError> {
    let pid = uuid(&pid)?;
    let id: i64 = id
        .parse()
        .map_err(|_| PageError::from(AppError::NotFound))?;
    state
        .service
        .record_offline_refund(pid, id, &f.reference, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/staff/requests/{pid}")).into_response())
}

/// Sends a flagged card payment back to the card (through the refund timer and Stripe).
pub async fn refund_flagged(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path((pid, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let pid = uuid(&pid)?;
    let id: i64 = id
        .parse()
        .map_err(|_| PageError::from(AppError::NotFound))?;
    state
        .service
        .refund_flagged_payment(pid, id, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/staff/requests/{pid}")).into_response())
}

/// The printable cover letter (Japanese), with the business's details, the request, the
/// outcome and the contents.
pub async fn show_letter(
    State(state): State<AppState>,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = uuid(&pid)?;
    let row = state.service.request_row(pid).await?;
    let docs = state.service.documents(row.id).await?;
    let lifecycle = madoguchi_service::Service::lifecycle_of(&row)?;
    let (st, kind) = (lifecycle.state, lifecycle.kind);
    let c = &state.business().await;
    Ok(render(&LetterPage {
        business_name: c.name.clone(),
        business_address: c.address.clone(),
        business_representative: c.representative.clone(),
        business_contact: c.contact.clone(),
        brand: state.brand().await,
        date: madoguchi_domain::written_date(jst_date(Utc::now()), false),
        recipient: row.subject_name.clone(),
        postal_address: row.postal_address.clone().unwrap_or_default(),
        number: row.number.clone(),
        arrived_on: madoguchi_domain::written_date(jst_date(row.arrived_at), false),
        kind: kind.label_ja().to_owned(),
        outcome: st.label_ja().to_owned(),
        answer: madoguchi_service::Service::answer_of(&row)
            .map(|a| a.lines(row.lang == "en"))
            .unwrap_or_default(),
        message: row.subject_message.clone().unwrap_or_default(),
        contents: docs
            .iter()
            .filter(|d| d.purpose == DocumentPurpose::Package && !d.deleted)
            .map(|d| d.filename.clone())
            .collect(),
    }))
}

/// A notice to a requester without an e-mail address, laid out as a letter to print.
pub async fn show_notice_letter(
    State(state): State<AppState>,
    Path((pid, id)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    let pid = uuid(&pid)?;
    let (row, letter) = state.service.letter(pid, id).await?;
    let text = madoguchi_mail::letter(letter.mail, &letter.context)
        .ok_or(PageError::from(AppError::NotFound))?;
    let letter_lang = letter.context.lang;
    let c = &state.business().await;
    Ok(render(&NoticeLetterPage {
        lang: letter_lang,
        business_name: c.name.clone(),
        business_address: c.address.clone(),
        business_representative: c.representative.clone(),
        business_contact: c.contact.clone(),
        brand: state.brand().await,
        title: format!("{} {}", row.number, text.title),
        sheets: vec![super::pages::Sheet {
            date: madoguchi_domain::written_date(jst_date(Utc::now()), letter_lang.is_en()),
            recipient: letter.context.recipient_name.clone(),
            postal_address: letter.address.clone(),
            number: row.number.clone(),
            letter: text,
            greeting: "拝啓　時下ますますご清祥のこととお慶び申し上げます。".into(),
        }],
        record: None,
    }))
}

/// Records that a letter was posted (with the carrier's tracking number, if any).
pub async fn record_letter_posted(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path((pid, id)): Path<(String, i64)>,
    Form(f): Form<PostingForm>,
) -> Result<Response, PageError> {
    let pid = uuid(&pid)?;
    state
        .service
        .post_letter(
            pid,
            id,
            tracking_number(&f.tracking),
            &who.actor(),
            &origin,
            Utc::now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/staff/requests/{pid}#letters-h")).into_response())
}

/// A tracking number as carriers print it: letters, digits and hyphens, at most 40.
fn tracking_number(typed: &str) -> String {
    typed
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect()
}

/// Stores the copies a requester enclosed with a letter (or showed at the counter), scanned
/// by the clerk, as the request's identity evidence.
pub async fn attach_evidence(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let pid = uuid(&pid)?;
    let (fields, files) = read_upload(multipart).await?;
    let purpose = fields
        .iter()
        .find(|(k, _)| k == "purpose")
        .and_then(|(_, v)| DocumentPurpose::parse(v.trim()))
        .filter(|p| *p != DocumentPurpose::Package);
    let purpose = purpose.ok_or(PageError::from(AppError::BadRequest("purpose".into())))?;
    state
        .service
        .upload(pid, purpose, files, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/staff/requests/{pid}#docs-h")).into_response())
}
