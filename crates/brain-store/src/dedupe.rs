//! Consumer-side deduplication of at-least-once deliveries.
//!
//! A consumer applies an event and records its id in the *same* transaction:
//!
//! ```no_run
//! # async fn handle(store: &brain_store::Store, event_id: &str) -> Result<(), brain_store::StoreError> {
//! let mut tx = store.begin().await?;
//! if store.mark_processed(&mut tx, "warehouse-writer", event_id).await? {
//!     // first delivery: write the effect with `tx.scoped(..)` / `tx.unscoped()`
//! }
//! tx.commit().await?; // then commit the bus offset
//! # Ok(()) }
//! ```
//!
//! If the process dies before the commit, neither the effect nor the mark exists and the
//! redelivered event is applied; after the commit, a redelivery finds the mark and is skipped.

use crate::engine::{Pool, Store};
use crate::error::StoreError;
use crate::tx::{StoreTx, TxInner};
use crate::value::sqlite_timestamp;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::AssertSqlSafe;
use std::collections::BTreeSet;

const INSERT: &str = "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

/// Rows per statement of [`StoreTx::mark_processed_batch`]: three parameters a row stays far
/// below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
const BATCH_ROWS: usize = 500;

fn validate(consumer: &str, event_id: &str) -> Result<(), StoreError> {
    if consumer.is_empty() || event_id.is_empty() {
        return Err(StoreError::InvalidArgument(
            "consumer and event id must not be empty".to_owned(),
        ));
    }
    Ok(())
}

impl StoreTx {
    /// Records that `consumer` processed `event_id`, within this transaction. `true` when the
    /// id is new (apply the event), `false` when it was already recorded (skip it). Concurrent
    /// callers with the same pair block until the first commits or rolls back; exactly one
    /// gets `true`.
    pub async fn mark_processed(
        &mut self,
        consumer: &str,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        validate(consumer, event_id)?;
        let now = Utc::now().trunc_subsecs(6);
        let inserted = match &mut self.0 {
            TxInner::Postgres(tx) => sqlx::query(INSERT)
                .bind(consumer.to_owned())
                .bind(event_id.to_owned())
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            TxInner::Sqlite(tx) => sqlx::query(INSERT)
                .bind(consumer.to_owned())
                .bind(event_id.to_owned())
                .bind(sqlite_timestamp(&now))
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        };
        Ok(inserted == 1)
    }

    /// [`Self::mark_processed`] for many events in a few statements: returns the ids that are
    /// new (apply those), in no particular order. An id given twice is new at most once.
    pub async fn mark_processed_batch(
        &mut self,
        consumer: &str,
        event_ids: &[&str],
    ) -> Result<BTreeSet<String>, StoreError> {
        let unique: BTreeSet<&str> = event_ids.iter().copied().collect();
        for id in &unique {
            validate(consumer, id)?;
        }
        let unique: Vec<&str> = unique.into_iter().collect();
        let now = Utc::now().trunc_subsecs(6);
        let mut new = BTreeSet::new();
        for chunk in unique.chunks(BATCH_ROWS) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            // Only placeholders are formatted in; every value is bound.
            let sql = format!(
                "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING event_id",
                rows.join(", ")
            );
            match &mut self.0 {
                TxInner::Postgres(tx) => {
                    let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(consumer.to_owned()).bind((*id).to_owned()).bind(now);
                    }
                    new.extend(query.fetch_all(&mut **tx).await?);
                }
                TxInner::Sqlite(tx) => {
                    let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(consumer.to_owned()).bind((*id).to_owned()).bind(sqlite_timestamp(&now));
                    }
                    new.extend(query.fetch_all(&mut **tx).await?);
                }
            }
        }
        Ok(new)
    }
}

impl Store {
    /// [`StoreTx::mark_processed`]: the dedupe mark, inside the consumer's transaction.
    pub async fn mark_processed(
        &self,
        tx: &mut StoreTx,
        consumer: &str,
        event_id: &str,
    ) -> Result<bool, StoreError> {
        tx.mark_processed(consumer, event_id).await
    }

    /// Whether `consumer` has a committed mark for `event_id`.
    pub async fn is_processed(&self, consumer: &str, event_id: &str) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2";
        let found = match &self.pool {
            Pool::Postgres(pool) => sqlx::query(SQL)
                .bind(consumer.to_owned())
                .bind(event_id.to_owned())
                .fetch_optional(pool)
                .await?
                .is_some(),
            Pool::Sqlite(pool) => sqlx::query(SQL)
                .bind(consumer.to_owned())
                .bind(event_id.to_owned())
                .fetch_optional(pool)
                .await?
                .is_some(),
        };
        Ok(found)
    }

    /// Deletes marks older than `before` (keep them longer than the bus retention, or a replay
    /// from the oldest offset would apply events twice). Returns the number deleted.
    pub async fn prune_processed(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM processed_events WHERE processed_at < $1";
        let deleted = match &self.pool {
            Pool::Postgres(pool) => sqlx::query(SQL)
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected(),
            Pool::Sqlite(pool) => sqlx::query(SQL)
                .bind(sqlite_timestamp(&before))
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(deleted)
    }
}
