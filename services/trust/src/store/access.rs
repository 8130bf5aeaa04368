//! Registered data products and grants. Grants are written once per party (owner and
//! consumer) in one transaction, so each tenant reads its own grants through its own scope.

use super::{TrustStore, decode, encode, tenant};
use crate::TrustError;
use crate::domain::{Grant, GrantStatus, Product, ProductStatus};
use brain_store::{StoreTx, Value};
use chrono::{DateTime, Utc};

/// Which party's view of a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The caller's tenant owns the data.
    Granted,
    /// The caller's tenant consumes it.
    Received,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Received => "received",
        }
    }
}

fn status_name(status: GrantStatus) -> &'static str {
    match status {
        GrantStatus::Requested => "requested",
        GrantStatus::Active => "active",
        GrantStatus::Denied => "denied",
        GrantStatus::Revoked => "revoked",
        GrantStatus::Expired => "expired",
    }
}

impl TrustStore {
    /// Registers (or, for a withdrawal, updates) a product of its owner.
    pub async fn save_product(&self, tx: &mut StoreTx, product: &Product, registered_at: DateTime<Utc>) -> Result<(), TrustError> {
        let status = match product.status {
            ProductStatus::Registered => "registered",
            ProductStatus::Withdrawn => "withdrawn",
        };
        tx.scoped(&tenant(&product.owner_tenant)?)
            .execute(
                "INSERT INTO trust_products (tenant_id, id, dataset, status, product, registered_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, id) DO UPDATE SET status = excluded.status, product = excluded.product",
                &[Value::from(product.id.as_str()), Value::from(product.dataset.as_str()), Value::from(status), encode(product), Value::Timestamp(registered_at)],
            )
            .await?;
        Ok(())
    }

    /// A product by registration id, whoever owns it: the circulation catalog is readable by
    /// every tenant of the brain (what circulates is public; the data needs a grant).
    pub async fn product(&self, id: &str) -> Result<Product, TrustError> {
        let row = self.store.unscoped().fetch_optional("SELECT id, product FROM trust_products WHERE id = $1", &[Value::from(id)]).await?;
        let row = row.ok_or_else(|| TrustError::NotFound { what: "product", id: id.to_owned() })?;
        decode(&row, "product", "product")
    }

    /// Registered products, by registration id after `after`; of one owner when given.
    pub async fn registered_products(&self, owner: Option<&str>, after: &str, limit: i64) -> Result<Vec<Product>, TrustError> {
        let rows = match owner {
            Some(owner) => {
                self.store
                    .scoped(&tenant(owner)?)
                    .fetch_all(
                        "SELECT id, product FROM trust_products WHERE tenant_id = $1 AND status = 'registered' AND id > $2 ORDER BY id LIMIT $3",
                        &[Value::from(after), Value::Int(limit)],
                    )
                    .await?
            }
            None => {
                self.store
                    .unscoped()
                    .fetch_all(
                        "SELECT id, product FROM trust_products WHERE status = 'registered' AND id > $1 ORDER BY id LIMIT $2",
                        &[Value::from(after), Value::Int(limit)],
                    )
                    .await?
            }
        };
        rows.iter().map(|row| decode(row, "product", "product")).collect()
    }

    /// Writes a grant for both parties (insert or update).
    pub async fn save_grant(&self, tx: &mut StoreTx, grant: &Grant) -> Result<(), TrustError> {
        for (party, side) in [(&grant.owner_tenant, Side::Granted), (&grant.consumer_tenant, Side::Received)] {
            tx.scoped(&tenant(party)?)
                .execute(
                    "INSERT INTO trust_grants (tenant_id, id, side, owner_tenant_id, consumer_tenant_id, dataset, product_id, status, expires_at, grant_body) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (tenant_id, id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at, grant_body = excluded.grant_body",
                    &[
                        Value::from(grant.id.as_str()),
                        Value::from(side.as_str()),
                        Value::from(grant.owner_tenant.as_str()),
                        Value::from(grant.consumer_tenant.as_str()),
                        Value::from(grant.dataset.as_str()),
                        Value::from(grant.product_id.as_str()),
                        Value::from(status_name(grant.status)),
                        Value::Timestamp(grant.expires_at),
                        encode(grant),
                    ],
                )
                .await?;
        }
        Ok(())
    }

    /// A grant as one of its parties sees it; another tenant gets NotFound.
    pub async fn grant(&self, party: &str, id: &str) -> Result<Grant, TrustError> {
        let row = self
            .store
            .scoped(&tenant(party)?)
            .fetch_optional("SELECT id, grant_body FROM trust_grants WHERE tenant_id = $1 AND id = $2", &[Value::from(id)])
            .await?;
        let row = row.ok_or_else(|| TrustError::NotFound { what: "grant", id: id.to_owned() })?;
        decode(&row, "grant_body", "grant")
    }

    /// A party's grants on one side, optionally of one stored status, by id after `after`.
    pub async fn grants(&self, party: &str, side: Side, status: Option<GrantStatus>, after: &str, limit: i64) -> Result<Vec<Grant>, TrustError> {
        let sql = "SELECT id, grant_body FROM trust_grants WHERE tenant_id = $1 AND side = $2 AND id > $3 \
                   AND ($4 = '' OR status = $4) ORDER BY id LIMIT $5";
        let status = status.map_or("", status_name);
        let binds = [Value::from(side.as_str()), Value::from(after), Value::from(status), Value::Int(limit)];
        let rows = self.store.scoped(&tenant(party)?).fetch_all(sql, &binds).await?;
        rows.iter().map(|row| decode(row, "grant_body", "grant")).collect()
    }

    /// The consumer's stored-active grants on an owner's dataset that have not expired at `now`
    /// (several products may cover one dataset).
    pub async fn active_grants(&self, consumer: &str, owner: &str, dataset: &str, now: DateTime<Utc>) -> Result<Vec<Grant>, TrustError> {
        let rows = self
            .store
            .scoped(&tenant(consumer)?)
            .fetch_all(
                "SELECT id, grant_body FROM trust_grants WHERE tenant_id = $1 AND side = 'received' AND owner_tenant_id = $2 \
                 AND dataset = $3 AND status = 'active' AND expires_at > $4 ORDER BY id",
                &[Value::from(owner), Value::from(dataset), Value::Timestamp(now)],
            )
            .await?;
        rows.iter().map(|row| decode(row, "grant_body", "grant")).collect()
    }
}
