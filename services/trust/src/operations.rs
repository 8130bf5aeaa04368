//! The trust service's operations, shared by REST and gRPC: each checks the caller (see
//! [`crate::authz`]), does its work through the store, and records key operations in the
//! ledger before answering.

use crate::audit::{Audit, AuditEntry};
use crate::identity::{Identity, SignedIn};
use crate::store::{ApiKeyRow, TenantRow, TrustStore, UserRow};
use crate::{TrustError, authz};
use brain_auth::{ApiKey, AuthError, KeyScope, Principal, PublicKey, Role, Subject, TenantKind, Totp, TotpSecret};
use brain_core::ServiceError;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;

/// The most rows one page of a listing returns.
pub const MAX_PAGE: i64 = 500;

pub fn page_limit(requested: Option<u32>) -> i64 {
    requested.map_or(100, i64::from).clamp(1, MAX_PAGE)
}

/// A key as created: the row and the secret, shown once.
pub struct CreatedKey {
    pub row: ApiKeyRow,
    pub secret: String,
}

pub struct NewApiKey {
    pub name: String,
    pub roles: Vec<Role>,
    pub scope: KeyScope,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Limits on what people type.
const MAX_NAME_CHARS: usize = 200;

#[derive(Clone)]
pub struct Trust {
    pub(crate) identity: Arc<Identity>,
    pub(crate) store: TrustStore,
    pub(crate) audit: Audit,
    pub(crate) token_keys: Vec<PublicKey>,
    pub(crate) issuer: String,
    pub(crate) sharing: crate::sharing::Sharing,
    pub(crate) ledger: brain_ledger::Ledger,
    /// Appends to the ledger and announces the entries on the bus.
    pub(crate) recorder: Arc<crate::ledger_sink::LedgerSink>,
}

fn anonymous(tenant: &str, action: &'static str, subject: &str, details: serde_json::Value) -> AuditEntry {
    AuditEntry { actor: "anonymous".into(), tenant: tenant.to_owned(), action, subject: subject.to_owned(), result: "failed", details }
}

fn check_name(field: &str, value: &str) -> Result<(), TrustError> {
    if value.trim().is_empty() || value.chars().count() > MAX_NAME_CHARS {
        return Err(AuthError::bad_input(format!("{field} must be 1 to {MAX_NAME_CHARS} characters")).into());
    }
    Ok(())
}

impl Trust {
    pub fn store(&self) -> &TrustStore {
        &self.store
    }

    // ---- sessions ----------------------------------------------------------------------

    /// Signs a person in; failures are audited too (who tried, not with what).
    pub async fn sign_in(&self, tenant: &str, username: &str, password: &str, totp: Option<&str>) -> Result<SignedIn, TrustError> {
        // An unknown tenant id is not a valid tenant scope either; both read as a failed sign-in.
        if brain_store::TenantId::new(tenant).is_err() {
            return Err(AuthError::InvalidCredential { reason: "unknown user or wrong password".into() }.into());
        }
        match self.identity.sign_in(tenant, username, password, totp, Utc::now()).await {
            Ok(signed_in) => {
                let principal = &signed_in.principal;
                self.audit.record(AuditEntry::by(principal, "auth.sign_in", principal.subject.actor(), json!({ "username": username, "amr": principal.method.amr() }))).await?;
                Ok(signed_in)
            }
            Err(error) => {
                let reason = error.to_string();
                self.audit.record(anonymous(tenant, "auth.sign_in", username, json!({ "username": username, "reason": reason }))).await?;
                Err(error)
            }
        }
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<SignedIn, TrustError> {
        let signed_in = self.identity.refresh(refresh_token, Utc::now()).await?;
        Ok(signed_in)
    }

    pub async fn sign_out(&self, refresh_token: &str) -> Result<(), TrustError> {
        if let Some(session) = self.identity.sign_out(refresh_token, Utc::now()).await? {
            let entry = AuditEntry { actor: format!("user:{}", session.user_id), tenant: session.tenant.clone(), action: "auth.sign_out", subject: session.family_id, result: "ok", details: json!({}) };
            self.audit.record(entry).await?;
        }
        Ok(())
    }

    /// The JWK set other services and brains verify this brain's access tokens with.
    pub fn jwks(&self) -> serde_json::Value {
        json!({ "keys": self.token_keys.iter().map(PublicKey::to_jwk).collect::<Vec<_>>() })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    // ---- tenants and users ---------------------------------------------------------------

    pub async fn create_tenant(&self, caller: &Principal, id: &str, kind: TenantKind, name: &str) -> Result<TenantRow, TrustError> {
        authz::may_create_tenant(caller)?;
        kind.validate_id(id)?;
        check_name("name", name)?;
        let row = TenantRow { id: id.to_owned(), kind: kind.as_str().to_owned(), name: name.to_owned(), created_at: Utc::now() };
        let mut tx = self.store.begin().await?;
        self.store.create_tenant(&mut tx, &row).await?;
        tx.commit().await?;
        self.audit.record(AuditEntry::by(caller, "tenant.create", id, json!({ "kind": row.kind, "name": name }))).await?;
        Ok(row)
    }

    /// Platform administrators and the auditor see every tenant; others their own.
    pub async fn list_tenants(&self, caller: &Principal, after: &str, limit: i64) -> Result<Vec<TenantRow>, TrustError> {
        if caller.is_any(&[Role::SystemAdmin, Role::SecurityAdmin, Role::Auditor]) {
            caller.require_second_factor_for_admins()?;
            return self.store.tenants(after, limit).await;
        }
        Ok(self.store.tenant(&caller.tenant).await?.into_iter().filter(|t| t.id.as_str() > after).collect())
    }

    pub async fn create_user(&self, caller: &Principal, tenant: &str, username: &str, display_name: &str, password: &str, roles: &[Role]) -> Result<UserRow, TrustError> {
        authz::may_create_user(caller, tenant, roles)?;
        check_name("username", username)?;
        check_name("display_name", display_name)?;
        if self.store.tenant(tenant).await?.is_none() {
            return Err(TrustError::NotFound { what: "tenant", id: tenant.to_owned() });
        }
        let user = self.identity.create_user(tenant, username, display_name, password, roles, Utc::now()).await?;
        let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        self.audit.record(AuditEntry::by(caller, "user.create", format!("{tenant}/{}", user.id), json!({ "username": username, "roles": roles }))).await?;
        Ok(user)
    }

    pub async fn list_users(&self, caller: &Principal, tenant: &str, after: &str, limit: i64) -> Result<Vec<UserRow>, TrustError> {
        authz::may_read_accounts(caller, tenant)?;
        self.store.users(tenant, after, limit).await
    }

    /// A new TOTP secret for the caller, to confirm with a code from the authenticator app.
    pub fn enroll_totp(&self, caller: &Principal) -> Result<(TotpSecret, String), TrustError> {
        let Subject::User { name, .. } = &caller.subject else {
            return Err(AuthError::denied("only people enrol a second factor").into());
        };
        let secret = TotpSecret::generate();
        let uri = Totp::default().provisioning_uri(&secret, &self.issuer, &format!("{}:{name}", caller.tenant));
        Ok((secret, uri))
    }

    pub async fn confirm_totp(&self, caller: &Principal, secret_base32: &str, code: &str) -> Result<UserRow, TrustError> {
        let Subject::User { id, .. } = &caller.subject else {
            return Err(AuthError::denied("only people enrol a second factor").into());
        };
        let user = self.store.user(&caller.tenant, id).await?.ok_or(AuthError::Revoked { what: "account" })?;
        let secret = TotpSecret::from_base32(secret_base32).map_err(|e| AuthError::bad_input(format!("secret_base32: {e}")))?;
        let user = self.identity.enable_totp(&user, &secret, code, Utc::now()).await?;
        self.audit.record(AuditEntry::by(caller, "user.totp_enrol", format!("{}/{id}", caller.tenant), json!({}))).await?;
        Ok(user)
    }

    // ---- API keys --------------------------------------------------------------------------

    pub async fn create_api_key(&self, caller: &Principal, tenant: &str, new: NewApiKey) -> Result<CreatedKey, TrustError> {
        authz::may_issue_api_key(caller, tenant, &new.roles)?;
        check_name("name", &new.name)?;
        let now = Utc::now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::bad_input("expires_at is in the past").into());
        }
        if self.store.tenant(tenant).await?.is_none() {
            return Err(TrustError::NotFound { what: "tenant", id: tenant.to_owned() });
        }
        let key = ApiKey::generate();
        let row = ApiKeyRow {
            tenant: tenant.to_owned(),
            id: key.key_id().to_owned(),
            name: new.name,
            key_hash: key.hash(),
            scope: serde_json::to_value(&new.scope).map_err(|e| AuthError::internal(e.to_string()))?,
            roles: new.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        self.store.create_api_key(&mut tx, &row).await?;
        tx.commit().await?;
        self.audit
            .record(AuditEntry::by(caller, "api_key.create", format!("{tenant}/{}", row.id), json!({ "name": row.name, "roles": row.roles, "scope": row.scope, "expires_at": row.expires_at })))
            .await?;
        Ok(CreatedKey { row, secret: key.expose().to_owned() })
    }

    pub async fn list_api_keys(&self, caller: &Principal, tenant: &str, after: &str, limit: i64) -> Result<Vec<ApiKeyRow>, TrustError> {
        authz::may_read_accounts(caller, tenant)?;
        self.store.api_keys(tenant, after, limit).await
    }

    pub async fn revoke_api_key(&self, caller: &Principal, tenant: &str, id: &str) -> Result<ApiKeyRow, TrustError> {
        authz::may_revoke_api_key(caller, tenant)?;
        let mut tx = self.store.begin().await?;
        let revoked = self.store.revoke_api_key(&mut tx, tenant, id, Utc::now()).await?;
        tx.commit().await?;
        let row = self.store.api_key(id).await?.filter(|row| row.tenant == tenant && revoked).ok_or_else(|| TrustError::NotFound { what: "active API key", id: id.to_owned() })?;
        self.audit.record(AuditEntry::by(caller, "api_key.revoke", format!("{tenant}/{id}"), json!({}))).await?;
        Ok(row)
    }

    /// For other services' authentication layers: a key's stored record, by key id.
    pub async fn resolve_api_key(&self, caller: &Principal, id: &str) -> Result<ApiKeyRow, TrustError> {
        if !caller.is_service() {
            return Err(AuthError::denied("only services of the brain resolve API keys").into());
        }
        self.store.api_key(id).await?.ok_or_else(|| TrustError::NotFound { what: "API key", id: id.to_owned() })
    }

    // ---- bootstrap -------------------------------------------------------------------------

    /// Creates the platform tenant and its first system administrator when the brain has no
    /// users yet; returns the administrator's password when this call made it.
    pub async fn bootstrap(&self, configured_password: &str) -> Result<Option<String>, TrustError> {
        let platform = brain_auth::PLATFORM_TENANT;
        if self.store.tenant(platform).await?.is_none() {
            let row = TenantRow { id: platform.into(), kind: TenantKind::Platform.as_str().into(), name: "Platform operator".into(), created_at: Utc::now() };
            let mut tx = self.store.begin().await?;
            match self.store.create_tenant(&mut tx, &row).await {
                Ok(()) => tx.commit().await?,
                // Another replica made it first.
                Err(TrustError::Store(e)) if e.code() == brain_core::ErrorCode::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        if self.store.has_users(platform).await? {
            return Ok(None);
        }
        let password = if configured_password.is_empty() { ApiKey::generate().expose().replace('_', "-") } else { configured_password.to_owned() };
        match self.identity.create_user(platform, "admin", "System administrator", &password, &[Role::SystemAdmin], Utc::now()).await {
            Ok(user) => {
                let entry = AuditEntry { actor: "service:trust".into(), tenant: platform.into(), action: "user.bootstrap_admin", subject: format!("{platform}/{}", user.id), result: "ok", details: json!({ "username": "admin" }) };
                self.audit.record(entry).await?;
                Ok(Some(password))
            }
            Err(TrustError::Store(e)) if e.code() == brain_core::ErrorCode::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        }
    }
}
