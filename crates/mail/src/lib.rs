#![doc = include_str!("../README.md")]

mod letter;

pub use letter::{LetterText, letter};

use std::path::PathBuf;
use std::time::Duration;

use askama::Template;
use lettre::message::{Mailbox, MultiPart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use madoguchi_domain::{Lang, Mail};
use serde::{Deserialize, Serialize};

/// What any template may show. Snapshotted when the message is enqueued, so a later change to
/// the request does not change a message already decided.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailContext {
    /// The reader's language.
    pub lang: Lang,
    /// The business's name.
    pub business_name: String,
    /// Where to ask questions.
    pub business_contact: String,
    /// The desk's phone number (blank: none given).
    pub business_phone: String,
    /// When the phone is answered.
    pub business_hours: String,
    /// The business's privacy policy (https; blank: none given).
    pub privacy_url: String,
    /// The business's accent colour, `#rrggbb` (blank: the product's).
    pub brand_colour: String,
    /// Salutation name.
    pub recipient_name: String,
    /// Request number.
    pub number: String,
    /// Kind, in Japanese.
    pub kind_ja: String,
    /// Kind, in English.
    pub kind_en: String,
    /// State, in Japanese.
    pub state_ja: String,
    /// State, in English.
    pub state_en: String,
    /// The page to open (filled in at send time for confirmation links).
    pub link: String,
    /// A nonce from which the sender derives the confirmation token; never the token itself.
    pub confirm_nonce: Option<String>,
    /// Until when the confirmation link works.
    pub link_expires: String,
    /// The answer's due date.
    pub due_on: String,
    /// Until when the subject can answer.
    pub reply_by: String,
    /// An amount, formatted (`¥3,000`).
    pub amount: String,
    /// Free text from the officer: what is missing, the question, the reason.
    pub message: String,
    /// Grounds, in Japanese.
    pub grounds_ja: Vec<String>,
    /// Grounds, in English.
    pub grounds_en: Vec<String>,
    /// The number of an open request this one may duplicate.
    pub duplicate_of: Option<String>,
    /// Receipt number.
    pub receipt_number: String,
    /// Payment method, in the message's language.
    pub payment_method: String,
    /// Today's date, formatted.
    pub today: String,
    /// Whether the result is a download.
    pub download: bool,
    /// The last day the answer can be downloaded (the answer mail), written out.
    pub download_until: String,
    /// How many times each file can be downloaded.
    pub download_limit: u32,
    /// A nonce from which the sender derives the one-time code; never the code itself.
    pub code_nonce: Option<String>,
    /// The one-time code (filled in at send time).
    pub code: String,
    /// Where to pay by card, when card payment is offered.
    pub pay_link: String,
    /// How a disclosure is delivered (書面の交付 / 電磁的記録の提供).
    pub delivery_ja: String,
    /// The same in English.
    pub delivery_en: String,
    /// A detailed answer, one line per data set or fact (what was corrected, erased where and
    /// when), in the message's language.
    pub answer_lines: Vec<String>,
    /// The business system a task is about, by its name (owner mail).
    pub system_name: String,
    /// A nonce from which the sender derives an owner's task link; never the link itself.
    pub owner_nonce: Option<String>,
    /// How to pay without a card, a method and its instructions per entry (the fee's mail).
    pub payment_lines: Vec<String>,
    /// A recipient's letter about a stop of provision to it (Art. 35(3)).
    pub provision_stopped: bool,
    /// The incident a request on the breach ground cites (Art. 35(5)), in words: its number
    /// and the day it became known (the answer and the refusal name it).
    pub incident_line: String,
}

impl MailContext {
    /// English unless Japanese: Japanese is the default.
    pub fn is_en(&self) -> bool {
        self.lang.is_en()
    }
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Mail errors.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A template failed to render.
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    /// An address or header is invalid.
    #[error("message: {0}")]
    Build(String),
    /// The transport failed. `permanent` when retrying cannot help (e.g. recipient refused).
    #[error("transport: {message}")]
    Transport {
        /// What the transport said.
        message: String,
        /// True for 5xx SMTP replies.
        permanent: bool,
    },
}

/// One view per message: the values its two templates use, and no others, so a template that
/// reads a value its view lacks does not compile. The views are projections of the stored
/// [`MailContext`] (the outbox keeps that snapshot, so messages enqueued before a release
/// still render), made when the message is rendered. Every view carries the language and the
/// signature's values.
macro_rules! views {
    ($($view:ident { $($field:ident: $ty:ty),* $(,)? };)*) => {
        $(
            #[derive(Debug)]
            struct $view {
                lang: Lang,
                business_name: String,
                business_contact: String,
                business_phone: String,
                business_hours: String,
                privacy_url: String,
                $($field: $ty,)*
            }

            impl $view {
                fn of(c: &MailContext) -> Self {
                    $view {
                        lang: c.lang,
                        business_name: c.business_name.clone(),
                        business_contact: c.business_contact.clone(),
                        business_phone: c.business_phone.clone(),
                        business_hours: c.business_hours.clone(),
                        privacy_url: c.privacy_url.clone(),
                        $($field: c.$field.clone(),)*
                    }
                }

                /// English unless Japanese.
                fn is_en(&self) -> bool {
                    self.lang.is_en()
                }
            }
        )*
    };
}

views! {
    ConfirmAddressView { duplicate_of: Option<String>, kind_en: String, kind_ja: String, link: String, link_expires: String, number: String, recipient_name: String };
    AddressConfirmedView { due_on: String, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    IdentityApprovedView { amount: String, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    IdentityMoreNeededView { kind_en: String, kind_ja: String, link: String, message: String, number: String, recipient_name: String, reply_by: String };
    IdentityRejectedView { kind_en: String, kind_ja: String, link: String, message: String, number: String, recipient_name: String };
    PaymentRequestedView { amount: String, kind_en: String, kind_ja: String, link: String, number: String, pay_link: String, payment_lines: Vec<String>, recipient_name: String, reply_by: String };
    PaymentReceivedView { amount: String, kind_en: String, kind_ja: String, link: String, number: String, payment_method: String, receipt_number: String, recipient_name: String, today: String };
    InfoNeededView { kind_en: String, kind_ja: String, link: String, message: String, number: String, recipient_name: String, reply_by: String };
    DeadlineExtendedView { due_on: String, kind_en: String, kind_ja: String, link: String, message: String, number: String, recipient_name: String };
    DeliveryChangedView { delivery_en: String, delivery_ja: String, kind_en: String, kind_ja: String, link: String, message: String, number: String, recipient_name: String };
    CompletedView { answer_lines: Vec<String>, download: bool, download_limit: u32, download_until: String, grounds_en: Vec<String>, grounds_ja: Vec<String>, incident_line: String, kind_en: String, kind_ja: String, link: String, message: String, number: String, recipient_name: String, state_en: String, state_ja: String };
    RefusedView { answer_lines: Vec<String>, grounds_en: Vec<String>, grounds_ja: Vec<String>, incident_line: String, kind_en: String, kind_ja: String, link: String, message: String, number: String, recipient_name: String };
    WithdrawnView { amount: String, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    ExpiredView { kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    RefundedView { amount: String, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    StaffPaymentFlaggedView { kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    StaffAuditFailedView { link: String, message: String, recipient_name: String, today: String };
    AccessCodeView { code: String, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    StaffNewRequestView { due_on: String, duplicate_of: Option<String>, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    StaffSubjectAnsweredView { due_on: String, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    StaffPaymentReceivedView { amount: String, due_on: String, kind_en: String, kind_ja: String, link: String, number: String, payment_method: String, recipient_name: String };
    StaffWithdrawnView { kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    ExpiryWarningView { amount: String, kind_en: String, kind_ja: String, link: String, number: String, pay_link: String, recipient_name: String, reply_by: String, state_en: String, state_ja: String };
    StaffDigestView { link: String, message: String, recipient_name: String, today: String };
    StaffMailFailingView { link: String, message: String, recipient_name: String, today: String };
    OwnerTaskView { due_on: String, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String, system_name: String };
    OwnerReminderView { due_on: String, link: String, message: String, number: String, recipient_name: String, system_name: String };
    OwnerActionView { answer_lines: Vec<String>, due_on: String, kind_en: String, kind_ja: String, link: String, message: String, number: String, recipient_name: String, system_name: String };
    RecipientNoticeView { answer_lines: Vec<String>, due_on: String, kind_en: String, kind_ja: String, link: String, message: String, number: String, provision_stopped: bool, recipient_name: String };
    ComplaintReceivedView { due_on: String, kind_en: String, kind_ja: String, number: String, recipient_name: String };
    ComplaintReplyView { message: String, number: String, recipient_name: String };
    StaffNewComplaintView { due_on: String, kind_en: String, kind_ja: String, link: String, number: String, recipient_name: String };
    IncidentNoticeView { answer_lines: Vec<String>, number: String, recipient_name: String };
}

macro_rules! templates {
    ($($mail:ident => $view:ident, $subject:ident, $sp:literal, $body:ident, $bp:literal;)*) => {
        $(
            #[derive(Template)]
            #[template(path = $sp)]
            struct $subject<'a> { c: &'a $view }

            #[derive(Template)]
            #[template(path = $bp)]
            struct $body<'a> { c: &'a $view }
        )*

        fn render_parts(mail: Mail, c: &MailContext) -> Result<(String, String), askama::Error> {
            Ok(match mail {
                $(Mail::$mail => {
                    let view = $view::of(c);
                    ($subject { c: &view }.render()?, $body { c: &view }.render()?)
                })*
            })
        }
    };
}

templates! {
    ConfirmAddress => ConfirmAddressView, ConfirmAddressSubject, "email/confirm_address/subject.txt", ConfirmAddressBody, "email/confirm_address/body.txt";
    AddressConfirmed => AddressConfirmedView, AddressConfirmedSubject, "email/address_confirmed/subject.txt", AddressConfirmedBody, "email/address_confirmed/body.txt";
    IdentityApproved => IdentityApprovedView, IdentityApprovedSubject, "email/identity_approved/subject.txt", IdentityApprovedBody, "email/identity_approved/body.txt";
    IdentityMoreNeeded => IdentityMoreNeededView, IdentityMoreNeededSubject, "email/identity_more_needed/subject.txt", IdentityMoreNeededBody, "email/identity_more_needed/body.txt";
    IdentityRejected => IdentityRejectedView, IdentityRejectedSubject, "email/identity_rejected/subject.txt", IdentityRejectedBody, "email/identity_rejected/body.txt";
    PaymentRequested => PaymentRequestedView, PaymentRequestedSubject, "email/payment_requested/subject.txt", PaymentRequestedBody, "email/payment_requested/body.txt";
    PaymentReceived => PaymentReceivedView, PaymentReceivedSubject, "email/payment_received/subject.txt", PaymentReceivedBody, "email/payment_received/body.txt";
    InfoNeeded => InfoNeededView, InfoNeededSubject, "email/info_needed/subject.txt", InfoNeededBody, "email/info_needed/body.txt";
    DeadlineExtended => DeadlineExtendedView, DeadlineExtendedSubject, "email/deadline_extended/subject.txt", DeadlineExtendedBody, "email/deadline_extended/body.txt";
    DeliveryChanged => DeliveryChangedView, DeliveryChangedSubject, "email/delivery_changed/subject.txt", DeliveryChangedBody, "email/delivery_changed/body.txt";
    Completed => CompletedView, CompletedSubject, "email/completed/subject.txt", CompletedBody, "email/completed/body.txt";
    Refused => RefusedView, RefusedSubject, "email/refused/subject.txt", RefusedBody, "email/refused/body.txt";
    Withdrawn => WithdrawnView, WithdrawnSubject, "email/withdrawn/subject.txt", WithdrawnBody, "email/withdrawn/body.txt";
    Expired => ExpiredView, ExpiredSubject, "email/expired/subject.txt", ExpiredBody, "email/expired/body.txt";
    Refunded => RefundedView, RefundedSubject, "email/refunded/subject.txt", RefundedBody, "email/refunded/body.txt";
    StaffPaymentFlagged => StaffPaymentFlaggedView, StaffPaymentFlaggedSubject, "email/staff_payment_flagged/subject.txt", StaffPaymentFlaggedBody, "email/staff_payment_flagged/body.txt";
    StaffAuditFailed => StaffAuditFailedView, StaffAuditFailedSubject, "email/staff_audit_failed/subject.txt", StaffAuditFailedBody, "email/staff_audit_failed/body.txt";
    AccessCode => AccessCodeView, AccessCodeSubject, "email/access_code/subject.txt", AccessCodeBody, "email/access_code/body.txt";
    StaffNewRequest => StaffNewRequestView, StaffNewRequestSubject, "email/staff_new_request/subject.txt", StaffNewRequestBody, "email/staff_new_request/body.txt";
    StaffSubjectAnswered => StaffSubjectAnsweredView, StaffSubjectAnsweredSubject, "email/staff_subject_answered/subject.txt", StaffSubjectAnsweredBody, "email/staff_subject_answered/body.txt";
    StaffPaymentReceived => StaffPaymentReceivedView, StaffPaymentReceivedSubject, "email/staff_payment_received/subject.txt", StaffPaymentReceivedBody, "email/staff_payment_received/body.txt";
    StaffWithdrawn => StaffWithdrawnView, StaffWithdrawnSubject, "email/staff_withdrawn/subject.txt", StaffWithdrawnBody, "email/staff_withdrawn/body.txt";
    ExpiryWarning => ExpiryWarningView, ExpiryWarningSubject, "email/expiry_warning/subject.txt", ExpiryWarningBody, "email/expiry_warning/body.txt";
    StaffDigest => StaffDigestView, StaffDigestSubject, "email/staff_digest/subject.txt", StaffDigestBody, "email/staff_digest/body.txt";
    StaffMailFailing => StaffMailFailingView, StaffMailFailingSubject, "email/staff_mail_failing/subject.txt", StaffMailFailingBody, "email/staff_mail_failing/body.txt";
    OwnerTask => OwnerTaskView, OwnerTaskSubject, "email/owner_task/subject.txt", OwnerTaskBody, "email/owner_task/body.txt";
    OwnerReminder => OwnerReminderView, OwnerReminderSubject, "email/owner_reminder/subject.txt", OwnerReminderBody, "email/owner_reminder/body.txt";
    OwnerAction => OwnerActionView, OwnerActionSubject, "email/owner_action/subject.txt", OwnerActionBody, "email/owner_action/body.txt";
    RecipientNotice => RecipientNoticeView, RecipientNoticeSubject, "email/recipient_notice/subject.txt", RecipientNoticeBody, "email/recipient_notice/body.txt";
    ComplaintReceived => ComplaintReceivedView, ComplaintReceivedSubject, "email/complaint_received/subject.txt", ComplaintReceivedBody, "email/complaint_received/body.txt";
    ComplaintReply => ComplaintReplyView, ComplaintReplySubject, "email/complaint_reply/subject.txt", ComplaintReplyBody, "email/complaint_reply/body.txt";
    StaffNewComplaint => StaffNewComplaintView, StaffNewComplaintSubject, "email/staff_new_complaint/subject.txt", StaffNewComplaintBody, "email/staff_new_complaint/body.txt";
    IncidentNotice => IncidentNoticeView, IncidentNoticeSubject, "email/incident_notice/subject.txt", IncidentNoticeBody, "email/incident_notice/body.txt";
}

#[derive(Template)]
#[template(path = "email/layout.html")]
struct HtmlLayout<'a> {
    lang: &'a str,
    subject: &'a str,
    paragraphs: Vec<String>,
    /// The buttons' colour (checked `#rrggbb` by the settings; anything else is dropped).
    colour: &'a str,
}

impl HtmlLayout<'_> {
    /// What a link's button says: where it leads, in the mail's language (a bare 「開く」
    /// tells the reader nothing).
    fn button(&self, url: &str) -> &'static str {
        button_label(url, self.lang == "en")
    }
}

/// A link's button label from where it points.
pub fn button_label(url: &str, en: bool) -> &'static str {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
    let path = path.split('?').next().unwrap_or_default();
    let (ja, en_words) = if path.starts_with("/confirm/") {
        ("メールアドレスを確認する", "Confirm your address")
    } else if path.starts_with("/owner/") {
        ("作業のページを開く", "Open the task")
    } else if path.starts_with("/staff") {
        ("担当者画面で開く", "Open in the staff console")
    } else if path.starts_with("/r/") && path.ends_with("/access") {
        (
            "確認コードを入力済みのページを開く",
            "Open with the code filled in",
        )
    } else if path.starts_with("/r/") && path.ends_with("/pay") {
        ("お支払いのページを開く", "Open the payment page")
    } else if path.starts_with("/r/") {
        ("ご請求のページを開く", "Open your request page")
    } else {
        ("開く", "Open")
    };
    if en { en_words } else { ja }
}

/// Renders a message in the context's language.
pub fn render(mail: Mail, c: &MailContext) -> Result<Rendered, MailError> {
    let (subject, text) = render_parts(mail, c)?;
    let subject = subject.trim().to_owned();
    let text = tidy(&text);
    let paragraphs = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let lang = if c.is_en() { "en" } else { "ja" };
    let colour = if c.brand_colour.len() == 7
        && c.brand_colour.starts_with('#')
        && c.brand_colour[1..].chars().all(|ch| ch.is_ascii_hexdigit())
    {
        c.brand_colour.as_str()
    } else {
        "#1d4ed8"
    };
    let html = HtmlLayout {
        lang,
        subject: &subject,
        paragraphs,
        colour,
    }
    .render()?;
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

/// Collapses the blank lines that template conditionals leave behind.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Builds the MIME message: multipart/alternative with text and HTML, a fixed Message-ID.
pub fn build_message(
    from: &str,
    to: &str,
    message_id: &str,
    rendered: &Rendered,
) -> Result<Message, MailError> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| MailError::Build(format!("from: {e}")))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| MailError::Build(format!("to: {e}")))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(rendered.subject.clone())
        .message_id(Some(message_id.to_owned()))
        .header(header::Date::now())
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))
        .map_err(|e| MailError::Build(e.to_string()))
}

/// Where messages go.
#[derive(Clone)]
pub enum Sender {
    /// `.eml` files in a directory, named by Message-ID.
    Files(PathBuf),
    /// An SMTP relay.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sender::Files(dir) => f.debug_tuple("Files").field(dir).finish(),
            Sender::Smtp(_) => f.write_str("Smtp"),
        }
    }
}

impl Sender {
    /// An SMTP sender from a URL (`smtp://`, `smtps://`, `?tls=required` for STARTTLS), with a
    /// pool and timeouts so a hung relay cannot stall the worker.
    pub fn smtp(url: &str) -> Result<Sender, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Build(format!("SMTP URL: {e}")))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Sender::Smtp(transport))
    }

    /// Sends one message.
    pub async fn send(&self, message: &Message, message_id: &str) -> Result<(), MailError> {
        match self {
            Sender::Files(dir) => {
                let name: String = message_id
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '@'))
                    .collect();
                let io = |e: std::io::Error| MailError::Transport {
                    message: e.to_string(),
                    permanent: false,
                };
                tokio::fs::create_dir_all(dir).await.map_err(io)?;
                let tmp = dir.join(format!(".{name}.tmp"));
                tokio::fs::write(&tmp, message.formatted())
                    .await
                    .map_err(io)?;
                // Rename is atomic: a reader never sees half a message.
                tokio::fs::rename(&tmp, dir.join(format!("{name}.eml")))
                    .await
                    .map_err(io)
            }
            Sender::Smtp(transport) => {
                transport
                    .send(message.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| MailError::Transport {
                        permanent: e.is_permanent(),
                        message: e.to_string(),
                    })
            }
        }
    }
}

/// A context with every field filled, for previews and tests.
/// Sample data for one template: [`sample`], with the words a task's mail carries where it is
/// one (an owner asked to erase, a recipient asked to erase what it received).
pub fn sample_for(mail: Mail, lang: &str) -> MailContext {
    let mut c = sample(lang);
    match mail {
        Mail::OwnerAction => {
            c.message = "消去".into();
            c.answer_lines = vec!["会員情報: 行を削除する（1 件）".into()];
        }
        Mail::RecipientNotice => {
            c.recipient_name = "株式会社ポイント連携".into();
            c.message = "消去".into();
            c.answer_lines = vec!["会員情報".into(), "ご注文".into()];
        }
        Mail::OwnerTask | Mail::OwnerReminder => c.message = String::new(),
        Mail::IncidentNotice => {
            c.number = "I-2026-0001".into();
            c.answer_lines = if lang == "en" {
                vec![
                    "[Summary]\nA file of member records could be read from outside.".into(),
                    "[Cause]\nA storage setting was wrong.".into(),
                ]
            } else {
                vec![
                    "【概要】\n会員情報のファイルが外部から閲覧可能な状態になっていました。".into(),
                    "【原因】\nストレージの公開設定の誤り".into(),
                ]
            };
        }
        Mail::ComplaintReceived | Mail::ComplaintReply | Mail::StaffNewComplaint => {
            c.number = "C-2026-0001".into();
            c.kind_ja = "苦情".into();
            c.kind_en = "Complaint".into();
            c.message = if lang == "en" {
                "We have stopped sending you our newsletter.".into()
            } else {
                "ご指摘のメールマガジンの配信を停止いたしました。".into()
            };
        }
        _ => {}
    }
    c
}

/// Sample data for previews and tests.
pub fn sample(lang: &str) -> MailContext {
    MailContext {
        lang: Lang::parse(lang),
        business_name: "株式会社サンプル".into(),
        business_contact: "privacy@example.jp".into(),
        business_phone: "03-1234-5678".into(),
        business_hours: "平日 9:00〜17:00".into(),
        privacy_url: "https://example.jp/privacy".into(),
        brand_colour: String::new(),
        recipient_name: "山田 花子".into(),
        number: "R-2026-000001".into(),
        kind_ja: "保有個人データの開示".into(),
        kind_en: "Disclosure".into(),
        state_ja: "対応完了".into(),
        state_en: "Completed".into(),
        link: "https://example.jp/r/abc".into(),
        // Dates as the service writes them in each language (`written_date`, `written_time`).
        link_expires: if lang == "en" {
            "Wed 25 November 2026, 10:00 (Japan time)"
        } else {
            "2026年11月25日（水）10時00分"
        }
        .into(),
        due_on: if lang == "en" { "6 December 2026" } else { "2026年12月6日" }.into(),
        reply_by: if lang == "en" {
            "Tue 22 December 2026, 17:00 (Japan time)"
        } else {
            "2026年12月22日（火）17時00分"
        }
        .into(),
        amount: "¥3,000".into(),
        message: "運転免許証の裏面".into(),
        grounds_ja: vec!["他の法令に違反することとなるため".into()],
        grounds_en: vec!["It would violate another law".into()],
        duplicate_of: Some("R-2026-000000".into()),
        receipt_number: "RC-2026-000001".into(),
        payment_method: "銀行振込".into(),
        today: if lang == "en" {
            "22 November 2026".into()
        } else {
            "2026年11月22日".into()
        },
        download: true,
        download_until: if lang == "en" { "22 December 2026" } else { "2026年12月22日" }.into(),
        download_limit: 3,
        confirm_nonce: None,
        code_nonce: None,
        code: "123456".into(),
        pay_link: "https://example.jp/r/abc/pay".into(),
        delivery_ja: "書面の交付（郵送）".into(),
        delivery_en: "paper, by post".into(),
        answer_lines: vec![
            "1. 会員情報: 開示".into(),
            "2. 購買履歴: 該当する個人データなし".into(),
        ],
        system_name: "通販サイト".into(),
        owner_nonce: None,
        payment_lines: vec![
            "銀行振込: みどり銀行 本店 普通 1234567 カ）サンプル（振込人名の前に受付番号をご記入ください）".into(),
        ],
        provision_stopped: false,
        incident_line: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::button_label;

    #[test]
    fn a_button_says_where_it_leads() {
        let base = "https://privacy.example.jp";
        let pid = "0b9f8e52-5a7e-4f0e-9a55-2f5b8c2d7c11";
        for (url, ja, en) in [
            (
                format!("{base}/confirm/abc"),
                "メールアドレスを確認する",
                "Confirm your address",
            ),
            (
                format!("{base}/r/{pid}"),
                "ご請求のページを開く",
                "Open your request page",
            ),
            (
                format!("{base}/r/{pid}/access?code=123456"),
                "確認コードを入力済みのページを開く",
                "Open with the code filled in",
            ),
            (
                format!("{base}/r/{pid}/pay"),
                "お支払いのページを開く",
                "Open the payment page",
            ),
            (
                format!("{base}/owner/tok"),
                "作業のページを開く",
                "Open the task",
            ),
            (
                format!("{base}/staff/requests/{pid}"),
                "担当者画面で開く",
                "Open in the staff console",
            ),
            (format!("{base}/procedures"), "開く", "Open"),
        ] {
            assert_eq!(button_label(&url, false), ja, "{url}");
            assert_eq!(button_label(&url, true), en, "{url}");
        }
    }

    use super::*;

    use super::sample_for;

    fn sample(lang: &str) -> MailContext {
        super::sample(lang)
    }

    /// Every mail's subject and text, in both languages, as the recipient reads them: a change
    /// of wording shows as a diff of `src/snapshots/` in review (`cargo insta review`, or
    /// `INSTA_UPDATE=always cargo test -p madoguchi-mail` to accept).
    #[test]
    fn every_mail_reads_as_reviewed() {
        for mail in Mail::ALL {
            for lang in ["ja", "en"] {
                let r = render(mail, &sample_for(mail, lang)).unwrap();
                insta::assert_snapshot!(
                    format!("{}-{lang}", mail.as_str()),
                    format!("Subject: {}\n\n{}", r.subject, r.text)
                );
            }
        }
    }

    /// No stored spelling reaches a reader: a word of lower-case letters joined by `_`
    /// (`no_longer_needed`, `postal_money_order`, `in_progress`) is always one.
    #[test]
    fn no_mail_or_letter_shows_an_internal_value() {
        let internal = |text: &str| -> Option<String> {
            text.split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .find(|w| w.trim_matches('_').contains('_'))
                .map(str::to_owned)
        };
        assert_eq!(
            internal("理由: no_longer_needed。"),
            Some("no_longer_needed".into())
        );
        assert_eq!(internal("Paid by postal money order"), None);
        for mail in Mail::ALL {
            for lang in ["ja", "en"] {
                let c = sample_for(mail, lang);
                let r = render(mail, &c).unwrap();
                assert_eq!(internal(&r.subject), None, "{mail:?} {lang}");
                assert_eq!(internal(&r.text), None, "{mail:?} {lang}: {}", r.text);
                if let Some(l) = crate::letter::letter(mail, &c) {
                    let all = format!("{} {} {:?}", l.title, l.paragraphs.join(" "), l.items);
                    assert_eq!(internal(&all), None, "{mail:?} {lang} letter");
                }
            }
        }
    }

    #[test]
    fn every_template_renders_in_both_languages_with_its_fields() {
        for mail in Mail::ALL {
            for lang in ["ja", "en"] {
                let c = sample_for(mail, lang);
                let r = render(mail, &c).unwrap();
                if matches!(
                    mail,
                    Mail::StaffDigest | Mail::StaffMailFailing | Mail::StaffAuditFailed
                ) {
                    // About the office's whole workload, not one request.
                    assert!(r.subject.contains(&c.today), "{mail:?} {lang}");
                    assert!(r.text.contains(&c.message), "{mail:?} {lang}");
                } else {
                    assert!(r.subject.contains(&c.number), "{mail:?} {lang}");
                    assert!(r.text.contains(&c.number), "{mail:?} {lang}");
                }
                assert!(r.text.contains("株式会社サンプル"), "{mail:?} {lang}");
                assert!(!r.text.contains("{{"), "{mail:?} {lang}");
                assert!(r.html.contains(&format!("lang=\"{lang}\"")));
                // A business is addressed 御中, a person 様.
                let greeting = match (lang, mail) {
                    ("ja", Mail::RecipientNotice) => format!("{} 御中", c.recipient_name),
                    ("ja", _) => format!("{} 様", c.recipient_name),
                    _ => format!("Dear {}", c.recipient_name),
                };
                assert!(r.text.starts_with(&greeting), "{mail:?} {lang}: {}", r.text);
            }
        }
    }

    #[test]
    fn the_closing_mails_list_a_detailed_answer_line_by_line() {
        for mail in [Mail::Completed, Mail::Refused] {
            for (lang, heading) in [("ja", "回答の内容:"), ("en", "Our answer:")] {
                let r = render(mail, &sample(lang)).unwrap();
                assert!(r.text.contains(heading), "{mail:?} {lang}: {}", r.text);
                assert!(
                    r.text
                        .contains("1. 会員情報: 開示\n2. 購買履歴: 該当する個人データなし")
                );
                assert!(r.html.contains("2. 購買履歴"));
            }
            let mut c = sample("ja");
            c.answer_lines.clear();
            assert!(!render(mail, &c).unwrap().text.contains("回答の内容"));
        }
    }

    #[test]
    fn html_escapes_what_the_officer_wrote() {
        let mut c = sample("ja");
        c.message = "<script>alert(1)</script>".into();
        let r = render(Mail::IdentityMoreNeeded, &c).unwrap();
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&#60;script&#62;") || r.html.contains("&lt;script&gt;"));
    }

    #[test]
    fn message_keeps_japanese_subject_and_message_id() {
        let r = render(Mail::ConfirmAddress, &sample("ja")).unwrap();
        let m = build_message(
            "窓口 <privacy@example.jp>",
            "taro@example.jp",
            "<abc@madoguchi>",
            &r,
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <abc@madoguchi>"));
        assert!(raw.contains("Subject: =?utf-8?"));
        assert!(raw.contains("multipart/alternative"));
    }
}
