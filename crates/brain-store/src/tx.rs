//! Engine-neutral transactions.

use crate::engine::Engine;
use crate::error::StoreError;
use crate::scope::{Exec, Scoped, TenantId, Unscoped};
use sqlx::{Postgres, Sqlite, Transaction};

/// An open transaction on either engine. Dropping it without [`StoreTx::commit`] rolls it back.
#[derive(Debug)]
pub struct StoreTx(pub(crate) TxInner);

#[derive(Debug)]
pub(crate) enum TxInner {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

impl StoreTx {
    pub fn engine(&self) -> Engine {
        match self.0 {
            TxInner::Postgres(_) => Engine::Postgres,
            TxInner::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// Makes every write of the transaction durable and visible.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.0 {
            TxInner::Postgres(tx) => tx.commit().await?,
            TxInner::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Discards every write of the transaction.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.0 {
            TxInner::Postgres(tx) => tx.rollback().await?,
            TxInner::Sqlite(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// Tenant-scoped queries inside this transaction, see [`Scoped`].
    pub fn scoped(&mut self, tenant: &TenantId) -> Scoped<'_> {
        Scoped::new(tenant.clone(), Exec::Tx(&mut self.0))
    }

    /// Queries on tables that are not tenant-owned, inside this transaction, see [`Unscoped`].
    pub fn unscoped(&mut self) -> Unscoped<'_> {
        Unscoped::new(Exec::Tx(&mut self.0))
    }

    /// The PostgreSQL transaction, for engine-specific fast paths (COPY inside the transaction).
    pub fn as_postgres_mut(&mut self) -> Option<&mut Transaction<'static, Postgres>> {
        match &mut self.0 {
            TxInner::Postgres(tx) => Some(tx),
            TxInner::Sqlite(_) => None,
        }
    }

    /// The SQLite transaction, for engine-specific fast paths.
    pub fn as_sqlite_mut(&mut self) -> Option<&mut Transaction<'static, Sqlite>> {
        match &mut self.0 {
            TxInner::Sqlite(tx) => Some(tx),
            TxInner::Postgres(_) => None,
        }
    }
}
