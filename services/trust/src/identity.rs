//! People: accounts, sign-in with password (and TOTP once enrolled), lockout after repeated
//! failures, sessions with rotating refresh tokens, sign-out.
//!
//! Authentication reports the factors used (`amr`: `pwd`, or `pwd` + `otp`); authorization
//! decides which operations need the second factor (administrators' ones do).

use crate::TrustError;
use crate::store::{SessionRow, TrustStore, UserRow};
use brain_auth::lockout::decide_by_count;
use brain_auth::session::{RefreshDecision, SessionState, decide_refresh};
use brain_auth::{
    AuthError, AuthMethod, JwtIssuer, LockoutDecision, LockoutPolicy, PasswordHasher, PasswordPolicy, Principal, RefreshToken, Role,
    SessionPolicy, Subject, Totp, TotpSecret, check_role_separation,
};
use brain_auth::jwt::IssuedToken;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// A signed-in person: an access token, the refresh token for the next one, and who they are.
pub struct SignedIn {
    pub access: IssuedToken,
    pub refresh: RefreshToken,
    pub principal: Principal,
}

pub struct Identity {
    store: TrustStore,
    hasher: PasswordHasher,
    passwords: PasswordPolicy,
    lockout: LockoutPolicy,
    sessions: SessionPolicy,
    issuer: JwtIssuer,
    totp: Totp,
}

/// What a wrong user name and a wrong password both say: which one was wrong is not told.
fn wrong_credentials() -> AuthError {
    AuthError::InvalidCredential { reason: "unknown user or wrong password".into() }
}

impl Identity {
    pub fn new(store: TrustStore, hasher: PasswordHasher, lockout: LockoutPolicy, sessions: SessionPolicy, issuer: JwtIssuer) -> Self {
        Self { store, hasher, passwords: PasswordPolicy::default(), lockout, sessions, issuer, totp: Totp::default() }
    }

    pub fn store(&self) -> &TrustStore {
        &self.store
    }

    pub async fn create_user(&self, tenant: &str, username: &str, display_name: &str, password: &str, roles: &[Role], now: DateTime<Utc>) -> Result<UserRow, TrustError> {
        self.passwords.check(password, username)?;
        check_role_separation(roles)?;
        let password_hash = self.hasher.hash_blocking(password.to_owned()).await?;
        let user = UserRow {
            tenant: tenant.to_owned(),
            id: uuid::Uuid::now_v7().simple().to_string(),
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            password_hash,
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            totp_secret: None,
            totp_last_step: 0,
            failed_sign_ins: 0,
            locked_until: None,
            created_at: now,
        };
        let mut tx = self.store.begin().await?;
        self.store.create_user(&mut tx, &user).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Stores a confirmed TOTP secret (the enrolment API shows it once and asks for a code).
    pub async fn enable_totp(&self, user: &UserRow, secret: &TotpSecret, code: &str, now: DateTime<Utc>) -> Result<UserRow, TrustError> {
        let step = self.totp.verify(secret, code, unix(now), None)?;
        let enrolled = UserRow { totp_secret: Some(secret.to_base32()), totp_last_step: step_i64(step), ..user.clone() };
        let mut tx = self.store.begin().await?;
        self.store.set_totp(&mut tx, &enrolled).await?;
        tx.commit().await?;
        Ok(enrolled)
    }

    pub async fn sign_in(&self, tenant: &str, username: &str, password: &str, totp_code: Option<&str>, now: DateTime<Utc>) -> Result<SignedIn, TrustError> {
        let Some(mut user) = self.store.user_by_name(tenant, username).await? else {
            // Spend the time a real check takes, so that user names cannot be probed.
            self.hasher.verify_absent_blocking(password.to_owned()).await;
            return Err(wrong_credentials().into());
        };
        if let Some(until) = user.locked_until.filter(|until| *until > now) {
            return Err(AuthError::Locked { until }.into());
        }
        let password_ok = self.hasher.verify_blocking(password.to_owned(), user.password_hash.clone()).await?;
        let second_factor = match (&user.totp_secret, password_ok) {
            (Some(secret), true) => {
                let code = totp_code.ok_or_else(|| AuthError::InvalidCredential { reason: "a TOTP code is required for this account".into() })?;
                let secret = TotpSecret::from_base32(secret)?;
                let last = u64::try_from(user.totp_last_step).ok().filter(|s| *s > 0);
                Some(self.totp.verify(&secret, code, unix(now), last))
            }
            _ => None,
        };
        let failed = !password_ok || matches!(second_factor, Some(Err(_)));
        if failed {
            user.failed_sign_ins += 1;
            let in_a_row = u32::try_from(user.failed_sign_ins).unwrap_or(u32::MAX);
            if let LockoutDecision::Locked { until } = decide_by_count(&self.lockout, in_a_row, Some(now), now) {
                // The lock consumes the failures that caused it.
                user.locked_until = Some(until);
                user.failed_sign_ins = 0;
            }
            self.record(&user).await?;
            return Err(match second_factor {
                Some(Err(error)) => error.into(),
                _ => wrong_credentials().into(),
            });
        }
        if let Some(Ok(step)) = second_factor {
            user.totp_last_step = step_i64(step);
        }
        user.failed_sign_ins = 0;
        user.locked_until = None;
        self.record(&user).await?;

        let (state, refresh) = SessionState::start(now);
        let session = SessionRow {
            tenant: user.tenant.clone(),
            id: uuid::Uuid::now_v7().simple().to_string(),
            family_id: state.id.clone(),
            user_id: user.id.clone(),
            refresh_hash: state.current_token_hash.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now + self.sessions.max_lifetime,
            rotated_at: None,
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        self.store.create_session(&mut tx, &session).await?;
        tx.commit().await?;
        let principal = principal_of(&user, &state.id)?;
        let access = self.issuer.issue_at(&principal, now)?;
        Ok(SignedIn { access, refresh, principal })
    }

    /// Trades a refresh token for new tokens. A token that was already traded is a stolen
    /// copy or a replay: the whole session ends.
    pub async fn refresh(&self, presented: &str, now: DateTime<Utc>) -> Result<SignedIn, TrustError> {
        let token = RefreshToken::parse(presented)?;
        let row = self.store.session_by_refresh_hash(&token.hash()).await?.ok_or_else(|| AuthError::InvalidCredential { reason: "unknown refresh token".into() })?;
        let state = SessionState {
            id: row.family_id.clone(),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            current_token_hash: if row.rotated_at.is_none() { row.refresh_hash.clone() } else { String::new() },
        };
        match decide_refresh(&self.sessions, &state, &token, now) {
            RefreshDecision::Reject(error) => Err(error.into()),
            RefreshDecision::RevokeFamily { revoked_at, .. } => {
                let mut tx = self.store.begin().await?;
                self.store.revoke_family(&mut tx, &row.tenant, &row.family_id, revoked_at).await?;
                tx.commit().await?;
                Err(AuthError::Revoked { what: "session (a refresh token was used twice)" }.into())
            }
            RefreshDecision::Rotate { session, token } => {
                let user = self.store.user(&row.tenant, &row.user_id).await?.ok_or(AuthError::Revoked { what: "account" })?;
                let next = SessionRow {
                    id: uuid::Uuid::now_v7().simple().to_string(),
                    refresh_hash: session.current_token_hash.clone(),
                    last_used_at: now,
                    rotated_at: None,
                    ..row.clone()
                };
                let mut tx = self.store.begin().await?;
                self.store.mark_rotated(&mut tx, &row, now).await?;
                self.store.create_session(&mut tx, &next).await?;
                tx.commit().await?;
                let principal = principal_of(&user, &row.family_id)?;
                let access = self.issuer.issue_at(&principal, now)?;
                Ok(SignedIn { access, refresh: token, principal })
            }
        }
    }

    /// Ends the session the refresh token belongs to (every token of it).
    /// Returns the session that ended, if the token named one.
    pub async fn sign_out(&self, presented: &str, now: DateTime<Utc>) -> Result<Option<SessionRow>, TrustError> {
        let token = RefreshToken::parse(presented)?;
        let Some(row) = self.store.session_by_refresh_hash(&token.hash()).await? else { return Ok(None) };
        let mut tx = self.store.begin().await?;
        self.store.revoke_family(&mut tx, &row.tenant, &row.family_id, now).await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    async fn record(&self, user: &UserRow) -> Result<(), TrustError> {
        let mut tx = self.store.begin().await?;
        self.store.record_sign_in(&mut tx, user).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn unix(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}

fn step_i64(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

/// The principal of a signed-in user: TOTP-enrolled accounts always signed in with both factors.
fn principal_of(user: &UserRow, session: &str) -> Result<Principal, TrustError> {
    let roles: BTreeSet<Role> = user
        .roles
        .iter()
        .map(|r| r.parse::<Role>().map_err(|_| TrustError::Corrupt { what: "user role", id: user.id.clone(), reason: r.clone() }))
        .collect::<Result<_, _>>()?;
    Ok(Principal {
        tenant: user.tenant.clone(),
        subject: Subject::User { id: user.id.clone(), name: user.display_name.clone() },
        roles,
        scope: None,
        method: if user.totp_secret.is_some() { AuthMethod::PasswordOtp } else { AuthMethod::Password },
        session_id: Some(session.to_owned()),
    })
}
