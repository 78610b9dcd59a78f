//! Administration: staff accounts and settings. Auditors may read both.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use chrono::Utc;
use madoguchi_domain::{
    FeeSchedule, IdentityMethod, Jurisdiction, Period, Policy, RequestKind, Role, Yen,
};
use madoguchi_service::Lang;
use madoguchi_service::ServiceError;
use madoguchi_service::settings::{BusinessDetails, PaymentInstructions, Retention};
use madoguchi_service::staff::StaffIdentity;
use serde::Deserialize;
use uuid::Uuid;

use super::form::Fields;
use super::pages::{Chrome, PolicyView, SettingsPage, UsersPage};
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

async fn users_page(
    state: &AppState,
    who: &StaffIdentity,
    lang: Lang,
    new_password: Option<String>,
    flash: String,
) -> Result<Response, PageError> {
    let users = state.service.staff_users().await?;
    let mut c = Chrome::new(who, lang);
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
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    users_page(&state, &who, lang, None, String::new()).await
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
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<InviteForm>,
) -> Result<Response, PageError> {
    let role =
        Role::parse(&f.role).ok_or_else(|| PageError::from(AppError::BadRequest("role".into())))?;
    if f.name.trim().is_empty() {
        return Err(PageError::from(AppError::BadRequest("name".into())));
    }
    let (_, password) = state
        .service
        .create_staff_user(&f.email, &f.name, role, &who.actor(), &origin, Utc::now())
        .await?;
    users_page(&state, &who, lang, Some(password), String::new()).await
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
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    Form(f): Form<UpdateForm>,
) -> Result<Response, PageError> {
    let pid = Uuid::parse_str(&pid).map_err(|_| PageError::from(AppError::NotFound))?;
    let disabled = match f.disabled.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    if pid == who.pid
        && (disabled == Some(true) || Role::parse(&f.role).is_some_and(|r| r != Role::Admin))
    {
        // An administrator cannot lock themselves out; another administrator must.
        return Err(PageError::from(AppError::Conflict(
            "cannot demote or disable yourself".into(),
        )));
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
        .await?;
    users_page(
        &state,
        &who,
        lang,
        None,
        if lang.is_en() {
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
    lang: Lang,
    error: Option<(&'static str, String)>,
    flash: String,
) -> Result<Response, PageError> {
    let settings = state.service.settings().await?;
    let mut c = Chrome::new(who, lang);
    c.flash = flash;
    let rows = RequestKind::ALL
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
                settings.fees.fee(k).0,
            )
        })
        .collect();
    let (error_in, error) = error.unwrap_or(("", String::new()));
    let mut res = render(&SettingsPage {
        c,
        fees: rows,
        error_in,
        error: error.clone(),
        policy: policy_view(&settings.policy, lang),
        retention: settings.retention,
        business: settings.business.clone(),
        payment: settings.payment.clone(),
        templates: settings.templates.clone(),
        branding: settings.branding.clone(),
        has_logo: settings.logo.is_some(),
    });
    if !error.is_empty() {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

fn unit(p: Period) -> (u32, &'static str) {
    match p {
        Period::Days(n) => (n, "days"),
        Period::BusinessDays(n) => (n, "business_days"),
        Period::Months(n) => (n, "months"),
    }
}

fn policy_view(p: &Policy, lang: Lang) -> PolicyView {
    let (deadline_n, deadline_unit) = unit(p.deadline.period);
    let (extension_n, extension_unit) = p.deadline.extension.map_or((String::new(), "days"), |e| {
        let (n, u) = unit(e);
        (n.to_string(), u)
    });
    PolicyView {
        jurisdiction: p.jurisdiction.as_str(),
        deadline_n,
        deadline_unit,
        extension_n,
        extension_unit,
        pause_while_waiting: p.deadline.pause_while_waiting,
        identity: p.identity.as_str(),
        identity_by_kind: RequestKind::ALL
            .into_iter()
            .map(|k| {
                (
                    k.as_str(),
                    if lang.is_en() {
                        k.label_en()
                    } else {
                        k.label_ja()
                    }
                    .to_owned(),
                    p.identity_by_kind.get(k).map_or("", IdentityMethod::as_str),
                )
            })
            .collect(),
        confirm_within_hours: p.confirm_within_hours,
        answer_within_days: p.answer_within_days,
        warn_before_expiry_hours: p.warn_before_expiry_hours,
        refund_before_work: p.refund_before_work,
    }
}

/// Shows the settings.
pub async fn show_settings(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    settings_page(&state, &who, lang, None, String::new()).await
}

fn saved(lang: Lang) -> String {
    if lang.is_en() {
        "Saved."
    } else {
        "保存しました。"
    }
    .into()
}

impl Fields {
    /// A whole number, or the message for the administrator naming the field in words.
    fn number(&self, name: &'static str, lang: Lang) -> Result<u32, String> {
        self.get(name).parse().map_err(|_| {
            if lang.is_en() {
                format!("{}: enter a whole number", field_words(name, lang))
            } else {
                format!("{}: 半角数字で入力してください", field_words(name, lang))
            }
        })
    }
}

fn period(n: u32, unit: &str) -> Option<Period> {
    match unit {
        "days" => Some(Period::Days(n)),
        "business_days" => Some(Period::BusinessDays(n)),
        "months" => Some(Period::Months(n)),
        _ => None,
    }
}

fn identity(v: &str) -> Option<IdentityMethod> {
    match v {
        "document" => Some(IdentityMethod::Document),
        "customer_record" => Some(IdentityMethod::CustomerRecord),
        "email_only" => Some(IdentityMethod::EmailOnly),
        _ => None,
    }
}

/// The policy the form describes, on top of the one in force.
fn read_policy(f: &Fields, mut p: Policy, lang: Lang) -> Result<Policy, String> {
    let bad = |field: &str| {
        let field = if field.starts_with("identity_") {
            field_words("identity_kind", lang)
        } else {
            field_words(field, lang)
        };
        if lang.is_en() {
            format!("{field}: choose one of the options")
        } else {
            format!("{field}: 選択肢から選んでください")
        }
    };
    p.jurisdiction =
        Jurisdiction::parse(f.get("jurisdiction")).ok_or_else(|| bad("jurisdiction"))?;
    p.deadline.period = period(f.number("deadline_n", lang)?, f.get("deadline_unit"))
        .ok_or_else(|| bad("deadline_unit"))?;
    p.deadline.extension = if f.get("extension_n").is_empty() {
        None
    } else {
        Some(
            period(f.number("extension_n", lang)?, f.get("extension_unit"))
                .ok_or_else(|| bad("extension_unit"))?,
        )
    };
    p.deadline.pause_while_waiting = f.checked("pause_while_waiting");
    p.identity = identity(f.get("identity")).ok_or_else(|| bad("identity"))?;
    for k in RequestKind::ALL {
        let field = format!("identity_{}", k.as_str());
        let v = f.get(&field);
        let method = if v.is_empty() {
            None
        } else {
            Some(identity(v).ok_or_else(|| bad(&field))?)
        };
        p.identity_by_kind.set(k, method);
    }
    p.confirm_within_hours = f.number("confirm_within_hours", lang)?;
    p.answer_within_days = f.number("answer_within_days", lang)?;
    p.warn_before_expiry_hours = f.number("warn_before_expiry_hours", lang)?;
    p.refund_before_work = f.checked("refund_before_work");
    Ok(p)
}

/// Runs a settings change; a refusal re-renders the page with the reason next to its form.
async fn save_settings<F>(
    state: &AppState,
    who: &StaffIdentity,
    lang: Lang,
    form: &'static str,
    change: F,
) -> Result<Response, PageError>
where
    F: std::future::Future<Output = Result<(), ServiceError>>,
{
    match change.await {
        Ok(()) => settings_page(state, who, lang, None, saved(lang)).await,
        Err(ServiceError::Settings(e)) => {
            let words = settings_error_words(&e, lang);
            settings_page(state, who, lang, Some((form, words)), String::new()).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// Saves the fee schedule; Art. 38 violations are refused with the reason.
pub async fn update_fees(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = Fields::parse(&body)?;
    let mut fees = FeeSchedule::free();
    for kind in RequestKind::ALL {
        let raw = f.get(kind.as_str());
        let raw = if raw.is_empty() { "0" } else { raw };
        let amount: i64 = match raw.replace([',', '¥'], "").parse() {
            Ok(a) => a,
            Err(_) => {
                let msg = format!(
                    "{}: {}",
                    if lang.is_en() {
                        kind.label_en()
                    } else {
                        kind.label_ja()
                    },
                    if lang.is_en() {
                        "enter an amount in yen"
                    } else {
                        "金額を数字で入力してください"
                    }
                );
                return settings_page(&state, &who, lang, Some(("fees", msg)), String::new()).await;
            }
        };
        if let Err(e) = fees.set(kind, Yen(amount)) {
            return settings_page(
                &state,
                &who,
                lang,
                Some(("fees", fee_error_words(&e, kind, lang))),
                String::new(),
            )
            .await;
        }
    }
    save_settings(
        &state,
        &who,
        lang,
        "fees",
        state
            .service
            .set_fee_schedule(fees, &who, &origin, Utc::now()),
    )
    .await
}

/// Saves the policy new requests are filed under.
pub async fn update_policy(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = Fields::parse(&body)?;
    let current = state.service.settings().await?.policy;
    let policy = match read_policy(&f, current, lang) {
        Ok(p) => p,
        Err(msg) => {
            return settings_page(&state, &who, lang, Some(("policy", msg)), String::new()).await;
        }
    };
    save_settings(
        &state,
        &who,
        lang,
        "policy",
        state.service.set_policy(policy, &who, &origin, Utc::now()),
    )
    .await
}

/// Saves retention periods and download limits.
pub async fn update_retention(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = Fields::parse(&body)?;
    let current = state.service.settings().await?.retention;
    let read = || -> Result<Retention, String> {
        Ok(Retention {
            documents_days: f.number("documents_days", lang)?,
            download_days: f.number("download_days", lang)?,
            download_limit: f.number("download_limit", lang)?,
            // A form from before the field existed keeps the period in force.
            records_days: if f.get("records_days").is_empty() {
                current.records_days
            } else {
                f.number("records_days", lang)?
            },
        })
    };
    let retention = match read() {
        Ok(r) => r,
        Err(msg) => {
            return settings_page(&state, &who, lang, Some(("retention", msg)), String::new())
                .await;
        }
    };
    save_settings(
        &state,
        &who,
        lang,
        "retention",
        state
            .service
            .set_retention(retention, &who, &origin, Utc::now()),
    )
    .await
}

/// Saves how to pay without a card (each method offered when it says something).
pub async fn update_payment(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = Fields::parse(&body)?;
    let payment = PaymentInstructions {
        bank_transfer: f.get("bank_transfer").trim().to_owned(),
        money_order: f.get("money_order").trim().to_owned(),
        counter: f.get("counter").trim().to_owned(),
    };
    save_settings(
        &state,
        &who,
        lang,
        "payment",
        state
            .service
            .set_payment(payment, &who, &origin, Utc::now()),
    )
    .await
}

/// Saves the business details shown in mail and on pages.
pub async fn update_business(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = Fields::parse(&body)?;
    let business = BusinessDetails {
        name: f.get("name").to_owned(),
        address: f.get("address").to_owned(),
        representative: f.get("representative").to_owned(),
        contact: f.get("contact").to_owned(),
        mail_from: f.get("mail_from").to_owned(),
        staff_address: f.get("staff_address").to_owned(),
    };
    save_settings(
        &state,
        &who,
        lang,
        "business",
        state
            .service
            .set_business(business, &who, &origin, Utc::now()),
    )
    .await
}

/// A settings field as the form labels it, for the message about it (never the stored key).
fn field_words(key: &str, lang: Lang) -> &'static str {
    let (ja, en_words) = match key {
        "name" => ("名称", "Name"),
        "address" => ("住所", "Address"),
        "representative" => ("代表者", "Representative"),
        "contact" => ("苦情・お問い合わせ先", "Contact"),
        "mail_from" => ("メールの差出人", "Mail sender"),
        "staff_address" => ("担当部署の共有アドレス", "Privacy office's shared address"),
        "bank_transfer" => ("銀行振込", "Bank transfer"),
        "money_order" => ("定額小為替", "Postal money order"),
        "counter" => ("窓口での現金払い", "Cash at the counter"),
        "documents_days" => (
            "本人確認書類を削除するまでの日数",
            "Days until identity documents are deleted",
        ),
        "download_days" => (
            "ダウンロードできる期間",
            "Days the answer can be downloaded",
        ),
        "records_days" => (
            "請求の個人データを消去するまでの日数",
            "Days until a request's personal data are erased",
        ),
        "download_limit" => ("ダウンロード回数", "Downloads per file"),
        "title" => ("定型文の題名", "Template title"),
        "text" => ("定型文の本文", "Template text"),
        "templates" => ("定型文の数", "Number of templates"),
        "colour" => ("色", "Colour"),
        "site_url" => ("会社のウェブサイト", "Company website"),
        "privacy_url" => ("プライバシーポリシー", "Privacy policy"),
        "phone" => ("電話番号", "Phone"),
        "hours" => ("受付時間", "Opening hours"),
        "logo" => ("ロゴ", "Logo"),
        "confirm_within_hours" => ("メール確認の有効時間", "Confirmation link validity"),
        "jurisdiction" => ("準拠する制度", "Legal regime"),
        "deadline_n" => ("期限", "Period"),
        "deadline_unit" => ("期限の単位", "Period unit"),
        "extension_n" => ("延長", "Extension"),
        "extension_unit" => ("延長の単位", "Extension unit"),
        "identity" => ("本人確認の既定の方法", "Default identity method"),
        "identity_kind" => (
            "請求の種類ごとの本人確認の方法",
            "Identity method for a kind",
        ),
        "answer_within_days" => (
            "書類・支払・回答の期限",
            "Time to send documents, pay or answer",
        ),
        "warn_before_expiry_hours" => ("期限前のお知らせ", "Reminder before expiry"),
        _ => ("入力", "Input"),
    };
    if lang.is_en() { en_words } else { ja }
}

/// Why a settings change was refused, in the administrator's language, naming the field as
/// the form labels it.
fn settings_error_words(e: &madoguchi_service::settings::SettingsError, lang: Lang) -> String {
    use madoguchi_domain::PolicyError;
    use madoguchi_service::settings::SettingsError as E;
    match (e, lang.is_en()) {
        (E::Range("colour"), false) => "色: #で始まる6桁の16進数で、白地の文字として読める濃さ（コントラスト比4.5以上）の色を指定してください。".into(),
        (E::Range("colour"), true) => "Colour: give six hex digits after #, dark enough to read as text on white (contrast 4.5 or more).".into(),
        (E::Range("logo"), false) => "ロゴ: 200KB以下のPNGまたはJPEGの画像を選択してください。".into(),
        (E::Range("logo"), true) => "Logo: choose a PNG or JPEG image of at most 200 KB.".into(),
        (E::Range(field @ ("site_url" | "privacy_url")), false) => format!("{}: https:// で始まるアドレスを入力してください。", field_words(field, lang)),
        (E::Range(field @ ("site_url" | "privacy_url")), true) => format!("{}: enter an address starting with https://.", field_words(field, lang)),
        (E::Range(field), false) => format!("{}: 空欄、範囲外、または長すぎます。", field_words(field, lang)),
        (E::Range(field), true) => format!("{}: empty, out of range or too long.", field_words(field, lang)),
        (E::Duplicate(field), false) => format!("{}: 同じものが既にあります。別の題名にしてください。", field_words(field, lang)),
        (E::Duplicate(field), true) => format!("{}: already in use; choose another.", field_words(field, lang)),
        (E::Address(field), false) => format!("{}: メールアドレスの形式で入力してください。", field_words(field, lang)),
        (E::Address(field), true) => format!("{}: enter an e-mail address.", field_words(field, lang)),
        (E::Policy(PolicyError::Deadline), false) => "期限: 1〜365日、260営業日または12か月の範囲で指定してください。".into(),
        (E::Policy(PolicyError::Extension), false) => "延長: 1〜365日、260営業日または12か月の範囲で指定してください。".into(),
        (E::Policy(PolicyError::Timeout(field)), false) => format!("{}: 範囲外です。", field_words(field, lang)),
        (E::Policy(PolicyError::Timeout(field)), true) => format!("{}: out of range.", field_words(field, lang)),
        (E::Policy(p), true) => p.to_string(),
    }
}

/// The template form.
#[derive(Debug, serde::Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

/// Adds an answer template.
pub async fn add_template(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    axum::Form(f): axum::Form<TemplateForm>,
) -> Result<Response, PageError> {
    let template = madoguchi_service::settings::AnswerTemplate {
        title: f.title,
        text: f.text,
    };
    save_settings(
        &state,
        &who,
        lang,
        "templates",
        state
            .service
            .add_template(template, &who, &origin, Utc::now()),
    )
    .await
}

/// Removes an answer template (named by its title).
pub async fn remove_template(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    axum::Form(f): axum::Form<TemplateForm>,
) -> Result<Response, PageError> {
    save_settings(
        &state,
        &who,
        lang,
        "templates",
        state
            .service
            .remove_template(&f.title, &who, &origin, Utc::now()),
    )
    .await
}

/// Saves the colour, links and phone shown on pages, mail and letters.
pub async fn update_branding(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = Fields::parse(&body)?;
    let branding = madoguchi_service::settings::Branding {
        colour: f.get("colour").to_ascii_lowercase(),
        site_url: f.get("site_url").to_owned(),
        privacy_url: f.get("privacy_url").to_owned(),
        phone: f.get("phone").to_owned(),
        hours: f.get("hours").to_owned(),
    };
    save_settings(
        &state,
        &who,
        lang,
        "branding",
        state
            .service
            .set_branding(branding, &who, &origin, Utc::now()),
    )
    .await
}

/// Replaces the logo with the uploaded image, or removes it (`remove` ticked).
pub async fn update_logo(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let (fields, files) = super::documents::read_upload(multipart).await?;
    let remove = fields.iter().any(|(k, v)| k == "remove" && !v.is_empty());
    let image = if remove {
        None
    } else {
        match files.into_iter().next() {
            Some((_, bytes)) => Some(bytes),
            None => {
                let message = if lang.is_en() {
                    "Logo: choose a PNG or JPEG file."
                } else {
                    "ロゴ: PNGまたはJPEGのファイルを選択してください。"
                };
                return settings_page(
                    &state,
                    &who,
                    lang,
                    Some(("branding", message.into())),
                    String::new(),
                )
                .await;
            }
        }
    };
    save_settings(
        &state,
        &who,
        lang,
        "branding",
        state.service.set_logo(image, &who, &origin, Utc::now()),
    )
    .await
}

/// Why a fee was refused, in the administrator's language, naming the kind in words.
fn fee_error_words(e: &madoguchi_domain::FeeError, kind: RequestKind, lang: Lang) -> String {
    use madoguchi_domain::FeeError as F;
    let label = if lang.is_en() {
        kind.label_en()
    } else {
        kind.label_ja()
    };
    let why = match (e, lang.is_en()) {
        (F::NotAllowed(_), false) => "法第38条により、この種類の請求には手数料を求められません。",
        (F::NotAllowed(_), true) => "APPI Art. 38 allows no fee for this kind of request.",
        (F::Negative, false) => "手数料はマイナスにできません。",
        (F::Negative, true) => "A fee cannot be negative.",
        (F::BelowMinimum, false) => "手数料は0円か、50円以上にしてください（カード決済の最低額）。",
        (F::BelowMinimum, true) => "A fee is ¥0 or at least ¥50 (the card minimum).",
        (F::AboveMaximum, false) => {
            "手数料は100,000円以下にしてください（法第38条第2項: 合理的な額）。"
        }
        (F::AboveMaximum, true) => {
            "A fee is at most ¥100,000 (APPI Art. 38(2): a reasonable amount)."
        }
    };
    format!("{label}: {why}")
}
