//! The queue, the request page and the actions an officer takes on it.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use madoguchi_domain::{
    DeliveryMethod, Event, Jurisdiction, Outcome, PaymentMethod, RefusalGround, RequestKind,
    State as RState, Yen, available_events, is_next_step, jst_date, represented_adult_age,
};
use madoguchi_service::queue::{Assignee, QueueFilter, cursor_from_str, cursor_to_string};
use madoguchi_service::staff::StaffIdentity;
use madoguchi_service::{EventText, ServiceError};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{
    ActionForm, Chrome, DetailPage, FilterEcho, PaymentRow, QueuePage, QueueRow, badge,
};
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

/// The queue's query string.
#[derive(Debug, Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub jurisdiction: String,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub due: String,
    #[serde(default)]
    pub overdue: String,
    /// Only requests the subject may already sue over (Art. 39).
    #[serde(default)]
    pub may_sue: String,
    #[serde(default)]
    pub waiting: String,
    #[serde(default)]
    pub closed: String,
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub limit: String,
}

impl QueueQuery {
    /// The service's filter for this query, for `who`.
    pub fn filter(&self, who: &StaffIdentity) -> QueueFilter {
        QueueFilter {
            state: RState::parse(&self.state),
            kind: RequestKind::parse(&self.kind),
            jurisdiction: Jurisdiction::parse(&self.jurisdiction),
            assignee: match self.assignee.as_str() {
                "" => None,
                "me" => Some(Assignee::User(who.user_id)),
                "none" => Some(Assignee::Nobody),
                other => other.parse().ok().map(Assignee::User),
            },
            due_within_days: self.due.trim().parse().ok(),
            overdue: !self.overdue.is_empty(),
            may_sue: !self.may_sue.is_empty(),
            awaiting_subject: !self.waiting.is_empty(),
            include_closed: !self.closed.is_empty(),
            search: Some(self.q.clone()).filter(|q| !q.trim().is_empty()),
            after: cursor_from_str(&self.after),
            limit: self.limit.parse().unwrap_or(50),
        }
    }

    fn next_link(&self, cursor: (chrono::NaiveDate, i64)) -> String {
        let pairs = [
            ("q", &self.q),
            ("state", &self.state),
            ("kind", &self.kind),
            ("jurisdiction", &self.jurisdiction),
            ("assignee", &self.assignee),
            ("due", &self.due),
            ("overdue", &self.overdue),
            ("may_sue", &self.may_sue),
            ("waiting", &self.waiting),
            ("closed", &self.closed),
        ];
        let mut s: String = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}&", crate::pages::urlencode(v)))
            .collect();
        s.push_str(&format!("after={}", cursor_to_string(cursor)));
        format!("/staff?{s}")
    }
}

fn kind_label(kind: &str, en: bool) -> String {
    RequestKind::parse(kind).map_or_else(
        || kind.to_owned(),
        |k| if en { k.label_en() } else { k.label_ja() }.to_owned(),
    )
}

fn state_label(state: &str, en: bool) -> String {
    RState::parse(state).map_or_else(
        || state.to_owned(),
        |s| if en { s.label_en() } else { s.label_ja() }.to_owned(),
    )
}

/// The queue: most urgent first, filtered, paged by keyset.
pub async fn show_queue(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
    let en = lang.en();
    let today = jst_date(Utc::now());
    let page = state.service.queue(&q.filter(&who), today).await?;
    let counts = state.service.state_counts().await?;
    let staff = state.service.assignable_staff().await?;
    let names: std::collections::HashMap<i64, String> =
        staff.iter().map(|s| (s.id, s.name.clone())).collect();
    let rows = page
        .rows
        .iter()
        .map(|r| QueueRow {
            pid: r.pid.to_string(),
            number: r.number.clone(),
            kind: kind_label(&r.kind, en),
            state: state_label(&r.state, en),
            due_on: due_words(
                r.due_on,
                today,
                RState::parse(&r.state).is_some_and(RState::is_terminal),
                en,
            ),
            badge: badge(
                r.due_on,
                today,
                RState::parse(&r.state).is_some_and(RState::is_terminal),
            ),
            assignee: r
                .assignee_id
                .and_then(|a| names.get(&a).cloned())
                .unwrap_or_default(),
            name: r.subject_name.clone(),
            received: madoguchi_domain::written_date(jst_date(r.arrived_at), en),
            channel: super::pages::channel_words(&r.channel, en),
            may_sue: may_sue_words(
                r.may_sue_from,
                today,
                RState::parse(&r.state).is_some_and(RState::is_terminal),
                en,
            ),
            paused: paused_words(r.paused_since, en),
        })
        .collect();
    let page_view = QueuePage {
        c: Chrome::new(&who, en),
        counts: counts
            .into_iter()
            .map(|(s, n)| (s.as_str().to_owned(), state_label(s.as_str(), en), n))
            .collect(),
        states: RState::ALL
            .into_iter()
            .map(|s| (s.as_str().to_owned(), state_label(s.as_str(), en)))
            .collect(),
        kinds: RequestKind::ALL
            .into_iter()
            .map(|k| (k.as_str().to_owned(), kind_label(k.as_str(), en)))
            .collect(),
        staff: staff
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone()))
            .collect(),
        f: FilterEcho {
            q: q.q.clone(),
            state: q.state.clone(),
            kind: q.kind.clone(),
            jurisdiction: q.jurisdiction.clone(),
            assignee: q.assignee.clone(),
            due: q.due.clone(),
            overdue: !q.overdue.is_empty(),
            waiting: !q.waiting.is_empty(),
            closed: !q.closed.is_empty(),
        },
        rows,
        next: page.next.map(|c| q.next_link(c)).unwrap_or_default(),
    };
    Ok(render(&page_view))
}

/// While the answer's clock stands still (waiting for the requester), since when, in words;
/// empty while it runs.
pub(crate) fn paused_words(since: Option<chrono::DateTime<Utc>>, en: bool) -> String {
    since.map_or_else(String::new, |at| {
        let day = madoguchi_domain::written_date(jst_date(at), en);
        if en {
            format!("Clock paused since {day} (awaiting the requester)")
        } else {
            format!("{day}から期限停止中（請求者の対応待ち）")
        }
    })
}

/// An action's label for the message after it; empty for a name that is not an action.
fn action_form_label(name: &str, en: bool) -> String {
    ACTION_NAMES
        .iter()
        .find(|n| **n == name)
        .map(|n| action_form(n, en).label)
        .unwrap_or_default()
}

/// Every action the request page can send.
const ACTION_NAMES: [&str; 13] = [
    "approve_identity",
    "submit_evidence",
    "provide_info",
    "request_more_evidence",
    "reject_identity",
    "record_payment",
    "start_work",
    "request_info",
    "change_delivery",
    "extend_deadline",
    "complete",
    "refuse",
    "withdraw",
];

fn action_form(name: &'static str, en: bool) -> ActionForm {
    let (ja, en_label, text, text_ja, text_en, grounds) = match name {
        "approve_identity" => ("本人確認を承認", "Approve identity", false, "", "", false),
        "submit_evidence" => (
            "郵送・窓口で書類を受領（本人の提出として記録）",
            "Record documents received by post or at the counter",
            false,
            "",
            "",
            false,
        ),
        "provide_info" => (
            "本人からの回答を記録（郵送・電話・窓口）",
            "Record the subject's answer (by post, phone or at the counter)",
            true,
            "本人の回答の内容",
            "What the subject answered",
            false,
        ),
        "request_more_evidence" => (
            "追加書類を依頼",
            "Ask for more evidence",
            true,
            "本人に伝える不足書類",
            "What is missing (sent to the subject)",
            false,
        ),
        "reject_identity" => (
            "本人確認不可として終了",
            "Reject identity",
            true,
            "理由（本人に送付）",
            "Reason (sent to the subject)",
            false,
        ),
        "record_payment" => ("入金を記録", "Record payment", false, "", "", false),
        "start_work" => ("作業開始", "Start work", false, "", "", false),
        "request_info" => (
            "対象データの特定を依頼（法37条2項）",
            "Ask to identify the data (Art. 37(2))",
            true,
            "質問（本人に送付）",
            "Question (sent to the subject)",
            false,
        ),
        "change_delivery" => (
            "開示の方法を変更",
            "Change the delivery method",
            true,
            "理由（本人に送付。例：多額の費用を要するため書面で交付します）",
            "Reason (sent to the subject, e.g. the electronic form would be very costly)",
            false,
        ),
        "extend_deadline" => (
            "期限を延長",
            "Extend deadline",
            true,
            "理由（本人に送付）",
            "Reason (sent to the subject)",
            false,
        ),
        "complete" => (
            "対応を完了",
            "Complete",
            true,
            "本人へのご連絡（訂正等の内容など）",
            "Message to the subject (e.g. what was corrected)",
            true,
        ),
        "refuse" => (
            "不開示・不対応を決定",
            "Refuse",
            true,
            "理由の説明（法36条、本人に送付）",
            "Explanation (Art. 36, sent to the subject)",
            true,
        ),
        "withdraw" => (
            "取下げを記録（郵送・電話）",
            "Record withdrawal (by post or phone)",
            false,
            "",
            "",
            false,
        ),
        _ => ("", "", false, "", "", false),
    };
    ActionForm {
        name,
        label: if en { en_label } else { ja }.to_owned(),
        next: false,
        text,
        text_label: if en { text_en } else { text_ja }.to_owned(),
        grounds,
    }
}

/// What the answer form starts from, in the subject's language (the answer is theirs): a
/// disclosure's items from the data map's datasets, an Art. 33(5) answer from the provision
/// register's records about them, a purpose notification's message from the map's purposes.
/// With the words for the officer that say where it came from.
async fn suggested_answer(
    state: &AppState,
    row: &madoguchi_service::rows::request::Model,
    kind: madoguchi_domain::RequestKind,
    page_en: bool,
) -> Result<(Vec<(String, String)>, String), madoguchi_service::ServiceError> {
    use madoguchi_domain::RequestKind as K;
    let en = row.lang == "en";
    let gathered = state.service.gathering(row, en).await?;
    let mut fields = Vec::new();
    let mut item = |n: usize, label: String, result: &str, grounds: Vec<&str>| {
        fields.push((format!("item_label_{n}"), label));
        fields.push((format!("item_result_{n}"), result.to_owned()));
        for g in grounds {
            fields.push((format!("item_grounds_{n}"), g.to_owned()));
        }
    };
    let from = match kind {
        // Only a finished gathering is an answer; a dataset that could not be searched is
        // left to the officer, never told to the subject as "no data".
        K::Disclosure if gathered.complete && !gathered.datasets.is_empty() => {
            // What the connectors found: a dataset with rows is disclosed (in part when
            // fields are withheld), one without is "no data".
            let searched = gathered.datasets.iter().filter(|d| d.searched);
            for (i, d) in searched.take(MAX_SUGGESTED).enumerate() {
                let mut grounds: Vec<&str> = d.withheld.iter().map(|(_, g)| g.as_str()).collect();
                grounds.sort_unstable();
                grounds.dedup();
                let result = match (d.rows.is_empty(), grounds.is_empty()) {
                    (true, _) => "no_data",
                    (false, true) => "disclosed",
                    (false, false) => "partially_disclosed",
                };
                let grounds = if d.rows.is_empty() {
                    Vec::new()
                } else {
                    grounds
                };
                item(i + 1, d.label.chars().take(100).collect(), result, grounds);
            }
            if page_en {
                "Filled in from what the connectors gathered; check it against the data below."
                    .into()
            } else {
                "コネクタが収集したデータから記入しています。下の収集結果と照らして確認してください。".into()
            }
        }
        K::Disclosure => {
            let items = state.service.suggested_items(kind, en).await?;
            for (i, it) in items.iter().take(MAX_SUGGESTED).enumerate() {
                let result = if it.partial {
                    "partially_disclosed"
                } else {
                    "disclosed"
                };
                item(
                    i + 1,
                    it.label.clone(),
                    result,
                    it.grounds.iter().map(|g| g.as_str()).collect(),
                );
            }
            if items.is_empty() {
                String::new()
            } else if page_en {
                "Filled in from the data map's datasets; check each against what was found.".into()
            } else {
                "データマップのデータセットから記入しています。調査の結果に合わせて確認してください。".into()
            }
        }
        K::ThirdPartyRecordDisclosure => {
            let records = state.service.register_for(row).await?;
            for (i, r) in records.iter().take(MAX_SUGGESTED).enumerate() {
                let label: String = r.record.answer_line(en).chars().take(100).collect();
                item(i + 1, label, "disclosed", Vec::new());
            }
            match (records.len(), page_en) {
                (0, true) => "The provision register holds no record matching the person's address or phone number.".into(),
                (0, false) => "第三者提供記録には、本人のメールアドレス・電話番号に一致する記録がありません。".into(),
                (n, true) => format!("Filled in from the {n} provision record(s) matching the person's address or phone number."),
                (n, false) => format!("本人のメールアドレス・電話番号に一致する第三者提供記録 {n} 件から記入しています。"),
            }
        }
        K::Correction => {
            let done = state.service.corrections(row, en).await?;
            if done.complete && !done.lines.is_empty() {
                let intro = if en {
                    "We corrected your personal data as follows:"
                } else {
                    "ご請求に基づき、次のとおりお客様の個人データを訂正しました。"
                };
                fields.push(("correction".to_owned(), "corrected".to_owned()));
                fields.push((
                    "investigated".to_owned(),
                    if en {
                        format!("The records held in {}.", done.changed_in.join(", "))
                    } else {
                        format!(
                            "{}に保存されている記録を確認しました。",
                            done.changed_in.join("、")
                        )
                    },
                ));
                fields.push(("content".to_owned(), done.lines.join("\n")));
                fields.push((
                    "text".to_owned(),
                    format!("{intro}\n{}", done.lines.join("\n")),
                ));
                if page_en {
                    "The answer is filled in from what the connectors corrected.".into()
                } else {
                    "回答欄を、コネクタが実施した訂正の記録から記入しています。".into()
                }
            } else {
                String::new()
            }
        }
        K::SuspensionOrErasure => {
            let erasure = state.service.erasure(row, en).await?;
            let measure = if erasure.suspend {
                madoguchi_service::erasure::Measure::Suspend
            } else {
                madoguchi_service::erasure::Measure::Erase
            };
            // Work left by hand with no one asked (a recipient without a contact) keeps the
            // answer for the officer to write.
            let untold = state
                .service
                .erasure_plan(row, measure, en)
                .await?
                .is_some_and(|p| p.recipients.iter().any(|r| !r.by_mail));
            if untold && erasure.complete {
                // Not all of it is done: the officer writes the answer once the rest is.
                if page_en {
                    "Some recipients must still be told by hand (see the plan); the answer is not filled in.".into()
                } else {
                    "連絡先のない提供先への連絡が残っています（計画を参照）。回答欄は記入していません。".into()
                }
            } else if erasure.complete && !erasure.lines.is_empty() {
                let intro = match (erasure.suspend, en) {
                    (false, true) => "We erased your personal data as follows:",
                    (false, false) => {
                        "ご請求に基づき、次のとおりお客様の個人データを消去しました。"
                    }
                    (true, true) => "We stopped using your personal data as follows:",
                    (true, false) => {
                        "ご請求に基づき、次のとおりお客様の個人データの利用を停止しました。"
                    }
                };
                let done = if erasure.suspend {
                    madoguchi_domain::answer::Measure::SuspendedUse
                } else {
                    madoguchi_domain::answer::Measure::Erased
                };
                remedy_fields(&mut fields, &erasure, done, intro, en);
                if page_en {
                    "The answer is filled in from what the connectors did.".into()
                } else {
                    "回答欄を、コネクタが実施した記録から記入しています。".into()
                }
            } else {
                String::new()
            }
        }
        K::ThirdPartyStop => {
            let stopped = state.service.erasure(row, en).await?;
            let untold = state
                .service
                .stop_plan(row, en)
                .await?
                .is_some_and(|p| p.iter().any(|r| !r.by_mail));
            if untold && stopped.complete {
                if page_en {
                    "Some third parties must still be told by hand (see the plan); the answer is not filled in.".into()
                } else {
                    "連絡先のない第三者への連絡が残っています（計画を参照）。回答欄は記入していません。".into()
                }
            } else if stopped.complete && !stopped.lines.is_empty() {
                let intro = if en {
                    "We stopped providing your personal data to third parties as follows:"
                } else {
                    "ご請求に基づき、次のとおりお客様の個人データの第三者への提供を停止しました。"
                };
                let done = madoguchi_domain::answer::Measure::StoppedProvision;
                remedy_fields(&mut fields, &stopped, done, intro, en);
                if page_en {
                    "The answer is filled in from the recipients' confirmations.".into()
                } else {
                    "回答欄を、提供先からの対応の報告をもとに記入しています。".into()
                }
            } else {
                String::new()
            }
        }
        K::PurposeNotification => match state.service.suggested_purposes(en).await? {
            Some(purposes) => {
                let intro = if en {
                    "We use your personal data for the following purposes:"
                } else {
                    "当社は、お客様の個人情報を次の目的で利用しています。"
                };
                fields.push(("text".to_owned(), format!("{intro}\n{purposes}")));
                if page_en {
                    "The message is filled in from the data map's purposes.".into()
                } else {
                    "本人へのご連絡欄を、データマップの利用目的から記入しています。".into()
                }
            }
            None => String::new(),
        },
    };
    Ok((fields, from))
}

/// Items an answer is filled in with at most (the form's limit).
const MAX_SUGGESTED: usize = madoguchi_domain::answer::MAX_ITEMS;

/// The request page. Opening it is recorded as a view of the subject's data.
pub async fn show_request(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let en = lang.en();
    let pid = request_pid(&pid)?;
    let view = PageView {
        flash: done_words(&q.done, en),
        doc: Uuid::parse_str(&q.doc).ok(),
        template: q.template.clone().map(|t| (t, q.for_action.clone())),
        note: None,
    };
    request_page(&state, en, &who, &origin, pid, Vec::new(), Vec::new(), view).await
}

/// What the request page is opened with: the message after the last action (`?done=`), a
/// document to show in the workspace (`?doc=`), and a template to put into an action's
/// message (`?template=&for=`).
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    template: Option<String>,
    #[serde(default, rename = "for")]
    for_action: String,
}

/// How the request page is shown beyond the request itself.
#[derive(Debug, Default)]
struct PageView {
    /// What the last action did.
    flash: String,
    /// The document opened in the workspace.
    doc: Option<Uuid>,
    /// An answer template (by its title, which is unique) for an action's message field.
    template: Option<(String, String)>,
    /// A note refused: why, and the words typed (kept for another try).
    note: Option<(String, String)>,
}

/// The message after an action, from a fixed list (the query names the action; it never
/// carries the words, so a crafted link shows nothing of its own).
fn done_words(done: &str, en: bool) -> String {
    let label = match done {
        "claim" => {
            return if en {
                "You now work this request.".into()
            } else {
                "この請求の担当になりました。".into()
            };
        }
        "note" => {
            return if en {
                "The note was saved.".into()
            } else {
                "メモを保存しました。".into()
            };
        }
        "" => return String::new(),
        name => action_form_label(name, en),
    };
    if label.is_empty() {
        String::new()
    } else if en {
        format!("Done: {label}.")
    } else {
        format!("「{label}」を記録しました。")
    }
}

/// The request page, with the reasons the last action was refused when there are any.
#[expect(
    clippy::too_many_arguments,
    reason = "the page, its errors, its form and its message"
)]
async fn request_page(
    state: &AppState,
    en: bool,
    who: &StaffIdentity,
    origin: &madoguchi_service::Origin,
    pid: Uuid,
    errors: Vec<crate::error::FieldError>,
    submitted: Vec<(String, String)>,
    view: PageView,
) -> Result<Response, PageError> {
    let now = Utc::now();
    let d = state.service.request_detail(pid, who, origin, now).await?;
    let today = jst_date(now);
    let kind = d.domain.kind;
    let by_post = madoguchi_service::email_of(&d.request).is_none();
    let actions: Vec<ActionForm> = available_events(&d.domain, &who.actor(), now)
        .into_iter()
        // Without an address a paper answer cannot turn electronic (its codes go by e-mail).
        .filter(|n| !(by_post && *n == "change_delivery"))
        .map(|n| ActionForm {
            next: is_next_step(&d.domain, n),
            ..action_form(n, en)
        })
        .collect();
    let minor_age = state.service.config().minor_age;
    let adult_subject_age = represented_adult_age(
        d.domain.requester,
        d.request.subject_birth_date,
        d.request.arrived_at,
        minor_age,
    );
    let answer = super::answer::AnswerView::new(
        kind,
        madoguchi_service::Service::answer_of(&d.request).as_ref(),
        en,
    );
    let answer = if submitted.is_empty() && !d.domain.state.is_terminal() {
        let (fields, from) = suggested_answer(state, &d.request, kind, en).await?;
        answer.with_suggestion(fields, from)
    } else {
        answer.with_submitted(submitted)
    };
    let gathering = state.service.gathering(&d.request, en).await?;
    let can_gather = who.role.can_work_requests()
        && d.domain.state == madoguchi_domain::State::InProgress
        && madoguchi_service::gather::gathers_for(kind)
        && state.service.datamap().await?.is_some();
    let can_package = can_gather && madoguchi_service::gather::packages_for(kind);
    let mut erasure_plans = Vec::new();
    for measure in [
        madoguchi_service::erasure::Measure::Erase,
        madoguchi_service::erasure::Measure::Suspend,
    ] {
        if let Some(plan) = state.service.erasure_plan(&d.request, measure, en).await? {
            erasure_plans.push(plan);
        }
    }
    let erasure = state.service.erasure(&d.request, en).await?;
    let stop_plan = state.service.stop_plan(&d.request, en).await?;
    let correction_targets = state.service.correction_targets(&d.request, en).await?;
    let corrections = state.service.corrections(&d.request, en).await?;
    let letters = state.service.letters(d.request.id).await?;
    let documents = state.service.documents(d.request.id).await?;
    let view_doc = view.doc.and_then(|doc| {
        documents
            .iter()
            .find(|d| d.pid == doc && !d.deleted)
            .cloned()
    });
    let notes = state.service.notes(d.request.id).await?;
    let settings = state.service.settings().await?;
    let templates = settings
        .templates
        .iter()
        .map(|t| (crate::pages::urlencode(&t.title), t.title.clone()))
        .collect();
    // Only an action on the page can take a template: a crafted `for` fills nothing. A
    // template is named by its title (unique), so one removed meanwhile fills nothing rather
    // than its neighbour.
    let prefill = view.template.and_then(|(title, for_action)| {
        let template = settings.templates.iter().find(|t| t.title == title)?;
        actions_offer(&actions, &for_action).then(|| {
            let due = madoguchi_domain::written_date(d.request.due_on, en);
            (
                for_action,
                template.fill(&d.request.number, &d.request.subject_name, &due),
            )
        })
    });
    let (note_error, note_text) = view.note.unwrap_or_default();
    // A request on the breach ground cites an incident (Art. 35(5)): the one it cites, or
    // the register to choose from.
    let breach_ground = d.request.ground.as_deref()
        == Some(madoguchi_domain::SuspensionGround::ReportableBreach.as_str());
    let cited_incident = state
        .service
        .incident_of_request(d.request.incident_id)
        .await?
        .map(|(pid, number)| (pid.to_string(), number));
    let open = madoguchi_domain::State::parse(&d.request.state).is_some_and(|s| !s.is_terminal());
    let incident_choices = if breach_ground && cited_incident.is_none() && open {
        state
            .service
            .citable_incidents()
            .await?
            .into_iter()
            .map(|(pid, number, aware_on)| {
                (
                    pid.to_string(),
                    format!(
                        "{number}（{}）",
                        madoguchi_domain::written_date(aware_on, en)
                    ),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let from_complaint = state
        .service
        .complaint_of_request(d.request.id)
        .await?
        .map(|(pid, number)| (pid.to_string(), number));
    let page = DetailPage {
        breach_ground,
        cited_incident,
        incident_choices,
        from_complaint,
        note_error,
        note_text,
        paused: paused_words(d.request.paused_since, en),
        view_doc,
        notes,
        templates,
        prefill,
        c: Chrome::new(who, en),
        correction_targets,
        corrections,
        gathering,
        can_gather,
        can_package,
        can_erase: who.role.can_work_requests(),
        erasure_plans,
        stop_plan,
        erasure,
        answer,
        errors,
        identity_method: d.domain.policy.identity_for(kind).label(en),
        adult_subject_age,
        minor_age,
        kind: kind_label(&d.request.kind, en),
        state: state_label(&d.request.state, en),
        arrived_on: madoguchi_domain::written_date(jst_date(d.request.arrived_at), en),
        badge: badge(d.request.due_on, today, d.domain.state.is_terminal()),
        fee: Yen(d.request.fee).to_string(),
        paid: Yen(d.request.paid).to_string(),
        due: d.domain.amount_due().0,
        assignee: d.assignee.unwrap_or_default(),
        duplicate: d.duplicate_of.map(|(p, n)| (p.to_string(), n)),
        actions,
        grounds: RefusalGround::ALL
            .into_iter()
            .filter(|g| g.applies_to(kind))
            .map(|g| {
                (
                    g.as_str().to_owned(),
                    format!(
                        "{} ({})",
                        if en { g.label_en() } else { g.label_ja() },
                        g.article()
                    ),
                )
            })
            .collect(),
        documents,
        payments: d.payments.iter().map(|p| PaymentRow::of(p, en)).collect(),
        mail: d.mail,
        letters,
        flash: view.flash,
        audit: d.audit,
        r: d.request,
    };
    let status = if page.errors.is_empty() && page.note_error.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)).into_response())
}

/// Whether the page offers this action with a message field.
fn actions_offer(actions: &[ActionForm], name: &str) -> bool {
    actions.iter().any(|a| a.name == name && a.text)
}

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
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let en = lang.en();
    let pid = request_pid(&pid)?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let (event, text, version) = event_from_fields(&fields).map_err(PageError::from)?;
    let version = version.ok_or_else(|| PageError::from(AppError::BadRequest("version".into())))?;
    let answer = match super::answer::answer_from_fields(&fields) {
        Ok(a) => a.filter(|_| event.name() == "complete"),
        Err(AppError::Validation(errors)) => {
            return request_page(
                &state,
                en,
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
    let done = super::answer::Action {
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
            let errors = vec![super::answer::field_error(&a, en)];
            return request_page(
                &state,
                en,
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
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    axum::Form(f): axum::Form<NoteForm>,
) -> Result<Response, PageError> {
    let en = lang.en();
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
            let message = if en {
                "Note: write the note (at most 4,000 characters)."
            } else {
                "メモ: 内容を入力してください（4,000文字以内）。"
            };
            let view = PageView {
                note: Some((message.to_owned(), f.text.clone())),
                ..PageView::default()
            };
            request_page(&state, en, &who, &origin, pid, Vec::new(), Vec::new(), view).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// A request's public id from the path; an id that is not one is a page not found.
fn request_pid(pid: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(pid).map_err(|_| PageError::from(AppError::NotFound))
}

/// Back to the request's page (at a section), after an action.
fn back_to(pid: Uuid, section: &str) -> Response {
    Redirect::to(&format!("/staff/requests/{pid}{section}")).into_response()
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
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let en = lang.en();
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
            let message = if en {
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
                en,
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

/// Assigns the selected requests to one officer (or nobody).
pub async fn assign_requests(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::from(AppError::BadRequest("form".into())))?;
    let pids: Vec<Uuid> = fields
        .iter()
        .filter(|(k, _)| k == "pid")
        .filter_map(|(_, v)| Uuid::parse_str(v).ok())
        .collect();
    let assignee = match fields
        .iter()
        .find(|(k, _)| k == "assignee")
        .map(|(_, v)| v.as_str())
    {
        Some("none") | None => None,
        Some(id) => Some(
            id.parse::<i64>()
                .map_err(|_| PageError::from(AppError::BadRequest("assignee".into())))?,
        ),
    };
    state
        .service
        .assign(&pids, assignee, &who, &origin, Utc::now())
        .await?;
    Ok(Redirect::to("/staff").into_response())
}

/// A due day as the queue shows it: the day, and for an open request the days left or over
/// (lateness in words, not colour only).
fn due_words(due: chrono::NaiveDate, today: chrono::NaiveDate, closed: bool, en: bool) -> String {
    let day = madoguchi_domain::written_date(due, en);
    if closed {
        return day;
    }
    let left = (due - today).num_days();
    match (left, en) {
        (0, false) => format!("{day}（本日）"),
        (0, true) => format!("{day} (today)"),
        (n, false) if n > 0 => format!("{day}（あと{n}日）"),
        (1, true) => format!("{day} (1 day left)"),
        (-1, true) => format!("{day} (1 day overdue)"),
        (n, true) if n > 0 => format!("{day} ({n} days left)"),
        (n, false) => format!("{day}（{}日超過）", -n),
        (n, true) => format!("{day} ({} days overdue)", -n),
    }
}

/// The Art. 35 answer's fields filled from what was carried out: done, the measure, what,
/// where, when, and the message to the subject.
fn remedy_fields(
    fields: &mut Vec<(String, String)>,
    carried: &madoguchi_service::erasure::ErasureProgress,
    measure: madoguchi_domain::answer::Measure,
    intro: &str,
    en: bool,
) {
    let what = carried.lines.join("\n");
    fields.push(("remedy".to_owned(), "done".to_owned()));
    fields.push(("measure".to_owned(), measure.as_str().to_owned()));
    fields.push(("what".to_owned(), what.clone()));
    fields.push((
        "systems".to_owned(),
        carried.changed_in.join(if en { ", " } else { "、" }),
    ));
    if let Some(day) = &carried.done_on {
        fields.push(("done_on".to_owned(), day.clone()));
    }
    fields.push(("text".to_owned(), format!("{intro}\n{what}")));
}

/// Art. 39: once the subject may sue and the request is still open, the queue says so (the
/// officer should answer before a court is asked to order it).
pub(crate) fn may_sue_words(
    from: chrono::NaiveDate,
    today: chrono::NaiveDate,
    closed: bool,
    en: bool,
) -> String {
    if closed || today < from {
        return String::new();
    }
    let day = madoguchi_domain::written_date(from, en);
    if en {
        format!("May sue since {day} (Art. 39)")
    } else {
        format!("{day}から提訴可能（法第39条）")
    }
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
