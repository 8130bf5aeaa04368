//! The registry's tables on both SQL engines.
//!
//! Models and versions are platform resources: one catalog per brain, readable by every
//! tenant, so they are queried through the store's unscoped handle. They have no `tenant_id`
//! column (the tenant-scope guard's marker of tenant-owned rows); `owner_tenant` records who
//! registered a model, and authorization (not the store) decides who may change it.

use super::RegistryError;
use super::domain::{Endpoint, Level, Stage, Version};
use brain_governance::domain::Grade;
use brain_store::{Migration, Migrations, Row, Store, StoreError, StoreTx, Value};
use chrono::{DateTime, Utc};

pub const MIGRATIONS: Migrations = Migrations {
    owner: "model-gateway",
    postgres: &[Migration::new(1, "model registry", include_str!("../../migrations/postgres/0001_model_registry.sql"))],
    sqlite: &[Migration::new(1, "model registry", include_str!("../../migrations/sqlite/0001_model_registry.sql"))],
};

/// A model without its versions.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRow {
    pub name: String,
    pub level: Level,
    pub parent: Option<String>,
    pub description: String,
    pub owner_tenant: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// Which models a listing shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListFilter {
    pub level: Option<Level>,
    /// Children of this model.
    pub parent: Option<String>,
    /// Models with a version in this stage.
    pub stage: Option<Stage>,
    /// Models this tenant registered.
    pub owner: Option<String>,
}

const MODEL_COLUMNS: &str = "name, level, parent, description, owner_tenant, created_by, created_at";
const VERSION_COLUMNS: &str = "model, version, stage, trained_on_grade, endpoints, training_datasets, fallback_model, created_by, created_at, stage_changed_at";

fn corrupt(model: &str, reason: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt { model: model.to_owned(), reason: reason.to_string() }
}

fn model_of(row: &Row) -> Result<ModelRow, RegistryError> {
    let name: String = row.get("name")?;
    let level: String = row.get("level")?;
    let level = Level::parse(&level).ok_or_else(|| corrupt(&name, format!("unknown level {level:?}")))?;
    Ok(ModelRow {
        level,
        parent: row.get("parent")?,
        description: row.get("description")?,
        owner_tenant: row.get("owner_tenant")?,
        created_by: row.get("created_by")?,
        created_at: row.get("created_at")?,
        name,
    })
}

fn version_of(row: &Row) -> Result<(String, Version), RegistryError> {
    let model: String = row.get("model")?;
    let stage: String = row.get("stage")?;
    let stage = Stage::parse(&stage).ok_or_else(|| corrupt(&model, format!("unknown stage {stage:?}")))?;
    let grade: Option<String> = row.get("trained_on_grade")?;
    let trained_on_grade = match grade {
        None => None,
        Some(g) => Some(Grade::ALL.into_iter().find(|known| known.as_str() == g).ok_or_else(|| corrupt(&model, format!("unknown grade {g:?}")))?),
    };
    let endpoints: Vec<Endpoint> = serde_json::from_value(row.get("endpoints")?).map_err(|e| corrupt(&model, format!("endpoints: {e}")))?;
    let training_datasets: Vec<String> = serde_json::from_value(row.get("training_datasets")?).map_err(|e| corrupt(&model, format!("training_datasets: {e}")))?;
    let version = Version {
        version: row.get("version")?,
        stage,
        endpoints,
        training_datasets,
        trained_on_grade,
        fallback_model: row.get("fallback_model")?,
        created_by: row.get("created_by")?,
        created_at: row.get("created_at")?,
        stage_changed_at: row.get("stage_changed_at")?,
    };
    Ok((model, version))
}

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

fn texts(values: &[String]) -> Vec<Value> {
    values.iter().map(Value::from).collect()
}

#[derive(Clone)]
pub struct RegistryStore {
    store: Store,
}

impl RegistryStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn begin(&self) -> Result<StoreTx, RegistryError> {
        Ok(self.store.begin().await?)
    }

    pub async fn insert_model(&self, tx: &mut StoreTx, model: &ModelRow) -> Result<(), RegistryError> {
        let sql = "INSERT INTO model_registry_models (name, level, parent, description, owner_tenant, created_by, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
        let binds = [
            Value::from(&model.name),
            Value::from(model.level.as_str()),
            Value::from(model.parent.clone()),
            Value::from(&model.description),
            Value::from(&model.owner_tenant),
            Value::from(&model.created_by),
            Value::Timestamp(model.created_at),
        ];
        match tx.unscoped().execute(sql, &binds).await {
            Err(StoreError::AlreadyExists(_)) => Err(RegistryError::ModelExists(model.name.clone())),
            other => other.map(|_| ()).map_err(RegistryError::from),
        }
    }

    pub async fn insert_version(&self, tx: &mut StoreTx, model: &str, version: &Version) -> Result<(), RegistryError> {
        let sql = "INSERT INTO model_registry_versions (model, version, stage, trained_on_grade, endpoints, training_datasets, fallback_model, created_by, created_at, stage_changed_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        let json = |value: serde_json::Result<serde_json::Value>| value.map(Value::Json).map_err(|e| corrupt(model, e));
        let binds = [
            Value::from(model),
            Value::from(&version.version),
            Value::from(version.stage.as_str()),
            Value::from(version.trained_on_grade.map(Grade::as_str)),
            json(serde_json::to_value(&version.endpoints))?,
            json(serde_json::to_value(&version.training_datasets))?,
            Value::from(version.fallback_model.clone()),
            Value::from(&version.created_by),
            Value::Timestamp(version.created_at),
            Value::Timestamp(version.stage_changed_at),
        ];
        match tx.unscoped().execute(sql, &binds).await {
            Err(StoreError::AlreadyExists(_)) => Err(RegistryError::VersionExists { model: model.to_owned(), version: version.version.clone() }),
            other => other.map(|_| ()).map_err(RegistryError::from),
        }
    }

    /// Touches the model's row, which holds concurrent changes of the model back until this
    /// transaction ends (a row lock on PostgreSQL; SQLite transactions write one at a time).
    /// False when there is no such model.
    pub async fn lock_model(&self, tx: &mut StoreTx, name: &str, at: DateTime<Utc>) -> Result<bool, RegistryError> {
        let sql = "UPDATE model_registry_models SET updated_at = $2 WHERE name = $1";
        Ok(tx.unscoped().execute(sql, &[Value::from(name), Value::Timestamp(at)]).await? == 1)
    }

    pub async fn set_stage(&self, tx: &mut StoreTx, model: &str, version: &str, stage: Stage, at: DateTime<Utc>) -> Result<(), RegistryError> {
        let sql = "UPDATE model_registry_versions SET stage = $3, stage_changed_at = $4 WHERE model = $1 AND version = $2";
        let changed = tx.unscoped().execute(sql, &[Value::from(model), Value::from(version), Value::from(stage.as_str()), Value::Timestamp(at)]).await?;
        if changed == 1 { Ok(()) } else { Err(RegistryError::UnknownVersion { model: model.to_owned(), version: version.to_owned() }) }
    }

    /// The versions of one model inside a transaction (after [`Self::lock_model`]).
    pub async fn versions_in(&self, tx: &mut StoreTx, model: &str) -> Result<Vec<Version>, RegistryError> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM model_registry_versions WHERE model = $1 ORDER BY created_at, version");
        let rows = tx.unscoped().fetch_all(&sql, &[Value::from(model)]).await?;
        rows.iter().map(|row| version_of(row).map(|(_, v)| v)).collect()
    }

    pub async fn model_row(&self, name: &str) -> Result<Option<ModelRow>, RegistryError> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM model_registry_models WHERE name = $1");
        self.store.unscoped().fetch_optional(&sql, &[Value::from(name)]).await?.as_ref().map(model_of).transpose()
    }

    pub async fn model_rows(&self, names: &[String]) -> Result<Vec<ModelRow>, RegistryError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {MODEL_COLUMNS} FROM model_registry_models WHERE name IN ({}) ORDER BY name", placeholders(1, names.len()));
        let rows = self.store.unscoped().fetch_all(&sql, &texts(names)).await?;
        rows.iter().map(model_of).collect()
    }

    /// Models by name after `after`, at most `limit`.
    pub async fn list(&self, filter: &ListFilter, after: &str, limit: i64) -> Result<Vec<ModelRow>, RegistryError> {
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM model_registry_models m WHERE name > $1 \
             AND ($2 = '' OR level = $2) AND ($3 = '' OR parent = $3) AND ($4 = '' OR owner_tenant = $4) \
             AND ($5 = '' OR EXISTS (SELECT 1 FROM model_registry_versions v WHERE v.model = m.name AND v.stage = $5)) \
             ORDER BY name LIMIT $6"
        );
        let binds = [
            Value::from(after),
            Value::from(filter.level.map_or("", Level::as_str)),
            Value::from(filter.parent.as_deref().unwrap_or("")),
            Value::from(filter.owner.as_deref().unwrap_or("")),
            Value::from(filter.stage.map_or("", Stage::as_str)),
            Value::Int(limit),
        ];
        let rows = self.store.unscoped().fetch_all(&sql, &binds).await?;
        rows.iter().map(model_of).collect()
    }

    /// The versions of these models, each model's in the order they were added.
    pub async fn versions(&self, models: &[String]) -> Result<Vec<(String, Version)>, RegistryError> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM model_registry_versions WHERE model IN ({}) ORDER BY model, created_at, version",
            placeholders(1, models.len())
        );
        let rows = self.store.unscoped().fetch_all(&sql, &texts(models)).await?;
        rows.iter().map(version_of).collect()
    }

    /// Names of the models that have a production version.
    pub async fn serving(&self) -> Result<Vec<String>, RegistryError> {
        let rows = self.store.unscoped().fetch_all("SELECT model FROM model_registry_versions WHERE stage = 'production' ORDER BY model", &[]).await?;
        rows.iter().map(|row| row.get::<String>("model").map_err(RegistryError::from)).collect()
    }
}
