//! API keys for the authentication layer: the stored record of a presented key id. The layer
//! compares the presented key's hash with the record's and checks expiry and revocation.

use crate::store::{ApiKeyRow, TrustStore};
use brain_auth::{ApiKeyRecord, ApiKeyResolver, AuthError, KeyScope, Role};
use std::collections::BTreeSet;

pub struct StoredKeys {
    store: TrustStore,
}

impl StoredKeys {
    pub fn new(store: TrustStore) -> Self {
        Self { store }
    }
}

/// A stored key as the authentication layer needs it; a stored role or scope it cannot read is
/// an error, never a silently narrower (or wider) key.
pub fn record_of(row: ApiKeyRow) -> Result<ApiKeyRecord, AuthError> {
    let corrupt = |what: &str, reason: String| AuthError::Internal { reason: format!("stored API key {}: {what}: {reason}", row.id) };
    let roles: BTreeSet<Role> = row.roles.iter().map(|r| r.parse::<Role>().map_err(|_| corrupt("role", r.clone()))).collect::<Result<_, _>>()?;
    let scope: KeyScope = serde_json::from_value(row.scope.clone()).map_err(|e| corrupt("scope", e.to_string()))?;
    Ok(ApiKeyRecord { id: row.id, tenant: row.tenant, name: row.name, scope, roles, expires_at: row.expires_at, revoked_at: row.revoked_at, hash: row.key_hash })
}

#[async_trait::async_trait]
impl ApiKeyResolver for StoredKeys {
    async fn resolve(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        let row = self.store.api_key(key_id).await.map_err(|e| AuthError::Internal { reason: format!("API key lookup: {e}") })?;
        row.map(record_of).transpose()
    }
}
