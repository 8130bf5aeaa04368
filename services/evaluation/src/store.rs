//! The usage table: one row per tenant, day, kind and unit.

use crate::EvaluationError;
use brain_store::{Migration, Migrations, Store, StoreTx, TenantId, Value};

pub(crate) const MIGRATIONS: Migrations = Migrations {
    owner: "evaluation",
    postgres: &[Migration::new(1, "usage per tenant and day", include_str!("../migrations/postgres/0001_usage_daily.sql"))],
    sqlite: &[Migration::new(1, "usage per tenant and day", include_str!("../migrations/sqlite/0001_usage_daily.sql"))],
};

/// One metered quantity to add.
pub(crate) struct UsageDelta<'a> {
    pub tenant: &'a TenantId,
    pub day: &'a str,
    pub kind: &'a str,
    pub unit: &'a str,
    pub quantity: f64,
    /// How many events the quantity sums.
    pub events: i64,
}

/// A total of one kind and unit over a range of days.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct UsageTotal {
    pub kind: String,
    pub unit: String,
    pub quantity: f64,
    pub events: i64,
}

#[derive(Clone)]
pub(crate) struct UsageStore {
    store: Store,
}

impl UsageStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn begin(&self) -> Result<StoreTx, EvaluationError> {
        Ok(self.store.begin().await?)
    }

    /// Adds a delta inside the consumer's transaction (with its dedupe marks).
    pub async fn add(&self, tx: &mut StoreTx, delta: &UsageDelta<'_>) -> Result<(), EvaluationError> {
        tx.scoped(delta.tenant)
            .execute(
                "INSERT INTO evaluation_usage_daily (tenant_id, day, kind, unit, quantity, events) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, day, kind, unit) DO UPDATE \
                 SET quantity = evaluation_usage_daily.quantity + excluded.quantity, \
                     events = evaluation_usage_daily.events + excluded.events",
                &[Value::from(delta.day), Value::from(delta.kind), Value::from(delta.unit), Value::Float(delta.quantity), Value::from(delta.events)],
            )
            .await?;
        Ok(())
    }

    /// Totals per kind and unit between two days (inclusive; empty = unbounded).
    pub async fn totals(&self, tenant: &TenantId, from_day: &str, to_day: &str) -> Result<Vec<UsageTotal>, EvaluationError> {
        let rows = self
            .store
            .scoped(tenant)
            .fetch_all(
                "SELECT kind, unit, SUM(quantity) AS quantity, CAST(SUM(events) AS BIGINT) AS events FROM evaluation_usage_daily \
                 WHERE tenant_id = $1 AND ($2 = '' OR day >= $2) AND ($3 = '' OR day <= $3) \
                 GROUP BY kind, unit ORDER BY kind, unit",
                &[Value::from(from_day), Value::from(to_day)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(UsageTotal {
                    kind: row.get("kind")?,
                    unit: row.get("unit")?,
                    quantity: row.get("quantity")?,
                    events: row.get("events")?,
                })
            })
            .collect()
    }
}
