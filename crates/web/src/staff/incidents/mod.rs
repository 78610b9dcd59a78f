//! The incident register's pages (漏えい等, Art. 26): the list with each incident's next
//! report and its last day, a form to open or update one (the rules' verdict shown as it
//! stands), the recording of the 速報 and 確報, and the report's draft laid out item by item
//! as the Commission's form asks for it.

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use madoguchi_domain::incident::{IncidentFacts, REPORT_ITEMS, ReportTo};
use madoguchi_service::Lang;
use madoguchi_service::ServiceError;
use madoguchi_service::incidents::{
    IncidentChange, IncidentView, NoticeCounts, NoticeStatus, Report, parse_affected,
};
use madoguchi_service::staff::StaffIdentity;
use uuid::Uuid;

use super::form::Fields;
use super::pages::Chrome;
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

mod notices;

pub use notices::*;

/// An incident as the pages show it.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub pid: String,
    pub number: String,
    pub aware_on: String,
    pub people: u32,
    /// Reportable, and to whom, in words.
    pub verdict: String,
    /// The rules met, in words.
    pub criteria: Vec<&'static str>,
    /// The next report owed and its last day, in words (empty when none is owed).
    pub next_due: String,
    /// `overdue`, `soon` or `ok`.
    pub badge: &'static str,
    pub prelim: String,
    pub final_report: String,
    pub prelim_target: String,
    pub prelim_due: String,
    pub final_due: String,
    pub reportable: bool,
    pub owes_final: bool,
}

fn row(v: &IncidentView, today: NaiveDate, lang: Lang) -> IncidentRow {
    let a = &v.assessment;
    let r = &v.incident.row;
    let day = |d: Option<NaiveDate>| {
        d.map(|d| madoguchi_domain::written_date(d, lang.is_en()))
            .unwrap_or_default()
    };
    let verdict = match (&a.report_to, a.exempt, lang.is_en()) {
        (ReportTo::Commission, _, false) => "個人情報保護委員会への報告が必要です".to_owned(),
        (ReportTo::Commission, _, true) => "Must be reported to the Commission".to_owned(),
        (ReportTo::Entruster(e), _, false) => {
            format!("委託元（{e}）への通知が必要です（委託元が報告します）")
        }
        (ReportTo::Entruster(e), _, true) => {
            format!("Must be notified to the entrusting business ({e}), which reports")
        }
        (ReportTo::Nobody, true, false) => {
            "高度な暗号化等の措置により報告対象外です（記録は残します）".to_owned()
        }
        (ReportTo::Nobody, true, true) => {
            "Not reportable: the data was protected (kept on record)".to_owned()
        }
        (ReportTo::Nobody, false, false) => {
            "報告対象の事態に当たりません（記録は残します）".to_owned()
        }
        (ReportTo::Nobody, false, true) => "Not a reportable incident (kept on record)".to_owned(),
    };
    let (next_due, badge) = match v.next_due() {
        Some((stage, d)) => {
            let what = match (stage, lang.is_en()) {
                ("preliminary", false) => "速報",
                ("preliminary", true) => "Preliminary report",
                (_, false) => "確報",
                (_, true) => "Final report",
            };
            let badge = if d < today {
                "overdue"
            } else if d
                <= today + chrono::Duration::days(madoguchi_service::incidents::WARN_WITHIN_DAYS)
            {
                "soon"
            } else {
                "ok"
            };
            (
                if lang.is_en() {
                    format!(
                        "{what} by {}",
                        madoguchi_domain::written_date(d, lang.is_en())
                    )
                } else {
                    format!(
                        "{what}: {}まで",
                        madoguchi_domain::written_date(d, lang.is_en())
                    )
                },
                badge,
            )
        }
        None => (String::new(), "ok"),
    };
    let sent = |at: Option<chrono::DateTime<Utc>>, reference: &Option<String>| {
        at.map(|at| {
            format!(
                "{}（{}）",
                madoguchi_domain::written_date(madoguchi_domain::jst_date(at), lang.is_en()),
                reference.clone().unwrap_or_default()
            )
        })
        .unwrap_or_default()
    };
    IncidentRow {
        pid: r.pid.to_string(),
        number: r.number.clone(),
        aware_on: madoguchi_domain::written_date(r.aware_on, lang.is_en()),
        people: v.incident.facts.people,
        verdict,
        criteria: a.criteria.iter().map(|c| c.label(lang.is_en())).collect(),
        next_due,
        badge,
        prelim: sent(r.prelim_at, &r.prelim_ref),
        final_report: sent(r.final_at, &r.final_ref),
        prelim_target: day(a.prelim_target),
        prelim_due: day(a.prelim_due),
        final_due: day(a.final_due),
        reportable: a.reportable(),
        owes_final: a.final_due.is_some(),
    }
}

#[derive(Debug, Template)]
#[template(path = "staff/incidents.html")]
pub struct IncidentsPage {
    pub c: Chrome,
    pub rows: Vec<IncidentRow>,
}

/// The form's values (what was stored, or what was typed when refused).
#[derive(Debug, Clone, Default)]
pub struct IncidentForm {
    pub aware_on: String,
    pub special_care: bool,
    pub financial_risk: bool,
    pub unlawful_intent: bool,
    pub people: String,
    pub protected: bool,
    pub entrusted_by: String,
    /// Each report item: (key, label, text).
    pub items: Vec<(&'static str, &'static str, String)>,
}

#[derive(Debug, Template)]
#[template(path = "staff/incident.html")]
pub struct IncidentPage {
    pub c: Chrome,
    /// The incident, once opened.
    pub i: Option<IncidentRow>,
    pub form: IncidentForm,
    pub error: String,
    /// The version the forms send back: the one read, or after a refusal the one posted (so
    /// a second try cannot overwrite what a colleague saved meanwhile).
    pub version: i32,
    /// A refused report's day and reference, kept for another try.
    pub reported_on: String,
    pub reference: String,
    /// The notices to the people (once the incident is opened).
    pub notice: NoticeView,
}

#[derive(Debug, Template)]
#[template(path = "staff/incident_report.html")]
pub struct ReportPage {
    pub c: Chrome,
    pub i: IncidentRow,
    pub items: Vec<(&'static str, String)>,
    pub business: String,
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

bilingual!(IncidentsPage, IncidentPage, ReportPage);

fn form_of(v: Option<&IncidentView>, lang: Lang) -> IncidentForm {
    let items = |report: Option<&Report>| {
        REPORT_ITEMS
            .iter()
            .map(|(k, ja, en_label)| {
                (
                    *k,
                    if lang.is_en() { *en_label } else { *ja },
                    report.and_then(|r| r.get(*k)).cloned().unwrap_or_default(),
                )
            })
            .collect()
    };
    match v {
        None => IncidentForm {
            items: items(None),
            ..IncidentForm::default()
        },
        Some(v) => {
            let f = &v.incident.facts;
            IncidentForm {
                // As the form reads it back in either language.
                aware_on: f.aware_on.format("%Y/%-m/%-d").to_string(),
                special_care: f.special_care,
                financial_risk: f.financial_risk,
                unlawful_intent: f.unlawful_intent,
                people: f.people.to_string(),
                protected: f.protected,
                entrusted_by: f.entrusted_by.clone().unwrap_or_default(),
                items: items(Some(&v.incident.report)),
            }
        }
    }
}

/// What the form says, or why it cannot be read (in words, naming the field).
fn read_form(
    f: &Fields,
    today: NaiveDate,
    lang: Lang,
) -> (IncidentForm, Result<(IncidentFacts, Report), String>) {
    let form = IncidentForm {
        aware_on: f.get("aware_on").to_owned(),
        special_care: f.checked("special_care"),
        financial_risk: f.checked("financial_risk"),
        unlawful_intent: f.checked("unlawful_intent"),
        people: f.get("people").to_owned(),
        protected: f.checked("protected"),
        entrusted_by: f.get("entrusted_by").to_owned(),
        items: REPORT_ITEMS
            .iter()
            .map(|(k, ja, en_label)| {
                (
                    *k,
                    if lang.is_en() { *en_label } else { *ja },
                    f.get(&format!("item_{k}")).to_owned(),
                )
            })
            .collect(),
    };
    let words = |ja: &str, en_words: &str| {
        if lang.is_en() {
            en_words.to_owned()
        } else {
            ja.to_owned()
        }
    };
    let aware_on = match madoguchi_domain::parse_birth_date(&form.aware_on, today) {
        Ok(d) => d,
        Err(_) => {
            return (
                form,
                Err(words(
                    "知った日: 2026年12月1日のように、今日までの日付を入力してください。",
                    "Day of awareness: enter a date up to today, like 2026/12/1.",
                )),
            );
        }
    };
    let people = match madoguchi_domain::incident::parse_people(&form.people) {
        Some(n) => n,
        None => {
            return (
                form,
                Err(words(
                    "本人の数: 0から1億までの数で入力してください（推定で構いません）。",
                    "Number of people: a number from 0 to 100 million (an estimate will do).",
                )),
            );
        }
    };
    let facts = IncidentFacts {
        aware_on,
        special_care: form.special_care,
        financial_risk: form.financial_risk,
        unlawful_intent: form.unlawful_intent,
        people,
        protected: form.protected,
        entrusted_by: Some(form.entrusted_by.clone()).filter(|e| !e.is_empty()),
    };
    let report: Report = form
        .items
        .iter()
        .filter(|(_, _, v)| !v.is_empty())
        .map(|(k, _, v)| ((*k).to_owned(), v.clone()))
        .collect();
    (form, Ok((facts, report)))
}

fn invalid_words(field: &str, lang: Lang) -> String {
    let (ja, en_words) = match field {
        "aware_on" => (
            "知った日: 今日までの日付を入力してください。",
            "Day of awareness: a date up to today.",
        ),
        "entrusted_by" => (
            "委託元: 1行、200文字以内で入力してください。",
            "Entrusting business: one line, at most 200 characters.",
        ),
        "report" => (
            "報告の各項目は4,000文字以内で入力してください。",
            "Each report item: at most 4,000 characters.",
        ),
        "reported_on" => (
            "報告した日: 知った日から今日までの日付を入力してください。",
            "Day reported: between the day of awareness and today.",
        ),
        "reference" => (
            "受付番号等: 英数字と記号（- _ / . #）で100文字以内で入力してください（監査ログに残ります）。",
            "Reference: letters, digits and - _ / . # only, at most 100 (it is kept on the audit trail).",
        ),
        "conflict" => (
            "他の担当者が先に更新しました。最新の内容を確認してから、もう一度操作してください。",
            "A colleague changed this incident first. Check the latest version, then try again.",
        ),
        "recorded" => (
            "この報告は既に記録されています。",
            "This report is already recorded.",
        ),
        "not_reportable" => (
            "この事態は報告の対象ではありません。",
            "This incident is not one to report.",
        ),
        "published_on" => (
            "公表した日: 知った日から今日までの日付を入力してください。",
            "Day published: between the day of awareness and today.",
        ),
        "published_how" => (
            "公表の方法: 1行、300文字以内で入力してください（例: 当社ウェブサイトのお知らせ https://…）。",
            "How it was published: one line, at most 300 characters (e.g. a notice on our website, https://…).",
        ),
        "notice_summary" => (
            "通知には「概要」が必要です。報告事項の「概要」を記入してから通知してください。",
            "A notice needs the summary: fill in the report's summary item first.",
        ),
        "people_file" => (
            "対象者のCSVファイル（UTF-8、見出し name,email,postal_address）を選択してください。",
            "Choose the people's CSV file (UTF-8, header name,email,postal_address).",
        ),
        "people_encoding" => (
            "CSVファイルをUTF-8で保存し直してください（Excelでは「CSV UTF-8（コンマ区切り）」）。",
            "Save the CSV file as UTF-8 and import it again (in Excel: \"CSV UTF-8\").",
        ),
        "notice_items" => (
            "通知には、報告事項の「概要」「個人データの項目」「原因」「二次被害又はそのおそれの有無及びその内容」が必要です（ない場合は「なし」と記入）。記入してから通知してください。",
            "A notice needs the report's summary, data items, cause and secondary damage (write \"none\" where there is none). Fill them in first.",
        ),
        "nobody_waiting" => (
            "通知する方は残っていません（既に通知済みです）。",
            "Nobody is left to tell (the notices already went).",
        ),
        "prelim_first" => (
            "先に速報を記録してください。",
            "Record the preliminary report first.",
        ),
        _ => (
            "入力内容をご確認ください。",
            "Please check what you entered.",
        ),
    };
    if lang.is_en() {
        en_words.to_owned()
    } else {
        ja.to_owned()
    }
}

fn incident_pid(pid: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(pid).map_err(|_| PageError::from(AppError::NotFound))
}

/// The register.
pub async fn list(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    let today = madoguchi_domain::jst_date(Utc::now());
    let rows = state
        .service
        .incidents()
        .await?
        .iter()
        .map(|v| row(v, today, lang))
        .collect();
    Ok(render(&IncidentsPage {
        c: Chrome::new(&who, lang),
        rows,
    }))
}

/// The form to open one.
pub async fn new_form(
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    Ok(render(&IncidentPage {
        c: Chrome::new(&who, lang),
        i: None,
        form: form_of(None, lang),
        error: String::new(),
        version: 0,
        reported_on: String::new(),
        reference: String::new(),
        notice: NoticeView::default(),
    }))
}

fn refused(page: IncidentPage) -> Response {
    let mut res = render(&page);
    *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    res
}

/// Opens one.
pub async fn open(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = Fields::parse(&body)?;
    let now = Utc::now();
    let (form, read) = read_form(&f, madoguchi_domain::jst_date(now), lang);
    let page = |form, error| IncidentPage {
        c: Chrome::new(&who, lang),
        i: None,
        form,
        error,
        version: 0,
        reported_on: String::new(),
        reference: String::new(),
        notice: NoticeView::default(),
    };
    let (facts, report) = match read {
        Ok(r) => r,
        Err(e) => return Ok(refused(page(form, e))),
    };
    match state
        .service
        .open_incident(facts, report, &who, &origin, now)
        .await
    {
        Ok(pid) => Ok(Redirect::to(&format!("/staff/incidents/{pid}")).into_response()),
        Err(ServiceError::Invalid(field)) => Ok(refused(page(form, invalid_words(field, lang)))),
        Err(e) => Err(PageError::from(e)),
    }
}

/// The incident a page is about, and today in Japan (its deadlines are read against it).
async fn load(state: &AppState, pid: &str) -> Result<(IncidentView, NaiveDate), PageError> {
    let v = state.service.incident(incident_pid(pid)?).await?;
    Ok((v, madoguchi_domain::jst_date(Utc::now())))
}

/// One incident: its verdict, its deadlines, its reports, its form.
pub async fn show(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let (v, today) = load(&state, &pid).await?;
    let notice = notice_view(&state, &v, lang).await?;
    Ok(render(&IncidentPage {
        c: Chrome::new(&who, lang),
        i: Some(row(&v, today, lang)),
        form: form_of(Some(&v), lang),
        error: String::new(),
        version: v.incident.row.version,
        reported_on: String::new(),
        reference: String::new(),
        notice,
    }))
}

/// A change posted to an incident: its fields, the version the officer read, and the
/// incident as it stands now.
struct Posted {
    pid: Uuid,
    f: Fields,
    version: i32,
    now: chrono::DateTime<Utc>,
    today: NaiveDate,
    v: IncidentView,
}

impl Posted {
    async fn read(state: &AppState, pid: &str, body: &Bytes) -> Result<Self, PageError> {
        let pid = incident_pid(pid)?;
        let f = Fields::parse(body)?;
        let version: i32 = f
            .get("version")
            .parse()
            .map_err(|_| PageError::from(AppError::BadRequest("version".into())))?;
        let now = Utc::now();
        let v = state.service.incident(pid).await?;
        Ok(Posted {
            pid,
            f,
            version,
            now,
            today: madoguchi_domain::jst_date(now),
            v,
        })
    }
}

/// Updates one (at the version the officer read).
pub async fn update(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let Posted {
        pid,
        f,
        version,
        now,
        today,
        v,
    } = Posted::read(&state, &pid, &body).await?;
    let (form, read) = read_form(&f, today, lang);
    let notice = notice_view(&state, &v, lang).await?;
    // A refusal sends back the version the officer posted, not the one just read: a second
    // try must not overwrite what a colleague saved meanwhile.
    let page = |form, error| IncidentPage {
        c: Chrome::new(&who, lang),
        i: Some(row(&v, today, lang)),
        form,
        error,
        version,
        reported_on: String::new(),
        reference: String::new(),
        notice: notice.clone(),
    };
    let (facts, report) = match read {
        Ok(r) => r,
        Err(e) => return Ok(refused(page(form, e))),
    };
    match state
        .service
        .change_incident(
            pid,
            version,
            IncidentChange::Edit { facts, report },
            &who,
            &origin,
            now,
        )
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/staff/incidents/{pid}")).into_response()),
        Err(ServiceError::Invalid(field)) => Ok(refused(page(form, invalid_words(field, lang)))),
        Err(ServiceError::Conflict) => Ok(conflict(page(form, invalid_words("conflict", lang)))),
        Err(e) => Err(PageError::from(e)),
    }
}

/// A change refused because the incident moved on: the page with what was typed and why.
fn conflict(page: IncidentPage) -> Response {
    let mut res = render(&page);
    *res.status_mut() = axum::http::StatusCode::CONFLICT;
    res
}

/// Records the 速報 (or the notice to the entruster) or the 確報 as sent.
pub async fn record_report(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let Posted {
        pid,
        f,
        version,
        now,
        today,
        v,
    } = Posted::read(&state, &pid, &body).await?;
    let notice = notice_view(&state, &v, lang).await?;
    let page = |e: String| IncidentPage {
        c: Chrome::new(&who, lang),
        i: Some(row(&v, today, lang)),
        form: form_of(Some(&v), lang),
        error: e,
        version,
        reported_on: f.get("reported_on").to_owned(),
        reference: f.get("reference").to_owned(),
        notice: notice.clone(),
    };
    let error = |e: String| Ok(refused(page(e)));
    let Ok(on) = madoguchi_domain::parse_birth_date(f.get("reported_on"), today) else {
        return error(invalid_words("reported_on", lang));
    };
    let reference = f.get("reference").to_owned();
    let change = match f.get("stage") {
        "preliminary" => IncidentChange::Preliminary { on, reference },
        "final" => IncidentChange::Final { on, reference },
        _ => return Err(PageError::from(AppError::BadRequest("stage".into()))),
    };
    let stage = f.get("stage").to_owned();
    match state
        .service
        .change_incident(pid, version, change, &who, &origin, now)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/staff/incidents/{pid}")).into_response()),
        Err(ServiceError::Invalid(field)) => error(invalid_words(field, lang)),
        Err(ServiceError::Conflict) => {
            // A double click finds the report already recorded: say so, not "someone else".
            let latest = state.service.incident(pid).await?;
            let recorded = if stage == "preliminary" {
                latest.incident.row.prelim_at.is_some()
            } else {
                latest.incident.row.final_at.is_some()
            };
            let why = if recorded { "recorded" } else { "conflict" };
            Ok(conflict(page(invalid_words(why, lang))))
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// The report's draft, item by item as the Commission's form asks, to print or to paste.
pub async fn report(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let (v, today) = load(&state, &pid).await?;
    let items = REPORT_ITEMS
        .iter()
        .map(|(k, ja, en_label)| {
            let text = v.incident.report.get(*k).cloned().unwrap_or_default();
            // The number of people is a fact of the register when the item says nothing more.
            let text = if *k == "people" && text.is_empty() {
                if lang.is_en() {
                    format!("{} (as known or estimated)", v.incident.facts.people)
                } else {
                    format!("{}人（判明分または推定）", v.incident.facts.people)
                }
            } else {
                text
            };
            (if lang.is_en() { *en_label } else { *ja }, text)
        })
        .collect();
    Ok(render(&ReportPage {
        c: Chrome::new(&who, lang),
        i: row(&v, today, lang),
        items,
        business: state.business().await.name,
    }))
}
