//! Schema migrations per engine and per owner.
//!
//! Each owner (a service, or `brain-store` itself for platform tables) ships numbered SQL files
//! for both engines and passes them as one [`Migrations`] value. Several owners share one
//! database, so bookkeeping is keyed by `(owner, version)` in `brain_schema_migrations`: owners
//! number their own migrations from 1 and never collide.
//!
//! Guarantees of [`Store::migrate`]:
//! - each migration runs in its own transaction together with its bookkeeping row, so it is
//!   applied entirely or not at all (both engines have transactional DDL);
//! - re-running is a no-op; concurrent runs from several processes are serialized (a
//!   transaction-scoped advisory lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite);
//! - an applied migration whose SQL changed (SHA-256 checksum) is refused with
//!   [`StoreError::MigrationChecksum`] before anything else runs;
//! - versions recorded in the database but unknown to this binary (a newer release ran first)
//!   are logged, not refused, so rolling deployments work.
//!
//! Statements that cannot run inside a transaction (`CREATE INDEX CONCURRENTLY`) are not
//! supported.

use crate::engine::{Engine, Pool, Store};
use crate::error::StoreError;
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use std::collections::HashMap;
use std::time::Instant;

/// One migration: a positive version, a short description, and the SQL (one or more
/// statements; usually `include_str!` of a file under `migrations/<engine>/`).
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub const fn new(version: i64, description: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            description,
            sql,
        }
    }

    /// Hex SHA-256 of the SQL text.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// The migrations of one owner for both engines, in ascending version order.
///
/// ```
/// use brain_store::{Migration, Migrations};
/// pub const MIGRATIONS: Migrations = Migrations {
///     owner: "example",
///     postgres: &[Migration::new(1, "widgets", "CREATE TABLE widgets (tenant_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id))")],
///     sqlite: &[Migration::new(1, "widgets", "CREATE TABLE widgets (tenant_id TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant_id, id))")],
/// };
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Migrations {
    /// Unique name of the owner: 1 to 64 characters of `[a-z0-9_-]`.
    pub owner: &'static str,
    pub postgres: &'static [Migration],
    pub sqlite: &'static [Migration],
}

impl Migrations {
    /// The set for `engine`.
    pub fn for_engine(&self, engine: Engine) -> &'static [Migration] {
        match engine {
            Engine::Postgres => self.postgres,
            Engine::Sqlite => self.sqlite,
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        let bad_owner = self.owner.is_empty()
            || self.owner.len() > 64
            || !self
                .owner
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if bad_owner {
            return Err(StoreError::Migration {
                owner: self.owner.to_owned(),
                version: 0,
                reason: "owner must be 1 to 64 characters of [a-z0-9_-]".to_owned(),
            });
        }
        for set in [self.postgres, self.sqlite] {
            let mut previous = 0;
            for m in set {
                if m.version <= previous {
                    return Err(StoreError::Migration {
                        owner: self.owner.to_owned(),
                        version: m.version,
                        reason: format!(
                            "versions must be positive and strictly ascending (after {previous})"
                        ),
                    });
                }
                previous = m.version;
            }
        }
        Ok(())
    }
}

/// What one [`Store::migrate`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this call.
    pub applied: Vec<i64>,
    /// Versions that were already applied (checksums verified).
    pub unchanged: Vec<i64>,
}

/// An applied migration as recorded in `brain_schema_migrations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    pub owner: String,
    pub version: i64,
    pub description: String,
    pub checksum: String,
}

const PG_BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS brain_schema_migrations (
    owner TEXT NOT NULL,
    version BIGINT NOT NULL,
    description TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    execution_ms BIGINT NOT NULL,
    PRIMARY KEY (owner, version)
)";

const SQLITE_BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS brain_schema_migrations (
    owner TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    execution_ms INTEGER NOT NULL,
    PRIMARY KEY (owner, version)
)";

/// Key of the PostgreSQL advisory lock that serializes migrations of every owner.
const PG_LOCK_KEY: i64 = 0x6272_6169_6e5f_6d67; // "brain_mg"

/// A transaction holding the migration lock.
enum LockedTx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl LockedTx {
    async fn begin(pool: &Pool) -> Result<Self, StoreError> {
        Ok(match pool {
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                LockedTx::Postgres(tx)
            }
            Pool::Sqlite(pool) => LockedTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    async fn raw(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            LockedTx::Postgres(tx) => sqlx::raw_sql(sql).execute(&mut **tx).await.map(drop),
            LockedTx::Sqlite(tx) => sqlx::raw_sql(sql).execute(&mut **tx).await.map(drop),
        }
    }

    async fn applied_checksum(
        &mut self,
        owner: &str,
        version: i64,
    ) -> Result<Option<String>, StoreError> {
        const SQL: &str =
            "SELECT checksum FROM brain_schema_migrations WHERE owner = $1 AND version = $2";
        let row = match self {
            LockedTx::Postgres(tx) => sqlx::query(SQL)
                .bind(owner.to_owned())
                .bind(version)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get::<String, _>("checksum"))
                .transpose()?,
            LockedTx::Sqlite(tx) => sqlx::query(SQL)
                .bind(owner.to_owned())
                .bind(version)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get::<String, _>("checksum"))
                .transpose()?,
        };
        Ok(row)
    }

    async fn record(
        &mut self,
        owner: &str,
        m: &Migration,
        checksum: &str,
        ms: i64,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO brain_schema_migrations (owner, version, description, checksum, execution_ms) \
                           VALUES ($1, $2, $3, $4, $5)";
        match self {
            LockedTx::Postgres(tx) => {
                sqlx::query(SQL)
                    .bind(owner.to_owned())
                    .bind(m.version)
                    .bind(m.description)
                    .bind(checksum.to_owned())
                    .bind(ms)
                    .execute(&mut **tx)
                    .await?;
            }
            LockedTx::Sqlite(tx) => {
                sqlx::query(SQL)
                    .bind(owner.to_owned())
                    .bind(m.version)
                    .bind(m.description)
                    .bind(checksum.to_owned())
                    .bind(ms)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            LockedTx::Postgres(tx) => tx.commit().await?,
            LockedTx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl Store {
    /// Applies the pending migrations of `migrations` for this store's engine.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<MigrationReport, StoreError> {
        migrations.validate()?;
        let owner = migrations.owner;
        let set = migrations.for_engine(self.engine());
        self.ensure_bookkeeping().await?;

        // Verify every checksum before running anything.
        let applied: HashMap<i64, String> = self
            .applied_migrations(owner)
            .await?
            .into_iter()
            .map(|a| (a.version, a.checksum))
            .collect();
        for m in set {
            if let Some(recorded) = applied.get(&m.version) {
                let current = m.checksum();
                if *recorded != current {
                    return Err(checksum_error(owner, m.version, recorded, current));
                }
            }
        }
        let known: Vec<i64> = set.iter().map(|m| m.version).collect();
        let mut unknown: Vec<i64> = applied
            .keys()
            .copied()
            .filter(|v| !known.contains(v))
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            tracing::warn!(owner, versions = ?unknown, "database has migrations this binary does not know (newer release?)");
        }

        let mut report = MigrationReport::default();
        for m in set {
            if applied.contains_key(&m.version) {
                report.unchanged.push(m.version);
                continue;
            }
            let checksum = m.checksum();
            let mut tx = LockedTx::begin(&self.pool).await?;
            // Another process may have applied it while we waited for the lock.
            if let Some(recorded) = tx.applied_checksum(owner, m.version).await? {
                if recorded != checksum {
                    return Err(checksum_error(owner, m.version, &recorded, checksum));
                }
                report.unchanged.push(m.version);
                continue;
            }
            let started = Instant::now();
            tx.raw(m.sql).await.map_err(|e| StoreError::Migration {
                owner: owner.to_owned(),
                version: m.version,
                reason: format!("{} failed: {}", m.description, StoreError::from(e)),
            })?;
            let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            tx.record(owner, m, &checksum, ms).await?;
            tx.commit().await?;
            tracing::info!(
                owner,
                version = m.version,
                description = m.description,
                ms,
                "migration applied"
            );
            report.applied.push(m.version);
        }
        Ok(report)
    }

    /// The migrations recorded for `owner`, ascending.
    pub async fn applied_migrations(
        &self,
        owner: &str,
    ) -> Result<Vec<AppliedMigration>, StoreError> {
        self.ensure_bookkeeping().await?;
        const SQL: &str = "SELECT owner, version, description, checksum FROM brain_schema_migrations \
                           WHERE owner = $1 ORDER BY version";
        let convert =
            |owner: String, version: i64, description: String, checksum: String| AppliedMigration {
                owner,
                version,
                description,
                checksum,
            };
        let mut out = Vec::new();
        match &self.pool {
            Pool::Postgres(pool) => {
                for r in sqlx::query(SQL)
                    .bind(owner.to_owned())
                    .fetch_all(pool)
                    .await?
                {
                    out.push(convert(
                        r.try_get("owner")?,
                        r.try_get("version")?,
                        r.try_get("description")?,
                        r.try_get("checksum")?,
                    ));
                }
            }
            Pool::Sqlite(pool) => {
                for r in sqlx::query(SQL)
                    .bind(owner.to_owned())
                    .fetch_all(pool)
                    .await?
                {
                    out.push(convert(
                        r.try_get("owner")?,
                        r.try_get("version")?,
                        r.try_get("description")?,
                        r.try_get("checksum")?,
                    ));
                }
            }
        }
        Ok(out)
    }

    async fn ensure_bookkeeping(&self) -> Result<(), StoreError> {
        let mut tx = LockedTx::begin(&self.pool).await?;
        let sql = match self.engine() {
            Engine::Postgres => PG_BOOKKEEPING,
            Engine::Sqlite => SQLITE_BOOKKEEPING,
        };
        tx.raw(sql).await?;
        tx.commit().await
    }
}

fn checksum_error(owner: &str, version: i64, applied: &str, current: String) -> StoreError {
    StoreError::MigrationChecksum {
        owner: owner.to_owned(),
        version,
        applied: applied.to_owned(),
        current,
    }
}

/// The platform tables owned by `brain-store` itself (`processed_events`). Apply before any
/// service's migrations.
pub const PLATFORM: Migrations = Migrations {
    owner: "brain-store",
    postgres: &[Migration::new(
        1,
        "processed_events",
        include_str!("../migrations/postgres/0001_processed_events.sql"),
    )],
    sqlite: &[Migration::new(
        1,
        "processed_events",
        include_str!("../migrations/sqlite/0001_processed_events.sql"),
    )],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(PLATFORM.validate().is_ok());
        let bad_owner = Migrations {
            owner: "Bad Owner",
            ..PLATFORM
        };
        assert!(bad_owner.validate().is_err());
        const OUT_OF_ORDER: &[Migration] =
            &[Migration::new(2, "b", ""), Migration::new(1, "a", "")];
        assert!(
            Migrations {
                sqlite: OUT_OF_ORDER,
                ..PLATFORM
            }
            .validate()
            .is_err()
        );
        const ZERO: &[Migration] = &[Migration::new(0, "a", "")];
        assert!(
            Migrations {
                postgres: ZERO,
                ..PLATFORM
            }
            .validate()
            .is_err()
        );
    }

    #[tokio::test]
    async fn platform_migration_applies_once_in_memory() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let first = store.migrate(&PLATFORM).await.unwrap();
        assert_eq!(first.applied, vec![1]);
        let second = store.migrate(&PLATFORM).await.unwrap();
        assert_eq!(
            second,
            MigrationReport {
                applied: vec![],
                unchanged: vec![1]
            }
        );
        let recorded = store.applied_migrations("brain-store").await.unwrap();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].checksum, PLATFORM.sqlite[0].checksum());
    }
}
