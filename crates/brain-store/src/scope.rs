//! Tenant ids and the tenant-scoped query handle.

use crate::engine::{Pool, Store};
use crate::error::StoreError;
use crate::guard::check_scoped;
use crate::tx::TxInner;
use crate::value::{Row, RowInner, Value, bind_pg, bind_sqlite};
use sqlx::AssertSqlSafe;

/// A validated tenant id: 1 to 64 characters of `[A-Za-z0-9_.-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub const MAX_LEN: usize = 64;

    pub fn new(id: impl Into<String>) -> Result<TenantId, StoreError> {
        let id = id.into();
        let invalid = |reason: &str| StoreError::InvalidTenant {
            tenant: id.clone(),
            reason: reason.to_owned(),
        };
        if id.is_empty() {
            return Err(invalid("empty"));
        }
        if id.len() > Self::MAX_LEN {
            return Err(invalid("longer than 64 characters"));
        }
        if let Some(c) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(invalid(&format!(
                "character {c:?} is not one of [A-Za-z0-9_.-]"
            )));
        }
        Ok(TenantId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TenantId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for TenantId {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Where a query runs: the pool or an open transaction.
pub(crate) enum Exec<'a> {
    Pool(&'a Pool),
    Tx(&'a mut TxInner),
}

impl Exec<'_> {
    async fn fetch_all(
        &mut self,
        sql: &str,
        prefix: Option<&str>,
        binds: &[Value],
    ) -> Result<Vec<Row>, StoreError> {
        let rows = match self {
            Exec::Pool(Pool::Postgres(pool)) => {
                pg_query(sql, prefix, binds).fetch_all(pool).await?
            }
            Exec::Tx(TxInner::Postgres(tx)) => {
                pg_query(sql, prefix, binds).fetch_all(&mut **tx).await?
            }
            Exec::Pool(Pool::Sqlite(pool)) => {
                let rows = sqlite_query(sql, prefix, binds).fetch_all(pool).await?;
                return Ok(rows.into_iter().map(|r| Row(RowInner::Sqlite(r))).collect());
            }
            Exec::Tx(TxInner::Sqlite(tx)) => {
                let rows = sqlite_query(sql, prefix, binds)
                    .fetch_all(&mut **tx)
                    .await?;
                return Ok(rows.into_iter().map(|r| Row(RowInner::Sqlite(r))).collect());
            }
        };
        Ok(rows
            .into_iter()
            .map(|r| Row(RowInner::Postgres(r)))
            .collect())
    }

    async fn fetch_optional(
        &mut self,
        sql: &str,
        prefix: Option<&str>,
        binds: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        Ok(match self {
            Exec::Pool(Pool::Postgres(pool)) => pg_query(sql, prefix, binds)
                .fetch_optional(pool)
                .await?
                .map(|r| Row(RowInner::Postgres(r))),
            Exec::Tx(TxInner::Postgres(tx)) => pg_query(sql, prefix, binds)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| Row(RowInner::Postgres(r))),
            Exec::Pool(Pool::Sqlite(pool)) => sqlite_query(sql, prefix, binds)
                .fetch_optional(pool)
                .await?
                .map(|r| Row(RowInner::Sqlite(r))),
            Exec::Tx(TxInner::Sqlite(tx)) => sqlite_query(sql, prefix, binds)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| Row(RowInner::Sqlite(r))),
        })
    }

    async fn execute(
        &mut self,
        sql: &str,
        prefix: Option<&str>,
        binds: &[Value],
    ) -> Result<u64, StoreError> {
        Ok(match self {
            Exec::Pool(Pool::Postgres(pool)) => pg_query(sql, prefix, binds)
                .execute(pool)
                .await?
                .rows_affected(),
            Exec::Tx(TxInner::Postgres(tx)) => pg_query(sql, prefix, binds)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Exec::Pool(Pool::Sqlite(pool)) => sqlite_query(sql, prefix, binds)
                .execute(pool)
                .await?
                .rows_affected(),
            Exec::Tx(TxInner::Sqlite(tx)) => sqlite_query(sql, prefix, binds)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }
}

// The SQL is the caller's statement text; every value travels as a bind parameter.
fn pg_query(sql: &str, prefix: Option<&str>, binds: &[Value]) -> crate::value::PgQuery {
    let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
    if let Some(tenant) = prefix {
        query = query.bind(tenant.to_owned());
    }
    binds.iter().fold(query, bind_pg)
}

fn sqlite_query(sql: &str, prefix: Option<&str>, binds: &[Value]) -> crate::value::SqliteQuery {
    let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
    if let Some(tenant) = prefix {
        query = query.bind(tenant.to_owned());
    }
    binds.iter().fold(query, bind_sqlite)
}

/// Queries on tenant-owned tables for one tenant.
///
/// The tenant id is always bound as `$1`; the caller's binds are `$2, $3, …`. SQL that does not
/// constrain `tenant_id = $1` is refused with [`StoreError::Unscoped`] before it reaches the
/// database (rules in the crate documentation).
pub struct Scoped<'a> {
    tenant: TenantId,
    exec: Exec<'a>,
}

impl<'a> Scoped<'a> {
    pub(crate) fn new(tenant: TenantId, exec: Exec<'a>) -> Self {
        Self { tenant, exec }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    fn check(&self, sql: &str, binds: &[Value]) -> Result<(), StoreError> {
        check_scoped(sql, binds.len()).map_err(|reason| {
            tracing::error!(tenant = %self.tenant, %reason, "unscoped SQL refused");
            StoreError::Unscoped {
                reason,
                sql: sql.to_owned(),
            }
        })
    }

    /// All rows of a tenant-scoped `SELECT` (or of `… RETURNING`).
    pub async fn fetch_all(&mut self, sql: &str, binds: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.check(sql, binds)?;
        self.exec
            .fetch_all(sql, Some(self.tenant.as_str()), binds)
            .await
    }

    /// The first row, if any.
    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        binds: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        self.check(sql, binds)?;
        self.exec
            .fetch_optional(sql, Some(self.tenant.as_str()), binds)
            .await
    }

    /// Runs a tenant-scoped `INSERT`/`UPDATE`/`DELETE`; returns the number of rows affected.
    pub async fn execute(&mut self, sql: &str, binds: &[Value]) -> Result<u64, StoreError> {
        self.check(sql, binds)?;
        self.exec
            .execute(sql, Some(self.tenant.as_str()), binds)
            .await
    }
}

/// Queries on platform tables that no tenant owns (dedupe keys, job queues, …): binds are
/// `$1, $2, …` as given, no check. Using it on a tenant-owned table is a review finding.
pub struct Unscoped<'a> {
    exec: Exec<'a>,
}

impl<'a> Unscoped<'a> {
    pub(crate) fn new(exec: Exec<'a>) -> Self {
        Self { exec }
    }

    pub async fn fetch_all(&mut self, sql: &str, binds: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.exec.fetch_all(sql, None, binds).await
    }

    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        binds: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        self.exec.fetch_optional(sql, None, binds).await
    }

    pub async fn execute(&mut self, sql: &str, binds: &[Value]) -> Result<u64, StoreError> {
        self.exec.execute(sql, None, binds).await
    }
}

impl Store {
    /// Tenant-scoped queries on the pool, see [`Scoped`].
    pub fn scoped(&self, tenant: &TenantId) -> Scoped<'_> {
        Scoped::new(tenant.clone(), Exec::Pool(&self.pool))
    }

    /// Unchecked queries on the pool for tables no tenant owns, see [`Unscoped`].
    pub fn unscoped(&self) -> Unscoped<'_> {
        Unscoped::new(Exec::Pool(&self.pool))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        assert!(TenantId::new("acme-01.textile_co").is_ok());
        assert!(TenantId::new("a".repeat(64)).is_ok());
        assert!(TenantId::new("a".repeat(65)).is_err());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("a b").is_err());
        assert!(TenantId::new("a'--").is_err());
        assert!(TenantId::new("é").is_err());
    }
}
