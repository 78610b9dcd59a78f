//! The queue: what is open, by due day, filtered and paged; assigning from it.

use super::*;

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

/// The queue: most urgent first, filtered, paged by keyset.
pub async fn show_queue(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
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
            kind: kind_label(&r.kind, lang),
            state: state_label(&r.state, lang),
            due_on: due_words(
                r.due_on,
                today,
                RState::parse(&r.state).is_some_and(RState::is_terminal),
                lang,
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
            received: madoguchi_domain::written_date(jst_date(r.arrived_at), lang.is_en()),
            channel: crate::staff::pages::channel_words(&r.channel, lang),
            may_sue: may_sue_words(
                r.may_sue_from,
                today,
                RState::parse(&r.state).is_some_and(RState::is_terminal),
                lang,
            ),
            paused: paused_words(r.paused_since, lang),
        })
        .collect();
    let page_view = QueuePage {
        c: Chrome::new(&who, lang),
        counts: counts
            .into_iter()
            .map(|(s, n)| (s.as_str().to_owned(), state_label(s.as_str(), lang), n))
            .collect(),
        states: RState::ALL
            .into_iter()
            .map(|s| (s.as_str().to_owned(), state_label(s.as_str(), lang)))
            .collect(),
        kinds: RequestKind::ALL
            .into_iter()
            .map(|k| (k.as_str().to_owned(), kind_label(k.as_str(), lang)))
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
