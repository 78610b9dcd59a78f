//! Input refused at the boundary, answered in the service's own words.
//!
//! Control characters are refused at the boundary, on every text input. A NUL aborted the
//! PostgreSQL transaction (a 500) and was stored and mailed on SQLite; other control
//! characters end up in mail headers, CSV cells and letters. One middleware reads every
//! urlencoded and JSON body (bounded) and answers 422 naming the first field that holds one:
//! a problem document on the API, a page in the visitor's language elsewhere. Tab, line feed
//! and carriage return are text and pass; the intake form refuses them where a field is one
//! line. Multipart bodies carry files and are judged by content where they are stored.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use madoguchi_service::Lang;

use crate::error::{ApiError, AppError, FieldError, PageError};
use crate::lang::PageLang;
use crate::state::AppState;

/// Whether `c` is a control character no text field may hold.
pub fn forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The field error for `field`, in the visitor's language, naming the field as the form
/// labels it where it is one of the subject's fields.
pub fn field_error(field: &str, lang: Lang) -> FieldError {
    let label = label(field, lang);
    let message = match (label, lang.is_en()) {
        (Some(l), false) => format!("「{l}」に使用できない文字（制御文字）が含まれています。"),
        (Some(l), true) => {
            format!("“{l}” contains a character that cannot be used (a control character).")
        }
        (None, false) => "入力内容に使用できない文字（制御文字）が含まれています。".to_owned(),
        (None, true) => {
            "What you entered contains a character that cannot be used (a control character)."
                .to_owned()
        }
    };
    FieldError {
        field: field.to_owned(),
        code: "control_character".into(),
        message,
    }
}

fn label(field: &str, lang: Lang) -> Option<&'static str> {
    let (ja, en_label) = match field {
        "subject_name" => ("お名前", "Name"),
        "subject_kana" => ("フリガナ", "Name in kana"),
        "email" => ("メールアドレス", "E-mail address"),
        "phone" => ("電話番号", "Phone number"),
        "postal_address" => ("ご住所", "Postal address"),
        "details" => ("ご請求の内容", "Details of the request"),
        "current_content" => ("現在の内容", "Current content"),
        "correct_content" => ("正しい内容", "Correct content"),
        "agent_name" => ("代理人のお名前", "Agent's name"),
        "agent_kana" => ("代理人のフリガナ", "Agent's name in kana"),
        "agent_relationship" => ("ご本人との関係", "Relationship to the subject"),
        "subject_email" => ("ご本人のメールアドレス", "Subject's e-mail address"),
        "answer" | "message" => ("ご回答", "Your answer"),
        // The complaints desk's form.
        "name" => ("お名前", "Name"),
        "body" => ("ご連絡の内容", "Your message"),
        _ => return None,
    };
    Some(if lang.is_en() { en_label } else { ja })
}

/// The first field of a urlencoded body holding a forbidden character, and the body's own
/// `lang` field if it has one.
fn in_form(bytes: &[u8]) -> Result<(Option<String>, Option<String>), ()> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).map_err(|_| ())?;
    let lang = fields
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.clone());
    let bad = fields
        .into_iter()
        .find(|(k, v)| k.chars().any(forbidden) || v.chars().any(forbidden))
        .map(|(k, _)| k.chars().filter(|c| !forbidden(*c)).collect());
    Ok((bad, lang))
}

/// The JSON path (`/a/0/b`) of the first string or key holding a forbidden character.
fn in_json(v: &serde_json::Value, path: &str) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s.chars().any(forbidden) => Some(path.to_owned()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| in_json(item, &format!("{path}/{i}"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
            let clean: String = k.chars().filter(|c| !forbidden(*c)).collect();
            let here = format!("{path}/{clean}");
            if k.chars().any(forbidden) {
                Some(here)
            } else {
                in_json(item, &here)
            }
        }),
        _ => None,
    }
}

/// The middleware.
pub async fn refuse_control_characters(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    req: Request,
    next: Next,
) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
        // A provider's signed event is checked byte for byte by its own handler.
        || req.uri().path().starts_with("/webhooks/")
        // The complaints desk's forms refuse control characters themselves, naming the field
        // and keeping a long message as typed (a refusal here would lose it).
        || req.uri().path() == "/complaints"
        || req.uri().path().starts_with("/staff/complaints/")
    {
        return next.run(req).await;
    }
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let json = essence == "application/json" || essence.ends_with("+json");
    if !(json || essence == "application/x-www-form-urlencoded") {
        return next.run(req).await;
    }
    let api = json || req.uri().path().starts_with("/api/");
    let (parts, body) = req.into_parts();
    // An incident's nine report items, a complaint or a note are longer than other forms
    // (their routes admit them).
    let limit = crate::staff::form_limit(parts.uri.path(), state.config.body_limit);
    let Ok(bytes) = to_bytes(body, limit).await else {
        return refuse(api, AppError::TooLarge, lang);
    };
    let found = if json {
        // Unreadable JSON is left to the handler, which answers it in its own words.
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| in_json(&v, ""))
            .map(|p| (p.trim_start_matches('/').to_owned(), None))
    } else {
        match in_form(&bytes) {
            Ok((Some(field), lang)) => Some((field, lang)),
            _ => None,
        }
    };
    if let Some((field, body_lang)) = found {
        let lang = body_lang.map_or(lang, |l| if l == "en" { Lang::En } else { Lang::Ja });
        return refuse(
            api,
            AppError::Validation(vec![field_error(&field, lang)]),
            lang,
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Re-renders the framework's plain-text 413 (a body over a limit) as a problem document on
/// the API and a page in the visitor's language elsewhere.
pub async fn humane_framework_errors(
    PageLang(lang): PageLang,
    req: Request,
    next: Next,
) -> Response {
    let api = req.uri().path().starts_with("/api/")
        || req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
    let res = next.run(req).await;
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && plain {
        return refuse(api, AppError::TooLarge, lang);
    }
    res
}

fn refuse(api: bool, e: AppError, lang: Lang) -> Response {
    if api {
        ApiError(e).into_response()
    } else {
        PageError::page(e, lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_in_forms_and_json() {
        assert!(forbidden('\0') && forbidden('\u{1b}') && forbidden('\u{7f}'));
        assert!(forbidden('\u{85}'), "C1 controls too");
        assert!(!forbidden('\n') && !forbidden('\t') && !forbidden('あ'));
        assert_eq!(
            in_form(b"lang=en&subject_name=a%00b&details=ok").unwrap(),
            (Some("subject_name".to_owned()), Some("en".to_owned()))
        );
        assert_eq!(in_form(b"details=line%0Aline").unwrap(), (None, None));
        let v = serde_json::json!({"subject": {"name": "x"}, "items": ["ok", "a\u{0}"]});
        assert_eq!(in_json(&v, ""), Some("/items/1".to_owned()));
        let v = serde_json::json!({"a\u{1}": "x"});
        assert_eq!(in_json(&v, ""), Some("/a".to_owned()));
        assert_eq!(in_json(&serde_json::json!({"a": "b\nc"}), ""), None);
    }

    #[test]
    fn the_message_names_the_field_as_the_form_does() {
        assert!(
            field_error("subject_name", Lang::Ja)
                .message
                .contains("「お名前」")
        );
        assert!(
            field_error("subject_name", Lang::En)
                .message
                .contains("“Name”")
        );
        assert!(
            !field_error("x_internal", Lang::Ja)
                .message
                .contains("x_internal")
        );
    }
}
