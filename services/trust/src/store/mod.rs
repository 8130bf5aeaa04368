//! Trust tables. Tenant-owned rows are reached through tenant scopes; the few brain-wide
//! reads (the circulation catalog, credential lookups by key id or token hash) say why.

mod access;
mod identity;
mod reports;

pub use access::Side;
pub use identity::{ApiKeyRow, SessionRow, TenantRow, UserRow};

use crate::TrustError;
use brain_store::{Migration, Migrations, Row, Store, StoreTx, TenantId, Value};
use serde::de::DeserializeOwned;

pub const MIGRATIONS: Migrations = Migrations {
    owner: "trust",
    postgres: &[
        Migration::new(1, "data products and grants", include_str!("../../migrations/postgres/0001_products_grants.sql")),
        Migration::new(2, "tenants, users, sessions, API keys", include_str!("../../migrations/postgres/0002_identity.sql")),
        Migration::new(3, "trusted-status reports", include_str!("../../migrations/postgres/0003_reports.sql")),
    ],
    sqlite: &[
        Migration::new(1, "data products and grants", include_str!("../../migrations/sqlite/0001_products_grants.sql")),
        Migration::new(2, "tenants, users, sessions, API keys", include_str!("../../migrations/sqlite/0002_identity.sql")),
        Migration::new(3, "trusted-status reports", include_str!("../../migrations/sqlite/0003_reports.sql")),
    ],
};

fn tenant(id: &str) -> Result<TenantId, TrustError> {
    Ok(TenantId::new(id)?)
}

fn decode<T: DeserializeOwned>(row: &Row, column: &str, what: &'static str) -> Result<T, TrustError> {
    let json: serde_json::Value = row.get(column)?;
    let id: String = row.get("id")?;
    serde_json::from_value(json).map_err(|e| TrustError::Corrupt { what, id, reason: e.to_string() })
}

fn encode<T: serde::Serialize>(value: &T) -> Value {
    Value::Json(serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
}

#[derive(Clone)]
pub struct TrustStore {
    store: Store,
}

impl TrustStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn begin(&self) -> Result<StoreTx, TrustError> {
        Ok(self.store.begin().await?)
    }
}
