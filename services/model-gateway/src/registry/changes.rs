//! Changes to the registry: register a model, add a version, move a version between stages,
//! retire it. Each is authorized, checked in full, written in one transaction and recorded in
//! the ledger before it answers. A brain without a ledger refuses changes before writing; a
//! ledger that fails after the write fails the call (as in every service: the change stands,
//! the caller learns that its record is missing). The write cannot wait for the ledger inside
//! its transaction: on SQLite the ledger shares the database and would wait for that very
//! transaction.

use super::authz;
use super::domain::{
    Model, NewModel, NewVersion, Stage, Version, check_locations, check_new_model, check_new_version, check_reason, max_grade, plan_stage_change, valid_name, violation,
};
use super::endpoint::Endpoint;
use super::store::ModelRow;
use super::{Registry, RegistryError};
use brain_auth::{AuthError, Principal};
use brain_core::Violation;
use brain_governance::domain::Grade;
use chrono::Utc;
use serde_json::json;

impl Registry {
    /// Registers a model of the caller's tenant with its first version, in development.
    pub async fn register(&self, caller: &Principal, new: NewModel) -> Result<Model, RegistryError> {
        authz::may_register(caller)?;
        let mut violations = check_new_model(&new);
        let parent_named_well = !violations.iter().any(|v| v.field.as_deref() == Some("parent"));
        let inherited = match new.parent.as_deref() {
            Some(parent) if parent_named_well => self.check_parent(&new, parent, &mut violations).await?,
            _ => None,
        };
        self.check_fallback(new.version.fallback_model.as_deref(), "version.", &mut violations).await?;
        let effective = max_grade([new.version.trained_on_grade, inherited]);
        violations.extend(check_locations(&new.version.endpoints, effective, "version."));
        RegistryError::check("model registration", violations)?;
        self.audit.ready("model.register")?;

        let now = Utc::now();
        let actor = caller.subject.actor();
        let row = ModelRow {
            name: new.name.clone(),
            level: new.level,
            parent: new.parent.clone(),
            description: new.description.clone(),
            owner_tenant: caller.tenant.clone(),
            created_by: actor.clone(),
            created_at: now,
        };
        let version = stored_version(new.version, actor, now);
        let mut tx = self.store.begin().await?;
        self.store.insert_model(&mut tx, &row).await?;
        self.store.insert_version(&mut tx, &row.name, &version).await?;
        tx.commit().await?;
        self.routes.clear();

        let details = json!({
            "level": row.level, "parent": row.parent, "version": version_details(&version),
        });
        self.audit.record(caller, &row.owner_tenant, "model.register", &row.name, details).await?;
        self.changed(caller, &row.name).await
    }

    /// Adds a version, in development.
    pub async fn add_version(&self, caller: &Principal, model: &str, new: NewVersion) -> Result<Model, RegistryError> {
        authz::may_register(caller)?;
        let existing = self.existing(model).await?;
        authz::may_change(caller, &existing.name, &existing.owner_tenant)?;
        let mut violations = check_new_version(existing.level, &existing.name, &new, "");
        self.check_fallback(new.fallback_model.as_deref(), "", &mut violations).await?;
        let effective = max_grade([new.trained_on_grade, existing.inherited_grade]);
        violations.extend(check_locations(&new.endpoints, effective, ""));
        RegistryError::check("new version", violations)?;
        if existing.version(&new.version).is_some() {
            return Err(RegistryError::VersionExists { model: existing.name, version: new.version });
        }
        self.audit.ready("model.version_add")?;

        let now = Utc::now();
        let version = stored_version(new, caller.subject.actor(), now);
        let mut tx = self.store.begin().await?;
        if !self.store.lock_model(&mut tx, &existing.name, now).await? {
            return Err(RegistryError::UnknownModel(existing.name));
        }
        self.store.insert_version(&mut tx, &existing.name, &version).await?;
        tx.commit().await?;
        self.routes.clear();

        self.audit.record(caller, &existing.owner_tenant, "model.version_add", &existing.name, version_details(&version)).await?;
        self.changed(caller, &existing.name).await
    }

    /// Moves a version to development, staging or production. Promoting to production moves
    /// the previous production version back to staging (ready for a roll-back), and needs the
    /// platform when the version's endpoints claim to run on premise or in the province or
    /// name a key of the gateway.
    pub async fn promote(&self, caller: &Principal, model: &str, version: &str, target: Stage, reason: &str) -> Result<Model, RegistryError> {
        if target == Stage::Retired {
            let use_retire = violation("stage", "stage", "to retire a version, use retire");
            return Err(RegistryError::invalid("promotion", vec![use_retire]));
        }
        self.move_stage(caller, model, version, target, reason, "model.promote").await
    }

    /// Retires a version: it never serves again. Retiring the production version stops the
    /// model from serving at once (the gateway then uses the fallback model, if any).
    pub async fn retire(&self, caller: &Principal, model: &str, version: &str, reason: &str) -> Result<Model, RegistryError> {
        self.move_stage(caller, model, version, Stage::Retired, reason, "model.retire").await
    }

    async fn move_stage(&self, caller: &Principal, model: &str, version: &str, target: Stage, reason: &str, action: &'static str) -> Result<Model, RegistryError> {
        authz::may_register(caller)?;
        RegistryError::check("stage change", check_reason(reason))?;
        let existing = self.existing(model).await?;
        authz::may_change(caller, &existing.name, &existing.owner_tenant)?;
        let unknown = || RegistryError::UnknownVersion { model: existing.name.clone(), version: version.to_owned() };
        let chosen = existing.version(version).ok_or_else(unknown)?;
        if target == Stage::Production {
            check_servable(caller, &existing, chosen)?;
        }
        self.audit.ready(action)?;

        let now = Utc::now();
        let mut tx = self.store.begin().await?;
        if !self.store.lock_model(&mut tx, &existing.name, now).await? {
            return Err(RegistryError::UnknownModel(existing.name));
        }
        // Planned on what the transaction sees: a concurrent change went first or waits.
        let versions = self.store.versions_in(&mut tx, &existing.name).await?;
        let current = versions.iter().find(|v| v.version == version).ok_or_else(unknown)?;
        let production = versions.iter().find(|v| v.stage == Stage::Production).map(|v| v.version.as_str());
        let changes = plan_stage_change(version, current.stage, target, production)?;
        for change in &changes {
            self.store.set_stage(&mut tx, &existing.name, &change.version, change.to, now).await?;
        }
        tx.commit().await?;
        self.routes.clear();

        let details = json!({ "version": version, "changes": changes, "reason": reason });
        self.audit.record(caller, &existing.owner_tenant, action, &existing.name, details).await?;
        self.changed(caller, &existing.name).await
    }

    /// The model `name`, or NotFound (an invalid name cannot name one).
    pub(crate) async fn existing(&self, name: &str) -> Result<Model, RegistryError> {
        let unknown = || RegistryError::UnknownModel(name.chars().take(64).collect());
        if !valid_name(name) {
            return Err(unknown());
        }
        self.load(name).await?.ok_or_else(unknown)
    }

    /// The model after a change, as the caller may see it.
    async fn changed(&self, caller: &Principal, name: &str) -> Result<Model, RegistryError> {
        Ok(super::catalog::shown_to(caller, self.existing(name).await?))
    }

    /// The parent exists at the level the new model's needs; the grade it passes on.
    async fn check_parent(&self, new: &NewModel, parent: &str, violations: &mut Vec<Violation>) -> Result<Option<Grade>, RegistryError> {
        let Some(found) = self.load(parent).await? else {
            violations.push(violation("parent", "exists", format!("no model named {parent} is in the registry")));
            return Ok(None);
        };
        if Some(found.level) != new.level.parent_level() {
            let reason = format!("{parent} is a {} model; a {} model's parent is a {} model", found.level, new.level, new.level.parent_level().map_or("", |l| l.as_str()));
            violations.push(violation("parent", "level", reason));
        }
        Ok(found.lineage_grade())
    }

    async fn check_fallback(&self, fallback: Option<&str>, prefix: &str, violations: &mut Vec<Violation>) -> Result<(), RegistryError> {
        let field = format!("{prefix}fallback_model");
        if let Some(fallback) = fallback.filter(|f| valid_name(f))
            && !violations.iter().any(|v| v.field.as_deref() == Some(field.as_str()))
            && self.store.model_row(fallback).await?.is_none()
        {
            violations.push(violation(field, "exists", format!("no model named {fallback} is in the registry")));
        }
        Ok(())
    }
}

/// A version may serve only from endpoints its grade allows, and with location claims and key
/// names only the platform vouches for.
fn check_servable(caller: &Principal, model: &Model, version: &Version) -> Result<(), RegistryError> {
    let violations = check_locations(&version.endpoints, model.effective_grade(version), "");
    if !violations.is_empty() {
        let reason = format!("version {} of {} cannot serve from these endpoints: its training data is graded too high for them; add a version with other endpoints", version.version, model.name);
        return Err(RegistryError::Unservable { reason, violations });
    }
    let claims = version.endpoints.iter().any(|e| e.location.needs_attestation() || e.api_key_secret_env.is_some());
    if claims && !authz::may_attest(caller) {
        return Err(AuthError::denied(
            "its endpoints claim to run on premise or in the province, or name a key of the gateway: the platform's operators vouch for that by promoting it to production",
        )
        .into());
    }
    Ok(())
}

fn stored_version(new: NewVersion, created_by: String, at: chrono::DateTime<Utc>) -> Version {
    Version {
        version: new.version,
        stage: Stage::Development,
        endpoints: new.endpoints.into_iter().map(Endpoint::normalized).collect(),
        training_datasets: new.training_datasets,
        trained_on_grade: new.trained_on_grade,
        fallback_model: new.fallback_model,
        created_by,
        created_at: at,
        stage_changed_at: at,
    }
}

/// What the ledger keeps of a version: everything but secrets (there are none to keep: key
/// variables are names).
fn version_details(version: &Version) -> serde_json::Value {
    json!({
        "version": version.version,
        "endpoints": version.endpoints,
        "training_datasets": version.training_datasets,
        "trained_on_grade": version.trained_on_grade,
        "fallback_model": version.fallback_model,
    })
}
