//! The complaints desk (苦情・相談, Art. 40): a person writes through the public form; the
//! office assigns, replies by mail, closes with a category and an outcome, or takes it up as
//! a request under Arts. 33–35 (`NewRequest::from_complaint`). The core says which change
//! applies in which state and when a first reply is due; each change is one transaction with
//! its entry on the `complaints` chain (numbers, states and categories only: the person and
//! the words are sealed on the rows) and its mail.

use chrono::{DateTime, NaiveDate, Utc};
use madoguchi_domain::EmailAddress;
use madoguchi_domain::complaint::{
    self as rules, Category, ComplaintAction, ComplaintKind, ComplaintState, Figures,
    MAX_MESSAGE_CHARS, Month, Outcome,
};
use madoguchi_domain::{self as domain, Lang, Mail};
use madoguchi_mail::MailContext;
use madoguchi_store::audit::Origin;
use madoguchi_store::complaints::{self, ComplaintWrite, NewComplaint};
pub use madoguchi_store::complaints::{Complaint, Message};
use madoguchi_store::entities::complaint;
use madoguchi_store::outbox::NewMessage;
use uuid::Uuid;

use crate::settings::Settings;
use crate::staff::{StaffIdentity, audit_entry};
use crate::{Service, ServiceError};

/// What a person sends through the desk's form, as typed.
#[derive(Debug, Clone, Default)]
pub struct ComplaintFiling {
    /// `complaint` or `consultation`.
    pub kind: String,
    /// Their name.
    pub name: String,
    /// Where to reply.
    pub email: String,
    /// A phone number (optional).
    pub phone: String,
    /// What they write.
    pub body: String,
    /// `ja` or `en`.
    pub lang: String,
}

/// The longest name or phone number taken, in characters.
const MAX_NAME_CHARS: usize = 100;

/// A field of the form that cannot be taken, and why (the page says it in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The form's field.
    pub field: &'static str,
    /// `required`, `invalid` or `too_long`.
    pub code: &'static str,
}

/// A complaint filing checked: every field the form refuses, or what is stored.
pub fn check_filing(f: &ComplaintFiling) -> Result<NewFiling, Vec<Refusal>> {
    let mut refused = Vec::new();
    let text = |field: &'static str, value: &str, max: usize, refused: &mut Vec<Refusal>| {
        match rules::clean_text(value, max) {
            Ok(v) => Some(v),
            Err(e) => {
                refused.push(Refusal {
                    field,
                    code: match e {
                        rules::TextError::Empty => "required",
                        rules::TextError::TooLong => "too_long",
                        rules::TextError::Control => "invalid",
                    },
                });
                None
            }
        }
    };
    let kind = ComplaintKind::parse(&f.kind);
    if kind.is_none() {
        refused.push(Refusal {
            field: "kind",
            code: "required",
        });
    }
    let name = text("name", &f.name, MAX_NAME_CHARS, &mut refused)
        .filter(|n| !n.contains('\n'))
        .or_else(|| {
            if !refused.iter().any(|r| r.field == "name") {
                refused.push(Refusal {
                    field: "name",
                    code: "invalid",
                });
            }
            None
        });
    let email = if f.email.trim().is_empty() {
        refused.push(Refusal {
            field: "email",
            code: "required",
        });
        None
    } else {
        EmailAddress::parse(&f.email)
            .map_err(|_| {
                refused.push(Refusal {
                    field: "email",
                    code: "invalid",
                })
            })
            .ok()
    };
    let phone = if f.phone.trim().is_empty() {
        None
    } else {
        domain::parse_phone(&f.phone)
            .map_err(|_| {
                refused.push(Refusal {
                    field: "phone",
                    code: "invalid",
                })
            })
            .ok()
    };
    let body = text("body", &f.body, MAX_MESSAGE_CHARS, &mut refused);
    match (kind, name, email, body) {
        (Some(kind), Some(name), Some(email), Some(body)) if refused.is_empty() => Ok(NewFiling {
            kind,
            name,
            email,
            phone,
            body,
            lang: Lang::parse(&f.lang),
        }),
        _ => Err(refused),
    }
}

/// A filing that passed [`check_filing`].
#[derive(Debug, Clone)]
pub struct NewFiling {
    kind: ComplaintKind,
    name: String,
    email: EmailAddress,
    phone: Option<String>,
    body: String,
    lang: Lang,
}

/// A complaint as the queue shows it (no personal data).
#[derive(Debug, Clone)]
pub struct QueueRow {
    /// The row.
    pub row: complaint::Model,
    /// Its kind.
    pub kind: ComplaintKind,
    /// Its state.
    pub state: ComplaintState,
    /// Its assignee's display name.
    pub assignee: String,
}

/// What an officer does to a complaint.
#[derive(Debug, Clone)]
pub enum Command {
    /// Assign to a colleague (by staff row), or unassign.
    Assign(Option<i64>),
    /// Reply to the person by mail.
    Reply(String),
    /// Write down what the person said another way (a mail to the desk, a call).
    Record(String),
    /// Close.
    Close(Category, Outcome),
    /// Reopen a closed one.
    Reopen,
}

/// The mail context's business fields (the signature), in a language.
pub(crate) fn business_context(settings: &Settings, lang: Lang) -> MailContext {
    MailContext {
        lang,
        business_name: settings.business.name.clone(),
        business_contact: settings.business.contact.clone(),
        business_phone: settings.branding.phone.clone(),
        business_hours: settings.branding.hours.clone(),
        privacy_url: settings.branding.privacy_url.clone(),
        brand_colour: settings.branding.colour.clone(),
        ..MailContext::default()
    }
}

fn message(mail: Mail, to: String, lang: Lang, ctx: MailContext) -> NewMessage {
    NewMessage {
        request_id: None,
        recipient: to,
        lang,
        template: mail.as_str().to_owned(),
        context: serde_json::to_value(ctx).expect("a mail context serialises"),
        by_post: false,
    }
}

impl Service {
    /// Takes one of the client's slots for the desk's form (the intake's hourly limit,
    /// counted apart from requests).
    pub async fn admit_complaint(
        &self,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<crate::limits::Admission, ServiceError> {
        self.admit_keyed("complaint", origin, now).await
    }

    /// Receives a complaint from the form: the person is told it arrived and when to expect
    /// a reply, the office that it is waiting; one transaction. Returns its public id.
    pub async fn receive_complaint(
        &self,
        filing: NewFiling,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Uuid, ServiceError> {
        let settings = self.settings().await?;
        let received_on = domain::jst_date(now);
        let reply_due = rules::reply_target(received_on);
        let kind = filing.kind;
        let lang = filing.lang;
        let en = lang.is_en();
        let person = filing.email.to_string();
        let name = filing.name.clone();
        let base_url = self.config().base_url.clone();
        let staff_address = settings.business.staff_address.clone();
        let (pid, _) = complaints::receive(
            self.db(),
            self.cipher(),
            NewComplaint {
                kind: kind.as_str().to_owned(),
                lang: lang.as_str().to_owned(),
                name: filing.name,
                email: person.clone(),
                phone: filing.phone,
                body: filing.body,
                received_on,
                reply_due,
            },
            |number| {
                audit_entry(
                    &domain::Actor::Subject,
                    "complaint.received",
                    vec![
                        ("number", number.to_owned()),
                        ("kind", kind.as_str().to_owned()),
                        ("reply_due", reply_due.to_string()),
                    ],
                )
            },
            |pid, number| {
                let to_person = MailContext {
                    recipient_name: name,
                    number: number.to_owned(),
                    kind_ja: kind.label(false).to_owned(),
                    kind_en: kind.label(true).to_owned(),
                    due_on: domain::written_date(reply_due, en),
                    ..business_context(&settings, lang)
                };
                let to_staff = MailContext {
                    recipient_name: "個人情報窓口ご担当者".into(),
                    number: number.to_owned(),
                    kind_ja: kind.label(false).to_owned(),
                    kind_en: kind.label(true).to_owned(),
                    due_on: domain::written_date(reply_due, false),
                    link: format!("{base_url}/staff/complaints/{pid}"),
                    ..business_context(&settings, Lang::Ja)
                };
                vec![
                    message(Mail::ComplaintReceived, person, lang, to_person),
                    message(Mail::StaffNewComplaint, staff_address, Lang::Ja, to_staff),
                ]
            },
            origin,
            self.mail_host(),
            now,
        )
        .await?;
        self.mail_wakeup.notify_one();
        Ok(pid)
    }

    /// The number and target day of a complaint just received (its "received" page: no
    /// personal data).
    pub async fn complaint_receipt(
        &self,
        pid: Uuid,
    ) -> Result<(String, NaiveDate, String), ServiceError> {
        let c = complaints::by_pid(self.db().conn(), self.cipher(), pid).await?;
        Ok((c.row.number, c.row.reply_due, c.row.lang))
    }

    /// The desk's queue: open complaints by their target day, then those closed in the
    /// last 30 days.
    pub async fn complaint_queue(&self, now: DateTime<Utc>) -> Result<Vec<QueueRow>, ServiceError> {
        complaints::queue(self.db().conn(), now - chrono::Duration::days(30))
            .await?
            .into_iter()
            .map(|(row, assignee)| {
                let kind =
                    ComplaintKind::parse(&row.kind).ok_or_else(|| corrupt(&row.number, "kind"))?;
                let state = ComplaintState::parse(&row.state)
                    .ok_or_else(|| corrupt(&row.number, "state"))?;
                Ok(QueueRow {
                    row,
                    kind,
                    state,
                    assignee,
                })
            })
            .collect()
    }

    /// One complaint, opened, with its messages.
    pub async fn complaint(&self, pid: Uuid) -> Result<Complaint, ServiceError> {
        Ok(complaints::by_pid(self.db().conn(), self.cipher(), pid).await?)
    }

    /// Applies an officer's change at the version they read: the core says whether it
    /// applies in the complaint's state; a stale version or a colleague's change first is a
    /// conflict.
    pub async fn act_on_complaint(
        &self,
        pid: Uuid,
        version: i32,
        command: Command,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if !who.role.can_work_requests() {
            return Err(ServiceError::Invalid("role"));
        }
        let current = complaints::by_pid(self.db().conn(), self.cipher(), pid).await?;
        let row = &current.row;
        let state =
            ComplaintState::parse(&row.state).ok_or_else(|| corrupt(&row.number, "state"))?;
        let replied = row.first_reply_at.is_some();
        let actor = who.actor();
        let number = ("number", row.number.clone());
        let (to, write, entry) = match command {
            Command::Assign(assignee) => {
                if let Some(id) = assignee
                    && !self.assignable_staff().await?.iter().any(|u| u.id == id)
                {
                    return Err(ServiceError::Invalid("assignee"));
                }
                if !state.is_open() {
                    return Err(refusal(state, row));
                }
                let to_whom = assignee.map(|a| a.to_string()).unwrap_or_default();
                (
                    state,
                    ComplaintWrite::Assign(assignee),
                    audit_entry(
                        &actor,
                        "complaint.assigned",
                        vec![number, ("assignee", to_whom)],
                    ),
                )
            }
            Command::Reply(text) => {
                let body = rules::clean_text(&text, MAX_MESSAGE_CHARS)
                    .map_err(|_| ServiceError::Invalid("reply"))?;
                let to = next(state, ComplaintAction::Reply, replied)
                    .map_err(|_| refusal(state, row))?;
                if row.purged_at.is_some() {
                    return Err(refusal(state, row));
                }
                let settings = self.settings().await?;
                let lang = Lang::parse(&row.lang);
                let ctx = MailContext {
                    recipient_name: current.name.clone(),
                    number: row.number.clone(),
                    message: body.clone(),
                    ..business_context(&settings, lang)
                };
                (
                    to,
                    ComplaintWrite::Reply {
                        author_id: Some(who.user_id),
                        body,
                        mail: message(Mail::ComplaintReply, current.email.clone(), lang, ctx),
                    },
                    audit_entry(&actor, "complaint.replied", vec![number]),
                )
            }
            Command::Record(text) => {
                let body = rules::clean_text(&text, MAX_MESSAGE_CHARS)
                    .map_err(|_| ServiceError::Invalid("reply"))?;
                if !state.is_open() {
                    return Err(refusal(state, row));
                }
                (
                    state,
                    ComplaintWrite::Record {
                        author_id: Some(who.user_id),
                        body,
                    },
                    audit_entry(&actor, "complaint.message_recorded", vec![number]),
                )
            }
            Command::Close(category, outcome) => (
                next(state, ComplaintAction::Close(category, outcome), replied)
                    .map_err(|_| refusal(state, row))?,
                ComplaintWrite::Close {
                    category: category.as_str().to_owned(),
                    outcome: outcome.as_str().to_owned(),
                },
                audit_entry(
                    &actor,
                    "complaint.closed",
                    vec![
                        number,
                        ("category", category.as_str().to_owned()),
                        ("outcome", outcome.as_str().to_owned()),
                    ],
                ),
            ),
            Command::Reopen => (
                next(state, ComplaintAction::Reopen, replied).map_err(|_| refusal(state, row))?,
                ComplaintWrite::Reopen,
                audit_entry(&actor, "complaint.reopened", vec![number]),
            ),
        };
        let mailed = matches!(write, ComplaintWrite::Reply { .. });
        complaints::change(
            self.db(),
            self.cipher(),
            pid,
            (version, &[state.as_str()], to.as_str()),
            write,
            entry,
            origin,
            self.mail_host(),
            now,
        )
        .await?;
        if mailed {
            self.mail_wakeup.notify_one();
        }
        Ok(())
    }

    /// The desk's figures for the month holding `month`, counted up to `today`.
    pub async fn complaint_figures(
        &self,
        month: NaiveDate,
        today: NaiveDate,
    ) -> Result<Month, ServiceError> {
        use chrono::{Datelike, TimeZone};
        let first = month.with_day(1).expect("day 1 exists");
        // The month starts at midnight in Japan (15:00 UTC the day before).
        let from = madoguchi_domain::policy::jst()
            .from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .expect("Japan has no daylight saving")
            .with_timezone(&Utc);
        let rows = complaints::figures(self.db().conn(), first, from).await?;
        let all: Vec<Figures> = rows
            .into_iter()
            .filter_map(|(kind, state, received_on, replied, closed, category)| {
                Some(Figures {
                    kind: ComplaintKind::parse(&kind)?,
                    state: ComplaintState::parse(&state)?,
                    received_on,
                    first_reply_on: replied.map(domain::jst_date),
                    closed_on: closed.map(domain::jst_date),
                    category: category.as_deref().and_then(Category::parse),
                })
            })
            .collect();
        Ok(rules::month(&all, month, today))
    }

    /// Complaints still awaiting a first reply whose target day is today or past, most
    /// urgent first.
    pub async fn complaints_due(&self, today: NaiveDate) -> Result<Vec<QueueRow>, ServiceError> {
        complaints::due_by(self.db().conn(), today)
            .await?
            .into_iter()
            .map(|row| {
                Ok(QueueRow {
                    kind: ComplaintKind::parse(&row.kind)
                        .ok_or_else(|| corrupt(&row.number, "kind"))?,
                    state: ComplaintState::Open,
                    assignee: String::new(),
                    row,
                })
            })
            .collect()
    }

    /// The digest's lines for [`Service::complaints_due`] (number, kind, target day).
    pub(crate) async fn complaint_due_lines(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<String>, ServiceError> {
        Ok(self
            .complaints_due(today)
            .await?
            .iter()
            .map(|r| {
                let late = if r.row.reply_due < today {
                    "  目安超過 / past target"
                } else {
                    ""
                };
                format!(
                    "{}  {}  {}{late}",
                    r.row.number,
                    r.kind.label(false),
                    domain::written_date(r.row.reply_due, false)
                )
            })
            .collect())
    }

    /// The conversion's write for a request filed from a complaint: refused unless the
    /// complaint can still be taken up (open; a reply or an assignment meanwhile does not
    /// matter, a closing or another conversion does).
    pub(crate) async fn conversion(
        &self,
        link: &ComplaintLink,
        actor: &domain::Actor,
    ) -> Result<madoguchi_store::change::Write, ServiceError> {
        let c = complaints::by_pid(self.db().conn(), self.cipher(), link.pid).await?;
        let state =
            ComplaintState::parse(&c.row.state).ok_or_else(|| corrupt(&c.row.number, "state"))?;
        next(
            state,
            ComplaintAction::Convert,
            c.row.first_reply_at.is_some(),
        )
        .map_err(|_| refusal(state, &c.row))?;
        Ok(madoguchi_store::change::Write::ConvertComplaint {
            complaint_id: c.row.id,
            entry: audit_entry(
                actor,
                "complaint.converted",
                vec![("number", c.row.number.clone())],
            ),
        })
    }

    /// Erases the personal data of complaints closed longer ago than the retention period
    /// (the same as requests'), each in its own transaction with its entry. Returns how many.
    pub async fn purge_closed_complaints(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let days = self.settings().await?.retention.records_days;
        let before = now - chrono::Duration::days(i64::from(days));
        let due = complaints::due_for_purge(self.db().conn(), before, 200).await?;
        let mut purged = 0;
        for (id, number) in due {
            let entry = audit_entry(
                &domain::Actor::System,
                "complaint.purged",
                vec![("number", number)],
            );
            match complaints::purge(self.db(), id, entry, &Origin::default(), now).await {
                Ok(()) => purged += 1,
                // Another instance purged it first, or it was reopened meanwhile.
                Err(madoguchi_store::StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(purged)
    }

    /// The complaint a request was taken up from: its public id and number.
    pub async fn complaint_of_request(
        &self,
        request_id: i64,
    ) -> Result<Option<(Uuid, String)>, ServiceError> {
        Ok(complaints::of_request(self.db().conn(), request_id).await?)
    }
}

/// A request filed from a complaint: which one.
#[derive(Debug, Clone, Copy)]
pub struct ComplaintLink {
    /// The complaint's public id.
    pub pid: Uuid,
}

fn next(
    state: ComplaintState,
    action: ComplaintAction,
    replied: bool,
) -> Result<ComplaintState, rules::ComplaintRefusal> {
    rules::next(state, action, replied)
}

/// Why nothing more can be done on a complaint, as the page says it: taken up as a request,
/// its personal data erased, or closed (or, for a reopen, not closed).
fn refusal(state: ComplaintState, row: &complaint::Model) -> ServiceError {
    ServiceError::Invalid(if row.purged_at.is_some() {
        "purged"
    } else if state == ComplaintState::Converted {
        "converted"
    } else if state.is_open() {
        "not_closed"
    } else {
        "not_open"
    })
}

fn corrupt(number: &str, column: &str) -> ServiceError {
    ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
        "complaint {number}: {column}"
    )))
}
