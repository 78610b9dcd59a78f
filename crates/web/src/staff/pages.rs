//! Staff page templates. Every page carries [`Chrome`]: language, who is logged in, the CSRF
//! token, and what the role may do (the navigation shows only what works).

use askama::Template;
use madoguchi_domain::Role;
use madoguchi_service::Lang;
use madoguchi_service::rows::{api_token, audit_entry, outbox, request, staff_user};
use madoguchi_service::staff::StaffIdentity;

use crate::error::FieldError;

/// What every staff page shows around its content.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub lang: Lang,
    pub me_name: String,
    pub me_email: String,
    pub me_role: String,
    pub csrf: String,
    pub can_work: bool,
    pub can_admin: bool,
    pub can_audit: bool,
    pub flash: String,
}

impl Chrome {
    pub fn new(who: &StaffIdentity, lang: Lang) -> Chrome {
        Chrome {
            lang,
            me_name: who.name.clone(),
            me_email: who.email.clone(),
            me_role: who.role.label(lang.is_en()).to_owned(),
            csrf: who.csrf.clone().unwrap_or_default(),
            can_work: who.role.can_work_requests(),
            can_admin: who.role == Role::Admin,
            can_audit: matches!(who.role, Role::Admin | Role::Auditor),
            flash: String::new(),
        }
    }

    pub fn anonymous(lang: Lang) -> Chrome {
        Chrome {
            lang,
            ..Chrome::default()
        }
    }
}

macro_rules! bilingual {
    ($($t:ty),*) => {$(
        impl $t {
            /// Japanese or English, by the page's language.
            pub fn t<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
                if self.c.lang.is_en() { en } else { ja }
            }
        }
    )*};
}

#[derive(Debug, Template)]
#[template(path = "staff/login.html")]
pub struct LoginPage {
    pub c: Chrome,
    /// The visitor's CSRF token (login CSRF: a forged form must not log a victim into the
    /// attacker's account).
    pub csrf: String,
    pub error: String,
    pub next: String,
    pub totp_step: bool,
    /// Offer sign-in through the company's identity provider.
    pub sso: bool,
    /// Offer the password form.
    pub passwords: bool,
}

/// On the way to the provider: the browser is sent on from this page, not by a redirect of
/// the form's answer, because the pages' `form-action 'self'` would stop a form's redirect to
/// another site.
#[derive(Debug, Template)]
#[template(path = "staff/sso_redirect.html")]
pub struct SsoRedirectPage {
    pub c: Chrome,
    pub url: String,
}

/// After a single sign-on: the session cookie is set here and the staff page opened from this
/// page, because a browser coming back from the provider (another site) does not send a
/// same-site-only cookie along a redirect, and the session cookie is one.
#[derive(Debug, Template)]
#[template(path = "staff/signed_in.html")]
pub struct SignedInPage {
    pub c: Chrome,
    pub next: String,
}

/// A queue row, formatted.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub pid: String,
    pub number: String,
    pub kind: String,
    pub state: String,
    pub due_on: String,
    pub badge: &'static str,
    pub assignee: String,
    /// Who asks (the subject's name; blank once purged).
    pub name: String,
    /// When it arrived, written out.
    pub received: String,
    /// How it arrived, in words.
    pub channel: &'static str,
    /// Set once the subject may sue over the open request (Art. 39).
    pub may_sue: String,
    /// Set while the answer's clock stands still, waiting for the requester.
    pub paused: String,
}

/// The filter form's values, echoed back.
#[derive(Debug, Clone, Default)]
pub struct FilterEcho {
    pub q: String,
    pub state: String,
    pub kind: String,
    pub jurisdiction: String,
    pub assignee: String,
    pub due: String,
    pub overdue: bool,
    pub waiting: bool,
    pub closed: bool,
}

#[derive(Debug, Template)]
#[template(path = "staff/queue.html")]
pub struct QueuePage {
    pub c: Chrome,
    pub counts: Vec<(String, String, i64)>,
    pub states: Vec<(String, String)>,
    pub kinds: Vec<(String, String)>,
    pub staff: Vec<(String, String)>,
    pub f: FilterEcho,
    pub rows: Vec<QueueRow>,
    pub next: String,
}

/// An action the state machine allows, as a form.
#[derive(Debug, Clone)]
pub struct ActionForm {
    pub name: &'static str,
    pub label: String,
    /// What moves the request on from where it stands (shown first; the rest one step away).
    pub next: bool,
    pub text: bool,
    pub text_label: String,
    pub grounds: bool,
}

/// A ledger line as the request page shows it: words, not stored spellings.
#[derive(Debug, Clone)]
pub struct PaymentRow {
    pub id: i64,
    /// Japan time.
    pub at: String,
    pub label: &'static str,
    pub method: &'static str,
    pub amount: String,
    pub receipt_number: Option<String>,
    /// An offline refund still owed: the officer records it as paid back.
    pub refund_due_offline: bool,
    /// A card payment not accepted: the officer can send it back.
    pub flagged: bool,
}

impl PaymentRow {
    /// The view of a ledger line.
    pub fn of(line: &madoguchi_service::rows::PaymentLine, lang: Lang) -> Self {
        PaymentRow {
            id: line.id,
            at: written_moment(&line.created_at, lang),
            label: line.kind.label(lang.is_en()),
            method: line
                .method
                .map_or(if lang.is_en() { "unknown" } else { "不明" }, |m| {
                    m.label(lang.is_en())
                }),
            amount: line.amount.to_string(),
            receipt_number: line.receipt_number.clone(),
            refund_due_offline: line.kind.is_refund_due()
                && line.method.is_none_or(|m| m.is_offline()),
            flagged: line.kind.is_flagged(),
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "staff/detail.html")]
pub struct DetailPage {
    pub c: Chrome,
    pub r: request::Model,
    pub kind: String,
    pub state: String,
    pub arrived_on: String,
    pub badge: &'static str,
    pub fee: String,
    pub paid: String,
    pub due: i64,
    pub assignee: String,
    pub duplicate: Option<(String, String)>,
    pub actions: Vec<ActionForm>,
    pub grounds: Vec<(String, String)>,
    pub payments: Vec<PaymentRow>,
    pub mail: Vec<outbox::Model>,
    /// Notices to print and post, for a requester without an e-mail address.
    pub letters: Vec<madoguchi_service::letters::Letter>,
    /// What the last action did, said once after it.
    pub flash: String,
    pub audit: Vec<audit_entry::Model>,
    pub documents: Vec<madoguchi_service::Document>,
    /// How identity is proven for this request (from its policy snapshot).
    pub identity_method: &'static str,
    /// The subject's age on the day the request arrived, when a legal representative filed
    /// for someone already of age: the officer is warned (they decide).
    pub adult_subject_age: Option<u32>,
    /// The configured age of majority.
    pub minor_age: u32,
    /// The detailed answer: the completion form's choices and the recorded answer.
    pub answer: super::answer::AnswerView,
    /// Why the last action was refused, shown above the actions.
    pub errors: Vec<crate::error::FieldError>,
    /// What the connectors gathered, and how each system fared.
    pub gathering: madoguchi_service::gather::Gathering,
    /// Whether the officer may ask the connectors to gather again.
    pub can_gather: bool,
    /// Whether the answer can be built from the gathering (a disclosure).
    pub can_package: bool,
    /// Whether this staff member may order or approve an erasure.
    pub can_erase: bool,
    /// The dry run of an erasure, for a suspension or erasure at work.
    pub erasure_plans: Vec<madoguchi_service::erasure::ErasurePlan>,
    /// The third parties a stop of provision is for, for a third-party stop at work.
    pub stop_plan: Option<Vec<madoguchi_service::erasure::PlannedRecipient>>,
    /// Where an ordered erasure stands.
    pub erasure: madoguchi_service::erasure::ErasureProgress,
    /// What a correction at work can change.
    pub correction_targets: Option<Vec<madoguchi_service::erasure::CorrectableDataset>>,
    /// The corrections carried out.
    pub corrections: madoguchi_service::erasure::ErasureProgress,
    /// While the answer's clock stands still, since when (empty while it runs).
    pub paused: String,
    /// The document opened in the workspace (`?doc=`), if any.
    pub view_doc: Option<madoguchi_service::Document>,
    /// Officers' notes for each other.
    pub notes: Vec<madoguchi_service::notes::Note>,
    /// The complaint it was taken up from: (public id, number).
    pub from_complaint: Option<(String, String)>,
    /// Filed on the breach ground (Art. 35(5)).
    pub breach_ground: bool,
    /// The incident it cites: (public id, number).
    pub cited_incident: Option<(String, String)>,
    /// The incidents it could cite: (public id, number and day).
    pub incident_choices: Vec<(String, String)>,
    /// The answer templates: (title as a query value, title).
    pub templates: Vec<(String, String)>,
    /// Why the note was refused (shown at the note form), and the words typed.
    pub note_error: String,
    pub note_text: String,
    /// A template's text put into one action's message field (`?template=&for=`).
    pub prefill: Option<(String, String)>,
}

impl DetailPage {
    /// The actions that move the request on now.
    pub fn next_actions(&self) -> Vec<&ActionForm> {
        self.actions.iter().filter(|a| a.next).collect()
    }

    /// The other actions allowed (asking, extending, closing).
    pub fn other_actions(&self) -> Vec<&ActionForm> {
        self.actions.iter().filter(|a| !a.next).collect()
    }

    /// Whether the other actions start open: after a refused action, when nothing moves the
    /// request on, or when a template was just put into one of them.
    pub fn others_open(&self) -> bool {
        !self.errors.is_empty()
            || self.next_actions().is_empty()
            || self.prefill.as_ref().is_some_and(|(for_action, _)| {
                self.other_actions().iter().any(|a| a.name == for_action)
            })
    }

    /// Whether this document is the one open in the workspace.
    pub fn viewing(&self, d: &madoguchi_service::Document) -> bool {
        self.view_doc.as_ref().is_some_and(|v| v.pid == d.pid)
    }

    /// What an action's message field starts with: a template just chosen for it, else the
    /// completion's suggested answer text.
    pub fn text_for(&self, action: &str) -> String {
        match &self.prefill {
            Some((for_action, text)) if for_action == action => text.clone(),
            _ if action == "complete" => self.answer.field("text").to_string(),
            _ => String::new(),
        }
    }

    /// Whether any identity or authority document is on file (an approval without one is
    /// warned about: it may be right, for a request confirmed in person, but rarely).
    pub fn has_identity_documents(&self) -> bool {
        self.documents
            .iter()
            .any(|d| d.purpose != madoguchi_domain::DocumentPurpose::Package && !d.deleted)
    }

    /// Who filed, in words.
    pub fn requester(&self) -> String {
        madoguchi_domain::Requester::parse(&self.r.requester).map_or_else(
            || self.r.requester.clone(),
            |r| r.label(self.c.lang.is_en()).to_owned(),
        )
    }

    /// How the request arrived, in words.
    pub fn channel(&self) -> &'static str {
        channel_words(&self.r.channel, self.c.lang)
    }

    /// The delivery chosen, in words.
    pub fn delivery(&self, d: &str) -> String {
        madoguchi_domain::DeliveryMethod::parse(d)
            .map_or_else(|| d.to_owned(), |m| m.label(self.c.lang.is_en()).to_owned())
    }

    /// The ground given, in words.
    pub fn ground(&self, g: &str) -> String {
        madoguchi_domain::SuspensionGround::parse(g).map_or_else(
            || g.to_owned(),
            |g| {
                if self.c.lang.is_en() {
                    g.label_en()
                } else {
                    g.label_ja()
                }
                .to_owned()
            },
        )
    }

    /// A day as people write it.
    pub fn day(&self, d: &chrono::NaiveDate) -> String {
        madoguchi_domain::written_date(*d, self.c.lang.is_en())
    }

    /// A connector job's state in words.
    pub fn gather_state(&self, state: &str) -> &'static str {
        match (state, self.c.lang.is_en()) {
            ("pending", false) => "待機中",
            ("pending", true) => "Waiting",
            ("running", false) => "収集中",
            ("running", true) => "Reading",
            ("done", false) => "完了",
            ("done", true) => "Done",
            ("approval", false) => "別の担当者の承認待ち",
            ("approval", true) => "Awaiting another officer's approval",
            ("owner", false) => "担当者の回答待ち（依頼メール送信済み）",
            ("owner", true) => "Waiting for the system's owner (asked by e-mail)",
            (_, false) => "失敗（手作業で確認してください）",
            (_, true) => "Failed (check this system by hand)",
        }
    }

    /// The choices for a gathered field, with their words.
    pub fn decisions(&self) -> Vec<(&'static str, String)> {
        madoguchi_domain::FieldDecision::ALL
            .iter()
            .map(|d| (d.as_str(), d.label(self.c.lang.is_en())))
            .collect()
    }

    /// A ground's label, in the page's language.
    pub fn ground_label(&self, g: &madoguchi_domain::RefusalGround) -> &'static str {
        if self.c.lang.is_en() {
            g.label_en()
        } else {
            g.label_ja()
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "staff/users.html")]
pub struct UsersPage {
    pub c: Chrome,
    pub users: Vec<staff_user::Model>,
    pub new_password: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "staff/settings.html")]
pub struct SettingsPage {
    pub c: Chrome,
    pub fees: Vec<(String, String, i64)>,
    /// The form the error is about (`fees`, `policy`, `retention`, `business`).
    pub error_in: &'static str,
    pub error: String,
    pub policy: PolicyView,
    pub retention: madoguchi_service::settings::Retention,
    pub business: madoguchi_service::settings::BusinessDetails,
    /// How to pay without a card.
    pub payment: madoguchi_service::settings::PaymentInstructions,
    /// The answer templates.
    pub templates: Vec<madoguchi_service::settings::AnswerTemplate>,
    /// Colour, links and phone.
    pub branding: madoguchi_service::settings::Branding,
    /// Whether a logo was uploaded.
    pub has_logo: bool,
}

/// The policy as the form shows it.
#[derive(Debug)]
pub struct PolicyView {
    pub jurisdiction: &'static str,
    pub deadline_n: u32,
    pub deadline_unit: &'static str,
    /// Empty when there is no extension.
    pub extension_n: String,
    pub extension_unit: &'static str,
    pub pause_while_waiting: bool,
    pub identity: &'static str,
    /// (kind, label, method or "" for the default).
    pub identity_by_kind: Vec<(&'static str, String, &'static str)>,
    pub confirm_within_hours: u32,
    pub answer_within_days: u32,
    pub warn_before_expiry_hours: u32,
    pub refund_before_work: bool,
}

/// (value, Japanese, English) for a select.
pub const JURISDICTIONS: [(&str, &str, &str); 3] = [
    ("appi", "個人情報保護法（日本）", "APPI (Japan)"),
    ("gdpr", "GDPR（EU）", "GDPR (EU)"),
    (
        "ccpa",
        "CCPA/CPRA（カリフォルニア）",
        "CCPA/CPRA (California)",
    ),
];
pub const UNITS: [(&str, &str, &str); 3] = [
    ("days", "暦日", "calendar days"),
    ("business_days", "営業日", "business days"),
    ("months", "か月", "months"),
];
pub const IDENTITY_METHODS: [(&str, &str, &str); 3] = [
    (
        "document",
        "本人確認書類（担当者が確認）",
        "ID document (reviewed)",
    ),
    (
        "customer_record",
        "顧客情報との照合",
        "Customer-record match",
    ),
    ("email_only", "メール確認のみ", "E-mail confirmation only"),
];

#[derive(Debug, Template)]
#[template(path = "staff/account.html")]
pub struct AccountPage {
    pub c: Chrome,
    /// A second factor is compulsory here and this account has none yet.
    pub totp_required: bool,
    pub totp_enabled: bool,
    pub totp_secret: Option<String>,
    pub recovery: Vec<String>,
    pub tokens: Vec<api_token::Model>,
    pub new_token: Option<String>,
}

/// One line of the close-time table.
#[derive(Debug, Clone)]
pub struct CloseStat {
    pub month: String,
    pub kind: String,
    pub count: usize,
    pub median: i64,
    pub p90: i64,
}

#[derive(Debug, Template)]
#[template(path = "staff/dashboard.html")]
pub struct DashboardPage {
    pub c: Chrome,
    pub open: i64,
    pub due_week: u64,
    pub overdue: u64,
    /// Open requests the subject may already sue over (Art. 39).
    pub may_sue: u64,
    /// Incidents whose next report is overdue or due within two days (Art. 26).
    pub incidents_due: usize,
    /// Complaints due a first reply today or past it.
    pub complaints_due: usize,
    /// This month's complaint figures.
    pub complaints_month: madoguchi_domain::complaint::Month,
    pub by_state_svg: String,
    pub by_kind_svg: String,
    pub close_stats: Vec<CloseStat>,
    /// Systems whose connector gave up, with how many requests.
    pub failing_connectors: Vec<(String, u64)>,
}

#[derive(Debug, Template)]
#[template(path = "staff/intake.html")]
pub struct IntakePage {
    pub c: Chrome,
    pub kinds: Vec<(String, String)>,
    pub grounds: Vec<(String, String)>,
    pub channels: Vec<(String, String)>,
    pub checks: Vec<(String, String)>,
    pub requesters: Vec<(String, String)>,
    pub deliveries: Vec<(String, String)>,
    pub person_fields: Vec<(String, String)>,
    pub text_fields: Vec<(String, String)>,
    pub errors: Vec<FieldError>,
    /// What was typed, echoed back after an error.
    pub typed: Vec<(String, String)>,
    pub today: String,
}

impl IntakePage {
    /// The value typed into `field`, or empty.
    pub fn v(&self, field: &str) -> &str {
        self.typed
            .iter()
            .find(|(f, _)| f == field)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// How a request arrived, in words.
pub fn channel_words(channel: &str, lang: Lang) -> &'static str {
    match (channel, lang.is_en()) {
        ("web", false) => "ウェブの申請フォーム",
        ("web", true) => "Web form",
        ("api", false) => "API",
        ("api", true) => "API",
        ("post", false) => "郵送",
        ("post", true) => "Post",
        ("phone", false) => "電話",
        ("phone", true) => "Telephone",
        ("counter", false) => "窓口",
        ("counter", true) => "Counter",
        ("email", false) => "窓口へのメール",
        ("email", true) => "E-mail to the desk",
        (_, false) => "その他",
        (_, true) => "Other",
    }
}

/// The trail filter form's values, echoed back.
#[derive(Debug, Clone, Default)]
pub struct AuditFilterEcho {
    pub actor: String,
    pub actor_id: String,
    pub action: String,
    pub number: String,
    pub from: String,
    pub until: String,
}

#[derive(Debug, Template)]
#[template(path = "staff/audit.html")]
pub struct AuditPage {
    pub c: Chrome,
    pub f: AuditFilterEcho,
    pub query: String,
    pub entries: Vec<audit_entry::Model>,
    pub next: String,
    pub checkpoint: String,
    pub verify_result: String,
    pub verify_ok: bool,
}

#[derive(Debug, Template)]
#[template(path = "staff/mail.html")]
pub struct MailPage {
    pub c: Chrome,
    pub failed: Vec<outbox::Model>,
    pub unsent: u64,
    pub templates: Vec<String>,
}

impl MailPage {
    /// A mail's template, in words.
    pub fn mail_label(&self, template: &str) -> &'static str {
        mail_label(template, self.c.lang)
    }
}

/// The printable answer letter.
#[derive(Debug, Template)]
#[template(path = "staff/letter.html")]
pub struct LetterPage {
    pub business_name: String,
    pub business_address: String,
    pub business_representative: String,
    pub business_contact: String,
    /// Logo and phone, where the administrator gave them.
    pub brand: crate::pages::Brand,
    pub date: String,
    pub recipient: String,
    pub postal_address: String,
    pub number: String,
    pub arrived_on: String,
    pub kind: String,
    pub outcome: String,
    /// The detailed answer, line by line, in the subject's language.
    pub answer: Vec<String>,
    pub message: String,
    pub contents: Vec<String>,
}

/// The password change (forced after a handed-over password).
#[derive(Debug, Template)]
#[template(path = "staff/password.html")]
pub struct PasswordPage {
    pub c: Chrome,
    pub forced: bool,
    pub done: bool,
    pub errors: Vec<FieldError>,
}

/// A notice printed as a letter, in the requester's language.
#[derive(Debug, Template)]
#[template(path = "staff/notice_letter.html")]
pub struct NoticeLetterPage {
    pub lang: Lang,
    pub business_name: String,
    pub business_address: String,
    pub business_representative: String,
    pub business_contact: String,
    /// Logo and phone, where the administrator gave them.
    pub brand: crate::pages::Brand,
    /// The page's title (the first letter's number and subject).
    pub title: String,
    /// One letter, or an incident's notices printed together (a page each).
    pub sheets: Vec<Sheet>,
    /// Under the letters, on screen only: record them as posted (action, CSRF token, the
    /// last outbox row printed).
    pub record: Option<(String, String, i64)>,
}

/// One letter of a [`NoticeLetterPage`].
#[derive(Debug, Clone)]
pub struct Sheet {
    pub date: String,
    pub recipient: String,
    pub postal_address: String,
    pub number: String,
    pub letter: madoguchi_mail::LetterText,
    /// The opening (頭語 and, for most letters, the season's greeting).
    pub greeting: String,
}

#[derive(Debug, Template)]
#[template(path = "staff/printable_form.html")]
pub struct PrintableForm {
    pub business_name: String,
    pub business_address: String,
    pub kinds: Vec<(String, String)>,
    pub fee: String,
}

bilingual!(
    PasswordPage,
    AuditPage,
    MailPage,
    LoginPage,
    SignedInPage,
    SsoRedirectPage,
    QueuePage,
    DetailPage,
    UsersPage,
    SettingsPage,
    AccountPage,
    DashboardPage,
    IntakePage
);

/// Due-date badge: overdue, due within three days, or fine.
pub fn badge(due_on: chrono::NaiveDate, today: chrono::NaiveDate, closed: bool) -> &'static str {
    if closed {
        "ok"
    } else if due_on < today {
        "overdue"
    } else if due_on <= today + chrono::Duration::days(3) {
        "soon"
    } else {
        "ok"
    }
}

/// A moment in Japan time as people write it: 2026年12月2日 5:27, or 2 December 2026, 05:27.
pub(crate) fn written_moment(at: &chrono::DateTime<chrono::Utc>, lang: Lang) -> String {
    let t = at.with_timezone(&madoguchi_domain::policy::jst());
    let day = madoguchi_domain::written_date(t.date_naive(), lang.is_en());
    if lang.is_en() {
        format!("{day}, {}", t.format("%H:%M"))
    } else {
        format!("{day} {}", t.format("%-H:%M"))
    }
}

/// A moment in Japan time, to the second (the audit page): never UTC.
pub(crate) fn jst_time(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&madoguchi_domain::policy::jst())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

macro_rules! japan_time {
    ($($t:ty),*) => {$(
        impl $t {
            /// A moment in Japan time, as people write it: never UTC.
            pub fn jst(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
                written_moment(at, self.c.lang)
            }
        }
    )*};
}

japan_time!(DetailPage, AccountPage);

impl AuditPage {
    /// A moment in Japan time to the second: auditors compare entries closely.
    pub fn jst(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        jst_time(at)
    }
}

impl DetailPage {
    /// A mail's template, in words.
    pub fn mail_label(&self, template: &str) -> &'static str {
        mail_label(template, self.c.lang)
    }

    /// A trail entry's action, in words.
    pub fn action(&self, action: &str) -> &'static str {
        madoguchi_domain::timeline::action_words(action, self.c.lang.is_en()).unwrap_or(
            if self.c.lang.is_en() {
                "Recorded"
            } else {
                "記録"
            },
        )
    }

    /// Who made a trail entry, in words: on a request an agent filed, the requester's side
    /// is the agent, not the person.
    pub fn actor(&self, kind: &str, role: &Option<String>) -> &'static str {
        let agent =
            madoguchi_domain::Requester::parse(&self.r.requester).is_some_and(|r| r.is_agent());
        match (kind, agent, self.c.lang.is_en()) {
            ("subject", true, false) => "代理人",
            ("subject", true, true) => "The agent",
            _ => {
                madoguchi_domain::timeline::actor_words(kind, role.as_deref(), self.c.lang.is_en())
            }
        }
    }

    /// An outbox status in words.
    pub fn mail_status<'a>(&self, status: &'a str) -> &'a str {
        match (status, self.c.lang.is_en()) {
            ("pending", false) => "送信待ち",
            ("pending", true) => "waiting",
            ("sending", false) => "送信中",
            ("sending", true) => "sending",
            ("sent", false) => "送信済み",
            ("sent", true) => "sent",
            ("failed", false) => "送信失敗",
            ("failed", true) => "failed",
            ("letter", false) => "郵送待ち",
            ("letter", true) => "to post",
            ("posted", false) => "郵送済み",
            ("posted", true) => "posted",
            (other, _) => other,
        }
    }
}

/// The data map: the version in force, its file, its history, and the form that replaces it.
#[derive(Debug, Template)]
#[template(path = "staff/datamap.html")]
pub struct DatamapPage {
    pub c: Chrome,
    /// (label, hash, installed at JST), when a map is installed.
    pub current: Option<(String, String, String)>,
    /// What the form shows: the file in force, or what was submitted with problems.
    pub source: String,
    /// Problems of the submitted file: (line, message).
    pub problems: Vec<(usize, String)>,
    /// (label, short hash, installed at JST, by whom).
    pub history: Vec<(String, String, String, String)>,
    /// (dataset, system, purposes, categories, erase summary).
    pub datasets: Vec<(String, String, String, String)>,
    /// The last connection check: (system, "OK …" or the reason).
    pub tested: Vec<(String, String)>,
}

/// The third-party provision register.
#[derive(Debug, Template)]
#[template(path = "staff/register.html")]
pub struct RegisterPage {
    pub c: Chrome,
    /// (date, direction, counterparty, person, items, basis, kept until).
    pub records: Vec<[String; 7]>,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    /// Import problems: (line, message).
    pub problems: Vec<(usize, String)>,
    /// What was submitted, when it had problems.
    pub submitted: String,
    pub format: String,
}

bilingual!(DatamapPage, RegisterPage);

/// A mail's template, in words, in `lang` ("Mail" for a template this release does not know).
fn mail_label(template: &str, lang: Lang) -> &'static str {
    madoguchi_domain::Mail::parse(template)
        .map_or(if lang.is_en() { "Mail" } else { "メール" }, |m| {
            m.label(lang.is_en())
        })
}
