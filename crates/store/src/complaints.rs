//! The complaints desk's rows (苦情・相談, Art. 40): a complaint and its messages, written in
//! one transaction with their entry on the `complaints` audit chain and the mail the change
//! sends (the service builds both); changed only at the version read and from the states
//! the core allows (two officers at once: one wins, the other is told). The person's name,
//! address and phone, and every message, are sealed.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::audit::{NewEntry, Origin};
use crate::entities::{complaint, complaint_message, staff_user};
use crate::outbox::NewMessage;
use crate::sealed::RowCipher;
use crate::{Db, StoreError};

/// The audit chain of the complaints desk.
pub const CHAIN: &str = "complaints";

fn aad(pid: Uuid, column: &str) -> String {
    format!("complaint:{pid}:{column}")
}

fn message_aad(pid: Uuid) -> String {
    format!("complaint_message:{pid}")
}

/// A complaint as it arrives.
#[derive(Debug, Clone)]
pub struct NewComplaint {
    /// `complaint` or `consultation`.
    pub kind: String,
    /// `ja` or `en`: the language to reply in.
    pub lang: String,
    /// The person's name.
    pub name: String,
    /// Where replies go.
    pub email: String,
    /// A phone number, if given.
    pub phone: Option<String>,
    /// What they wrote.
    pub body: String,
    /// The day (in Japan) it was received.
    pub received_on: NaiveDate,
    /// The day a first reply is aimed at.
    pub reply_due: NaiveDate,
}

/// A message of a complaint, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// From the office (a reply), or from the person.
    pub outgoing: bool,
    /// The officer who wrote it (display name; empty for the person or a removed account).
    pub author: String,
    /// What it says.
    pub body: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A complaint as its page shows it: the row, the person opened, the messages oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// The row (sealed columns as stored).
    pub row: complaint::Model,
    /// The person's name (empty once purged).
    pub name: String,
    /// Their address.
    pub email: String,
    /// Their phone, if given.
    pub phone: Option<String>,
    /// The messages.
    pub messages: Vec<Message>,
    /// The assignee's display name.
    pub assignee: String,
    /// The number of the request it became, if it did.
    pub request_number: Option<String>,
}

/// Receives a complaint: its number from the year's counter, the row and its first message
/// sealed, its entry and its mail, in one transaction. Returns its public id and number.
#[expect(
    clippy::too_many_arguments,
    reason = "the complaint, its entry, its mail and the commit's context"
)]
pub async fn receive(
    db: &Db,
    cipher: &RowCipher,
    new: NewComplaint,
    entry: impl FnOnce(&str) -> NewEntry,
    mail: impl FnOnce(Uuid, &str) -> Vec<NewMessage>,
    origin: &Origin,
    mail_host: &str,
    now: DateTime<Utc>,
) -> Result<(Uuid, String), StoreError> {
    let at = now.trunc_subsecs(6);
    let tx = db.begin_write().await?;
    let year = new.received_on.format("%Y").to_string();
    let n = crate::counters::bump(&tx, &format!("complaint_number_{year}")).await?;
    let number = format!("C-{year}-{n:04}");
    let pid = Uuid::new_v4();
    let inserted = complaint::Entity::insert(complaint::ActiveModel {
        pid: Set(pid),
        number: Set(number.clone()),
        kind: Set(new.kind),
        state: Set("open".to_owned()),
        lang: Set(new.lang),
        name: Set(cipher.seal(&aad(pid, "name"), &new.name)),
        email: Set(cipher.seal(&aad(pid, "email"), &new.email)),
        phone: Set(new.phone.map(|p| cipher.seal(&aad(pid, "phone"), &p))),
        assignee_id: Set(None),
        received_on: Set(new.received_on),
        reply_due: Set(new.reply_due),
        first_reply_at: Set(None),
        closed_at: Set(None),
        category: Set(None),
        outcome: Set(None),
        request_id: Set(None),
        purged_at: Set(None),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    })
    .exec(&tx)
    .await?;
    crate::change::record_office(&tx, CHAIN, &[entry(&number)], origin, now).await?;
    // The first mail is the person's receipt: it is kept with their message (and deleted
    // with it at the end of retention).
    let ids = crate::outbox::enqueue(&tx, cipher, mail(pid, &number), mail_host, now).await?;
    let message = Incoming {
        author_id: None,
        body: new.body,
        message_id: ids.into_iter().next(),
    };
    insert_message(&tx, cipher, inserted.last_insert_id, false, message, at).await?;
    tx.commit().await?;
    Ok((pid, number))
}

/// A message to store: who wrote it down, what it says, the mail that carried it.
struct Incoming {
    author_id: Option<i64>,
    body: String,
    message_id: Option<String>,
}

async fn insert_message<C: ConnectionTrait>(
    tx: &C,
    cipher: &RowCipher,
    complaint_id: i64,
    outgoing: bool,
    m: Incoming,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let pid = Uuid::new_v4();
    complaint_message::Entity::insert(complaint_message::ActiveModel {
        pid: Set(pid),
        complaint_id: Set(complaint_id),
        outgoing: Set(outgoing),
        author_id: Set(m.author_id),
        body: Set(cipher.seal(&message_aad(pid), &m.body)),
        message_id: Set(m.message_id),
        created_at: Set(at),
        ..Default::default()
    })
    .exec(tx)
    .await?;
    Ok(())
}

/// The queue: every complaint still open (by its target day, none left out), then those
/// closed or converted since `since`, newest first (at most 200). Reads no sealed column.
pub async fn queue<C: ConnectionTrait>(
    db: &C,
    since: DateTime<Utc>,
) -> Result<Vec<(complaint::Model, String)>, StoreError> {
    use complaint::Column as C;
    let mut rows = complaint::Entity::find()
        .filter(C::State.is_in(["open", "replied"]))
        .order_by_asc(C::ReplyDue)
        .order_by_asc(C::Id)
        .all(db)
        .await?;
    rows.extend(
        complaint::Entity::find()
            .filter(C::State.is_in(["closed", "converted"]))
            .filter(C::ClosedAt.gte(since.trunc_subsecs(6)))
            .order_by_desc(C::ClosedAt)
            .limit(200)
            .all(db)
            .await?,
    );
    let names = staff_names(db, rows.iter().filter_map(|r| r.assignee_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let name = name_of(&names, r.assignee_id);
            (r, name)
        })
        .collect())
}

/// Complaints awaiting a first reply whose target day is `day` or before, most urgent first.
pub async fn due_by<C: ConnectionTrait>(
    db: &C,
    day: NaiveDate,
) -> Result<Vec<complaint::Model>, StoreError> {
    use complaint::Column as C;
    Ok(complaint::Entity::find()
        .filter(C::State.eq("open"))
        .filter(C::ReplyDue.lte(day))
        .order_by_asc(C::ReplyDue)
        .order_by_asc(C::Id)
        .all(db)
        .await?)
}

/// What the monthly figures read of each complaint (no sealed column): kind, state, day
/// received, first reply and close, category.
pub type FigureRow = (
    String,
    String,
    NaiveDate,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
);

/// The figures' columns of every complaint received since `from`, or still open then.
pub async fn figures<C: ConnectionTrait>(
    db: &C,
    from: NaiveDate,
    from_instant: DateTime<Utc>,
) -> Result<Vec<FigureRow>, StoreError> {
    use complaint::Column as C;
    Ok(complaint::Entity::find()
        .select_only()
        .column(C::Kind)
        .column(C::State)
        .column(C::ReceivedOn)
        .column(C::FirstReplyAt)
        .column(C::ClosedAt)
        .column(C::Category)
        .filter(
            C::ReceivedOn
                .gte(from)
                .or(C::ClosedAt.is_null())
                // Reopened: open now, its first closing kept.
                .or(C::State.is_in(["open", "replied"]))
                .or(C::ClosedAt.gte(from_instant.trunc_subsecs(6))),
        )
        .into_tuple()
        .all(db)
        .await?)
}

async fn staff_names<C: ConnectionTrait>(
    db: &C,
    ids: Vec<i64>,
) -> Result<Vec<(i64, String)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(staff_user::Entity::find()
        .select_only()
        .column(staff_user::Column::Id)
        .column(staff_user::Column::Name)
        .filter(staff_user::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?)
}

fn name_of(names: &[(i64, String)], id: Option<i64>) -> String {
    id.and_then(|a| names.iter().find(|(i, _)| *i == a))
        .map(|(_, n)| n.clone())
        .unwrap_or_default()
}

/// One complaint, opened, with its messages.
pub async fn by_pid<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    pid: Uuid,
) -> Result<Complaint, StoreError> {
    let row = complaint::Entity::find()
        .filter(complaint::Column::Pid.eq(pid))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    let messages = complaint_message::Entity::find()
        .filter(complaint_message::Column::ComplaintId.eq(row.id))
        .order_by_asc(complaint_message::Column::Id)
        .all(db)
        .await?;
    let mut ids: Vec<i64> = messages.iter().filter_map(|m| m.author_id).collect();
    ids.extend(row.assignee_id);
    let names = staff_names(db, ids).await?;
    let purged = row.purged_at.is_some();
    let open = |column: &str, stored: &str| -> Result<String, StoreError> {
        if purged {
            Ok(String::new())
        } else {
            cipher.open(&aad(row.pid, column), stored)
        }
    };
    let messages = messages
        .into_iter()
        .map(|m| {
            Ok(Message {
                outgoing: m.outgoing,
                author: name_of(&names, m.author_id),
                body: if purged {
                    String::new()
                } else {
                    cipher.open(&message_aad(m.pid), &m.body)?
                },
                at: m.created_at,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let request_number = match row.request_id {
        Some(id) => {
            crate::entities::request::Entity::find_by_id(id)
                .select_only()
                .column(crate::entities::request::Column::Number)
                .into_tuple::<String>()
                .one(db)
                .await?
        }
        None => None,
    };
    Ok(Complaint {
        name: open("name", &row.name)?,
        email: open("email", &row.email)?,
        phone: match &row.phone {
            Some(p) => Some(open("phone", p)?),
            None => None,
        },
        messages,
        assignee: name_of(&names, row.assignee_id),
        request_number,
        row,
    })
}

/// What a change does to the row (the state it leads to is the core's, passed beside it).
#[derive(Debug, Clone)]
pub enum ComplaintWrite {
    /// A new assignee (none: unassigned).
    Assign(Option<i64>),
    /// An officer's reply: stored sealed, and mailed through `mail` in the same transaction.
    Reply {
        /// The officer's staff row.
        author_id: Option<i64>,
        /// What it says.
        body: String,
        /// The mail to the person.
        mail: NewMessage,
    },
    /// A message from the person that reached the office another way (a mail to the desk, a
    /// call), written down by an officer: stored sealed, no mail.
    Record {
        /// The officer's staff row.
        author_id: Option<i64>,
        /// What the person said.
        body: String,
    },
    /// Closed with a category and an outcome.
    Close {
        /// The category's stable spelling.
        category: String,
        /// The outcome's stable spelling.
        outcome: String,
    },
    /// Opened again.
    Reopen,
}

/// Applies a change with its entry in one transaction; `Conflict` unless the row is still at
/// `version` and in `from`.
#[expect(
    clippy::too_many_arguments,
    reason = "the row, its version and state, the change, its entry and the commit's context"
)]
pub async fn change(
    db: &Db,
    cipher: &RowCipher,
    pid: Uuid,
    (version, from, to): (i32, &[&str], &str),
    write: ComplaintWrite,
    entry: NewEntry,
    origin: &Origin,
    mail_host: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use complaint::Column as C;
    let at = now.trunc_subsecs(6);
    let tx = db.begin_write().await?;
    let row = complaint::Entity::find()
        .filter(C::Pid.eq(pid))
        .one(&tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut update = complaint::Entity::update_many()
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(at))
        .col_expr(C::State, Expr::value(to))
        .filter(C::Id.eq(row.id))
        .filter(C::Version.eq(version))
        .filter(C::State.is_in(from.iter().copied()))
        .filter(C::PurgedAt.is_null());
    // A reply: its mail, and the message kept with the mail's id.
    let mut reply = None;
    match write {
        ComplaintWrite::Assign(to) => update = update.col_expr(C::AssigneeId, Expr::value(to)),
        ComplaintWrite::Reply {
            author_id,
            body,
            mail: m,
        } => {
            update = update.col_expr(
                C::FirstReplyAt,
                Expr::value(row.first_reply_at.unwrap_or(at)),
            );
            reply = Some((m, author_id, body));
        }
        ComplaintWrite::Record { author_id, body } => {
            let m = Incoming {
                author_id,
                body,
                message_id: None,
            };
            insert_message(&tx, cipher, row.id, false, m, at).await?;
        }
        ComplaintWrite::Close { category, outcome } => {
            update = update
                .col_expr(C::ClosedAt, Expr::value(Some(at)))
                .col_expr(C::Category, Expr::value(Some(category)))
                .col_expr(C::Outcome, Expr::value(Some(outcome)));
        }
        // The first closing stays as it was (the month it fell in keeps its figures); the
        // state says it is open again, and closing again records the new day.
        ComplaintWrite::Reopen => {}
    }
    if update.exec(&tx).await?.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    crate::change::record_office(&tx, CHAIN, &[entry], origin, now).await?;
    if let Some((mail, author_id, body)) = reply {
        let ids = crate::outbox::enqueue(&tx, cipher, vec![mail], mail_host, now).await?;
        let m = Incoming {
            author_id,
            body,
            message_id: ids.into_iter().next(),
        };
        insert_message(&tx, cipher, row.id, true, m, at).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Marks a complaint taken up as the request `request_id`, in the transaction that files the
/// request (refused unless still open: a reply or an assignment meanwhile does not stop it,
/// a closing or another conversion does), with its entry on the desk's chain.
pub(crate) async fn convert<C: ConnectionTrait>(
    tx: &C,
    complaint_id: i64,
    request_id: i64,
    entry: NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use complaint::Column as C;
    let at = now.trunc_subsecs(6);
    let changed = complaint::Entity::update_many()
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(at))
        .col_expr(C::State, Expr::value("converted"))
        .col_expr(C::ClosedAt, Expr::value(Some(at)))
        .col_expr(C::RequestId, Expr::value(Some(request_id)))
        .filter(C::Id.eq(complaint_id))
        .filter(C::State.is_in(["open", "replied"]))
        .filter(C::PurgedAt.is_null())
        .exec(tx)
        .await?;
    if changed.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    crate::change::record_office(tx, CHAIN, &[entry], origin, now).await
}

/// The complaint a request was taken up from (its number), if any.
pub async fn of_request<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Option<(Uuid, String)>, StoreError> {
    Ok(complaint::Entity::find()
        .select_only()
        .column(complaint::Column::Pid)
        .column(complaint::Column::Number)
        .filter(complaint::Column::RequestId.eq(request_id))
        .into_tuple()
        .one(db)
        .await?)
}

/// Re-seals every complaint's columns and messages not sealed under the current key;
/// returns how many rows changed (one changed meanwhile is left for the next run).
pub async fn reseal_all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    let mut changed = 0;
    let mut after = 0_i64;
    loop {
        let rows = complaint::Entity::find()
            .filter(complaint::Column::Id.gt(after))
            .filter(complaint::Column::PurgedAt.is_null())
            .order_by_asc(complaint::Column::Id)
            .limit(200)
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in rows {
            let stale = !cipher.is_current(&row.name)
                || !cipher.is_current(&row.email)
                || row.phone.as_deref().is_some_and(|p| !cipher.is_current(p));
            if !stale {
                continue;
            }
            let again = |column: &str, stored: &str| -> Result<String, StoreError> {
                let a = aad(row.pid, column);
                Ok(cipher.seal(&a, &cipher.open(&a, stored)?))
            };
            let phone = match &row.phone {
                Some(p) => Some(again("phone", p)?),
                None => None,
            };
            let r = complaint::Entity::update_many()
                .col_expr(
                    complaint::Column::Name,
                    Expr::value(again("name", &row.name)?),
                )
                .col_expr(
                    complaint::Column::Email,
                    Expr::value(again("email", &row.email)?),
                )
                .col_expr(complaint::Column::Phone, Expr::value(phone))
                .filter(complaint::Column::Id.eq(row.id))
                .filter(complaint::Column::Name.eq(row.name))
                .filter(complaint::Column::Email.eq(row.email))
                .exec(db)
                .await?;
            changed += r.rows_affected as usize;
        }
    }
    let mut after = 0_i64;
    loop {
        let rows = complaint_message::Entity::find()
            .filter(complaint_message::Column::Id.gt(after))
            .order_by_asc(complaint_message::Column::Id)
            .limit(200)
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for m in rows {
            if m.body.is_empty() || cipher.is_current(&m.body) {
                continue;
            }
            let a = message_aad(m.pid);
            let r = complaint_message::Entity::update_many()
                .col_expr(
                    complaint_message::Column::Body,
                    Expr::value(cipher.seal(&a, &cipher.open(&a, &m.body)?)),
                )
                .filter(complaint_message::Column::Id.eq(m.id))
                .filter(complaint_message::Column::Body.eq(m.body))
                .exec(db)
                .await?;
            changed += r.rows_affected as usize;
        }
    }
    Ok(changed)
}

/// Closed (or converted) complaints whose retention ended before `before`, oldest first.
pub async fn due_for_purge<C: ConnectionTrait>(
    db: &C,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(i64, String)>, StoreError> {
    use complaint::Column as C;
    Ok(complaint::Entity::find()
        .select_only()
        .column(C::Id)
        .column(C::Number)
        .filter(C::State.is_in(["closed", "converted"]))
        .filter(C::ClosedAt.lt(before.trunc_subsecs(6)))
        .filter(C::PurgedAt.is_null())
        .order_by_asc(C::ClosedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// Erases a closed complaint's personal data at the end of retention (Art. 22): the person,
/// every message, and the mail that carried them; its number, kind, dates, category and
/// outcome stay for the figures. Refused (`Conflict`) unless still closed and not purged.
pub async fn purge(
    db: &Db,
    id: i64,
    entry: NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use complaint::Column as C;
    let at = now.trunc_subsecs(6);
    let tx = db.begin_write().await?;
    let changed = complaint::Entity::update_many()
        .col_expr(C::Name, Expr::value(""))
        .col_expr(C::Email, Expr::value(""))
        .col_expr(C::Phone, Expr::value(Option::<String>::None))
        .col_expr(C::PurgedAt, Expr::value(Some(at)))
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .filter(C::Id.eq(id))
        .filter(C::State.is_in(["closed", "converted"]))
        .filter(C::PurgedAt.is_null())
        .exec(&tx)
        .await?;
    if changed.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    let carried: Vec<Option<String>> = complaint_message::Entity::find()
        .select_only()
        .column(complaint_message::Column::MessageId)
        .filter(complaint_message::Column::ComplaintId.eq(id))
        .into_tuple()
        .all(&tx)
        .await?;
    let carried: Vec<String> = carried.into_iter().flatten().collect();
    if !carried.is_empty() {
        crate::entities::outbox::Entity::delete_many()
            .filter(crate::entities::outbox::Column::MessageId.is_in(carried))
            .exec(&tx)
            .await?;
    }
    complaint_message::Entity::update_many()
        .col_expr(complaint_message::Column::Body, Expr::value(""))
        .filter(complaint_message::Column::ComplaintId.eq(id))
        .exec(&tx)
        .await?;
    crate::change::record_office(&tx, CHAIN, &[entry], origin, now).await?;
    tx.commit().await?;
    Ok(())
}
