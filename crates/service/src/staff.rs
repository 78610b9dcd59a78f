//! Staff accounts: creation, password and TOTP login with throttling, server-side sessions,
//! API tokens. Every login, failure, lockout and account change is audited on the account's
//! own chain (`staff:<pid>`), so one busy account never serialises the others.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use madoguchi_domain::{Actor, Role};
use madoguchi_store::audit::{NewEntry, Origin};
use madoguchi_store::entities::{api_token, staff_session, staff_user};
use madoguchi_store::sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use madoguchi_store::secrets::{hash_token, random_code, random_token};
use uuid::Uuid;

use madoguchi_store::limits;

use crate::{Service, ServiceError, totp};

/// A session is dropped after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// A session is dropped this long after login, however active.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// Failed attempts (passwords and second-factor codes) on one account, known or not, within
/// the window, that lock it until the window ends.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failed attempts from one address, within the window, that lock the address.
pub const ADDRESS_FAILURES: u32 = 20;
/// The window failures are counted in; a lock lasts until its window ends.
pub const LOCKOUT: Duration = Duration::minutes(15);

/// Who is acting on a staff page or API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffIdentity {
    /// Row key.
    pub user_id: i64,
    /// Public id.
    pub pid: Uuid,
    /// Login address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Effective role (an API token may carry less than its owner).
    pub role: Role,
    /// The session's CSRF token; `None` for bearer tokens, which are not ambient credentials.
    pub csrf: Option<String>,
    /// Signed in with a password that was handed over: every page but the password change
    /// is closed until it is replaced.
    pub must_change_password: bool,
    /// The account has a second factor (TOTP) set up.
    pub totp_enabled: bool,
    /// The account signs in through the company's identity provider, whose second factor
    /// stands in for this one's (`MADOGUCHI_REQUIRE_TOTP` is about local passwords).
    pub sso: bool,
}

impl StaffIdentity {
    /// The domain actor.
    pub fn actor(&self) -> Actor {
        Actor::Staff {
            id: self.pid.to_string(),
            role: self.role,
        }
    }
}

/// What a login attempt led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in: set this cookie value.
    Success {
        /// The new session token (a fresh one on every login: no fixation).
        token: String,
    },
    /// Password accepted; a TOTP code is needed. The token is a session limited to that step.
    NeedTotp {
        /// The pending session token.
        token: String,
    },
    /// Wrong address, password or code (one answer for all, so accounts cannot be probed).
    Failed,
    /// Too many failures; try again later.
    Locked,
}

fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

fn password_matches(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn entry(actor: &Actor, action: &str, detail: Vec<(&str, String)>) -> NewEntry {
    NewEntry {
        actor_kind: actor.kind_str().to_owned(),
        actor_id: actor.staff_id().map(str::to_owned),
        role: actor.role().map(|r| r.as_str().to_owned()),
        action: action.to_owned(),
        detail: detail.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}

/// A new password's rules: long enough to resist guessing offline, not the old one, not the
/// login address. Length over composition rules (NIST SP 800-63B).
fn check_new_password(new: &str, current: &str, email: &str) -> Result<(), ServiceError> {
    let len = new.chars().count();
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if !(12..=200).contains(&len)
        || new == current
        || new.to_lowercase() == email.to_lowercase()
        || (local.chars().count() >= 4 && new.to_lowercase() == local)
        || new.chars().any(char::is_control)
    {
        return Err(ServiceError::Invalid("new_password"));
    }
    Ok(())
}

/// Lower-cased, trimmed login address.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A password hash nobody knows the password of: an account created by single sign-on has
/// no password to sign in with.
pub(crate) fn unusable_password() -> String {
    hash_password(&random_token())
}

impl Service {
    pub(crate) async fn audit_staff(
        &self,
        chain_owner: Uuid,
        e: NewEntry,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        self.audit_named(&format!("staff:{chain_owner}"), e, origin, now)
            .await
    }

    /// Creates an account with a random one-time password, returned once to be handed over.
    pub async fn create_staff_user(
        &self,
        email: &str,
        name: &str,
        role: Role,
        by: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(staff_user::Model, String), ServiceError> {
        let email = normalize_email(email);
        madoguchi_domain::EmailAddress::parse(&email)
            .map_err(|_| ServiceError::Invalid("email"))?;
        let password = format!(
            "{}-{}-{}",
            random_code(4),
            random_token()[..8].to_owned(),
            random_code(4)
        );
        let row = staff_user::ActiveModel {
            pid: Set(Uuid::new_v4()),
            email: Set(email),
            name: Set(name.trim().to_owned()),
            role: Set(role.as_str().to_owned()),
            password_hash: Set(hash_password(&password)),
            totp_secret: Set(None),
            totp_enabled: Set(false),
            recovery_codes: Set(None),
            disabled: Set(false),
            failed_logins: Set(0),
            locked_until: Set(None),
            created_at: Set(now.trunc_subsecs(6)),
            // Someone else saw it: the holder replaces it at the first sign-in.
            must_change_password: Set(true),
            ..Default::default()
        };
        // The account and its first entry are one transaction: no account without its trail.
        let tx = self.db().begin_write().await?;
        let user = match staff_user::Entity::insert(row)
            .exec_with_returning(&tx)
            .await
        {
            Ok(u) => u,
            Err(e) if madoguchi_store::StoreError::from(e.clone()).is_unique_violation() => {
                return Err(ServiceError::Duplicate("email"));
            }
            Err(e) => return Err(e.into()),
        };
        madoguchi_store::change::record_office(
            &tx,
            &format!("staff:{}", user.pid),
            &[entry(
                by,
                "staff.created",
                vec![
                    ("role", role.as_str().to_owned()),
                    ("user", user.pid.to_string()),
                ],
            )],
            origin,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((user, password))
    }

    /// All accounts, by name.
    pub async fn staff_users(&self) -> Result<Vec<staff_user::Model>, ServiceError> {
        Ok(staff_user::Entity::find()
            .order_by_asc(staff_user::Column::Name)
            .all(self.db().conn())
            .await?)
    }

    /// An account by public id.
    pub async fn staff_user(&self, pid: Uuid) -> Result<staff_user::Model, ServiceError> {
        staff_user::Entity::find()
            .filter(staff_user::Column::Pid.eq(pid))
            .one(self.db().conn())
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Changes a role or disables/enables an account; a disabled account's sessions end.
    pub async fn update_staff_user(
        &self,
        pid: Uuid,
        role: Option<Role>,
        disabled: Option<bool>,
        by: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<staff_user::Model, ServiceError> {
        let user = self.staff_user(pid).await?;
        let mut am = user.clone().into_active_model();
        let mut detail = vec![("user", pid.to_string())];
        if let Some(r) = role {
            am.role = Set(r.as_str().to_owned());
            detail.push(("role", r.as_str().to_owned()));
        }
        if let Some(d) = disabled {
            am.disabled = Set(d);
            detail.push(("disabled", d.to_string()));
        }
        // The change, the end of the account's sessions and its entry: one transaction.
        let tx = self.db().begin_write().await?;
        let user = am.update(&tx).await?;
        staff_session::Entity::delete_many()
            .filter(staff_session::Column::UserId.eq(user.id))
            .exec(&tx)
            .await?;
        madoguchi_store::change::record_office(
            &tx,
            &format!("staff:{pid}"),
            &[entry(by, "staff.updated", detail)],
            origin,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The counter keys of one login attempt: the client address, and the account named
    /// (known or not, keyed so that the table holds no address in the clear).
    fn login_keys(&self, email: &str, origin: &Origin) -> (String, String) {
        let ip = format!("login-ip:{}", crate::limits::client(origin));
        let account = format!(
            "login-account:{}",
            madoguchi_store::secrets::keyed(
                &self.secret,
                &format!("login:{}", normalize_email(email))
            )
        );
        (ip, account)
    }

    /// Counts one attempt on the client address and one on the account before any secret is
    /// checked (see `madoguchi_store::limits`): however many attempts arrive at once, no more
    /// than the limits are ever checked. `Err(())` when either is over its limit.
    async fn reserve_login(
        &self,
        ip_key: &str,
        account_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<u32, ()>, ServiceError> {
        let conn = self.db().conn();
        let window = LOCKOUT.num_seconds();
        let ip = limits::hit(conn, ip_key, ADDRESS_FAILURES, window, now).await?;
        if !ip.allowed() {
            return Ok(Err(()));
        }
        match limits::hit(conn, account_key, ACCOUNT_FAILURES, window, now).await? {
            limits::Admission::Allowed { hits } => Ok(Ok(hits)),
            limits::Admission::Refused { .. } => Ok(Err(())),
        }
    }

    /// A secret was right: its attempt does not count against the limits.
    async fn release_login(&self, ip_key: &str, account_key: &str) -> Result<(), ServiceError> {
        limits::release(self.db().conn(), ip_key).await?;
        limits::release(self.db().conn(), account_key).await?;
        Ok(())
    }

    /// Checks a password (and lockouts), starting a session or the TOTP step. A known and an
    /// unknown address are answered alike, lockout included, so accounts cannot be probed.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<LoginOutcome, ServiceError> {
        if !self.config.local_login {
            return Ok(LoginOutcome::Failed);
        }
        let (ip_key, account_key) = self.login_keys(email, origin);
        let user = staff_user::Entity::find()
            .filter(staff_user::Column::Email.eq(normalize_email(email)))
            .one(self.db().conn())
            .await?;
        let actor = user.as_ref().map(|u| Actor::Staff {
            id: u.pid.to_string(),
            role: Role::parse(&u.role).unwrap_or(Role::Auditor),
        });
        let audit = |action: &'static str, detail: Vec<(&'static str, String)>| {
            let (user, actor) = (user.clone(), actor.clone());
            async move {
                match (user, actor) {
                    (Some(u), Some(a)) => {
                        self.audit_staff(u.pid, entry(&a, action, detail), origin, now)
                            .await
                    }
                    _ => {
                        self.audit_named("auth", entry(&Actor::System, action, detail), origin, now)
                            .await
                    }
                }
            }
        };
        let attempt = match self.reserve_login(&ip_key, &account_key, now).await? {
            Ok(n) => n,
            Err(()) => {
                audit("login.locked", vec![]).await?;
                return Ok(LoginOutcome::Locked);
            }
        };
        let matches = match &user {
            // The hash is checked for a disabled account too: skipping it would tell by
            // timing which accounts are disabled.
            // An account tied to the company's provider signs in there only, so that leaving
            // the company (or a group) there takes effect here.
            Some(u) => {
                password_matches(&u.password_hash, password)
                    && !u.disabled
                    && u.sso_subject.is_none()
            }
            None => {
                // Spend the same time as a real check so timing does not reveal accounts.
                let _ = password_matches(
                    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZmFrZWZha2VmYWtlZmFrZWZha2VmYWtlZmFrZWZha2U",
                    password,
                );
                false
            }
        };
        let Some(user) = user.clone().filter(|_| matches) else {
            let lock = attempt >= ACCOUNT_FAILURES;
            let reason = match &user {
                None => "unknown_account",
                Some(u) if u.disabled => "disabled",
                Some(u) if u.sso_subject.is_some() => "sso_account",
                Some(_) => "bad_password",
            };
            audit(
                "login.failed",
                vec![("reason", reason.into()), ("locked", lock.to_string())],
            )
            .await?;
            return Ok(if lock {
                LoginOutcome::Locked
            } else {
                LoginOutcome::Failed
            });
        };
        self.release_login(&ip_key, &account_key).await?;
        let actor = actor.expect("a known user has an actor");
        let pending = user.totp_enabled;
        let token = self.new_session(&user, pending, now).await?;
        if pending {
            return Ok(LoginOutcome::NeedTotp { token });
        }
        self.login_succeeded(&user, &actor, origin, now).await?;
        Ok(LoginOutcome::Success { token })
    }

    /// The second factor: a TOTP code or an unused recovery code. Wrong codes count against
    /// the account and the address like wrong passwords (five per account per window), and a
    /// TOTP code is accepted once: never for a step at or before the last one accepted.
    pub async fn login_totp(
        &self,
        pending_token: &str,
        code: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<LoginOutcome, ServiceError> {
        let Some(session) = staff_session::Entity::find_by_id(hash_token(pending_token))
            .one(self.db().conn())
            .await?
        else {
            return Ok(LoginOutcome::Failed);
        };
        if !session.mfa_pending
            || session.expires_at <= now
            || session.created_at + Duration::minutes(5) < now
        {
            return Ok(LoginOutcome::Failed);
        }
        let user = staff_user::Entity::find_by_id(session.user_id)
            .one(self.db().conn())
            .await?
            .ok_or(ServiceError::NotFound)?;
        let actor = Actor::Staff {
            id: user.pid.to_string(),
            role: Role::parse(&user.role).unwrap_or(Role::Auditor),
        };
        let (ip_key, account_key) = self.login_keys(&user.email, origin);
        let attempt = match self.reserve_login(&ip_key, &account_key, now).await? {
            Ok(n) => n,
            Err(()) => {
                self.end_pending_logins(user.id).await?;
                self.audit_staff(user.pid, entry(&actor, "login.locked", vec![]), origin, now)
                    .await?;
                return Ok(LoginOutcome::Locked);
            }
        };
        let step = match user.totp_secret.as_deref() {
            Some(stored) => {
                let secret = self.open_totp_secret(&user, stored)?;
                totp::verify_step(&secret, code, now.timestamp())
            }
            None => None,
        };
        let accepted = match step {
            Some(step) => self.take_totp_step(user.id, step).await?,
            None => self.use_recovery_code(&user, code).await?,
        };
        if !accepted {
            let lock = attempt >= ACCOUNT_FAILURES;
            if lock {
                self.end_pending_logins(user.id).await?;
            }
            let reason = if step.is_some() {
                "code_reused"
            } else {
                "bad_code"
            };
            self.audit_staff(
                user.pid,
                entry(
                    &actor,
                    "login.failed",
                    vec![("reason", reason.into()), ("locked", lock.to_string())],
                ),
                origin,
                now,
            )
            .await?;
            return Ok(if lock {
                LoginOutcome::Locked
            } else {
                LoginOutcome::Failed
            });
        }
        self.release_login(&ip_key, &account_key).await?;
        // The pending session is replaced, not upgraded: the full session gets a new id.
        let gone = staff_session::Entity::delete_by_id(session.id_hash)
            .exec(self.db().conn())
            .await?;
        if gone.rows_affected != 1 {
            // A concurrent attempt on the same pending login won; this one opens nothing.
            return Ok(LoginOutcome::Failed);
        }
        let token = self.new_session(&user, false, now).await?;
        self.login_succeeded(&user, &actor, origin, now).await?;
        Ok(LoginOutcome::Success { token })
    }

    /// Ends every login of this account still waiting for its second factor.
    async fn end_pending_logins(&self, user_id: i64) -> Result<(), ServiceError> {
        staff_session::Entity::delete_many()
            .filter(staff_session::Column::UserId.eq(user_id))
            .filter(staff_session::Column::MfaPending.eq(true))
            .exec(self.db().conn())
            .await?;
        Ok(())
    }

    /// Records `step` as the last TOTP step used, if it is later than the one recorded: one
    /// statement, so two logins presenting the same code cannot both pass.
    async fn take_totp_step(&self, user_id: i64, step: u64) -> Result<bool, ServiceError> {
        let step = i64::try_from(step).map_err(|_| ServiceError::Invalid("code"))?;
        let r = staff_user::Entity::update_many()
            .col_expr(
                staff_user::Column::TotpLastStep,
                madoguchi_store::sea_orm::sea_query::Expr::value(step),
            )
            .filter(staff_user::Column::Id.eq(user_id))
            .filter(
                madoguchi_store::sea_orm::Condition::any()
                    .add(staff_user::Column::TotpLastStep.is_null())
                    .add(staff_user::Column::TotpLastStep.lt(step)),
            )
            .exec(self.db().conn())
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Uses up a recovery code. The stored list is replaced only if nobody changed it since it
    /// was read, so one code cannot serve two concurrent logins.
    async fn use_recovery_code(
        &self,
        user: &staff_user::Model,
        code: &str,
    ) -> Result<bool, ServiceError> {
        let Some(stored) = user.recovery_codes.clone() else {
            return Ok(false);
        };
        let mut codes: Vec<String> = serde_json::from_str(&stored).unwrap_or_default();
        let h = hash_token(code.trim());
        let Some(i) = codes.iter().position(|c| *c == h) else {
            return Ok(false);
        };
        codes.remove(i);
        let r = staff_user::Entity::update_many()
            .col_expr(
                staff_user::Column::RecoveryCodes,
                madoguchi_store::sea_orm::sea_query::Expr::value(
                    serde_json::to_string(&codes).expect("strings serialise"),
                ),
            )
            .filter(staff_user::Column::Id.eq(user.id))
            .filter(staff_user::Column::RecoveryCodes.eq(stored))
            .exec(self.db().conn())
            .await?;
        Ok(r.rows_affected == 1)
    }

    async fn login_succeeded(
        &self,
        user: &staff_user::Model,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        self.audit_staff(
            user.pid,
            entry(
                actor,
                "login.succeeded",
                vec![("mfa", user.totp_enabled.to_string())],
            ),
            origin,
            now,
        )
        .await
    }

    /// Seals a TOTP secret for its account's row, through the one cipher of personal data
    /// (bound to the account: a secret copied onto another row does not open).
    fn seal_totp_secret(&self, user_pid: Uuid, secret_b32: &str) -> String {
        self.cipher.seal(&format!("totp:{user_pid}"), secret_b32)
    }

    /// Opens a stored TOTP secret; one stored before sealing is read as it is
    /// (`madoguchi keys rotate` seals it).
    fn open_totp_secret(
        &self,
        user: &staff_user::Model,
        stored: &str,
    ) -> Result<String, ServiceError> {
        Ok(self.cipher.open(&format!("totp:{}", user.pid), stored)?)
    }

    /// Seals every TOTP secret not sealed under the current key (plaintext ones included).
    /// Returns how many secrets changed.
    pub async fn reseal_totp_secrets(&self) -> Result<usize, ServiceError> {
        let users = staff_user::Entity::find().all(self.db().conn()).await?;
        let mut n = 0;
        // One column at a time, compare-and-set on the value read: an enrolment confirmed
        // meanwhile is not overwritten with the older secret.
        for user in users {
            for (column, stored) in [
                (staff_user::Column::TotpSecret, user.totp_secret.as_deref()),
                (
                    staff_user::Column::TotpPendingSecret,
                    user.totp_pending_secret.as_deref(),
                ),
            ] {
                let Some(old) = stored.filter(|s| !self.cipher.is_current(s)) else {
                    continue;
                };
                let plain = self.open_totp_secret(&user, old)?;
                let r = staff_user::Entity::update_many()
                    .col_expr(
                        column,
                        madoguchi_store::sea_orm::sea_query::Expr::value(
                            self.seal_totp_secret(user.pid, &plain),
                        ),
                    )
                    .filter(staff_user::Column::Id.eq(user.id))
                    .filter(column.eq(old))
                    .exec(self.db().conn())
                    .await?;
                n += r.rows_affected as usize;
            }
        }
        Ok(n)
    }

    pub(crate) async fn new_session(
        &self,
        user: &staff_user::Model,
        mfa_pending: bool,
        now: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        let token = random_token();
        let now = now.trunc_subsecs(6);
        staff_session::Entity::insert(staff_session::ActiveModel {
            id_hash: Set(hash_token(&token)),
            user_id: Set(user.id),
            csrf: Set(random_token()),
            mfa_pending: Set(mfa_pending),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(now + ABSOLUTE_TIMEOUT),
        })
        .exec(self.db().conn())
        .await?;
        Ok(token)
    }

    /// The staff member behind a session cookie, if the session is live. Activity extends the
    /// idle timeout, written at most once a minute.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffIdentity>, ServiceError> {
        let id = hash_token(token);
        let Some(s) = staff_session::Entity::find_by_id(id.clone())
            .one(self.db().conn())
            .await?
        else {
            return Ok(None);
        };
        if s.mfa_pending || s.expires_at <= now || s.last_seen_at + IDLE_TIMEOUT <= now {
            return Ok(None);
        }
        let Some(user) = staff_user::Entity::find_by_id(s.user_id)
            .one(self.db().conn())
            .await?
        else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        if now - s.last_seen_at > Duration::minutes(1) {
            let mut am = s.clone().into_active_model();
            am.last_seen_at = Set(now.trunc_subsecs(6));
            am.update(self.db().conn()).await?;
        }
        Ok(Role::parse(&user.role).map(|role| StaffIdentity {
            user_id: user.id,
            pid: user.pid,
            email: user.email,
            name: user.name,
            role,
            csrf: Some(s.csrf),
            must_change_password: user.must_change_password,
            totp_enabled: user.totp_enabled,
            sso: user.sso_subject.is_some(),
        }))
    }

    /// Replaces the signed-in member's password. The current one must be given (a session
    /// left open is not enough); the new one is at least 12 characters, not the current one
    /// and not the login address. The change, the end of the member's other sessions and its
    /// entry on the member's trail are one transaction.
    pub async fn change_password(
        &self,
        who: &StaffIdentity,
        session_token: &str,
        current: &str,
        new: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let user = staff_user::Entity::find_by_id(who.user_id)
            .one(self.db().conn())
            .await?
            .ok_or(ServiceError::NotFound)?;
        if !password_matches(&user.password_hash, current) {
            return Err(ServiceError::Invalid("current_password"));
        }
        check_new_password(new, current, &user.email)?;
        let tx = self.db().begin_write().await?;
        let mut am = user.clone().into_active_model();
        am.password_hash = Set(hash_password(new));
        am.must_change_password = Set(false);
        am.update(&tx).await?;
        // Whoever else holds a session on the old password loses it.
        staff_session::Entity::delete_many()
            .filter(staff_session::Column::UserId.eq(user.id))
            .filter(staff_session::Column::IdHash.ne(hash_token(session_token)))
            .exec(&tx)
            .await?;
        madoguchi_store::change::record_office(
            &tx,
            &format!("staff:{}", user.pid),
            &[entry(&who.actor(), "staff.password_changed", vec![])],
            origin,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a session.
    pub async fn logout(&self, token: &str) -> Result<(), ServiceError> {
        staff_session::Entity::delete_by_id(hash_token(token))
            .exec(self.db().conn())
            .await?;
        Ok(())
    }

    /// The staff member behind a bearer token. The token's role never exceeds its owner's.
    pub async fn api_identity(&self, bearer: &str) -> Result<Option<StaffIdentity>, ServiceError> {
        // The token and its owner in one query: every API call asks this first.
        let owner = api_token::Entity::belongs_to(staff_user::Entity)
            .from(api_token::Column::UserId)
            .to(staff_user::Column::Id)
            .into();
        let Some((t, Some(user))) = api_token::Entity::find()
            .join(madoguchi_store::sea_orm::JoinType::InnerJoin, owner)
            .select_also(staff_user::Entity)
            .filter(api_token::Column::TokenHash.eq(hash_token(bearer)))
            .filter(api_token::Column::RevokedAt.is_null())
            .one(self.db().conn())
            .await?
        else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        let (Some(token_role), Some(user_role)) = (Role::parse(&t.role), Role::parse(&user.role))
        else {
            return Ok(None);
        };
        let role = if rank(token_role) <= rank(user_role) {
            token_role
        } else {
            user_role
        };
        Ok(Some(StaffIdentity {
            user_id: user.id,
            pid: user.pid,
            email: user.email,
            name: user.name,
            role,
            csrf: None,
            must_change_password: false,
            totp_enabled: user.totp_enabled,
            sso: user.sso_subject.is_some(),
        }))
    }

    /// Issues an API token for `who`, scoped to `role` (at most their own). Returned once.
    pub async fn create_api_token(
        &self,
        who: &StaffIdentity,
        role: Role,
        label: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        if rank(role) > rank(who.role) {
            return Err(ServiceError::Invalid("role"));
        }
        let token = format!("mdg_{}", random_token());
        api_token::Entity::insert(api_token::ActiveModel {
            user_id: Set(who.user_id),
            token_hash: Set(hash_token(&token)),
            role: Set(role.as_str().to_owned()),
            label: Set(label.chars().take(100).collect()),
            created_at: Set(now.trunc_subsecs(6)),
            revoked_at: Set(None),
            ..Default::default()
        })
        .exec(self.db().conn())
        .await?;
        self.audit_staff(
            who.pid,
            entry(
                &who.actor(),
                "api_token.created",
                vec![("role", role.as_str().to_owned())],
            ),
            origin,
            now,
        )
        .await?;
        Ok(token)
    }

    /// A staff member's tokens.
    pub async fn api_tokens(
        &self,
        who: &StaffIdentity,
    ) -> Result<Vec<api_token::Model>, ServiceError> {
        Ok(api_token::Entity::find()
            .filter(api_token::Column::UserId.eq(who.user_id))
            .order_by_desc(api_token::Column::Id)
            .all(self.db().conn())
            .await?)
    }

    /// Revokes one of a staff member's tokens.
    pub async fn revoke_api_token(
        &self,
        who: &StaffIdentity,
        id: i64,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let r = api_token::Entity::update_many()
            .col_expr(
                api_token::Column::RevokedAt,
                madoguchi_store::sea_orm::sea_query::Expr::value(now.trunc_subsecs(6)),
            )
            .filter(api_token::Column::Id.eq(id))
            .filter(api_token::Column::UserId.eq(who.user_id))
            .exec(self.db().conn())
            .await?;
        if r.rows_affected == 0 {
            return Err(ServiceError::NotFound);
        }
        self.audit_staff(
            who.pid,
            entry(
                &who.actor(),
                "api_token.revoked",
                vec![("token", id.to_string())],
            ),
            origin,
            now,
        )
        .await
    }

    /// Starts TOTP enrolment: a new secret, kept beside the current one and active only once
    /// a code from it is confirmed, so the factor in force stays in force until then. Asks for
    /// the account's password: a session left open is not enough to change the factor.
    pub async fn totp_begin(
        &self,
        who: &StaffIdentity,
        password: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        let user = staff_user::Entity::find_by_id(who.user_id)
            .one(self.db().conn())
            .await?
            .ok_or(ServiceError::NotFound)?;
        let (ip_key, account_key) = self.login_keys(&user.email, origin);
        if self
            .reserve_login(&ip_key, &account_key, now)
            .await?
            .is_err()
        {
            return Err(ServiceError::Invalid("password"));
        }
        if !password_matches(&user.password_hash, password) {
            self.audit_staff(
                who.pid,
                entry(
                    &who.actor(),
                    "totp.enrolment_refused",
                    vec![("reason", "bad_password".into())],
                ),
                origin,
                now,
            )
            .await?;
            return Err(ServiceError::Invalid("password"));
        }
        self.release_login(&ip_key, &account_key).await?;
        let mut secret = [0u8; 20];
        getrandom_fill(&mut secret);
        let b32 = totp::base32_encode(&secret);
        let mut am = user.into_active_model();
        am.totp_pending_secret = Set(Some(self.seal_totp_secret(who.pid, &b32)));
        am.update(self.db().conn()).await?;
        self.audit_staff(
            who.pid,
            entry(&who.actor(), "totp.enrolment_started", vec![]),
            origin,
            now,
        )
        .await?;
        Ok(b32)
    }

    /// Confirms enrolment with a code from the new secret, which then replaces the old one;
    /// returns ten single-use recovery codes, shown once.
    pub async fn totp_confirm(
        &self,
        who: &StaffIdentity,
        code: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, ServiceError> {
        let user = staff_user::Entity::find_by_id(who.user_id)
            .one(self.db().conn())
            .await?
            .ok_or(ServiceError::NotFound)?;
        let Some(stored) = user.totp_pending_secret.clone() else {
            return Err(ServiceError::Invalid("totp"));
        };
        let secret = self.open_totp_secret(&user, &stored)?;
        let Some(step) = totp::verify_step(&secret, code, now.timestamp()) else {
            return Err(ServiceError::Invalid("code"));
        };
        let codes: Vec<String> = (0..10)
            .map(|_| format!("{}-{}", random_code(5), random_code(5)))
            .collect();
        let hashes: Vec<String> = codes.iter().map(|c| hash_token(c)).collect();
        let replaced = user.totp_enabled;
        let mut am = user.into_active_model();
        am.totp_secret = Set(Some(stored));
        am.totp_pending_secret = Set(None);
        am.totp_enabled = Set(true);
        am.totp_last_step = Set(i64::try_from(step).ok());
        am.recovery_codes = Set(Some(
            serde_json::to_string(&hashes).expect("strings serialise"),
        ));
        am.update(self.db().conn()).await?;
        let action = if replaced {
            "totp.replaced"
        } else {
            "totp.enabled"
        };
        self.audit_staff(who.pid, entry(&who.actor(), action, vec![]), origin, now)
            .await?;
        Ok(codes)
    }

    /// Appends to a named chain (settings, auth).
    pub async fn audit_named(
        &self,
        chain: &str,
        e: NewEntry,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        // The head and the entry are written in one transaction: a crash between them would
        // leave a chain whose head names an entry that does not exist.
        let tx = self.db().begin_write().await?;
        madoguchi_store::change::record_office(&tx, chain, &[e], origin, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn getrandom_fill(buf: &mut [u8]) {
    let token = random_token();
    let bytes = hex::decode(token).expect("random_token is hex");
    buf.copy_from_slice(&bytes[..buf.len()]);
}

/// Orders roles by power, for capping tokens.
fn rank(role: Role) -> u8 {
    match role {
        Role::Auditor => 0,
        Role::Officer => 1,
        Role::Admin => 2,
    }
}

/// An audit entry by `actor` (for other modules).
pub fn audit_entry(actor: &Actor, action: &str, detail: Vec<(&str, String)>) -> NewEntry {
    entry(actor, action, detail)
}
