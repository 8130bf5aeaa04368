//! Durable cursors of pull feeds: one row per tenant and feed in the platform store, written
//! only after the records a cursor covers are durable on the bus.

use brain_store::{Migration, Migrations, Store, StoreError, TenantId, Value};

pub(crate) const MIGRATIONS: Migrations = Migrations {
    owner: "ingestion",
    postgres: &[Migration::new(1, "pull feed cursors", include_str!("../../migrations/postgres/0001_pull_cursors.sql"))],
    sqlite: &[Migration::new(1, "pull feed cursors", include_str!("../../migrations/sqlite/0001_pull_cursors.sql"))],
};

#[derive(Clone)]
pub(crate) struct CursorStore {
    store: Store,
}

impl CursorStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn load(&self, tenant: &str, feed: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let tenant = TenantId::new(tenant)?;
        let row = self
            .store
            .scoped(&tenant)
            .fetch_optional("SELECT cursor_json FROM ingestion_pull_cursors WHERE tenant_id = $1 AND feed = $2", &[Value::from(feed)])
            .await?;
        row.map(|row| row.get::<serde_json::Value>("cursor_json")).transpose()
    }

    pub async fn save(&self, tenant: &str, feed: &str, cursor: &serde_json::Value) -> Result<(), StoreError> {
        let tenant = TenantId::new(tenant)?;
        self.store
            .scoped(&tenant)
            .execute(
                "INSERT INTO ingestion_pull_cursors (tenant_id, feed, cursor_json, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, feed) DO UPDATE SET cursor_json = excluded.cursor_json, updated_at = excluded.updated_at",
                &[Value::from(feed), Value::Json(cursor.clone()), Value::Timestamp(chrono::Utc::now())],
            )
            .await?;
        Ok(())
    }
}
