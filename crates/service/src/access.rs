//! The subject's access to their own request without an account: a six-digit code sent to
//! the confirmed address, five tries, ten minutes; then a session scoped to that request
//! alone, that lasts while it is used: thirty minutes from the last visit, eight hours at most.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use madoguchi_domain::{Actor, AuditOnly, Mail, Recipient, State};
use madoguchi_store::audit::Origin;
use madoguchi_store::change::Write;
use madoguchi_store::entities::subject_token;
use madoguchi_store::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use madoguchi_store::secrets::{constant_time_eq, hash_token, keyed, random_token};
use madoguchi_store::{outbox, requests};
use uuid::Uuid;

use crate::{Service, ServiceError, context};

pub(crate) const CODE: &str = "access_code";
const SESSION: &str = "subject_session";
/// A subject session ends this long after its last use...
const SESSION_IDLE: Duration = Duration::minutes(30);
/// ...and this long after it opened, whatever its use.
const SESSION_MAX: Duration = Duration::hours(8);
/// The session's longest life, in seconds (its cookie's `Max-Age`).
pub const SUBJECT_SESSION_MAX_SECS: i64 = 8 * 60 * 60;

/// Wrong codes before the code is locked.
pub const MAX_ATTEMPTS: i32 = 5;
/// Codes a request may be sent per hour, from all clients together (counted atomically in
/// `rate_limits`). One client may ask for
/// fewer (`limits::CODES_PER_CLIENT_PER_REQUEST`), so a stranger holding the request's public
/// id cannot spend the subject's allowance alone.
pub const MAX_CODES_PER_HOUR: u32 = 10;

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// Wrong code; tries remain.
    #[error("the code is not correct")]
    Wrong,
    /// No live code: never sent, expired or already used.
    #[error("the code has expired; ask for a new one")]
    Expired,
    /// Too many wrong codes: this code is locked.
    #[error("too many wrong codes; ask for a new one")]
    Locked,
    /// Too many codes asked for.
    #[error("too many codes were sent; try again later")]
    TooManyCodes,
    /// The address is not confirmed yet.
    #[error("confirm your e-mail address first")]
    Unconfirmed,
    /// The request has no e-mail address: its notices go by post.
    #[error("this request is answered by post")]
    ByPost,
}

impl Service {
    fn code_hash(&self, request_id: i64, code: &str) -> String {
        keyed(
            &self.secret,
            &format!("access-code:{request_id}:{}", code.trim()),
        )
    }

    /// The code behind a mail's nonce (the outbox never holds the code).
    pub fn access_code(&self, nonce: &str) -> String {
        let h = keyed(&self.secret, &format!("code:{nonce}"));
        let n = u64::from_str_radix(&h[..15], 16).unwrap_or(0) % 1_000_000;
        format!("{n:06}")
    }

    /// Sends a fresh code to the request's confirmed address.
    pub async fn send_access_code(
        &self,
        pid: Uuid,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, pid).await?;
        if row.state == State::Submitted.as_str() {
            return Err(ServiceError::Access(AccessError::Unconfirmed));
        }
        if crate::intake::email_of(&row).is_none() {
            // No address to send a code to; nothing is stored or counted.
            return Err(ServiceError::Access(AccessError::ByPost));
        }
        if !self
            .admit_code_request(row.id, origin, now)
            .await?
            .allowed()
        {
            return Err(ServiceError::Access(AccessError::TooManyCodes));
        }
        let nonce = random_token();
        let code = self.access_code(&nonce);
        let next = requests::to_domain(&row)?;
        let extra = context::Extra {
            code_nonce: Some(nonce),
            ..Default::default()
        };
        let settings = self.settings().await?;
        let ctx = context::build(
            self.office(&settings),
            &row,
            &next,
            Mail::AccessCode,
            Recipient::Subject,
            &extra,
            now,
        );
        // Once answered, the code goes where the result went (MADOGUCHI_RESULTS_TO).
        let messages: Vec<outbox::NewMessage> = self
            .addressees(
                &settings,
                &row,
                next.state,
                Recipient::Subject,
                Mail::AccessCode,
            )
            .into_iter()
            .map(|(recipient, name)| {
                let mut ctx = ctx.clone();
                if let Some(name) = name {
                    ctx.recipient_name = name;
                }
                outbox::NewMessage {
                    request_id: Some(row.id),
                    recipient,
                    lang: madoguchi_domain::Lang::parse(&row.lang),
                    template: Mail::AccessCode.as_str().to_owned(),
                    context: serde_json::to_value(ctx).expect("a mail context serialises"),
                    by_post: false,
                }
            })
            .collect();
        // The code, its mail and its entry in one change: a crash leaves either a code sent
        // and on the trail, or neither.
        let code = Write::ReplaceCode {
            purpose: CODE,
            stored: format!("{}:{}", self.code_hash(row.id, &code), random_token()),
            expires_at: now + Duration::minutes(10),
        };
        self.record(
            pid,
            vec![AuditOnly::CodeSent],
            &Actor::Subject,
            vec![code],
            messages,
            origin,
            now,
        )
        .await?;
        Ok(())
    }

    /// Checks a code; on success returns a session token for this request only.
    pub async fn verify_access_code(
        &self,
        pid: Uuid,
        code: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, pid).await?;
        let live = subject_token::Entity::find()
            .filter(subject_token::Column::RequestId.eq(row.id))
            .filter(subject_token::Column::Purpose.eq(CODE))
            .filter(subject_token::Column::UsedAt.is_null())
            .order_by_desc(subject_token::Column::Id)
            .one(self.db().conn())
            .await?;
        let Some(token) = live.filter(|t| t.expires_at > now) else {
            return Err(ServiceError::Access(AccessError::Expired));
        };
        // The attempt is counted before the code is compared, in one statement: concurrent
        // guesses cannot all read the same count and all be checked.
        let Some(attempt) =
            madoguchi_store::tokens::count_attempt(self.db().conn(), token.id, MAX_ATTEMPTS)
                .await?
        else {
            return Err(ServiceError::Access(AccessError::Locked));
        };
        let expected = token.token_hash.split(':').next().unwrap_or("").to_owned();
        if !constant_time_eq(&expected, &self.code_hash(row.id, code)) {
            if attempt < MAX_ATTEMPTS {
                return Err(ServiceError::Access(AccessError::Wrong));
            }
            // The lock and its entry in one transaction; only the try that locked the code
            // writes the entry (a concurrent one finds it locked and writes nothing).
            let lock = Write::LockCode { token_id: token.id };
            match self
                .record(
                    pid,
                    vec![AuditOnly::CodeLocked],
                    &Actor::Subject,
                    vec![lock],
                    Vec::new(),
                    origin,
                    now,
                )
                .await
            {
                Ok(_) | Err(ServiceError::Access(AccessError::Locked)) => {}
                Err(e) => return Err(e),
            }
            return Err(ServiceError::Access(AccessError::Locked));
        }
        let session = random_token();
        // The code used up, the session and the entry in one change; a code already used by a
        // concurrent try refuses it all (Expired).
        let accept = Write::AcceptCode {
            token_id: token.id,
            session_purpose: SESSION,
            session: session.clone(),
            expires_at: now + SESSION_IDLE,
        };
        self.record(
            pid,
            vec![AuditOnly::CodeAccepted],
            &Actor::Subject,
            vec![accept],
            Vec::new(),
            origin,
            now,
        )
        .await?;
        Ok(session)
    }

    /// Whether a subject session token is live for this request (and only this one).
    pub async fn subject_session(
        &self,
        pid: Uuid,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, pid).await?;
        let found = subject_token::Entity::find()
            .filter(subject_token::Column::TokenHash.eq(hash_token(token)))
            .filter(subject_token::Column::Purpose.eq(SESSION))
            .one(self.db().conn())
            .await?;
        let Some(t) =
            found.filter(|t| t.request_id == row.id && t.expires_at > now && t.used_at.is_none())
        else {
            return Ok(false);
        };
        // Used: it lasts another idle period (never past its maximum). Written at most every
        // five minutes, compared-and-set, so parallel page loads make one write.
        let until = (now + SESSION_IDLE).min(t.created_at + SESSION_MAX);
        if until - t.expires_at > Duration::minutes(5) {
            subject_token::Entity::update_many()
                .col_expr(
                    subject_token::Column::ExpiresAt,
                    madoguchi_store::sea_orm::sea_query::Expr::value(until.trunc_subsecs(6)),
                )
                .filter(subject_token::Column::Id.eq(t.id))
                .filter(subject_token::Column::ExpiresAt.eq(t.expires_at))
                .exec(self.db().conn())
                .await?;
        }
        Ok(true)
    }

    /// The subject's answer to an officer's question (Art. 37(2)), kept on the request.
    pub async fn provide_info(
        &self,
        pid: Uuid,
        answer: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let answer = answer.trim();
        if answer.is_empty() || answer.chars().count() > 4000 {
            return Err(ServiceError::Invalid("answer"));
        }
        // The answer is stored in the same transaction as the state change.
        let text = crate::EventText {
            message: Some(answer.to_owned()),
            reference: None,
        };
        self.act(
            pid,
            None,
            &madoguchi_domain::Event::ProvideInfo,
            &Actor::Subject,
            &text,
            origin,
            now,
        )
        .await?;
        Ok(())
    }
}
