//! Settings an administrator changes at run time: the fee schedule, the policy new requests
//! are filed under, retention and download limits, and the business details shown in mail
//! and on pages. Stored in the database so every instance sees them; each change is audited
//! on the `settings` chain with every field that changed, old and new.
//!
//! Each instance keeps a snapshot for [`FRESH_FOR`]: a change made on this instance applies
//! at once, one made on another within that time. A request filed in that window is treated
//! as filed just before the change, which it could as well have been; what a request was
//! filed under is snapshotted on its row and never moves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use madoguchi_config::{Business, Config};
use madoguchi_domain::{EmailAddress, FeeSchedule, Policy, PolicyError};
use madoguchi_store::audit::Origin;
use madoguchi_store::entities::setting;
use madoguchi_store::sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::staff::{StaffIdentity, audit_entry};
use crate::{Service, ServiceError};

/// How long a snapshot is used before the database is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(2);

const FEES: &str = "fees";
const POLICY: &str = "policy";
const RETENTION: &str = "retention";
const BUSINESS: &str = "business";
const PAYMENT: &str = "payment";
const TEMPLATES: &str = "answer_templates";
const BRANDING: &str = "branding";
const LOGO: &str = "brand_logo";

/// How long files and download rights last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Days after closing before identity documents are deleted (answers stay until their
    /// download window ends).
    pub documents_days: u32,
    /// Days after closing the subject may download the answer.
    pub download_days: u32,
    /// Downloads allowed per file.
    pub download_limit: u32,
    /// Days after closing before the request's own personal data (name, addresses, texts,
    /// the answer's words) are erased, keeping its number, kind, dates, outcome and trail
    /// (Art. 22: kept no longer than needed). Stored settings from before it was added read
    /// as the default.
    #[serde(default = "Retention::default_records_days")]
    pub records_days: u32,
}

impl Retention {
    /// Three years after closing: long enough to answer a complaint, a court or the
    /// Commission about how a request was handled (the civil claims it could found are
    /// mostly time-barred by then), and no longer.
    pub const DEFAULT_RECORDS_DAYS: u32 = 1095;

    fn default_records_days() -> u32 {
        Self::DEFAULT_RECORDS_DAYS
    }

    fn validate(&self) -> Result<(), SettingsError> {
        // Never before the documents and the answer's download are gone: the request is
        // what those are kept for.
        if !(30..=3650).contains(&self.records_days)
            || self.records_days < self.documents_days.max(self.download_days)
        {
            return Err(SettingsError::Range("records_days"));
        }
        if !(1..=3650).contains(&self.documents_days) {
            return Err(SettingsError::Range("documents_days"));
        }
        if !(1..=365).contains(&self.download_days) {
            return Err(SettingsError::Range("download_days"));
        }
        if !(1..=100).contains(&self.download_limit) {
            return Err(SettingsError::Range("download_limit"));
        }
        Ok(())
    }
}

/// Who the business is, as the mail and the pages say (Art. 32(1) publication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessDetails {
    /// Trade name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Representative.
    pub representative: String,
    /// Contact for questions and complaints.
    pub contact: String,
    /// The From of every mail: `名前 <address>` or an address.
    pub mail_from: String,
    /// The privacy office's shared address, where staff mail goes.
    pub staff_address: String,
}

impl BusinessDetails {
    /// The address part of `mail_from`.
    fn sender_address(&self) -> &str {
        match (self.mail_from.rfind('<'), self.mail_from.rfind('>')) {
            (Some(a), Some(b)) if a < b => &self.mail_from[a + 1..b],
            _ => &self.mail_from,
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        for (field, v) in [
            ("name", &self.name),
            ("address", &self.address),
            ("representative", &self.representative),
            ("contact", &self.contact),
            ("mail_from", &self.mail_from),
            ("staff_address", &self.staff_address),
        ] {
            if v.trim().is_empty() || v.chars().count() > 200 {
                return Err(SettingsError::Range(field));
            }
            // One line each: these end up in mail headers and letters.
            if v.contains(['\r', '\n']) {
                return Err(SettingsError::Range(field));
            }
        }
        EmailAddress::parse(self.sender_address())
            .map_err(|_| SettingsError::Address("mail_from"))?;
        EmailAddress::parse(&self.staff_address)
            .map_err(|_| SettingsError::Address("staff_address"))?;
        Ok(())
    }

    /// The parts of the configuration these override.
    pub fn business(&self) -> Business {
        Business {
            name: self.name.clone(),
            address: self.address.clone(),
            representative: self.representative.clone(),
            contact: self.contact.clone(),
        }
    }
}

/// How to pay the fee without a card, as the subject is told on the status page and in the
/// mail that asks for it: each method offered when it says something.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInstructions {
    /// 銀行振込: bank, branch, account type and number, holder; what to write as the payer.
    #[serde(default)]
    pub bank_transfer: String,
    /// 定額小為替: where to send it, and to whom.
    #[serde(default)]
    pub money_order: String,
    /// 窓口での現金払い: where and when.
    #[serde(default)]
    pub counter: String,
}

impl PaymentInstructions {
    fn validate(&self) -> Result<(), SettingsError> {
        for (field, v) in [
            ("bank_transfer", &self.bank_transfer),
            ("money_order", &self.money_order),
            ("counter", &self.counter),
        ] {
            let bad = v.chars().count() > 1000
                || v.chars().any(|c| c.is_control() && c != '\n' && c != '\r');
            if bad {
                return Err(SettingsError::Range(field));
            }
        }
        Ok(())
    }

    /// The methods offered, each with its instructions: (Japanese name, English name, text).
    pub fn offered(&self) -> Vec<(&'static str, &'static str, &str)> {
        [
            ("銀行振込", "Bank transfer", self.bank_transfer.trim()),
            (
                "定額小為替",
                "Postal money order (定額小為替)",
                self.money_order.trim(),
            ),
            (
                "窓口での現金払い",
                "Cash at our counter",
                self.counter.trim(),
            ),
        ]
        .into_iter()
        .filter(|(_, _, t)| !t.is_empty())
        .collect()
    }
}

/// How the business presents itself on pages, mail and letters: its colour, where its own
/// site and privacy policy are, and how to reach the desk by phone. Each may be left blank.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// The accent colour, `#rrggbb` (blank: the product's blue).
    #[serde(default)]
    pub colour: String,
    /// The company's website (https).
    #[serde(default)]
    pub site_url: String,
    /// The company's privacy policy (https).
    #[serde(default)]
    pub privacy_url: String,
    /// The desk's phone number.
    #[serde(default)]
    pub phone: String,
    /// When the phone is answered (e.g. 平日 9:00〜17:00).
    #[serde(default)]
    pub hours: String,
}

impl Branding {
    fn validate(&self) -> Result<(), SettingsError> {
        if !self.colour.is_empty() && !readable_on_white(&self.colour) {
            return Err(SettingsError::Range("colour"));
        }
        for (field, v) in [
            ("site_url", &self.site_url),
            ("privacy_url", &self.privacy_url),
        ] {
            let ok = v.is_empty()
                || (v.starts_with("https://")
                    && v.len() <= 300
                    && v.len() > "https://".len()
                    && !v.chars().any(|c| {
                        c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>')
                    }));
            if !ok {
                return Err(SettingsError::Range(field));
            }
        }
        let phone_ok = self.phone.chars().count() <= 30
            && self
                .phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | ' ' | '(' | ')'));
        if !phone_ok {
            return Err(SettingsError::Range("phone"));
        }
        if self.hours.chars().count() > 100 || self.hours.chars().any(char::is_control) {
            return Err(SettingsError::Range("hours"));
        }
        Ok(())
    }

    /// The accent colour in force (the product's own when none is set).
    pub fn accent(&self) -> &str {
        if self.colour.is_empty() {
            DEFAULT_ACCENT
        } else {
            &self.colour
        }
    }
}

/// The product's accent colour (contrast 6.7 against white).
pub const DEFAULT_ACCENT: &str = "#1d4ed8";

/// Whether `#rrggbb` is dark enough for white text on it and for links on white: a contrast
/// ratio of at least 4.5 against white (WCAG 2.x, AA for normal text).
pub fn readable_on_white(colour: &str) -> bool {
    let Some(hex) = colour
        .strip_prefix('#')
        .filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()))
    else {
        return false;
    };
    let Ok(rgb) = u32::from_str_radix(hex, 16) else {
        return false;
    };
    let channel = |shift: u32| {
        let c = f64::from((rgb >> shift) & 0xff) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0);
    (1.05 / (luminance + 0.05)) >= 4.5
}

/// The business's logo, as uploaded (PNG or JPEG, checked by content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logo {
    /// `image/png` or `image/jpeg`.
    pub content_type: String,
    /// The image, base64.
    pub data: String,
    /// SHA-256 of the image (what the audit trail records, and the cache validator).
    pub sha256: String,
}

/// What the trail keeps of a logo: its hash.
#[derive(Debug, Serialize)]
struct LogoTrail {
    sha256: String,
}

/// The largest logo accepted, in bytes.
pub const MAX_LOGO_BYTES: usize = 200 * 1024;

/// A text officers start a message to the requester from (an answer, a question, a reason),
/// with `{受付番号}`, `{氏名}` and `{期限}` filled in from the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerTemplate {
    /// What officers pick it by.
    pub title: String,
    /// The words.
    pub text: String,
}

/// The most templates kept.
pub const MAX_TEMPLATES: usize = 50;

impl AnswerTemplate {
    fn validate(&self) -> Result<(), SettingsError> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 100 || title.contains(['\r', '\n']) {
            return Err(SettingsError::Range("title"));
        }
        let text = self.text.trim();
        if text.is_empty() || text.chars().count() > 4000 {
            return Err(SettingsError::Range("text"));
        }
        Ok(())
    }

    /// The words with the request's number, the requester's name and the due day put in.
    pub fn fill(&self, number: &str, name: &str, due: &str) -> String {
        self.text
            .replace("{受付番号}", number)
            .replace("{氏名}", name)
            .replace("{期限}", due)
    }
}

/// The answer templates, in the order officers see them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerTemplates {
    /// Each template.
    pub items: Vec<AnswerTemplate>,
}

impl AnswerTemplates {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.items.len() > MAX_TEMPLATES {
            return Err(SettingsError::Range("templates"));
        }
        self.items.iter().try_for_each(AnswerTemplate::validate)
    }
}

/// Why a settings change was refused; the message is shown to the administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A value is out of its range, empty or too long.
    #[error("{0}: out of range, empty or too long")]
    Range(&'static str),
    /// Not an e-mail address.
    #[error("{0}: not an e-mail address")]
    Address(&'static str),
    /// Another entry already has this value (a template's title).
    #[error("{0}: already in use")]
    Duplicate(&'static str),
    /// The policy is refused.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// Everything an administrator may change, as in force now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The fee schedule (Art. 38).
    pub fees: FeeSchedule,
    /// The policy new requests are filed under.
    pub policy: Policy,
    /// Retention and downloads.
    pub retention: Retention,
    /// The business's details.
    pub business: BusinessDetails,
    /// How to pay without a card.
    pub payment: PaymentInstructions,
    /// Texts officers start their messages from.
    pub templates: Vec<AnswerTemplate>,
    /// Colour, links and phone.
    pub branding: Branding,
    /// The logo, if one was uploaded.
    pub logo: Option<Arc<Logo>>,
}

impl Settings {
    /// What the configuration says, before any administrator's change.
    pub fn from_config(c: &Config) -> Self {
        Settings {
            fees: c.fees.clone(),
            policy: c.policy,
            retention: Retention {
                documents_days: c.retention_days,
                download_days: c.download_days,
                download_limit: c.download_limit,
                records_days: Retention::DEFAULT_RECORDS_DAYS.max(c.retention_days),
            },
            business: BusinessDetails {
                name: c.business.name.clone(),
                address: c.business.address.clone(),
                representative: c.business.representative.clone(),
                contact: c.business.contact.clone(),
                mail_from: c.mail_from.clone(),
                staff_address: c.staff_address.clone(),
            },
            payment: PaymentInstructions::default(),
            templates: Vec::new(),
            branding: Branding::default(),
            logo: None,
        }
    }

    /// The configuration's settings with the stored ones laid over them. A stored value
    /// that no longer parses or validates (a hand edit, an older format) is ignored, loudly.
    fn with_stored(mut self, rows: &[setting::Model]) -> Self {
        fn read<T: DeserializeOwned>(row: &setting::Model) -> Option<T> {
            let v = serde_json::from_str(&row.value);
            if v.is_err() {
                tracing::error!(key = %row.key, "a stored setting does not parse; using the configuration's");
            }
            v.ok()
        }
        for row in rows {
            match row.key.as_str() {
                FEES => {
                    if let Some(f) = read::<FeeSchedule>(row).filter(|f| f.validate().is_ok()) {
                        self.fees = f;
                    }
                }
                POLICY => {
                    if let Some(p) = read::<Policy>(row).filter(|p| p.validate().is_ok()) {
                        self.policy = p;
                    }
                }
                RETENTION => {
                    if let Some(r) = read::<Retention>(row).filter(|r| r.validate().is_ok()) {
                        self.retention = r;
                    }
                }
                PAYMENT => {
                    if let Some(p) =
                        read::<PaymentInstructions>(row).filter(|p| p.validate().is_ok())
                    {
                        self.payment = p;
                    }
                }
                BRANDING => {
                    if let Some(b) = read::<Branding>(row).filter(|b| b.validate().is_ok()) {
                        self.branding = b;
                    }
                }
                LOGO => {
                    self.logo = read::<Option<Logo>>(row).flatten().map(Arc::new);
                }
                TEMPLATES => {
                    if let Some(t) = read::<AnswerTemplates>(row).filter(|t| t.validate().is_ok()) {
                        self.templates = t.items;
                    }
                }
                BUSINESS => {
                    if let Some(b) = read::<BusinessDetails>(row).filter(|b| b.validate().is_ok()) {
                        self.business = b;
                    }
                }
                _ => {}
            }
        }
        self
    }
}

/// This instance's snapshot of the settings.
#[derive(Debug, Default)]
pub(crate) struct SettingsCache {
    current: std::sync::RwLock<Option<(Instant, Arc<Settings>)>>,
}

impl SettingsCache {
    fn fresh(&self) -> Option<Arc<Settings>> {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, s)| s.clone())
    }

    fn store(&self, s: Arc<Settings>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), s));
    }
}

/// Every field of a JSON value, flattened to `a.b.c` → value text, for the audit detail.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// `field → "old → new"` for every field that differs.
fn changes<T: Serialize>(old: &T, new: &T) -> Vec<(String, String)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    flatten(
        "",
        &serde_json::to_value(old).expect("settings serialise"),
        &mut a,
    );
    flatten(
        "",
        &serde_json::to_value(new).expect("settings serialise"),
        &mut b,
    );
    let mut out = Vec::new();
    for (k, new_v) in &b {
        let old_v = a.iter().find(|(ok, _)| ok == k).map(|(_, v)| v.as_str());
        if old_v != Some(new_v.as_str()) {
            out.push((k.clone(), format!("{} → {new_v}", old_v.unwrap_or("—"))));
        }
    }
    for (k, old_v) in &a {
        if !b.iter().any(|(nk, _)| nk == k) {
            out.push((k.clone(), format!("{old_v} → —")));
        }
    }
    out
}

impl Service {
    /// The settings in force (this instance's snapshot, read again after [`FRESH_FOR`]).
    pub async fn settings(&self) -> Result<Arc<Settings>, ServiceError> {
        if let Some(s) = self.settings_cache().fresh() {
            return Ok(s);
        }
        self.reload_settings().await
    }

    async fn reload_settings(&self) -> Result<Arc<Settings>, ServiceError> {
        let rows = setting::Entity::find().all(self.db().conn()).await?;
        let s = Arc::new(Settings::from_config(self.config()).with_stored(&rows));
        self.settings_cache().store(s.clone());
        Ok(s)
    }

    /// The fee schedule in force.
    pub async fn fee_schedule(&self) -> Result<FeeSchedule, ServiceError> {
        Ok(self.settings().await?.fees.clone())
    }

    /// Replaces the fee schedule after checking it against Art. 38.
    pub async fn set_fee_schedule(
        &self,
        fees: FeeSchedule,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        fees.validate().map_err(|_| ServiceError::Invalid("fees"))?;
        let old = self.reload_settings().await?.fees.clone();
        self.save(
            (FEES, "settings.fees_changed"),
            &old,
            &fees,
            who,
            origin,
            now,
        )
        .await
    }

    /// Replaces the policy new requests are filed under (requests already filed keep theirs).
    pub async fn set_policy(
        &self,
        policy: Policy,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        policy.validate().map_err(SettingsError::from)?;
        let old = self.reload_settings().await?.policy;
        self.save(
            (POLICY, "settings.policy_changed"),
            &old,
            &policy,
            who,
            origin,
            now,
        )
        .await
    }

    /// Replaces the retention periods and download limits.
    pub async fn set_retention(
        &self,
        retention: Retention,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        retention.validate()?;
        let old = self.reload_settings().await?.retention;
        self.save(
            (RETENTION, "settings.retention_changed"),
            &old,
            &retention,
            who,
            origin,
            now,
        )
        .await
    }

    /// Replaces the business details shown in mail and on pages.
    pub async fn set_business(
        &self,
        business: BusinessDetails,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        business.validate()?;
        let old = self.reload_settings().await?.business.clone();
        self.save(
            (BUSINESS, "settings.business_changed"),
            &old,
            &business,
            who,
            origin,
            now,
        )
        .await
    }

    /// Saves how to pay without a card.
    pub async fn set_payment(
        &self,
        payment: PaymentInstructions,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        payment.validate()?;
        let old = self.reload_settings().await?.payment.clone();
        self.save(
            (PAYMENT, "settings.payment_changed"),
            &old,
            &payment,
            who,
            origin,
            now,
        )
        .await
    }

    /// Saves the colour, links and phone.
    pub async fn set_branding(
        &self,
        branding: Branding,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        branding.validate()?;
        let old = self.reload_settings().await?.branding.clone();
        self.save(
            (BRANDING, "settings.branding_changed"),
            &old,
            &branding,
            who,
            origin,
            now,
        )
        .await
    }

    /// Replaces the logo (PNG or JPEG, judged by its bytes), or removes it (`None`). The
    /// trail records the image's hash, not the image.
    pub async fn set_logo(
        &self,
        image: Option<Vec<u8>>,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        use base64::Engine;
        let logo = match image {
            None => None,
            Some(bytes) => {
                if bytes.is_empty() || bytes.len() > MAX_LOGO_BYTES {
                    return Err(SettingsError::Range("logo").into());
                }
                let content_type = match madoguchi_domain::sniff(&bytes) {
                    Some(madoguchi_domain::FileType::Png) => "image/png",
                    Some(madoguchi_domain::FileType::Jpeg) => "image/jpeg",
                    _ => return Err(SettingsError::Range("logo").into()),
                };
                Some(Logo {
                    content_type: content_type.to_owned(),
                    sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
                    data: base64::engine::general_purpose::STANDARD.encode(&bytes),
                })
            }
        };
        let old = self.reload_settings().await?.logo.clone();
        let hash = |l: &Option<Arc<Logo>>| LogoTrail {
            sha256: l.as_ref().map(|l| l.sha256.clone()).unwrap_or_default(),
        };
        let value = serde_json::to_string(&logo).expect("a logo serialises");
        self.save_as(
            (LOGO, "settings.logo_changed"),
            (&hash(&old), &hash(&logo.map(Arc::new))),
            value,
            who,
            origin,
            now,
        )
        .await
    }

    /// Adds an answer template at the end of the list.
    pub async fn add_template(
        &self,
        template: AnswerTemplate,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let template = AnswerTemplate {
            title: template.title.trim().to_owned(),
            text: template.text.trim().to_owned(),
        };
        template.validate()?;
        let old = AnswerTemplates {
            items: self.reload_settings().await?.templates.clone(),
        };
        if old.items.iter().any(|t| t.title == template.title) {
            return Err(SettingsError::Duplicate("title").into());
        }
        let mut new = old.clone();
        new.items.push(template);
        new.validate()?;
        self.save(
            (TEMPLATES, "settings.templates_changed"),
            &old,
            &new,
            who,
            origin,
            now,
        )
        .await
    }

    /// Removes the answer template with this title (by title, not position: two
    /// administrators removing at once never remove a template neither chose).
    pub async fn remove_template(
        &self,
        title: &str,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let old = AnswerTemplates {
            items: self.reload_settings().await?.templates.clone(),
        };
        let mut new = old.clone();
        new.items.retain(|t| t.title != title);
        self.save(
            (TEMPLATES, "settings.templates_changed"),
            &old,
            &new,
            who,
            origin,
            now,
        )
        .await
    }

    /// Stores one setting and audits what changed in one transaction, then refreshes this
    /// instance's snapshot. An unchanged value writes nothing.
    async fn save<T: Serialize>(
        &self,
        (key, action): (&str, &str),
        old: &T,
        new: &T,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let value = serde_json::to_string(new).expect("settings serialise");
        self.save_as((key, action), (old, new), value, who, origin, now)
            .await
    }

    /// Stores `value` under `key`, with the trail saying what changed between `old` and
    /// `new` (which may be a summary of the value, e.g. an image's hash). Nothing changed
    /// writes nothing.
    async fn save_as<T: Serialize>(
        &self,
        (key, action): (&str, &str),
        (old, new): (&T, &T),
        value: String,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let changed = changes(old, new);
        if changed.is_empty() {
            return Ok(());
        }
        let row = setting::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(value),
            updated_at: Set(now.trunc_subsecs(6)),
        };
        let tx = self.db().begin_write().await?;
        setting::Entity::insert(row)
            .on_conflict(
                OnConflict::column(setting::Column::Key)
                    .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec(&tx)
            .await?;
        let detail = changed
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        madoguchi_store::change::record_office(
            &tx,
            "settings",
            &[audit_entry(&who.actor(), action, detail)],
            origin,
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(madoguchi_store::StoreError::from)?;
        self.reload_settings().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Contrast against white, known from WCAG's own examples: #767676 is the lightest grey
    /// that passes 4.5:1, #777777 just fails.
    #[test]
    fn a_colour_must_read_on_white() {
        for ok in ["#1d4ed8", "#767676", "#000000", "#0f5132", "#a40000"] {
            assert!(readable_on_white(ok), "{ok}");
        }
        for bad in [
            "#777777", "#ffff00", "#ffffff", "#12345", "1d4ed8", "#1d4ed8 ", "#gggggg", "#+12345",
            "blue",
        ] {
            assert!(!readable_on_white(bad), "{bad}");
        }
    }

    #[test]
    fn branding_links_are_https_and_the_phone_is_a_number() {
        let ok = Branding {
            colour: "#0f5132".into(),
            site_url: "https://example.jp".into(),
            privacy_url: "https://example.jp/privacy".into(),
            phone: "03-1234-5678".into(),
            hours: "平日 9:00〜17:00".into(),
        };
        assert_eq!(ok.validate(), Ok(()));
        for (bad, field) in [
            (
                Branding {
                    site_url: "http://example.jp".into(),
                    ..ok.clone()
                },
                "site_url",
            ),
            (
                Branding {
                    privacy_url: "javascript:alert(1)".into(),
                    ..ok.clone()
                },
                "privacy_url",
            ),
            (
                Branding {
                    privacy_url: "https://x\" onmouseover=\"".into(),
                    ..ok.clone()
                },
                "privacy_url",
            ),
            (
                Branding {
                    phone: "call us".into(),
                    ..ok.clone()
                },
                "phone",
            ),
            (
                Branding {
                    hours: "9時\n17時".into(),
                    ..ok.clone()
                },
                "hours",
            ),
            (
                Branding {
                    colour: "#ffff00".into(),
                    ..ok.clone()
                },
                "colour",
            ),
        ] {
            assert_eq!(bad.validate(), Err(SettingsError::Range(field)));
        }
    }

    #[test]
    fn changes_name_each_field_with_old_and_new() {
        let old = Retention {
            documents_days: 30,
            download_days: 30,
            download_limit: 5,
            records_days: 1095,
        };
        let new = Retention {
            download_limit: 3,
            ..old
        };
        assert_eq!(
            changes(&old, &new),
            [("download_limit".to_owned(), "5 → 3".to_owned())]
        );
        assert!(changes(&old, &old).is_empty());
        let mut p = Policy::appi();
        let before = p;
        p.deadline.period = madoguchi_domain::Period::BusinessDays(10);
        assert_eq!(
            changes(&before, &p),
            [
                ("deadline.period.n".to_owned(), "14 → 10".to_owned()),
                (
                    "deadline.period.unit".to_owned(),
                    "days → business_days".to_owned()
                )
            ]
        );
    }

    #[test]
    fn retention_and_business_are_checked() {
        let r = Retention {
            documents_days: 10,
            download_days: 30,
            download_limit: 0,
            records_days: 1095,
        };
        assert_eq!(r.validate(), Err(SettingsError::Range("download_limit")));
        // The request outlives its documents and its answer's download, never the reverse.
        let early = Retention {
            download_limit: 3,
            records_days: 29,
            ..r
        };
        assert_eq!(early.validate(), Err(SettingsError::Range("records_days")));
        let before_docs = Retention {
            documents_days: 400,
            records_days: 365,
            ..early
        };
        assert_eq!(
            before_docs.validate(),
            Err(SettingsError::Range("records_days"))
        );
        let ok = Retention {
            records_days: 400,
            ..before_docs
        };
        assert_eq!(ok.validate(), Ok(()));
        // A setting stored before the period existed reads as the default.
        let stored: Retention =
            serde_json::from_str(r#"{"documents_days":30,"download_days":30,"download_limit":5}"#)
                .unwrap();
        assert_eq!(stored.records_days, 1095);
        let b = BusinessDetails {
            name: "株式会社サンプル".into(),
            address: "東京都".into(),
            representative: "代表".into(),
            contact: "privacy@example.jp".into(),
            mail_from: "窓口 <privacy@example.jp>".into(),
            staff_address: "office@example.jp".into(),
        };
        assert_eq!(b.validate(), Ok(()));
        let bad = BusinessDetails {
            mail_from: "窓口 <not an address>".into(),
            ..b.clone()
        };
        assert_eq!(bad.validate(), Err(SettingsError::Address("mail_from")));
        let header_injection = BusinessDetails {
            name: "A\r\nBcc: x@example.jp".into(),
            ..b
        };
        assert_eq!(
            header_injection.validate(),
            Err(SettingsError::Range("name"))
        );
    }
}
