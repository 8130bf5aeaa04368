//! Tenants, users, sessions and API keys. Secrets never reach these tables in clear: passwords
//! as argon2id PHC strings, refresh tokens and API keys as SHA-256 hashes.

use super::{TrustStore, encode, tenant};
use crate::TrustError;
use brain_store::{Row, StoreTx, Value};
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq)]
pub struct TenantRow {
    pub id: String,
    /// `platform`, `government`, `enterprise`, `service-provider` or `bank`.
    pub kind: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UserRow {
    pub tenant: String,
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub totp_secret: Option<String>,
    /// The last TOTP time step accepted: a code is never accepted twice.
    pub totp_last_step: i64,
    pub failed_sign_ins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    pub tenant: String,
    pub id: String,
    pub family_id: String,
    pub user_id: String,
    pub refresh_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when a refresh replaced this session's token: presenting it again is token theft.
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiKeyRow {
    pub tenant: String,
    pub id: String,
    pub name: String,
    pub key_hash: String,
    /// `{"services": [...], "datasets": [...]}`.
    pub scope: serde_json::Value,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn roles(row: &Row) -> Result<Vec<String>, TrustError> {
    let json: serde_json::Value = row.get("roles")?;
    let id: String = row.get("id")?;
    serde_json::from_value(json).map_err(|e| TrustError::Corrupt { what: "roles", id, reason: e.to_string() })
}

fn user_from(row: &Row) -> Result<UserRow, TrustError> {
    Ok(UserRow {
        tenant: row.get("tenant_id")?,
        id: row.get("id")?,
        username: row.get("username")?,
        display_name: row.get("display_name")?,
        password_hash: row.get("password_hash")?,
        roles: roles(row)?,
        totp_secret: row.get("totp_secret")?,
        totp_last_step: row.get("totp_last_step")?,
        failed_sign_ins: row.get("failed_sign_ins")?,
        locked_until: row.get("locked_until")?,
        created_at: row.get("created_at")?,
    })
}

fn session_from(row: &Row) -> Result<SessionRow, TrustError> {
    Ok(SessionRow {
        tenant: row.get("tenant_id")?,
        id: row.get("id")?,
        family_id: row.get("family_id")?,
        user_id: row.get("user_id")?,
        refresh_hash: row.get("refresh_hash")?,
        created_at: row.get("created_at")?,
        last_used_at: row.get("last_used_at")?,
        expires_at: row.get("expires_at")?,
        rotated_at: row.get("rotated_at")?,
        revoked_at: row.get("revoked_at")?,
    })
}

fn key_from(row: &Row) -> Result<ApiKeyRow, TrustError> {
    Ok(ApiKeyRow {
        tenant: row.get("tenant_id")?,
        id: row.get("id")?,
        name: row.get("name")?,
        key_hash: row.get("key_hash")?,
        scope: row.get("scope")?,
        roles: roles(row)?,
        created_at: row.get("created_at")?,
        expires_at: row.get("expires_at")?,
        revoked_at: row.get("revoked_at")?,
    })
}

const USER_COLUMNS: &str =
    "tenant_id, id, username, display_name, password_hash, roles, totp_secret, totp_last_step, failed_sign_ins, locked_until, created_at";
const SESSION_COLUMNS: &str = "tenant_id, id, family_id, user_id, refresh_hash, created_at, last_used_at, expires_at, rotated_at, revoked_at";
const KEY_COLUMNS: &str = "tenant_id, id, name, key_hash, scope, roles, created_at, expires_at, revoked_at";

impl TrustStore {
    pub async fn create_tenant(&self, tx: &mut StoreTx, row: &TenantRow) -> Result<(), TrustError> {
        tx.scoped(&tenant(&row.id)?)
            .execute(
                "INSERT INTO trust_tenants (tenant_id, kind, name, created_at) VALUES ($1, $2, $3, $4)",
                &[Value::from(row.kind.as_str()), Value::from(row.name.as_str()), Value::Timestamp(row.created_at)],
            )
            .await?;
        Ok(())
    }

    /// Every tenant, by id after `after`: for platform administrators, whose job spans tenants.
    pub async fn tenants(&self, after: &str, limit: i64) -> Result<Vec<TenantRow>, TrustError> {
        let rows = self
            .store
            .unscoped()
            .fetch_all("SELECT tenant_id, kind, name, created_at FROM trust_tenants WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2", &[Value::from(after), Value::Int(limit)])
            .await?;
        rows.iter()
            .map(|r| Ok(TenantRow { id: r.get("tenant_id")?, kind: r.get("kind")?, name: r.get("name")?, created_at: r.get("created_at")? }))
            .collect()
    }

    pub async fn create_user(&self, tx: &mut StoreTx, user: &UserRow) -> Result<(), TrustError> {
        tx.scoped(&tenant(&user.tenant)?)
            .execute(
                &format!("INSERT INTO trust_users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
                &[
                    Value::from(user.id.as_str()),
                    Value::from(user.username.as_str()),
                    Value::from(user.display_name.as_str()),
                    Value::from(user.password_hash.as_str()),
                    encode(&user.roles),
                    Value::from(user.totp_secret.as_deref()),
                    Value::Int(user.totp_last_step),
                    Value::Int(user.failed_sign_ins),
                    Value::from(user.locked_until.map(Value::Timestamp)),
                    Value::Timestamp(user.created_at),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn user_by_name(&self, tenant_id: &str, username: &str) -> Result<Option<UserRow>, TrustError> {
        let row = self
            .store
            .scoped(&tenant(tenant_id)?)
            .fetch_optional(&format!("SELECT {USER_COLUMNS} FROM trust_users WHERE tenant_id = $1 AND username = $2"), &[Value::from(username)])
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    pub async fn user(&self, tenant_id: &str, id: &str) -> Result<Option<UserRow>, TrustError> {
        let row = self
            .store
            .scoped(&tenant(tenant_id)?)
            .fetch_optional(&format!("SELECT {USER_COLUMNS} FROM trust_users WHERE tenant_id = $1 AND id = $2"), &[Value::from(id)])
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    /// A tenant's users by id after `after`.
    pub async fn users(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<UserRow>, TrustError> {
        let rows = self
            .store
            .scoped(&tenant(tenant_id)?)
            .fetch_all(&format!("SELECT {USER_COLUMNS} FROM trust_users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"), &[Value::from(after), Value::Int(limit)])
            .await?;
        rows.iter().map(user_from).collect()
    }

    /// Whether any user exists in the tenant (the first system administrator is made once).
    pub async fn has_users(&self, tenant_id: &str) -> Result<bool, TrustError> {
        Ok(!self.users(tenant_id, "", 1).await?.is_empty())
    }

    /// A tenant by id.
    pub async fn tenant(&self, id: &str) -> Result<Option<TenantRow>, TrustError> {
        let row = self
            .store
            .scoped(&tenant(id)?)
            .fetch_optional("SELECT tenant_id, kind, name, created_at FROM trust_tenants WHERE tenant_id = $1", &[])
            .await?;
        row.map(|r| Ok(TenantRow { id: r.get("tenant_id")?, kind: r.get("kind")?, name: r.get("name")?, created_at: r.get("created_at")? })).transpose()
    }

    /// Records a sign-in outcome: failures so far, the lock, and the TOTP step just used.
    pub async fn record_sign_in(&self, tx: &mut StoreTx, user: &UserRow) -> Result<(), TrustError> {
        tx.scoped(&tenant(&user.tenant)?)
            .execute(
                "UPDATE trust_users SET failed_sign_ins = $3, locked_until = $4, totp_last_step = $5 WHERE tenant_id = $1 AND id = $2",
                &[Value::from(user.id.as_str()), Value::Int(user.failed_sign_ins), Value::from(user.locked_until.map(Value::Timestamp)), Value::Int(user.totp_last_step)],
            )
            .await?;
        Ok(())
    }

    pub async fn set_totp(&self, tx: &mut StoreTx, user: &UserRow) -> Result<(), TrustError> {
        tx.scoped(&tenant(&user.tenant)?)
            .execute(
                "UPDATE trust_users SET totp_secret = $3, totp_last_step = $4 WHERE tenant_id = $1 AND id = $2",
                &[Value::from(user.id.as_str()), Value::from(user.totp_secret.as_deref()), Value::Int(user.totp_last_step)],
            )
            .await?;
        Ok(())
    }

    pub async fn create_session(&self, tx: &mut StoreTx, session: &SessionRow) -> Result<(), TrustError> {
        tx.scoped(&tenant(&session.tenant)?)
            .execute(
                &format!("INSERT INTO trust_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                &[
                    Value::from(session.id.as_str()),
                    Value::from(session.family_id.as_str()),
                    Value::from(session.user_id.as_str()),
                    Value::from(session.refresh_hash.as_str()),
                    Value::Timestamp(session.created_at),
                    Value::Timestamp(session.last_used_at),
                    Value::Timestamp(session.expires_at),
                    Value::from(session.rotated_at.map(Value::Timestamp)),
                    Value::from(session.revoked_at.map(Value::Timestamp)),
                ],
            )
            .await?;
        Ok(())
    }

    /// The session a refresh token belongs to. Brain-wide by design: the token's hash is the
    /// credential, and the caller has no tenant until it is found.
    pub async fn session_by_refresh_hash(&self, refresh_hash: &str) -> Result<Option<SessionRow>, TrustError> {
        let row = self
            .store
            .unscoped()
            .fetch_optional(&format!("SELECT {SESSION_COLUMNS} FROM trust_sessions WHERE refresh_hash = $1"), &[Value::from(refresh_hash)])
            .await?;
        row.as_ref().map(session_from).transpose()
    }

    /// Marks a session's token as replaced by a refresh.
    pub async fn mark_rotated(&self, tx: &mut StoreTx, session: &SessionRow, at: DateTime<Utc>) -> Result<(), TrustError> {
        tx.scoped(&tenant(&session.tenant)?)
            .execute(
                "UPDATE trust_sessions SET rotated_at = $3, last_used_at = $3 WHERE tenant_id = $1 AND id = $2",
                &[Value::from(session.id.as_str()), Value::Timestamp(at)],
            )
            .await?;
        Ok(())
    }

    /// Ends every session of a sign-in (sign-out, or a stolen refresh token).
    pub async fn revoke_family(&self, tx: &mut StoreTx, tenant_id: &str, family_id: &str, at: DateTime<Utc>) -> Result<u64, TrustError> {
        Ok(tx
            .scoped(&tenant(tenant_id)?)
            .execute(
                "UPDATE trust_sessions SET revoked_at = $3 WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL",
                &[Value::from(family_id), Value::Timestamp(at)],
            )
            .await?)
    }

    pub async fn create_api_key(&self, tx: &mut StoreTx, key: &ApiKeyRow) -> Result<(), TrustError> {
        tx.scoped(&tenant(&key.tenant)?)
            .execute(
                &format!("INSERT INTO trust_api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                &[
                    Value::from(key.id.as_str()),
                    Value::from(key.name.as_str()),
                    Value::from(key.key_hash.as_str()),
                    Value::Json(key.scope.clone()),
                    encode(&key.roles),
                    Value::Timestamp(key.created_at),
                    Value::from(key.expires_at.map(Value::Timestamp)),
                    Value::from(key.revoked_at.map(Value::Timestamp)),
                ],
            )
            .await?;
        Ok(())
    }

    /// An API key by id. Brain-wide by design: a presented key names only its id; the caller
    /// then compares the key's hash and learns the tenant from the row.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRow>, TrustError> {
        let row = self.store.unscoped().fetch_optional(&format!("SELECT {KEY_COLUMNS} FROM trust_api_keys WHERE id = $1"), &[Value::from(id)]).await?;
        row.as_ref().map(key_from).transpose()
    }

    pub async fn api_keys(&self, tenant_id: &str, after: &str, limit: i64) -> Result<Vec<ApiKeyRow>, TrustError> {
        let rows = self
            .store
            .scoped(&tenant(tenant_id)?)
            .fetch_all(
                &format!("SELECT {KEY_COLUMNS} FROM trust_api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"),
                &[Value::from(after), Value::Int(limit)],
            )
            .await?;
        rows.iter().map(key_from).collect()
    }

    /// Revokes a tenant's key; false when the tenant has no such key (or it was revoked).
    pub async fn revoke_api_key(&self, tx: &mut StoreTx, tenant_id: &str, id: &str, at: DateTime<Utc>) -> Result<bool, TrustError> {
        let changed = tx
            .scoped(&tenant(tenant_id)?)
            .execute(
                "UPDATE trust_api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                &[Value::from(id), Value::Timestamp(at)],
            )
            .await?;
        Ok(changed == 1)
    }
}
