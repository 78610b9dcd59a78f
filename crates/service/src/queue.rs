//! The officer's queue: filters, search, keyset pagination by due date, counts, assignment,
//! and what the detail page shows.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use madoguchi_domain::{self as domain, Jurisdiction, RequestKind, State};
use madoguchi_store::audit::{self, Origin};
use madoguchi_store::change::{Change, Update};
use madoguchi_store::entities::{audit_entry, outbox, request, staff_user};
use madoguchi_store::requests;
use madoguchi_store::sea_orm::{
    ColumnTrait, Condition, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::staff::StaffIdentity;
use crate::{Service, ServiceError};

/// Whose requests to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    /// Assigned to nobody.
    Nobody,
    /// Assigned to this staff row.
    User(i64),
}

/// The queue's filters. The default shows every open request, most urgent first.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// One state only.
    pub state: Option<State>,
    /// One kind only.
    pub kind: Option<RequestKind>,
    /// One jurisdiction only.
    pub jurisdiction: Option<Jurisdiction>,
    /// Assignment.
    pub assignee: Option<Assignee>,
    /// Due within this many days (includes overdue).
    pub due_within_days: Option<u32>,
    /// Only overdue requests.
    pub overdue: bool,
    /// Only requests the subject may already sue over (Art. 39).
    pub may_sue: bool,
    /// Only requests waiting for the subject.
    pub awaiting_subject: bool,
    /// Include closed requests.
    pub include_closed: bool,
    /// A request number (or its tail) or an exact e-mail address.
    pub search: Option<String>,
    /// Keyset cursor: the last row of the previous page.
    pub after: Option<(NaiveDate, i64)>,
    /// Page size.
    pub limit: u64,
}

/// One page of the queue.
#[derive(Debug, Clone)]
pub struct QueuePage {
    /// The rows.
    pub rows: Vec<request::Model>,
    /// Cursor for the next page, if there is one.
    pub next: Option<(NaiveDate, i64)>,
}

/// Encodes a cursor for a URL.
pub fn cursor_to_string(c: (NaiveDate, i64)) -> String {
    format!("{}_{}", c.0, c.1)
}

/// Parses [`cursor_to_string`].
pub fn cursor_from_str(s: &str) -> Option<(NaiveDate, i64)> {
    let (d, id) = s.split_once('_')?;
    Some((d.parse().ok()?, id.parse().ok()?))
}

fn states(pred: impl Fn(State) -> bool) -> Vec<&'static str> {
    State::ALL
        .into_iter()
        .filter(|s| pred(*s))
        .map(State::as_str)
        .collect()
}

/// Everything the detail page shows about a request.
#[derive(Debug, Clone)]
pub struct RequestDetail {
    /// The row (personal data included: reading it is audited).
    pub request: request::Model,
    /// The lifecycle view.
    pub domain: domain::Request,
    /// Timeline.
    pub audit: Vec<audit_entry::Model>,
    /// Payments and refunds.
    pub payments: Vec<madoguchi_store::ledger::PaymentLine>,
    /// Mail sent or queued.
    pub mail: Vec<outbox::Model>,
    /// Number of the open request this may duplicate.
    pub duplicate_of: Option<(Uuid, String)>,
    /// Assignee's name.
    pub assignee: Option<String>,
}

#[derive(Debug, FromQueryResult)]
struct StateCount {
    state: String,
    n: i64,
}

impl Service {
    /// How many requests the filter matches, however many pages they fill (the dashboard's
    /// figures: a page stops at 200).
    pub async fn queue_count(
        &self,
        f: &QueueFilter,
        today: NaiveDate,
    ) -> Result<u64, ServiceError> {
        use madoguchi_store::sea_orm::PaginatorTrait;
        Ok(request::Entity::find()
            .filter(self.queue_condition(f, today))
            .count(self.db().conn())
            .await?)
    }

    /// One page of the queue, sorted by due date then id.
    pub async fn queue(
        &self,
        f: &QueueFilter,
        today: NaiveDate,
    ) -> Result<QueuePage, ServiceError> {
        let cond = self.queue_condition(f, today);
        let limit = f.limit.clamp(1, 200);
        let mut rows = request::Entity::find()
            .filter(cond)
            .order_by_asc(request::Column::DueOn)
            .order_by_asc(request::Column::Id)
            .limit(limit + 1)
            .all(self.db().conn())
            .await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| (r.due_on, r.id))
        } else {
            None
        };
        let rows = madoguchi_store::requests::open_all(self.cipher(), rows)?;
        Ok(QueuePage { rows, next })
    }

    /// The filter as a condition on the requests table.
    fn queue_condition(&self, f: &QueueFilter, today: NaiveDate) -> Condition {
        let mut cond = Condition::all();
        if let Some(s) = f.state {
            cond = cond.add(request::Column::State.eq(s.as_str()));
        } else if f.awaiting_subject {
            cond = cond.add(request::Column::State.is_in(states(State::awaits_subject)));
        } else if !f.include_closed {
            cond = cond.add(madoguchi_store::requests::open_condition());
        }
        if let Some(k) = f.kind {
            cond = cond.add(request::Column::Kind.eq(k.as_str()));
        }
        if let Some(j) = f.jurisdiction {
            cond = cond.add(request::Column::Jurisdiction.eq(j.as_str()));
        }
        match f.assignee {
            Some(Assignee::Nobody) => cond = cond.add(request::Column::AssigneeId.is_null()),
            Some(Assignee::User(id)) => cond = cond.add(request::Column::AssigneeId.eq(id)),
            None => {}
        }
        if f.may_sue {
            cond = cond.add(request::Column::MaySueFrom.lte(today));
        }
        if f.overdue {
            cond = cond.add(request::Column::DueOn.lt(today));
        } else if let Some(days) = f.due_within_days {
            cond = cond.add(request::Column::DueOn.lte(today + Duration::days(i64::from(days))));
        }
        if let Some(q) = f.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let mut any = Condition::any()
                .add(request::Column::Number.eq(q.to_uppercase()))
                // By the address's blind index: the table holds no address to compare with.
                .add(
                    request::Column::EmailNorm.eq(self.cipher().email_index(
                        &madoguchi_domain::EmailAddress::parse(q)
                            .map_or_else(|_| q.to_lowercase(), |e| e.normalized()),
                    )),
                );
            if q.len() <= 12 && q.chars().all(|c| c.is_ascii_digit()) {
                // "123" finds R-2026-000123: exact numbers for recent years, so the unique
                // index answers instead of a scan of every number.
                use chrono::Datelike;
                let year = today.year();
                let numbers: Vec<String> = (year - 3..=year + 1)
                    .flat_map(|y| [format!("R-{y}-{q:0>6}"), format!("R-{y}-{q}")])
                    .collect();
                any = any.add(request::Column::Number.is_in(numbers));
            }
            cond = cond.add(any);
        }
        if let Some((d, id)) = f.after {
            cond = cond.add(
                Condition::any().add(request::Column::DueOn.gt(d)).add(
                    Condition::all()
                        .add(request::Column::DueOn.eq(d))
                        .add(request::Column::Id.gt(id)),
                ),
            );
        }
        cond
    }

    /// How many requests are in each state.
    pub async fn state_counts(&self) -> Result<Vec<(State, i64)>, ServiceError> {
        let rows = request::Entity::find()
            .select_only()
            .column(request::Column::State)
            .column_as(request::Column::Id.count(), "n")
            .group_by(request::Column::State)
            .into_model::<StateCount>()
            .all(self.db().conn())
            .await?;
        let mut out: Vec<(State, i64)> = rows
            .into_iter()
            .filter_map(|r| State::parse(&r.state).map(|s| (s, r.n)))
            .collect();
        out.sort_by_key(|(s, _)| *s);
        Ok(out)
    }

    /// The detail page's data. Records that `who` viewed the subject's data.
    pub async fn request_detail(
        &self,
        pid: Uuid,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<RequestDetail, ServiceError> {
        let view = domain::Event::Record(domain::AuditOnly::Viewed {
            target: "details".into(),
        });
        self.act(
            pid,
            None,
            &view,
            &who.actor(),
            &crate::EventText::default(),
            origin,
            now,
        )
        .await?;
        let conn = self.db().conn();
        let request = requests::find_by_pid(conn, &self.cipher, pid).await?;
        let domain = requests::to_domain(&request)?;
        let audit = audit::for_request(conn, pid).await?;
        let payments = madoguchi_store::ledger::for_request(conn, request.id).await?;
        let mail = madoguchi_store::outbox::for_request(conn, &self.cipher, request.id).await?;
        let duplicate_of = match request.duplicate_of {
            Some(id) => requests::find_by_id(conn, &self.cipher, id)
                .await
                .ok()
                .map(|d| (d.pid, d.number)),
            None => None,
        };
        let assignee = match request.assignee_id {
            Some(id) => staff_user::Entity::find_by_id(id)
                .one(conn)
                .await?
                .map(|u| u.name),
            None => None,
        };
        Ok(RequestDetail {
            request,
            domain,
            audit,
            payments,
            mail,
            duplicate_of,
            assignee,
        })
    }

    /// Assigns requests (or unassigns with `None`). Each assignment is on the request's trail.
    pub async fn assign(
        &self,
        pids: &[Uuid],
        assignee: Option<i64>,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        if let Some(id) = assignee {
            let user = staff_user::Entity::find_by_id(id)
                .one(self.db().conn())
                .await?
                .ok_or(ServiceError::Invalid("assignee"))?;
            let can_work =
                domain::Role::parse(&user.role).is_some_and(domain::Role::can_work_requests);
            if user.disabled || !can_work {
                return Err(ServiceError::Invalid("assignee"));
            }
        }
        let mut done = 0;
        for pid in pids {
            for attempt in 0..5 {
                let row = requests::find_by_pid(self.db().conn(), &self.cipher, *pid).await?;
                // The entry comes from the core like every other (who may assign is its rule).
                let actor = who.actor();
                let effects = domain::apply(
                    &requests::to_domain(&row)?,
                    &domain::Event::Record(domain::AuditOnly::Assigned { assignee }),
                    &actor,
                    now,
                )?
                .effects;
                let change = Change {
                    update: Update::Assignee {
                        current: &row,
                        assignee,
                    },
                    entries: crate::audit_entries(&effects, &actor, None),
                    writes: Vec::new(),
                    mail: Vec::new(),
                };
                match self.commit_change(change, origin, now).await {
                    Ok(_) => {
                        done += 1;
                        break;
                    }
                    Err(ServiceError::Conflict) if attempt < 4 => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(done)
    }

    /// Staff who can be assigned work.
    pub async fn assignable_staff(&self) -> Result<Vec<staff_user::Model>, ServiceError> {
        Ok(staff_user::Entity::find()
            .filter(staff_user::Column::Disabled.eq(false))
            .filter(staff_user::Column::Role.is_in(["admin", "officer"]))
            .order_by_asc(staff_user::Column::Name)
            .all(self.db().conn())
            .await?)
    }
}

/// A closed request, for statistics.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ClosedRow {
    /// Kind.
    pub kind: String,
    /// Final state.
    pub state: String,
    /// Arrival.
    pub arrived_at: DateTime<Utc>,
    /// Closing.
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, FromQueryResult)]
struct KindCount {
    kind: String,
    n: i64,
}

impl Service {
    /// Open requests per kind.
    pub async fn open_by_kind(&self) -> Result<Vec<(RequestKind, i64)>, ServiceError> {
        let rows = request::Entity::find()
            .select_only()
            .column(request::Column::Kind)
            .column_as(request::Column::Id.count(), "n")
            .filter(request::Column::State.is_in(states(|s| !s.is_terminal())))
            .group_by(request::Column::Kind)
            .into_model::<KindCount>()
            .all(self.db().conn())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| RequestKind::parse(&r.kind).map(|k| (k, r.n)))
            .collect())
    }

    /// Requests closed since `since`, for close-time statistics.
    pub async fn closed_since(&self, since: DateTime<Utc>) -> Result<Vec<ClosedRow>, ServiceError> {
        Ok(request::Entity::find()
            .select_only()
            .column(request::Column::Kind)
            .column(request::Column::State)
            .column(request::Column::ArrivedAt)
            .column(request::Column::ClosedAt)
            .filter(request::Column::ClosedAt.gte(since))
            .into_model::<ClosedRow>()
            .all(self.db().conn())
            .await?)
    }
}
