//! Page templates (askama) and the small helpers they call. Every page extends
//! `templates/pages/base.html`, which sets `lang` and the language switch.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use madoguchi_domain::{RequestKind, SuspensionGround};
use madoguchi_service::Lang;

use crate::error::{AppError, FieldError};
use crate::intake::IntakeInput;

/// Renders a template, answering 500 if it fails (it cannot, for a template that compiled
/// with the fields it uses, short of a formatter error).
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Escapes text for HTML attribute and element content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The business as the subject's pages show it: its name (what `{{ business_name }}` prints),
/// and, where the administrator gave them, its logo, site, privacy policy and phone.
#[derive(Debug, Clone, Default)]
pub struct Brand {
    /// Trade name.
    pub name: String,
    /// Whether a logo was uploaded (served at `/brand/logo`).
    pub logo: bool,
    /// The company's website.
    pub site_url: String,
    /// The company's privacy policy.
    pub privacy_url: String,
    /// The desk's phone.
    pub phone: String,
    /// When the phone is answered.
    pub hours: String,
}

impl Brand {
    /// A brand that is only a name (pages shown without the settings at hand).
    pub fn named(name: String) -> Self {
        Brand {
            name,
            ..Brand::default()
        }
    }

    /// From the settings in force.
    pub fn of(settings: &madoguchi_service::settings::Settings) -> Self {
        Brand {
            name: settings.business.name.clone(),
            logo: settings.logo.is_some(),
            site_url: settings.branding.site_url.clone(),
            privacy_url: settings.branding.privacy_url.clone(),
            phone: settings.branding.phone.clone(),
            hours: settings.branding.hours.clone(),
        }
    }
}

impl std::fmt::Display for Brand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// A step of the request's way, as the requester's page shows it.
#[derive(Debug, Clone)]
pub struct ProgressStep {
    /// The step in words.
    pub label: &'static str,
    /// `done`, `current` or `ahead` (the CSS class).
    pub mark: &'static str,
    /// The mark in words (screen readers, and anyone reading without the styles).
    pub words: &'static str,
}

/// A row of the fee table.
#[derive(Debug, Clone)]
pub struct FeeRow {
    /// Kind, Japanese.
    pub label_ja: &'static str,
    /// Kind, English.
    pub label_en: &'static str,
    /// Formatted amount.
    pub amount: String,
}

/// The fee table, as published (Art. 32(1)).
pub fn fee_rows(fees: &madoguchi_domain::FeeSchedule) -> Vec<FeeRow> {
    RequestKind::ALL
        .into_iter()
        .map(|k| FeeRow {
            label_ja: k.label_ja(),
            label_en: k.label_en(),
            amount: fees.fee(k).to_string(),
        })
        .collect()
}

/// A radio or select option.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Submitted value.
    pub value: &'static str,
    /// Japanese label.
    pub label_ja: &'static str,
    /// English label.
    pub label_en: &'static str,
    /// Article reference (English).
    pub article: &'static str,
    /// Article reference, as Japanese cites it.
    pub article_ja: &'static str,
}

/// The intake form.
#[derive(Debug, Template)]
#[template(path = "pages/intake.html")]
pub struct IntakePage {
    /// English?
    pub lang: Lang,
    /// Business name for the header.
    pub business_name: Brand,
    /// CSRF token.
    pub csrf: String,
    /// What was typed.
    pub form: IntakeInput,
    /// What is wrong with it.
    pub errors: Vec<FieldError>,
    /// The fee table.
    pub fees: Vec<FeeRow>,
    /// Request kinds.
    pub kinds: Vec<Choice>,
    /// Suspension grounds.
    pub grounds: Vec<Choice>,
    /// Which step of the form this is.
    pub step: IntakeStep,
    /// The chosen kind's fee, in words (the fill-in step).
    pub chosen_fee: String,
}

/// The guided form's steps: pick the kind and who files, then fill in only what that kind
/// needs. Without a kind (a post that lost it) every field shows, so nothing typed is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeStep {
    /// Choose the kind and the requester.
    Choose,
    /// Fill in the fields of the chosen kind.
    Fill(RequestKind),
    /// Every field at once.
    All,
}

impl IntakePage {
    /// The first step: the kind and who files (a choice already made is kept; `missing`
    /// when the step was sent without a kind).
    pub fn choosing(mut self, missing: bool) -> Self {
        self.step = IntakeStep::Choose;
        if missing {
            let message = if self.lang.is_en() {
                "What do you ask for: choose one."
            } else {
                "請求の種類: 選択してください。"
            };
            self.errors.push(FieldError {
                field: "kind".into(),
                code: "required".into(),
                message: message.into(),
            });
        }
        self
    }

    /// Whether this is the first step.
    pub fn is_choosing(&self) -> bool {
        self.step == IntakeStep::Choose
    }

    /// Whether every field shows (no kind chosen).
    pub fn all_fields(&self) -> bool {
        self.step == IntakeStep::All
    }

    /// The chosen kind's name and the law it rests on, as the page's language writes it.
    pub fn chosen_kind(&self) -> String {
        match self.step {
            IntakeStep::Fill(k) if self.lang.is_en() => {
                format!("{} (APPI {})", k.label_en(), k.article())
            }
            IntakeStep::Fill(k) => format!("{}（{}）", k.label_ja(), k.article_ja()),
            _ => String::new(),
        }
    }

    /// Whether the agent's fields show: an agent files, or no kind was chosen.
    pub fn shows_agent(&self) -> bool {
        self.all_fields()
            || madoguchi_domain::Requester::parse(&self.form.requester)
                .is_some_and(|r| r.is_agent())
    }

    /// Whether the correction's two contents show.
    pub fn shows_correction(&self) -> bool {
        match self.step {
            IntakeStep::Fill(k) => k == RequestKind::Correction,
            _ => self.all_fields(),
        }
    }

    /// Whether the ground of a suspension or stop shows.
    pub fn shows_ground(&self) -> bool {
        match self.step {
            IntakeStep::Fill(k) => k.needs_ground(),
            _ => self.all_fields(),
        }
    }

    /// Whether the way of delivering a disclosure shows.
    pub fn shows_delivery(&self) -> bool {
        match self.step {
            IntakeStep::Fill(k) => k.is_disclosure(),
            _ => self.all_fields(),
        }
    }

    /// A blank or re-filled form.
    pub fn new(
        business_name: Brand,
        fees: &madoguchi_domain::FeeSchedule,
        lang: Lang,
        csrf: String,
        form: IntakeInput,
        errors: Vec<FieldError>,
    ) -> Self {
        let chosen = RequestKind::parse(&form.kind);
        IntakePage {
            lang,
            business_name,
            csrf,
            // A refused kind or requester cannot be put right on the second step (they are
            // hidden there): every field shows, so the person corrects it where they see it.
            step: match chosen {
                Some(k)
                    if !errors
                        .iter()
                        .any(|e| e.field == "kind" || e.field == "requester") =>
                {
                    IntakeStep::Fill(k)
                }
                _ => IntakeStep::All,
            },
            chosen_fee: chosen.map(|k| fees.fee(k).to_string()).unwrap_or_default(),
            form,
            errors,
            fees: fee_rows(fees),
            kinds: RequestKind::ALL
                .into_iter()
                .map(|k| Choice {
                    value: k.as_str(),
                    label_ja: k.label_ja(),
                    label_en: k.label_en(),
                    article: k.article(),
                    article_ja: k.article_ja(),
                })
                .collect(),
            grounds: SuspensionGround::ALL
                .into_iter()
                .map(|g| Choice {
                    value: g.as_str(),
                    label_ja: g.label_ja(),
                    label_en: g.label_en(),
                    article: "",
                    article_ja: "",
                })
                .collect(),
        }
    }

    /// The error for a field, if any.
    pub fn err(&self, field: &str) -> Option<&str> {
        IntakeInput::error_for(&self.errors, field)
    }

    /// A labelled text input with its error wired to `aria-describedby`.
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors an HTML input's attributes"
    )]
    pub fn field(
        &self,
        name: &str,
        kind: &str,
        ja: &str,
        en: &str,
        required: bool,
        value: &str,
        autocomplete: &str,
    ) -> String {
        let (label, req, err_html, aria) = self.field_head(name, ja, en, required);
        let required_attr = if required {
            " aria-required=\"true\""
        } else {
            ""
        };
        format!(
            "<div class=\"field\"><label for=\"{name}\">{label}{req}</label>{err_html}<input type=\"{kind}\" name=\"{name}\" id=\"{name}\" value=\"{}\" autocomplete=\"{autocomplete}\"{required_attr}{aria}></div>",
            escape(value)
        )
    }

    /// What every field shows: its label, the required mark, its error, and the `aria-*`
    /// attributes that tie the error to the control.
    fn field_head<'a>(
        &self,
        name: &str,
        ja: &'a str,
        en: &'a str,
        required: bool,
    ) -> (&'a str, &'static str, String, String) {
        let label = if self.lang.is_en() { en } else { ja };
        let req = match (required, self.lang.is_en()) {
            (true, true) => " <span class=\"req\">required</span>",
            (true, false) => " <span class=\"req\">必須</span>",
            _ => "",
        };
        let (err_html, aria) = match self.err(name) {
            Some(e) => (
                format!(
                    "<p class=\"field-error\" id=\"{name}-error\">{}</p>",
                    escape(e)
                ),
                format!(" aria-invalid=\"true\" aria-describedby=\"{name}-error\""),
            ),
            None => (String::new(), String::new()),
        };
        (label, req, err_html, aria)
    }

    /// A labelled textarea.
    pub fn area(&self, name: &str, ja: &str, en: &str, required: bool, value: &str) -> String {
        let (label, req, err_html, aria) = self.field_head(name, ja, en, required);
        format!(
            "<div class=\"field\"><label for=\"{name}\">{label}{req}</label>{err_html}<textarea name=\"{name}\" id=\"{name}\"{aria}>{}</textarea></div>",
            escape(value)
        )
    }
}

/// The subject's status page. Shows no personal data: its address is the only key.
#[derive(Debug, Template)]
#[template(path = "pages/status.html")]
pub struct StatusPage {
    /// The steps of the way and where the request stands.
    pub progress: Vec<ProgressStep>,
    /// English?
    pub lang: Lang,
    /// Business name.
    pub business_name: Brand,
    /// Just filed: show the receipt.
    pub filed: bool,
    /// Just confirmed.
    pub confirmed: bool,
    /// Request number.
    pub number: String,
    /// Kind label.
    pub kind: String,
    /// State label.
    pub state: String,
    /// Arrival date.
    pub arrived_on: String,
    /// Due date.
    pub due_on: String,
    /// Still open?
    pub open: bool,
    /// Fee, if any.
    pub fee: String,
    /// Public id.
    pub pid: String,
    /// CSRF token.
    pub csrf: String,
    /// The address is confirmed, so a code can be sent.
    pub confirmed_address: bool,
    /// The request has no e-mail address: everything goes by post.
    pub by_post: bool,
    /// Card payment link, when the fee is due and cards are accepted.
    pub pay_link: String,
    /// Back from the card payment page.
    pub paid: bool,
    /// The fee is due.
    pub awaiting_payment: bool,
    /// How to pay without a card: each method offered, in words, with its instructions.
    pub payment: Vec<(String, String)>,
    /// What happens next and who acts, in words.
    pub next: String,
    /// Where to ask (shown when no way to pay is configured).
    pub contact: String,
    /// The detailed answer, one line per data set or result, without the officer's free text
    /// (this page opens without a code).
    pub answer: Vec<String>,
}

/// The page where the subject types the code.
#[derive(Debug, Template)]
#[template(path = "pages/access.html")]
pub struct AccessPage {
    /// English?
    pub lang: Lang,
    /// Business name.
    pub business_name: Brand,
    /// Public id.
    pub pid: String,
    /// Request number.
    pub number: String,
    /// CSRF token.
    pub csrf: String,
    /// Error, if the last code failed.
    pub error: String,
    /// The code a mail's link carried (typed in for the person).
    pub code: String,
}

/// The subject's private page: their data, documents, answers.
#[derive(Debug, Template)]
#[template(path = "pages/private.html")]
pub struct PrivatePage {
    /// English?
    pub lang: Lang,
    /// Business name.
    pub business_name: Brand,
    /// Public id.
    pub pid: String,
    /// Request number.
    pub number: String,
    /// CSRF token.
    pub csrf: String,
    /// State label.
    pub state: String,
    /// Kind label.
    pub kind: String,
    /// Subject's name.
    pub name: String,
    /// What was asked.
    pub details: String,
    /// The officer's last message.
    pub message: String,
    /// Uploads open.
    pub can_upload: bool,
    /// Waiting for more evidence.
    pub awaiting_identity: bool,
    /// Waiting for an answer.
    pub awaiting_info: bool,
    /// Filed by an agent.
    pub agent: bool,
    /// Still open (can withdraw).
    pub open: bool,
    /// Upload purposes offered.
    pub purposes: Vec<(String, String)>,
    /// (pid, purpose label, filename, download link or empty).
    pub documents: Vec<(String, String, String, String)>,
    /// All files of the answer as one ZIP, when there are several.
    pub zip_link: String,
    /// The answer in full, line by line (what was corrected, erased where and when): this
    /// page is behind a one-time code, unlike the status page, which leaves the texts out.
    pub answer: Vec<String>,
    /// Max MiB per file.
    pub max_mb: usize,
    /// Max files per upload.
    pub max_files: usize,
    /// Success message.
    pub flash: String,
    /// Error message.
    pub error: String,
    /// (receipt number, link) for each payment received.
    pub receipts: Vec<(String, String)>,
}

/// A printable receipt (領収書) for one payment, behind the subject's code.
#[derive(Debug, Template)]
#[template(path = "pages/receipt.html")]
pub struct ReceiptPage {
    /// English?
    pub lang: Lang,
    /// Business name.
    pub business_name: Brand,
    /// Business contact.
    pub business_contact: String,
    /// Receipt number.
    pub receipt_number: String,
    /// Who paid: the subject, or the agent who filed.
    pub payer: String,
    /// Amount, formatted.
    pub amount: String,
    /// How it was paid.
    pub method: String,
    /// Date received (Japan).
    pub date: String,
    /// Request number.
    pub number: String,
    /// Kind label, for the 但し書き.
    pub kind: String,
    /// Back to the private page.
    pub back: String,
}

/// The page behind a confirmation link: a button, because mail scanners follow links.
#[derive(Debug, Template)]
#[template(path = "pages/confirm.html")]
pub struct ConfirmPage {
    /// English?
    pub lang: Lang,
    /// Business name.
    pub business_name: Brand,
    /// CSRF token.
    pub csrf: String,
    /// The link's token.
    pub token: String,
    /// Request number.
    pub number: String,
}

/// A system owner's task: whom to look for, which data, and the answer form; or the thanks
/// once answered.
#[derive(Debug, Template)]
#[template(path = "pages/owner_task.html")]
pub struct OwnerTaskPage {
    /// English?
    pub lang: Lang,
    /// Business name.
    pub business_name: Brand,
    /// The task, while open.
    pub task: Option<madoguchi_service::owner::OwnerTask>,
    /// Its due date, written for people.
    pub due: String,
    /// The kind of request, in words.
    pub kind: String,
    /// The date of birth, written for people.
    pub birth_date: String,
    /// CSRF token.
    pub csrf: String,
    /// The link's token.
    pub token: String,
    /// Why the last answer was not taken.
    pub errors: Vec<madoguchi_service::owner::TaskError>,
    /// Rows taken, once answered.
    pub answered: Option<u32>,
    /// Once work was reported: done, or not.
    pub work_done: Option<bool>,
}

impl OwnerTaskPage {
    /// The open task.
    pub fn open(
        lang: Lang,
        task: madoguchi_service::owner::OwnerTask,
        csrf: String,
        token: String,
        errors: Vec<madoguchi_service::owner::TaskError>,
    ) -> Self {
        let due =
            madoguchi_domain::written_date(madoguchi_domain::jst_date(task.due_at), lang.is_en());
        let kind = if lang.is_en() {
            task.kind.label_en()
        } else {
            task.kind.label_ja()
        }
        .to_owned();
        let birth_date = task
            .subject
            .birth_date
            .map(|d| madoguchi_domain::written_date(d, lang.is_en()))
            .unwrap_or_default();
        OwnerTaskPage {
            lang,
            business_name: Brand::named(task.business.clone()),
            task: Some(task),
            due,
            kind,
            birth_date,
            csrf,
            token,
            errors,
            answered: None,
            work_done: None,
        }
    }

    /// The thanks after an answer.
    pub fn answered(lang: Lang, business_name: Brand, rows: u32, work_done: Option<bool>) -> Self {
        OwnerTaskPage {
            lang,
            business_name,
            task: None,
            due: String::new(),
            kind: String::new(),
            birth_date: String::new(),
            csrf: String::new(),
            token: String::new(),
            errors: Vec::new(),
            answered: Some(rows),
            work_done,
        }
    }

    /// The label of a dataset an error is about.
    pub fn dataset_label(&self, id: &str) -> String {
        self.task
            .as_ref()
            .and_then(|t| t.datasets.iter().find(|d| d.id == id))
            .map_or_else(String::new, |d| d.label.clone())
    }

    /// The CSV header a dataset's file starts with.
    pub fn header(&self, d: &madoguchi_service::owner::TaskDataset) -> String {
        d.fields
            .iter()
            .map(|f| f.0.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The Art. 32(1) publication: who we are, the procedure and the fees.
#[derive(Debug, Template)]
#[template(path = "pages/procedures.html")]
pub struct ProceduresPage {
    /// English?
    pub lang: Lang,
    /// Business name.
    pub business_name: Brand,
    /// Address.
    pub business_address: String,
    /// Representative.
    pub business_representative: String,
    /// Contact.
    pub business_contact: String,
    /// Fee table.
    pub fees: Vec<FeeRow>,
    /// The deadline target, worded.
    pub deadline: String,
    /// What the data map makes known (purposes, categories, measures, countries, recipients
    /// abroad, joint use), when a map is installed.
    pub notice: Option<madoguchi_datamap::Notice>,
}

impl ProceduresPage {
    /// A country's name in the page's language.
    pub fn country(&self, code: &str) -> String {
        madoguchi_datamap::country_name(code, self.lang.is_en())
    }

    /// Words in the page's language.
    pub fn w<'a>(&self, text: &'a madoguchi_datamap::Text) -> &'a str {
        text.get(self.lang.is_en())
    }

    /// The categories a recipient receives, joined.
    pub fn joined(&self, texts: &[madoguchi_datamap::Text]) -> String {
        texts
            .iter()
            .map(|t| t.get(self.lang.is_en()))
            .collect::<Vec<_>>()
            .join(if self.lang.is_en() { ", " } else { "、" })
    }

    /// A recipient's kind, worded.
    pub fn recipient_kind(&self, kind: &madoguchi_datamap::RecipientKind) -> &'static str {
        use madoguchi_datamap::RecipientKind as K;
        match (kind, self.lang.is_en()) {
            (K::ThirdParty, false) => "第三者提供",
            (K::ThirdParty, true) => "Provision to a third party",
            (K::Processor, false) => "取扱いの委託",
            (K::Processor, true) => "Processing on our behalf",
            (K::JointUse, false) => "共同利用",
            (K::JointUse, true) => "Joint use",
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    lang: Lang,
    business_name: Brand,
    title: String,
    message: String,
}

/// The HTML page for an error.
pub fn error_page(e: &AppError, lang: Lang) -> Response {
    if let AppError::Validation(errors) = e {
        let title = if lang.is_en() {
            "Please check what you entered"
        } else {
            "入力内容をご確認ください"
        };
        let back = if lang.is_en() {
            "Go back to the previous page, correct it and send it again."
        } else {
            "前のページに戻って修正し、もう一度送信してください。"
        };
        let mut message: Vec<&str> = errors.iter().map(|f| f.message.as_str()).collect();
        message.push(back);
        return render(&ErrorPage {
            lang,
            business_name: Brand::default(),
            title: title.to_owned(),
            message: message.join(" "),
        });
    }
    let (title, message) = match (e, lang.is_en()) {
        (AppError::NotFound, false) => (
            "ページが見つかりません",
            "URLをご確認ください。リンクが正しくない可能性があります。",
        ),
        (AppError::NotFound, true) => (
            "Page not found",
            "Please check the address; the link may be wrong.",
        ),
        (AppError::Gone, false) => (
            "このリンクは使用済みか、有効期限が切れています",
            "確認リンクは一度だけ、期限内に限り使えます。期限が切れた場合は、改めてご請求ください。",
        ),
        (AppError::Gone, true) => (
            "This link was used or has expired",
            "A confirmation link works once and only until it expires. If it expired, please file the request again.",
        ),
        (AppError::Forbidden, false) => (
            "フォームの有効期限が切れました",
            "お手数ですが、ページを再読み込みしてからもう一度送信してください。",
        ),
        (AppError::Forbidden, true) => (
            "The form has expired",
            "Please reload the page and send it again.",
        ),
        (AppError::TooLarge, false) => (
            "送信された内容が大きすぎます",
            "入力内容を短くしてください。",
        ),
        (AppError::TooLarge, true) => ("What you sent is too large", "Please shorten your input."),
        (AppError::Unavailable, false) => (
            "決済サービスに接続できませんでした",
            "時間をおいてもう一度お試しください。ご請求はそのままお支払いいただける状態です。",
        ),
        (AppError::Unavailable, true) => (
            "The payment service could not be reached",
            "Please try again in a moment; your request can still be paid.",
        ),
        (AppError::TooManyRequests, false) => (
            "短時間に多くの送信がありました",
            "しばらく時間をおいてから、もう一度お試しください。",
        ),
        (AppError::TooManyRequests, true) => (
            "Too many attempts",
            "Please wait a while before you try again.",
        ),
        (AppError::Conflict(_), false) => (
            "この操作は現在行えません",
            "状況が変わった可能性があります。ページを再読み込みしてください。",
        ),
        (AppError::Conflict(_), true) => (
            "This cannot be done now",
            "The request may have changed; please reload the page.",
        ),
        (_, false) => (
            "エラーが発生しました",
            "しばらくしてからもう一度お試しください。",
        ),
        (_, true) => ("Something went wrong", "Please try again in a moment."),
    };
    render(&ErrorPage {
        lang,
        business_name: Brand::default(),
        title: title.to_owned(),
        message: message.to_owned(),
    })
}
