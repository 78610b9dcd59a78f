//! What an officer does to a request: lifecycle events, claiming, notes, connector runs and
//! their review, erasure and correction orders, stops of provision, answer files, a cited
//! incident.

use super::*;

/// Builds a domain event from a submitted action form (or JSON fields).
pub fn event_from_fields(
    fields: &[(String, String)],
) -> Result<(Event, EventText, Option<i64>), AppError> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let text = get("text");
    let grounds: Vec<RefusalGround> = fields
        .iter()
        .filter(|(k, _)| k == "grounds")
        .filter_map(|(_, v)| RefusalGround::parse(v))
        .collect();
    let invalid = |field: &str, message: &str| {
        AppError::Validation(vec![crate::error::FieldError {
            field: field.to_owned(),
            code: "invalid".into(),
            message: message.to_owned(),
        }])
    };
    let version = get("version").parse().ok();
    let mut event_text = EventText {
        message: Some(text.clone()).filter(|t| !t.is_empty()),
        reference: None,
    };
    let event = match get("event").as_str() {
        "approve_identity" => Event::ApproveIdentity,
        "submit_evidence" => Event::SubmitEvidence,
        "provide_info" => Event::ProvideInfo,
        "request_more_evidence" => Event::RequestMoreEvidence { missing: text },
        "reject_identity" => Event::RejectIdentity { reason: text },
        "record_payment" => {
            let method = PaymentMethod::parse(&get("method"))
                .filter(|m| m.is_offline())
                .ok_or_else(|| invalid("method", "choose an offline payment method"))?;
            let amount: i64 = get("amount")
                .replace([',', '¥'], "")
                .parse()
                .map_err(|_| invalid("amount", "enter the amount in yen"))?;
            event_text.reference = Some(get("reference")).filter(|r| !r.is_empty());
            Event::RecordPayment {
                amount: Yen(amount),
                method,
            }
        }
        "start_work" => Event::StartWork,
        "request_info" => Event::RequestInfo { question: text },
        "extend_deadline" => Event::ExtendDeadline { reason: text },
        "change_delivery" => {
            let to = DeliveryMethod::parse(&get("delivery"))
                .ok_or_else(|| invalid("delivery", "choose electronic or paper"))?;
            Event::ChangeDelivery { to, reason: text }
        }
        "complete" => Event::Complete(match get("outcome").as_str() {
            "fulfilled" | "" => Outcome::Fulfilled,
            "no_data" => Outcome::NoData,
            "partially_fulfilled" => Outcome::PartiallyFulfilled { grounds },
            _ => return Err(invalid("outcome", "unknown outcome")),
        }),
        "refuse" => Event::Refuse {
            grounds,
            explanation: text,
        },
        "withdraw" => Event::Withdraw,
        _ => return Err(invalid("event", "unknown action")),
    };
    Ok((event, event_text, version))
}

/// Applies an action from the request page; a stale page gets 409, not a lost update.
pub async fn apply_event(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let (event, text, version) = event_from_fields(&fields).map_err(PageError::from)?;
    let version = version.ok_or_else(|| PageError::from(AppError::BadRequest("version".into())))?;
    let answer = match crate::staff::answer::answer_from_fields(&fields) {
        Ok(a) => a.filter(|_| event.name() == "complete"),
        Err(AppError::Validation(errors)) => {
            return request_page(
                &state,
                lang,
                &who,
                &origin,
                pid,
                errors,
                fields,
                PageView::default(),
            )
            .await;
        }
        Err(e) => return Err(PageError::from(e)),
    };
    let done = crate::staff::answer::Action {
        event: &event,
        text: &text,
        answer,
    }
    .send(&state.service, pid, version, &who, &origin)
    .await;
    match done {
        Ok(_) => {}
        // A broken answer rule is shown on the page, in the officer's language.
        Err(ServiceError::Transition(madoguchi_domain::TransitionError::Answer(a))) => {
            let errors = vec![crate::staff::answer::field_error(&a, lang)];
            return request_page(
                &state,
                lang,
                &who,
                &origin,
                pid,
                errors,
                fields,
                PageView::default(),
            )
            .await;
        }
        Err(e) => return Err(PageError::from(e)),
    }
    tracing::info!(request = %pid, event = event.name(), "officer action");
    Ok(back_to(pid, &format!("?done={}", event.name())))
}

/// Assigns the request to the acting officer.
pub async fn claim_request(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    state
        .service
        .assign(&[pid], Some(who.user_id), &who, &origin, Utc::now())
        .await?;
    Ok(back_to(pid, "?done=claim"))
}

/// The note form.
#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    text: String,
}

/// Adds a note for colleagues; an empty or overlong note is shown back as a field error.
pub async fn add_note(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    axum::Form(f): axum::Form<NoteForm>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    match state
        .service
        .add_note(
            pid,
            &f.text,
            (&who.actor(), who.user_id),
            &origin,
            Utc::now(),
        )
        .await
    {
        Ok(()) => Ok(back_to(pid, "?done=note#notes-h")),
        Err(ServiceError::Invalid(_)) => {
            let message = if lang.is_en() {
                "Note: write the note (at most 4,000 characters)."
            } else {
                "メモ: 内容を入力してください（4,000文字以内）。"
            };
            let view = PageView {
                note: Some((message.to_owned(), f.text.clone())),
                ..PageView::default()
            };
            request_page(
                &state,
                lang,
                &who,
                &origin,
                pid,
                Vec::new(),
                Vec::new(),
                view,
            )
            .await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// Asks the connectors to gather the subject's data again (a new run); the page shows the
/// progress.
pub async fn gather_again(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    state
        .service
        .request_gathering(pid, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(back_to(pid, ""))
}

/// The officer's decisions on one gathered dataset's fields (`dataset`, and `field_<name>`
/// for each field: `disclose`, `withhold:<ground>` or `drop`).
pub async fn review_fields(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let dataset = fields
        .iter()
        .find(|(k, _)| k == "dataset")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut decisions = Vec::new();
    for (key, value) in &fields {
        let Some(field) = key.strip_prefix("field_") else {
            continue;
        };
        let decision = madoguchi_domain::FieldDecision::parse(value)
            .ok_or_else(|| PageError::from(AppError::BadRequest("decision".into())))?;
        decisions.push((field.to_owned(), decision));
    }
    state
        .service
        .review_fields(pid, &dataset, decisions, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(back_to(pid, "#gather-h"))
}

/// Orders the erasure, or with `measure=suspend` the suspension of use, the plan shows
/// (carried out at once, or left for a second officer's approval where the office requires
/// one).
pub async fn order_erasure(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let measure = match fields
        .iter()
        .find(|(k, _)| k == "measure")
        .map(|(_, v)| v.as_str())
    {
        None | Some("erase") => madoguchi_service::erasure::Measure::Erase,
        Some("suspend") => madoguchi_service::erasure::Measure::Suspend,
        Some(_) => return Err(PageError::from(AppError::BadRequest("measure".into()))),
    };
    state
        .service
        .order_erasure(pid, measure, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(back_to(pid, "#erase-h"))
}

/// Orders a correction of one gathered dataset (`dataset`, and `value_<field>` for each
/// field to change; blank fields stay as they are).
pub async fn order_correction(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let dataset = fields
        .iter()
        .find(|(k, _)| k == "dataset")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let values: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("value_").map(|f| (f.to_owned(), v.clone())))
        .collect();
    match state
        .service
        .order_correction(pid, &dataset, values, &who.actor(), &origin, Utc::now())
        .await
    {
        Ok(()) => Ok(back_to(pid, "#correct-h")),
        Err(madoguchi_service::ServiceError::Invalid(_)) => {
            let message = if lang.is_en() {
                "Enter at least one new value (no line breaks, at most 1,000 characters)."
            } else {
                "訂正後の値を1つ以上入力してください（改行なし、1,000文字以内）。"
            };
            let error = crate::error::FieldError {
                field: "correction".into(),
                code: "invalid".into(),
                message: message.into(),
            };
            request_page(
                &state,
                lang,
                &who,
                &origin,
                pid,
                vec![error],
                Vec::new(),
                PageView::default(),
            )
            .await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// A second officer approves an ordered erasure.
pub async fn approve_erasure(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    state
        .service
        .approve_erasure(pid, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(back_to(pid, "#erase-h"))
}

/// A second officer approves the corrections waiting for approval.
pub async fn approve_corrections(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    state
        .service
        .approve_corrections(pid, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(back_to(pid, "#corrected-h"))
}

/// Stops provision to the third parties the plan lists, and tells those with a contact.
pub async fn stop_provision(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    state
        .service
        .stop_provision(pid, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(back_to(pid, "#stop-h"))
}

/// Builds the answer package from the gathered data and attaches it.
pub async fn attach_package(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    state
        .service
        .attach_gathered_package(pid, &who.actor(), &origin, Utc::now())
        .await?;
    Ok(back_to(pid, ""))
}

/// The incident a request on the breach ground cites (Art. 35(5)).
#[derive(Debug, serde::Deserialize)]
pub struct IncidentLinkForm {
    #[serde(default)]
    incident: String,
}

/// Links a request on the breach ground to the incident it cites.
pub async fn link_incident(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    axum::Form(f): axum::Form<IncidentLinkForm>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    let incident = uuid::Uuid::parse_str(f.incident.trim())
        .map_err(|_| PageError::from(AppError::BadRequest("incident".into())))?;
    state
        .service
        .link_incident(pid, incident, &who, &origin, Utc::now())
        .await?;
    Ok(back_to(pid, "#incident-h"))
}
