//! Staff sign-in through the company's OpenID provider. The provider says who the person is
//! (a verified ID token) and which groups they are in; this module decides what that opens:
//! the account tied to the provider's subject, an existing account with the same address the
//! provider has verified (tied to it at that moment), or a new account when provisioning is on.
//! The role always follows the provider's groups at each sign-in, so removing someone from a
//! group at the provider takes effect at their next sign-in here.
//!
//! Every sign-in and every refusal is on the audit trail, with a reason and never a token.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use madoguchi_domain::{Actor, Role};
use madoguchi_sso::{IdClaims, SsoClient, SsoError};
use madoguchi_store::audit::Origin;
use madoguchi_store::entities::{staff_session, staff_user};
use madoguchi_store::limits;
use madoguchi_store::sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use madoguchi_store::secrets::{hash_token, random_token};
use madoguchi_store::sso_logins::{self, PendingLogin};
use uuid::Uuid;

use crate::staff::{audit_entry, normalize_email};
use crate::{Service, ServiceError};

/// How long a sign-in may stay at the provider.
pub const PENDING_FOR: Duration = Duration::minutes(10);
/// Sign-ins one client address may begin per window (each writes a row).
const BEGINS_PER_WINDOW: u32 = 30;
const BEGIN_WINDOW_SECS: i64 = 15 * 60;

/// A sign-in begun.
#[derive(Debug, Clone)]
pub struct SsoBegun {
    /// Where to send the browser.
    pub url: String,
    /// The cookie value that ties the answer to this browser.
    pub cookie: String,
}

/// What the provider's answer came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoOutcome {
    /// Signed in: the session token and the staff page to open.
    Success {
        /// The new session's token.
        token: String,
        /// A local staff path.
        next: String,
    },
    /// Not signed in, and why (in terms the person can act on).
    Refused(SsoRefusal),
}

/// Why a single sign-on did not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoRefusal {
    /// Single sign-on is not set up.
    Off,
    /// No sign-in of this browser is waiting (too slow, another browser, already used).
    Expired,
    /// The person stopped at the provider, or the provider refused them.
    Cancelled,
    /// The provider could not be reached.
    Unreachable,
    /// The answer or its ID token failed a check.
    Failed,
    /// None of the person's groups grants a role here.
    NoRole,
    /// No account, and accounts are not created at sign-in.
    NoAccount,
    /// The account is disabled here.
    Disabled,
    /// An account with the address exists, but the provider has not verified the address
    /// (or the account is tied to another subject): an administrator must look.
    AddressTaken,
    /// Too many sign-ins begun from this address.
    Throttled,
}

/// The callback's parameters.
#[derive(Debug, Clone, Default)]
pub struct SsoCallback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state echoed back.
    pub state: Option<String>,
    /// The issuer (RFC 9207).
    pub iss: Option<String>,
    /// The provider's error code when it did not authorize.
    pub error: Option<String>,
}

impl Service {
    /// Enables single sign-on through this client.
    pub fn with_sso(mut self, client: SsoClient) -> Self {
        self.sso = Some(Arc::new(client));
        self
    }

    /// Whether staff can sign in through the company's provider.
    pub fn sso_enabled(&self) -> bool {
        self.sso.is_some()
    }

    /// Begins a sign-in: remembers it and returns where to send the browser. `next` must be a
    /// checked local path.
    pub async fn sso_begin(
        &self,
        next: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Result<SsoBegun, SsoRefusal>, ServiceError> {
        let Some(client) = &self.sso else {
            return Ok(Err(SsoRefusal::Off));
        };
        let key = format!("sso-begin:{}", crate::limits::client(origin));
        let admission = limits::hit(
            self.db().conn(),
            &key,
            BEGINS_PER_WINDOW,
            BEGIN_WINDOW_SECS,
            now,
        )
        .await?;
        if !admission.allowed() {
            return Ok(Err(SsoRefusal::Throttled));
        }
        let auth = match client.authorization().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "single sign-on could not begin");
                self.sso_refused(None, &e.reason(), origin, now).await?;
                return Ok(Err(refusal_for(&e)));
            }
        };
        let cookie = random_token();
        sso_logins::insert(
            self.db().conn(),
            &hash_token(&cookie),
            &PendingLogin {
                state_hash: hash_token(&auth.state),
                nonce: auth.nonce,
                verifier: auth.verifier,
                next: next.to_owned(),
                expires_at: now + PENDING_FOR,
            },
            now,
        )
        .await?;
        Ok(Ok(SsoBegun {
            url: auth.url,
            cookie,
        }))
    }

    /// Completes a sign-in with the provider's answer and the browser's cookie.
    pub async fn sso_finish(
        &self,
        cookie: Option<&str>,
        answer: &SsoCallback,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<SsoOutcome, ServiceError> {
        let refused = |r: SsoRefusal| Ok(SsoOutcome::Refused(r));
        let Some(client) = self.sso.clone() else {
            return refused(SsoRefusal::Off);
        };
        let pending = match cookie {
            Some(c) => sso_logins::take(self.db().conn(), &hash_token(c)).await?,
            None => None,
        };
        let Some(pending) = pending.filter(|p| p.expires_at > now) else {
            self.sso_refused(None, "sso_no_pending_login", origin, now)
                .await?;
            return refused(SsoRefusal::Expired);
        };
        if answer.state.as_deref().map(hash_token) != Some(pending.state_hash.clone()) {
            self.sso_refused(None, "sso_state_mismatch", origin, now)
                .await?;
            return refused(SsoRefusal::Expired);
        }
        if let Some(error) = &answer.error {
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_lowercase() || *c == '_')
                .take(40)
                .collect();
            self.sso_refused(None, &format!("sso_provider_{code}"), origin, now)
                .await?;
            return refused(SsoRefusal::Cancelled);
        }
        let Some(code) = answer.code.as_deref().filter(|c| !c.is_empty()) else {
            self.sso_refused(None, "sso_no_code", origin, now).await?;
            return refused(SsoRefusal::Failed);
        };
        let claims = match client
            .finish(
                code,
                answer.iss.as_deref(),
                &pending.nonce,
                &pending.verifier,
                now.timestamp(),
            )
            .await
        {
            Ok(c) => c,
            Err(e) => {
                // The error's words hold no token, code or claim.
                tracing::warn!(error = %e, "single sign-on refused");
                self.sso_refused(None, &e.reason(), origin, now).await?;
                return refused(refusal_for(&e));
            }
        };
        let settings = self
            .config
            .sso
            .as_ref()
            .expect("a client exists only with its settings");
        let role = settings
            .roles
            .role_for(claims.all.get(&settings.role_claim));
        let subject = format!("{} {}", client.issuer(), claims.sub);
        let user = match self
            .sso_account(&subject, &claims, role, origin, now)
            .await?
        {
            Ok(user) => user,
            Err(r) => return refused(r),
        };
        let token = self.new_session(&user, false, now).await?;
        let actor = Actor::Staff {
            id: user.pid.to_string(),
            role: role.expect("an account is opened only with a role"),
        };
        self.audit_staff(
            user.pid,
            audit_entry(
                &actor,
                "login.succeeded",
                vec![("method", "sso".into()), ("mfa", "provider".into())],
            ),
            origin,
            now,
        )
        .await?;
        Ok(SsoOutcome::Success {
            token,
            next: pending.next,
        })
    }

    /// The account a verified person opens, tied, updated or created as the rules say.
    async fn sso_account(
        &self,
        subject: &str,
        claims: &IdClaims,
        role: Option<Role>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Result<staff_user::Model, SsoRefusal>, ServiceError> {
        let conn = self.db().conn();
        let tied = staff_user::Entity::find()
            .filter(staff_user::Column::SsoSubject.eq(subject))
            .one(conn)
            .await?;
        let email = claims.str("email").map(normalize_email);
        let by_address = match (&tied, &email) {
            (None, Some(e)) => {
                staff_user::Entity::find()
                    .filter(staff_user::Column::Email.eq(e.as_str()))
                    .one(conn)
                    .await?
            }
            _ => None,
        };
        // Who the refusal is recorded against: the account concerned, if there is one.
        let concerned = tied.as_ref().or(by_address.as_ref()).map(|u| u.pid);
        let Some(role) = role else {
            self.sso_refused(concerned, "sso_no_role", origin, now)
                .await?;
            // Taken out of every group at the provider: the account's sessions open elsewhere
            // end now, not at their timeout.
            if let Some(user) = &tied {
                let tx = self.db().begin_write().await?;
                let ended = staff_session::Entity::delete_many()
                    .filter(staff_session::Column::UserId.eq(user.id))
                    .exec(&tx)
                    .await?;
                madoguchi_store::change::record_office(
                    &tx,
                    &format!("staff:{}", user.pid),
                    &[audit_entry(
                        &Actor::System,
                        "staff.sessions_ended",
                        vec![
                            ("user", user.pid.to_string()),
                            ("reason", "sso_no_role".into()),
                            ("sessions", ended.rows_affected.to_string()),
                        ],
                    )],
                    origin,
                    now,
                )
                .await?;
                tx.commit().await?;
            }
            return Ok(Err(SsoRefusal::NoRole));
        };
        let actor = |pid: Uuid| Actor::Staff {
            id: pid.to_string(),
            role,
        };
        if let Some(user) = tied {
            if user.disabled {
                self.sso_refused(Some(user.pid), "disabled", origin, now)
                    .await?;
                return Ok(Err(SsoRefusal::Disabled));
            }
            if user.role == role.as_str() {
                return Ok(Ok(user));
            }
            let pid = user.pid;
            let mut am = user.into_active_model();
            am.role = Set(role.as_str().to_owned());
            let entry = audit_entry(
                &actor(pid),
                "staff.updated",
                vec![
                    ("user", pid.to_string()),
                    ("role", role.as_str().to_owned()),
                    ("by", "identity_provider".into()),
                ],
            );
            return Ok(Ok(self.update_account(am, entry, origin, now).await?));
        }
        if let Some(user) = by_address {
            // Tying an account to whoever presents its address is safe only when the provider
            // has checked the address, and only once.
            if !claims.email_verified() || user.sso_subject.is_some() {
                self.sso_refused(
                    Some(user.pid),
                    "sso_address_unverified_or_tied",
                    origin,
                    now,
                )
                .await?;
                return Ok(Err(SsoRefusal::AddressTaken));
            }
            if user.disabled {
                self.sso_refused(Some(user.pid), "disabled", origin, now)
                    .await?;
                return Ok(Err(SsoRefusal::Disabled));
            }
            let pid = user.pid;
            let mut am = user.into_active_model();
            am.sso_subject = Set(Some(subject.to_owned()));
            am.role = Set(role.as_str().to_owned());
            // The password handed over, if any, is not needed any more: sign-in is by the
            // provider from now on.
            am.must_change_password = Set(false);
            let entry = audit_entry(
                &actor(pid),
                "staff.sso_linked",
                vec![
                    ("user", pid.to_string()),
                    ("role", role.as_str().to_owned()),
                ],
            );
            return Ok(Ok(self.update_account(am, entry, origin, now).await?));
        }
        let provision = self.config.sso.as_ref().is_some_and(|s| s.provision);
        let address = email
            .as_deref()
            .filter(|e| madoguchi_domain::EmailAddress::parse(e).is_ok());
        let (true, Some(address), true) = (provision, address, claims.email_verified()) else {
            self.sso_refused(None, "sso_no_account", origin, now)
                .await?;
            return Ok(Err(SsoRefusal::NoAccount));
        };
        let name: String = claims
            .str("name")
            .unwrap_or(address)
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        let pid = Uuid::new_v4();
        let row = staff_user::ActiveModel {
            pid: Set(pid),
            email: Set(address.to_owned()),
            name: Set(name.trim().to_owned()),
            role: Set(role.as_str().to_owned()),
            // No password anyone knows: the account signs in through the provider only.
            password_hash: Set(crate::staff::unusable_password()),
            totp_secret: Set(None),
            totp_enabled: Set(false),
            recovery_codes: Set(None),
            disabled: Set(false),
            failed_logins: Set(0),
            locked_until: Set(None),
            created_at: Set(now.trunc_subsecs(6)),
            must_change_password: Set(false),
            sso_subject: Set(Some(subject.to_owned())),
            ..Default::default()
        };
        let tx = self.db().begin_write().await?;
        let user = match staff_user::Entity::insert(row)
            .exec_with_returning(&tx)
            .await
        {
            Ok(u) => u,
            // Another sign-in took the address (or the subject) a moment ago.
            Err(e) if madoguchi_store::StoreError::from(e.clone()).is_unique_violation() => {
                drop(tx);
                self.sso_refused(None, "sso_address_taken", origin, now)
                    .await?;
                return Ok(Err(SsoRefusal::AddressTaken));
            }
            Err(e) => return Err(e.into()),
        };
        madoguchi_store::change::record_office(
            &tx,
            &format!("staff:{pid}"),
            &[audit_entry(
                &actor(pid),
                "staff.created",
                vec![
                    ("role", role.as_str().to_owned()),
                    ("user", pid.to_string()),
                    ("by", "identity_provider".into()),
                ],
            )],
            origin,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(user))
    }

    /// An account's change and its entry on the account's chain, in one transaction.
    async fn update_account(
        &self,
        am: staff_user::ActiveModel,
        entry: madoguchi_store::audit::NewEntry,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<staff_user::Model, ServiceError> {
        let tx = self.db().begin_write().await?;
        let user = am.update(&tx).await?;
        madoguchi_store::change::record_office(
            &tx,
            &format!("staff:{}", user.pid),
            &[entry],
            origin,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Records a refused sign-in on the account's chain, or the sign-in chain when no
    /// account is concerned.
    async fn sso_refused(
        &self,
        account: Option<Uuid>,
        reason: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let e = audit_entry(
            &Actor::System,
            "login.failed",
            vec![("method", "sso".into()), ("reason", reason.to_owned())],
        );
        match account {
            Some(pid) => self.audit_staff(pid, e, origin, now).await,
            None => self.audit_named("auth", e, origin, now).await,
        }
    }
}

fn refusal_for(e: &SsoError) -> SsoRefusal {
    match e {
        SsoError::Provider(_) | SsoError::Config(_) => SsoRefusal::Unreachable,
        SsoError::Refused(_) | SsoError::WrongIssuer | SsoError::Token(_) => SsoRefusal::Failed,
    }
}
