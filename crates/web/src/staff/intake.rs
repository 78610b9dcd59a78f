//! Requests that arrive by post, phone or at the counter, entered by an officer. The date
//! the request reached the business is its arrival date for deadlines (Art. 39(2)).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, TimeZone, Utc};
use madoguchi_domain::{
    ContactCheck, DeliveryMethod, RequestKind, Requester, SuspensionGround, jst_date, policy::jst,
};
use madoguchi_service::Lang;
use madoguchi_service::staff::StaffIdentity;
use madoguchi_service::{Channel, Entered, ServiceError};

use super::pages::{Chrome, IntakePage, PrintableForm};
use crate::error::{AppError, FieldError, PageError};
use crate::extract::ClientOrigin;
use crate::intake::IntakeInput;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

/// What the clerk typed, echoed back on an error so nothing is lost.
pub type Typed = Vec<(String, String)>;

fn page(who: &StaffIdentity, lang: Lang, errors: Vec<FieldError>, typed: Typed) -> Response {
    let pairs = |v: Vec<(&str, &str)>| -> Vec<(String, String)> {
        v.into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    };
    let t = |ja: &'static str, en_text: &'static str| if lang.is_en() { en_text } else { ja };
    render(&IntakePage {
        c: Chrome::new(who, lang),
        kinds: RequestKind::ALL
            .into_iter()
            .map(|k| {
                (
                    k.as_str().to_owned(),
                    if lang.is_en() {
                        k.label_en()
                    } else {
                        k.label_ja()
                    }
                    .to_owned(),
                )
            })
            .collect(),
        grounds: SuspensionGround::ALL
            .into_iter()
            .map(|g| {
                (
                    g.as_str().to_owned(),
                    if lang.is_en() {
                        g.label_en()
                    } else {
                        g.label_ja()
                    }
                    .to_owned(),
                )
            })
            .collect(),
        channels: pairs(
            // A complaint taken up as a request came through the desk's web form.
            typed
                .iter()
                .any(|(k, v)| k == "complaint" && !v.is_empty())
                .then_some((
                    "web",
                    t("ウェブの苦情・相談フォーム", "The desk's web form"),
                ))
                .into_iter()
                .chain([
                    ("post", t("郵送", "Post")),
                    ("counter", t("窓口", "Counter")),
                    ("phone", t("電話", "Telephone")),
                    (
                        "email",
                        t("窓口のメールアドレスへのメール", "E-mail to the desk"),
                    ),
                ])
                .collect(),
        ),
        checks: ContactCheck::ALL
            .into_iter()
            .map(|c| (c.as_str().to_owned(), c.label(lang.is_en()).to_owned()))
            .collect(),
        requesters: Requester::ALL
            .into_iter()
            .map(|r| (r.as_str().to_owned(), r.label(lang.is_en()).to_owned()))
            .collect(),
        deliveries: DeliveryMethod::ALL
            .into_iter()
            .map(|d| (d.as_str().to_owned(), d.label(lang.is_en()).to_owned()))
            .collect(),
        person_fields: pairs(vec![
            ("subject_name", t("本人の氏名", "Name")),
            ("subject_kana", t("本人のフリガナ", "Reading (kana)")),
            (
                "date_of_birth",
                t(
                    "本人の生年月日（例: 1990年4月1日）",
                    "Date of birth (e.g. 1990/4/1)",
                ),
            ),
            ("email", t("メールアドレス", "E-mail address")),
            (
                "email_confirm",
                t(
                    "メールアドレス（確認のためもう一度）",
                    "E-mail address again",
                ),
            ),
            ("phone", t("電話番号", "Telephone")),
            (
                "postal_address",
                t("郵送先の住所（〒から）", "Postal address"),
            ),
            ("agent_name", t("代理人の氏名", "Agent's name")),
            (
                "agent_kana",
                t("代理人のフリガナ", "Agent's reading (kana)"),
            ),
            (
                "agent_relationship",
                t("本人との関係", "Relationship to the person"),
            ),
            (
                "subject_email",
                t(
                    "本人のメールアドレス（代理人の場合・任意）",
                    "The person's own e-mail (agents, optional)",
                ),
            ),
        ]),
        text_fields: pairs(vec![
            ("details", t("請求の内容", "What is asked")),
            (
                "current_content",
                t("現在の内容（訂正等）", "Current content (correction)"),
            ),
            (
                "correct_content",
                t("正しい内容（訂正等）", "Correct content (correction)"),
            ),
        ]),
        errors,
        typed,
        today: jst_date(Utc::now()).to_string(),
    })
}

/// `?complaint=<pid>`: a complaint taken up as a request.
#[derive(Debug, Default, serde::Deserialize)]
pub struct IntakeQuery {
    #[serde(default)]
    complaint: String,
}

/// The manual intake form; from a complaint, with the person's name, address and phone
/// filled in and the complaint carried to the registration.
pub async fn show_intake(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    axum::extract::Query(q): axum::extract::Query<IntakeQuery>,
) -> Result<Response, PageError> {
    if q.complaint.is_empty() {
        return Ok(page(&who, lang, Vec::new(), Vec::new()));
    }
    let pid =
        uuid::Uuid::parse_str(&q.complaint).map_err(|_| PageError::from(AppError::NotFound))?;
    let c = state.service.complaint(pid).await?;
    // Only an open complaint is taken up: say so before the officer types the rest.
    let open = madoguchi_domain::complaint::ComplaintState::parse(&c.row.state)
        .is_some_and(|s| s.is_open())
        && c.row.purged_at.is_none();
    if !open {
        return Err(PageError::from(AppError::Conflict(if lang.is_en() {
            "This complaint is closed or already taken up as a request.".into()
        } else {
            "この苦情・相談は完了しているか、既に請求として受け付けられています。".into()
        })));
    }
    let typed = [
        ("complaint", pid.to_string()),
        ("complaint_number", c.row.number.clone()),
        ("channel", "web".to_owned()),
        ("received_on", c.row.received_on.to_string()),
        ("lang", c.row.lang.clone()),
        ("subject_name", c.name.clone()),
        ("email", c.email.clone()),
        ("email_confirm", c.email.clone()),
        ("phone", c.phone.clone().unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Ok(page(&who, lang, Vec::new(), typed))
}

/// Registers a request received outside the web form: filed and confirmed by the clerk in
/// one change, audited as the clerk's with the channel.
pub async fn register_request(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let input: IntakeInput = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let fields: Typed = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let from_complaint = if get("complaint").is_empty() {
        None
    } else {
        Some(madoguchi_service::complaints::ComplaintLink {
            pid: uuid::Uuid::parse_str(&get("complaint"))
                .map_err(|_| PageError::from(AppError::BadRequest("complaint".into())))?,
        })
    };
    let channel = match get("channel").as_str() {
        "web" if from_complaint.is_some() => Channel::Web,
        "post" => Channel::Post,
        "phone" => Channel::Phone,
        "counter" => Channel::Counter,
        "email" => Channel::Email,
        _ => return Err(PageError::from(AppError::BadRequest("channel".into()))),
    };
    let mut errors = Vec::new();
    // An address typed by the clerk is typed twice: a slip would send the requester's
    // notices and codes to a stranger.
    if !get("email").is_empty() && get("email") != get("email_confirm") {
        errors.push(FieldError {
            field: "email_confirm".into(),
            code: "mismatch".into(),
            message: if lang.is_en() {
                "Type the e-mail address again, exactly as above.".into()
            } else {
                "確認のため、同じメールアドレスをもう一度入力してください。".into()
            },
        });
    }
    let how = ContactCheck::parse(&get("confirmed_by"));
    if how.is_none() {
        errors.push(FieldError {
            field: "confirmed_by".into(),
            code: "required".into(),
            message: if lang.is_en() {
                "Choose how the requester was confirmed.".into()
            } else {
                "請求者の確認方法を選択してください。".into()
            },
        });
    }
    let today = jst_date(Utc::now());
    // Within the past year: a received date sets the statutory clock, and one typed as
    // 0001-01-01 would make every deadline long past.
    let earliest = today - chrono::Duration::days(366);
    let received: Option<NaiveDate> = get("received_on")
        .parse()
        .ok()
        .filter(|d| *d <= today && *d >= earliest);
    if received.is_none() {
        errors.push(FieldError {
            field: "received_on".into(),
            code: "invalid".into(),
            message: if lang.is_en() {
                "Enter the date received: within the past year, not in the future, like 2026-11-20."
                    .into()
            } else {
                "到達日は、過去1年以内の未来でない日付を入力してください（例: 2026-11-20）。".into()
            },
        });
    }
    let policy = state.service.settings().await?.policy;
    let parsed = input.parse(channel, &policy, today);
    match (parsed, received, how) {
        (Ok(mut new), Some(day), Some(how)) if errors.is_empty() => {
            // Arrival is the start of the day it reached us, Japan time.
            let arrived = jst()
                .from_local_datetime(&day.and_hms_opt(9, 0, 0).expect("valid time"))
                .single()
                .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
            new.arrived_at = Some(arrived);
            new.entered = Some(Entered {
                by: who.actor(),
                how,
            });
            new.from_complaint = from_complaint;
            match state.service.file_request(new, &origin, Utc::now()).await {
                Ok(filed) => {
                    tracing::info!(request = %filed.pid, by = %who.pid, "request entered by staff");
                    Ok(Redirect::to(&format!("/staff/requests/{}", filed.pid)).into_response())
                }
                // The core's intake rules, in case the form's check missed one.
                Err(ServiceError::Filing(broken)) => {
                    let errors = broken
                        .iter()
                        .map(|e| FieldError {
                            field: e.field.to_owned(),
                            code: e.code.to_owned(),
                            message: crate::intake::message_for(e.field, e.code, lang),
                        })
                        .collect();
                    let mut res = page(&who, lang, errors, fields);
                    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    Ok(res)
                }
                // The complaint was closed, or taken up, meanwhile.
                Err(
                    ServiceError::Conflict
                    | ServiceError::Invalid("not_open" | "converted" | "purged"),
                ) if from_complaint.is_some() => {
                    let errors = vec![FieldError {
                        field: "complaint".into(),
                        code: "conflict".into(),
                        message: if lang.is_en() {
                            "The complaint changed meanwhile (closed, or already taken up as a request). Open it again to see where it stands.".into()
                        } else {
                            "この苦情・相談は、その間に完了したか、既に請求として受け付けられています。苦情・相談の画面で状況を確認してください。".into()
                        },
                    }];
                    let mut res = page(&who, lang, errors, fields);
                    *res.status_mut() = StatusCode::CONFLICT;
                    Ok(res)
                }
                Err(e) => Err(PageError::from(e)),
            }
        }
        (parsed, _, _) => {
            errors.extend(parsed.err().unwrap_or_default());
            let mut res = page(&who, lang, errors, fields);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
    }
}

/// The printable request form (開示等請求書) for subjects who post their request.
pub async fn printable_form(State(state): State<AppState>) -> Result<Response, PageError> {
    let fees = state.service.fee_schedule().await?;
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
