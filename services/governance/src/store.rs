//! Governance tables: catalog, rejected records, daily quality counts and the warehouse.
//! Tenant-owned rows are reached only through `Scoped` handles; the warehouse's bulk insert on
//! PostgreSQL uses a single `INSERT … SELECT FROM UNNEST` with the tenant bound explicitly.

use crate::catalog::quality::QualityRule;
use crate::catalog::schema::FieldSpec;
use crate::catalog::{Dataset, Domain, Library, NewDataset};
use crate::domain::{DatasetClassification, GradeOverride};
use crate::GovernanceError;
use brain_store::{Migration, Migrations, Row, Store, StoreTx, TenantId, Value};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

pub(crate) const MIGRATIONS: Migrations = Migrations {
    owner: "governance",
    postgres: &[
        Migration::new(1, "catalog, rejected records, quality, warehouse", include_str!("../migrations/postgres/0001_catalog_and_warehouse.sql")),
        Migration::new(2, "classification and grade overrides", include_str!("../migrations/postgres/0002_classification.sql")),
        Migration::new(3, "unique keys in the warehouse", include_str!("../migrations/postgres/0003_unique_keys.sql")),
    ],
    sqlite: &[
        Migration::new(1, "catalog, rejected records, quality, warehouse", include_str!("../migrations/sqlite/0001_catalog_and_warehouse.sql")),
        Migration::new(2, "classification and grade overrides", include_str!("../migrations/sqlite/0002_classification.sql")),
        Migration::new(3, "unique keys in the warehouse", include_str!("../migrations/sqlite/0003_unique_keys.sql")),
    ],
};

/// Rows per SQLite statement: sqlx looks every `$N` parameter up by name, a linear walk in
/// SQLite, so the cost grows with the square of the parameters per statement (measured:
/// 2000 rows → 18k rows/s; 100 rows keeps the lookup negligible).
const SQLITE_ROWS_PER_INSERT: usize = 100;

/// Rows per SQLite lookup of unique keys (one `?` per key).
const SQLITE_KEYS_PER_LOOKUP: usize = 100;

#[derive(Clone)]
/// A record ready for the warehouse, borrowing the consumed event: the payload is the JSON
/// text as ingested (already checked), stored without being re-encoded.
pub(crate) struct WarehouseRow<'a> {
    pub record_id: &'a str,
    pub event_time: DateTime<Utc>,
    pub ingest_time: DateTime<Utc>,
    pub payload: &'a str,
    /// The dataset's unique-key value of this record, when the dataset has a unique key.
    pub unique_key: Option<String>,
}

/// A record as read back from the warehouse.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct StoredRecord {
    pub record_id: String,
    pub event_time: DateTime<Utc>,
    pub ingest_time: DateTime<Utc>,
    pub schema_version: i64,
    pub payload: serde_json::Value,
}

/// A rejected record as the rejected store keeps it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct RejectedRow {
    pub record_id: String,
    pub payload: serde_json::Value,
    pub violations: serde_json::Value,
    pub rejected_at: DateTime<Utc>,
    pub resubmitted_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub(crate) struct GovernanceStore {
    store: Store,
}

fn dataset_from(row: &Row, fields: Vec<FieldSpec>) -> Result<Dataset, GovernanceError> {
    let library: String = row.get("library")?;
    let domain: String = row.get("domain")?;
    let rules: serde_json::Value = row.get("quality_rules")?;
    let lineage: serde_json::Value = row.get("lineage_sources")?;
    Ok(Dataset {
        tenant_id: row.get("tenant_id")?,
        name: row.get("dataset")?,
        title: row.get("title")?,
        description: row.get("description")?,
        library: Library::parse(&library).ok_or_else(|| GovernanceError::Corrupt(format!("library `{library}`")))?,
        domain: Domain::parse(&domain).ok_or_else(|| GovernanceError::Corrupt(format!("domain `{domain}`")))?,
        schema_version: row.get("schema_version")?,
        fields,
        quality_rules: serde_json::from_value::<Vec<QualityRule>>(rules).map_err(|e| GovernanceError::Corrupt(e.to_string()))?,
        lineage_sources: serde_json::from_value(lineage).map_err(|e| GovernanceError::Corrupt(e.to_string()))?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        classification: None,
    })
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    Value::Json(serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
}

impl GovernanceStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn begin(&self) -> Result<StoreTx, GovernanceError> {
        Ok(self.store.begin().await?)
    }

    /// Registers a dataset with schema version 1; `AlreadyExists` if the name is taken.
    pub async fn create_dataset(&self, tenant: &TenantId, new: &NewDataset) -> Result<Dataset, GovernanceError> {
        let now = Utc::now();
        let mut tx = self.store.begin().await?;
        tx.scoped(tenant)
            .execute(
                "INSERT INTO governance_datasets (tenant_id, dataset, title, description, library, domain, schema_version, quality_rules, lineage_sources, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $9)",
                &[
                    Value::from(new.name.as_str()),
                    Value::from(new.title.as_str()),
                    Value::from(new.description.as_str()),
                    Value::from(new.library.as_str()),
                    Value::from(new.domain.as_str()),
                    json(&new.quality_rules),
                    json(&new.lineage_sources),
                    Value::Timestamp(now),
                ],
            )
            .await?;
        insert_schema(&mut tx, tenant, &new.name, 1, &new.fields, now).await?;
        tx.commit().await?;
        self.dataset(tenant, &new.name).await?.ok_or_else(|| GovernanceError::Corrupt("dataset vanished after insert".into()))
    }

    /// Adds a schema version (the caller checked compatibility) and returns the dataset.
    pub async fn add_schema_version(&self, tenant: &TenantId, dataset: &Dataset, fields: &[FieldSpec]) -> Result<Dataset, GovernanceError> {
        let now = Utc::now();
        let version = dataset.schema_version + 1;
        let mut tx = self.store.begin().await?;
        // The version check makes concurrent evolutions of one dataset fail instead of interleave.
        let updated = tx
            .scoped(tenant)
            .execute(
                "UPDATE governance_datasets SET schema_version = $3, updated_at = $4 WHERE tenant_id = $1 AND dataset = $2 AND schema_version = $5",
                &[Value::from(dataset.name.as_str()), Value::Int(version), Value::Timestamp(now), Value::Int(dataset.schema_version)],
            )
            .await?;
        if updated != 1 {
            return Err(GovernanceError::Conflict(format!("dataset {} changed concurrently; read it again", dataset.name)));
        }
        insert_schema(&mut tx, tenant, &dataset.name, version, fields, now).await?;
        tx.commit().await?;
        self.dataset(tenant, &dataset.name).await?.ok_or_else(|| GovernanceError::Corrupt("dataset vanished after update".into()))
    }

    pub async fn dataset(&self, tenant: &TenantId, name: &str) -> Result<Option<Dataset>, GovernanceError> {
        let mut scoped = self.store.scoped(tenant);
        let Some(row) = scoped
            .fetch_optional("SELECT * FROM governance_datasets WHERE tenant_id = $1 AND dataset = $2", &[Value::from(name)])
            .await?
        else {
            return Ok(None);
        };
        let version: i64 = row.get("schema_version")?;
        let fields = self.schema(tenant, name, version).await?;
        let mut dataset = dataset_from(&row, fields)?;
        dataset.classification = self.classification(tenant, name).await?;
        Ok(Some(dataset))
    }

    /// The dataset's current classification, if it was classified.
    pub async fn classification(&self, tenant: &TenantId, name: &str) -> Result<Option<DatasetClassification>, GovernanceError> {
        let row = self
            .store
            .scoped(tenant)
            .fetch_optional("SELECT classification FROM governance_classifications WHERE tenant_id = $1 AND dataset = $2", &[Value::from(name)])
            .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let json: serde_json::Value = row.get("classification")?;
                Ok(Some(serde_json::from_value(json).map_err(|e| GovernanceError::Corrupt(format!("classification of {name}: {e}")))?))
            }
        }
    }

    /// Every classified dataset of every tenant with the version of the rules that graded it:
    /// the platform-wide work list of a re-classification.
    pub async fn classified_under(&self) -> Result<Vec<(TenantId, String, String)>, GovernanceError> {
        let rows = self.store.unscoped().fetch_all("SELECT tenant_id, dataset, classification FROM governance_classifications ORDER BY tenant_id, dataset", &[]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let tenant: String = row.get("tenant_id")?;
            let dataset: String = row.get("dataset")?;
            let json: serde_json::Value = row.get("classification")?;
            let version = json.get("rules_version").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
            let tenant = TenantId::new(tenant).map_err(|e| GovernanceError::Corrupt(format!("classification of {dataset}: {e}")))?;
            out.push((tenant, dataset, version));
        }
        Ok(out)
    }

    /// Replaces the classification; with `overridden`, also records the override in history.
    pub async fn save_classification(
        &self,
        tenant: &TenantId,
        name: &str,
        classification: &DatasetClassification,
        overridden: Option<(&str, &GradeOverride)>,
    ) -> Result<(), GovernanceError> {
        let now = Utc::now();
        let mut tx = self.store.begin().await?;
        tx.scoped(tenant)
            .execute(
                "INSERT INTO governance_classifications (tenant_id, dataset, classification, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, dataset) DO UPDATE SET classification = excluded.classification, updated_at = excluded.updated_at",
                &[Value::from(name), json(classification), Value::Timestamp(now)],
            )
            .await?;
        if let Some((field, change)) = overridden {
            tx.scoped(tenant)
                .execute(
                    "INSERT INTO governance_grade_overrides (tenant_id, dataset, field, at, previous_grade, grade, reason, actor) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        Value::from(name),
                        Value::from(field),
                        Value::Timestamp(now),
                        Value::from(change.previous.as_str()),
                        Value::from(change.grade.as_str()),
                        Value::from(change.reason.as_str()),
                        Value::from(change.actor.as_str()),
                    ],
                )
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Payloads of the newest records, as samples for classification by value.
    pub async fn samples(&self, tenant: &TenantId, name: &str, limit: i64) -> Result<Vec<serde_json::Value>, GovernanceError> {
        let rows = self
            .store
            .scoped(tenant)
            .fetch_all(
                "SELECT payload FROM warehouse_records WHERE tenant_id = $1 AND dataset = $2 ORDER BY ingest_time DESC LIMIT $3",
                &[Value::from(name), Value::Int(limit)],
            )
            .await?;
        rows.iter().map(|row| Ok(row.get("payload")?)).collect()
    }

    async fn schema(&self, tenant: &TenantId, name: &str, version: i64) -> Result<Vec<FieldSpec>, GovernanceError> {
        let row = self
            .store
            .scoped(tenant)
            .fetch_optional(
                "SELECT fields FROM governance_schemas WHERE tenant_id = $1 AND dataset = $2 AND version = $3",
                &[Value::from(name), Value::Int(version)],
            )
            .await?
            .ok_or_else(|| GovernanceError::Corrupt(format!("schema v{version} of {name} is missing")))?;
        let fields: serde_json::Value = row.get("fields")?;
        serde_json::from_value(fields).map_err(|e| GovernanceError::Corrupt(e.to_string()))
    }

    /// Datasets of a tenant, optionally filtered by library and a text query, paged by name.
    pub async fn list_datasets(
        &self,
        tenant: &TenantId,
        library: Option<Library>,
        query: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Dataset>, GovernanceError> {
        let pattern = format!("%{}%", query.to_lowercase().replace('%', "\\%").replace('_', "\\_"));
        let rows = self
            .store
            .scoped(tenant)
            .fetch_all(
                "SELECT * FROM governance_datasets WHERE tenant_id = $1 AND ($2 = '' OR library = $2) \
                 AND ($3 = '%%' OR LOWER(dataset) LIKE $3 ESCAPE '\\' OR LOWER(title) LIKE $3 ESCAPE '\\' OR LOWER(description) LIKE $3 ESCAPE '\\') \
                 AND dataset > $4 ORDER BY dataset LIMIT $5",
                &[Value::from(library.map_or("", Library::as_str)), Value::from(pattern), Value::from(after), Value::Int(limit)],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let name: String = row.get("dataset")?;
            let version: i64 = row.get("schema_version")?;
            let mut dataset = dataset_from(row, self.schema(tenant, &name, version).await?)?;
            dataset.classification = self.classification(tenant, &name).await?;
            out.push(dataset);
        }
        Ok(out)
    }

    /// Inserts accepted records; returns how many were new (redeliveries insert nothing).
    pub async fn insert_records(&self, tx: &mut StoreTx, tenant: &TenantId, dataset: &str, schema_version: i64, rows: &[WarehouseRow<'_>]) -> Result<u64, GovernanceError> {
        if rows.is_empty() {
            return Ok(0);
        }
        if let Some(pg) = tx.as_postgres_mut() {
            let ids: Vec<&str> = rows.iter().map(|r| r.record_id).collect();
            let event_times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.event_time).collect();
            let ingest_times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.ingest_time).collect();
            let payloads: Vec<&str> = rows.iter().map(|r| r.payload).collect();
            let keys: Vec<Option<&str>> = rows.iter().map(|r| r.unique_key.as_deref()).collect();
            let result = sqlx::query(
                "INSERT INTO warehouse_records (tenant_id, dataset, record_id, event_time, ingest_time, schema_version, payload, unique_key) \
                 SELECT $1, $2, r.id, r.event_time, r.ingest_time, $3, r.payload::jsonb, r.unique_key \
                 FROM UNNEST($4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::text[]) AS r(id, event_time, ingest_time, payload, unique_key) \
                 ON CONFLICT (tenant_id, dataset, record_id) DO NOTHING",
            )
            .bind(tenant.as_str())
            .bind(dataset)
            .bind(schema_version)
            .bind(ids)
            .bind(event_times)
            .bind(ingest_times)
            .bind(payloads)
            .bind(keys)
            .execute(&mut **pg)
            .await
            .map_err(|e| GovernanceError::Database(e.to_string()))?;
            return Ok(result.rows_affected());
        }
        let mut inserted = 0;
        for chunk in rows.chunks(SQLITE_ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO warehouse_records (tenant_id, dataset, record_id, event_time, ingest_time, schema_version, payload, unique_key) VALUES ",
            );
            let mut binds = Vec::with_capacity(3 + chunk.len() * 5);
            binds.extend([Value::from(dataset), Value::Int(schema_version)]);
            for (i, row) in chunk.iter().enumerate() {
                let base = 4 + i * 5;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("($1, $2, ${}, ${}, ${}, $3, ${}, ${})", base, base + 1, base + 2, base + 3, base + 4));
                binds.push(Value::from(row.record_id));
                binds.push(Value::Timestamp(row.event_time));
                binds.push(Value::Timestamp(row.ingest_time));
                binds.push(Value::from(row.payload));
                binds.push(row.unique_key.as_deref().map_or(Value::Null, Value::from));
            }
            sql.push_str(" ON CONFLICT (tenant_id, dataset, record_id) DO NOTHING");
            inserted += tx.scoped(tenant).execute(&sql, &binds).await?;
        }
        Ok(inserted)
    }

    /// Which stored records already hold these unique-key values: key value → record id.
    pub async fn key_owners(&self, tx: &mut StoreTx, tenant: &TenantId, dataset: &str, keys: &[&str]) -> Result<HashMap<String, String>, GovernanceError> {
        let mut owners = HashMap::new();
        if keys.is_empty() {
            return Ok(owners);
        }
        if let Some(pg) = tx.as_postgres_mut() {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT unique_key, record_id FROM warehouse_records WHERE tenant_id = $1 AND dataset = $2 AND unique_key = ANY($3::text[])",
            )
            .bind(tenant.as_str())
            .bind(dataset)
            .bind(keys)
            .fetch_all(&mut **pg)
            .await
            .map_err(|e| GovernanceError::Database(e.to_string()))?;
            owners.extend(rows);
            return Ok(owners);
        }
        for chunk in keys.chunks(SQLITE_KEYS_PER_LOOKUP) {
            let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT unique_key, record_id FROM warehouse_records WHERE tenant_id = $1 AND dataset = $2 AND unique_key IN ({})",
                placeholders.join(", ")
            );
            let mut binds = vec![Value::from(dataset)];
            binds.extend(chunk.iter().map(|k| Value::from(*k)));
            for row in tx.scoped(tenant).fetch_all(&sql, &binds).await? {
                owners.insert(row.get("unique_key")?, row.get("record_id")?);
            }
        }
        Ok(owners)
    }

    /// Keeps a rejected record with its reasons; returns false when it was already kept.
    pub async fn insert_rejected(
        &self,
        tx: &mut StoreTx,
        tenant: &TenantId,
        dataset: &str,
        record_id: &str,
        payload: serde_json::Value,
        violations: serde_json::Value,
    ) -> Result<bool, GovernanceError> {
        // A record fixed and re-submitted, then rejected again, replaces its earlier rejection.
        let changed = tx
            .scoped(tenant)
            .execute(
                "INSERT INTO governance_rejected (tenant_id, dataset, record_id, payload, violations, rejected_at, resubmitted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL) \
                 ON CONFLICT (tenant_id, dataset, record_id) DO UPDATE SET payload = excluded.payload, violations = excluded.violations, \
                 rejected_at = excluded.rejected_at, resubmitted_at = NULL WHERE governance_rejected.resubmitted_at IS NOT NULL",
                &[Value::from(dataset), Value::from(record_id), Value::Json(payload), Value::Json(violations), Value::Timestamp(Utc::now())],
            )
            .await?;
        Ok(changed > 0)
    }

    /// Adds to the day's accepted and rejected counts.
    pub async fn count_quality(&self, tx: &mut StoreTx, tenant: &TenantId, dataset: &str, day: &str, accepted: u64, rejected: u64) -> Result<(), GovernanceError> {
        if accepted == 0 && rejected == 0 {
            return Ok(());
        }
        tx.scoped(tenant)
            .execute(
                "INSERT INTO governance_quality_daily (tenant_id, dataset, day, accepted, rejected) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant_id, dataset, day) DO UPDATE SET accepted = governance_quality_daily.accepted + excluded.accepted, \
                 rejected = governance_quality_daily.rejected + excluded.rejected",
                &[Value::from(dataset), Value::from(day), Value::Int(accepted as i64), Value::Int(rejected as i64)],
            )
            .await?;
        Ok(())
    }

    /// Records with `from <= event_time < to`, ordered by (event_time, record_id), after a cursor.
    pub async fn query_records(
        &self,
        tenant: &TenantId,
        dataset: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<(DateTime<Utc>, String)>,
        limit: i64,
    ) -> Result<Vec<StoredRecord>, GovernanceError> {
        let (after_time, after_id) = after.unwrap_or((from, String::new()));
        let rows = self
            .store
            .scoped(tenant)
            .fetch_all(
                "SELECT record_id, event_time, ingest_time, schema_version, payload FROM warehouse_records \
                 WHERE tenant_id = $1 AND dataset = $2 AND event_time >= $3 AND event_time < $4 \
                 AND (event_time > $5 OR (event_time = $5 AND record_id > $6)) \
                 ORDER BY event_time, record_id LIMIT $7",
                &[Value::from(dataset), Value::Timestamp(from), Value::Timestamp(to), Value::Timestamp(after_time), Value::from(after_id), Value::Int(limit)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRecord {
                    record_id: row.get("record_id")?,
                    event_time: row.get("event_time")?,
                    ingest_time: row.get("ingest_time")?,
                    schema_version: row.get("schema_version")?,
                    payload: row.get("payload")?,
                })
            })
            .collect()
    }

    pub async fn rejected(&self, tenant: &TenantId, dataset: &str, after: &str, limit: i64) -> Result<Vec<RejectedRow>, GovernanceError> {
        let rows = self
            .store
            .scoped(tenant)
            .fetch_all(
                "SELECT record_id, payload, violations, rejected_at, resubmitted_at FROM governance_rejected \
                 WHERE tenant_id = $1 AND dataset = $2 AND record_id > $3 ORDER BY record_id LIMIT $4",
                &[Value::from(dataset), Value::from(after), Value::Int(limit)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(RejectedRow {
                    record_id: row.get("record_id")?,
                    payload: row.get("payload")?,
                    violations: row.get("violations")?,
                    rejected_at: row.get("rejected_at")?,
                    resubmitted_at: row.get("resubmitted_at")?,
                })
            })
            .collect()
    }

    /// Marks a rejected record as re-submitted; false when there is no open rejection.
    pub async fn mark_resubmitted(&self, tenant: &TenantId, dataset: &str, record_id: &str) -> Result<bool, GovernanceError> {
        let changed = self
            .store
            .scoped(tenant)
            .execute(
                "UPDATE governance_rejected SET resubmitted_at = $4 WHERE tenant_id = $1 AND dataset = $2 AND record_id = $3 AND resubmitted_at IS NULL",
                &[Value::from(dataset), Value::from(record_id), Value::Timestamp(Utc::now())],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Accepted and rejected counts per day between two days (inclusive).
    pub async fn quality_days(&self, tenant: &TenantId, dataset: &str, from_day: &str, to_day: &str) -> Result<Vec<(String, i64, i64)>, GovernanceError> {
        let rows = self
            .store
            .scoped(tenant)
            .fetch_all(
                "SELECT day, accepted, rejected FROM governance_quality_daily WHERE tenant_id = $1 AND dataset = $2 \
                 AND ($3 = '' OR day >= $3) AND ($4 = '' OR day <= $4) ORDER BY day",
                &[Value::from(dataset), Value::from(from_day), Value::from(to_day)],
            )
            .await?;
        rows.iter().map(|row| Ok((row.get("day")?, row.get("accepted")?, row.get("rejected")?))).collect()
    }
}

async fn insert_schema(tx: &mut StoreTx, tenant: &TenantId, dataset: &str, version: i64, fields: &[FieldSpec], now: DateTime<Utc>) -> Result<(), GovernanceError> {
    tx.scoped(tenant)
        .execute(
            "INSERT INTO governance_schemas (tenant_id, dataset, version, fields, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[Value::from(dataset), Value::Int(version), json(&fields), Value::Timestamp(now)],
        )
        .await?;
    Ok(())
}
