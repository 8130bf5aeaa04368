//! What governance does for its callers, shared by the REST and gRPC handlers (which only
//! translate): argument checks, page tokens, and the store and pipeline calls.

use crate::catalog::quality::score;
use crate::catalog::schema::{FieldSpec, check_evolution};
use crate::catalog::{Dataset, Library, NewDataset, check_new_dataset, valid_name};
use crate::store::{RejectedRow, StoredRecord};
use crate::{Governance, GovernanceError};
use brain_auth::Principal;
use brain_core::Violation;
use brain_store::TenantId;
use chrono::{DateTime, Utc};
use serde_json::json;

const DEFAULT_PAGE: u32 = 100;
pub(crate) const MAX_PAGE: u32 = 1000;
/// 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the default event-time range, which both
/// engines store and compare correctly (SQLite compares fixed-width text).
const EARLIEST: i64 = -2_208_988_800;
const LATEST: i64 = 253_402_300_799;

/// One page of results and the token of the next one (None on the last page).
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// Quality of a dataset over a range of days.
pub(crate) struct Quality {
    pub score: f64,
    pub accepted: i64,
    pub rejected: i64,
    /// (day, accepted, rejected, score)
    pub days: Vec<(String, i64, i64, f64)>,
}

fn invalid(field: &str, reason: &str) -> GovernanceError {
    GovernanceError::invalid(
        field,
        vec![Violation { field: Some(field.to_owned()), rule: "format".into(), reason: reason.to_owned(), ..Violation::default() }],
    )
}

pub(crate) fn tenant_id(tenant: &str) -> Result<TenantId, GovernanceError> {
    TenantId::new(tenant).map_err(|e| invalid("tenant", &e.to_string()))
}

fn dataset_name(name: &str) -> Result<(), GovernanceError> {
    if valid_name(name) { Ok(()) } else { Err(invalid("dataset", "use 1-64 ASCII letters, digits, '.', '_' or '-'")) }
}

/// Page tokens are opaque to clients: the hex of our cursor.
fn token(cursor: &str) -> String {
    hex::encode(cursor)
}

fn untoken(token: Option<&str>) -> Result<Option<String>, GovernanceError> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => hex::decode(t)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Some)
            .ok_or_else(|| invalid("page_token", "not a token this API issued")),
    }
}

fn page_size(size: Option<u32>) -> Result<i64, GovernanceError> {
    match size.filter(|n| *n != 0).unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(i64::from(n)),
        _ => Err(invalid("page_size", &format!("must be 1-{MAX_PAGE}"))),
    }
}

fn next_token<T>(items: &[T], limit: i64, cursor: impl Fn(&T) -> String) -> Option<String> {
    (items.len() as i64 == limit).then(|| items.last().map(|last| token(&cursor(last)))).flatten()
}

impl Governance {
    async fn existing(&self, tenant: &TenantId, name: &str) -> Result<Dataset, GovernanceError> {
        dataset_name(name)?;
        self.store
            .dataset(tenant, name)
            .await?
            .ok_or_else(|| GovernanceError::UnknownDataset { tenant: tenant.to_string(), dataset: name.to_owned() })
    }

    pub(crate) async fn create_dataset(&self, caller: &Principal, tenant: &str, new: NewDataset) -> Result<Dataset, GovernanceError> {
        let tenant = tenant_id(tenant)?;
        check_new_dataset(&new).map_err(|v| GovernanceError::invalid("dataset registration", v))?;
        match self.store.create_dataset(&tenant, &new).await {
            Err(GovernanceError::Store(brain_store::StoreError::AlreadyExists { .. })) => {
                return Err(GovernanceError::DatasetExists { tenant: tenant.to_string(), dataset: new.name });
            }
            other => other?,
        };
        // Graded from its field names at once; values refine it once records arrive.
        self.classify(tenant.as_str(), &new.name).await?;
        let dataset = self.existing(&tenant, &new.name).await?;
        let details = json!({ "fields": dataset.fields.len(), "library": new.library, "domain": new.domain });
        self.audit.record(caller, tenant.as_str(), "dataset.create", &new.name, details).await?;
        Ok(dataset)
    }

    pub(crate) async fn get_dataset(&self, tenant: &str, name: &str) -> Result<Dataset, GovernanceError> {
        self.existing(&tenant_id(tenant)?, name).await
    }

    pub(crate) async fn list_datasets(
        &self,
        tenant: &str,
        library: Option<Library>,
        query: &str,
        size: Option<u32>,
        page_token: Option<&str>,
    ) -> Result<Page<Dataset>, GovernanceError> {
        let tenant = tenant_id(tenant)?;
        let limit = page_size(size)?;
        let after = untoken(page_token)?.unwrap_or_default();
        let items = self.store.list_datasets(&tenant, library, query, &after, limit).await?;
        let next_page_token = next_token(&items, limit, |d| d.name.clone());
        Ok(Page { items, next_page_token })
    }

    pub(crate) async fn evolve_schema(&self, caller: &Principal, tenant: &str, name: &str, fields: Vec<FieldSpec>) -> Result<Dataset, GovernanceError> {
        let tenant = tenant_id(tenant)?;
        let dataset = self.existing(&tenant, name).await?;
        check_evolution(&dataset.fields, &fields).map_err(|v| GovernanceError::invalid("schema change", v))?;
        self.store.add_schema_version(&tenant, &dataset, &fields).await?;
        self.classify(tenant.as_str(), name).await?;
        let evolved = self.existing(&tenant, name).await?;
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        let details = json!({ "from_version": dataset.schema_version, "to_version": evolved.schema_version, "fields": names });
        self.audit.record(caller, tenant.as_str(), "dataset.schema_change", name, details).await?;
        Ok(evolved)
    }

    pub(crate) async fn query_records(
        &self,
        tenant: &str,
        name: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        size: Option<u32>,
        page_token: Option<&str>,
    ) -> Result<Page<StoredRecord>, GovernanceError> {
        let tenant = tenant_id(tenant)?;
        self.existing(&tenant, name).await?;
        let limit = page_size(size)?;
        let from = from.unwrap_or_else(|| DateTime::from_timestamp(EARLIEST, 0).unwrap_or_default());
        let to = to.unwrap_or_else(|| DateTime::from_timestamp(LATEST, 0).unwrap_or_default());
        let after = match untoken(page_token)? {
            None => None,
            Some(cursor) => Some(
                cursor
                    .split_once('|')
                    .and_then(|(micros, id)| Some((DateTime::from_timestamp_micros(micros.parse().ok()?)?, id.to_owned())))
                    .ok_or_else(|| invalid("page_token", "not a token this API issued"))?,
            ),
        };
        let items = self.store.query_records(&tenant, name, from, to, after, limit).await?;
        let next_page_token = next_token(&items, limit, |r| format!("{}|{}", r.event_time.timestamp_micros(), r.record_id));
        Ok(Page { items, next_page_token })
    }

    /// Rejected records are kept for datasets not (yet) in the catalog too: no catalog check.
    pub(crate) async fn list_rejected(&self, tenant: &str, name: &str, size: Option<u32>, page_token: Option<&str>) -> Result<Page<RejectedRow>, GovernanceError> {
        let tenant = tenant_id(tenant)?;
        dataset_name(name)?;
        let limit = page_size(size)?;
        let after = untoken(page_token)?.unwrap_or_default();
        let items = self.store.rejected(&tenant, name, &after, limit).await?;
        let next_page_token = next_token(&items, limit, |r| r.record_id.clone());
        Ok(Page { items, next_page_token })
    }

    pub(crate) async fn resubmit(&self, tenant: &str, name: &str, record_id: &str, payload: serde_json::Value) -> Result<(), GovernanceError> {
        let tenant = tenant_id(tenant)?;
        dataset_name(name)?;
        if !payload.is_object() {
            return Err(invalid("record", "the corrected record must be a JSON object"));
        }
        if !self.store.mark_resubmitted(&tenant, name, record_id).await? {
            return Err(GovernanceError::NoRejection { dataset: name.to_owned(), record_id: record_id.to_owned() });
        }
        self.pipeline.resubmit(tenant.as_str(), name, record_id, payload).await
    }

    pub(crate) async fn quality(&self, tenant: &str, name: &str, from_day: &str, to_day: &str) -> Result<Quality, GovernanceError> {
        let tenant = tenant_id(tenant)?;
        dataset_name(name)?;
        for (field, day) in [("from", from_day), ("to", to_day)] {
            if !brain_core::calendar::valid_day(day) {
                return Err(invalid(field, "use YYYY-MM-DD"));
            }
        }
        let days = self.store.quality_days(&tenant, name, from_day, to_day).await?;
        let (accepted, rejected) = days.iter().fold((0, 0), |(a, r), (_, da, dr)| (a + da, r + dr));
        let as_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Quality {
            score: score(as_u64(accepted), as_u64(rejected)),
            accepted,
            rejected,
            days: days.into_iter().map(|(day, a, r)| (day, a, r, score(as_u64(a), as_u64(r)))).collect(),
        })
    }
}

/// How many of the newest records are sampled to classify a dataset by its values.
const SAMPLE_RECORDS: i64 = 200;

impl Governance {
    /// Classifies (or re-classifies) a dataset: field names always, values when the warehouse
    /// holds records. Manual overrides are kept.
    pub(crate) async fn classify(&self, tenant: &str, name: &str) -> Result<crate::domain::Reclassification, GovernanceError> {
        use crate::domain::{FieldSamples, OverrideHandling, reclassify};
        let tenant = tenant_id(tenant)?;
        let dataset = self.existing(&tenant, name).await?;
        let records = self.store.samples(&tenant, name, SAMPLE_RECORDS).await?;
        let fields: Vec<FieldSamples> = dataset
            .fields
            .iter()
            .map(|f| FieldSamples {
                name: f.name.clone(),
                samples: records.iter().filter_map(|r| r.get(&f.name)).filter(|v| !v.is_null()).cloned().collect(),
            })
            .collect();
        let previous = match dataset.classification {
            Some(previous) => previous,
            None => crate::domain::classify_dataset(&[], Some(dataset.domain), &self.rules),
        };
        let outcome = reclassify(&previous, &fields, &self.rules, OverrideHandling::Keep);
        self.store.save_classification(&tenant, name, &outcome.classification, None).await?;
        Ok(outcome)
    }

    /// Re-classifies every dataset last graded under rules other than the loaded ones (the
    /// rules file changed). Failures are logged and left for the next start or an explicit
    /// re-classification; they do not stop the service.
    pub(crate) async fn reclassify_outdated(&self, shutdown: tokio_util::sync::CancellationToken) {
        let outdated = match self.store.classified_under().await {
            Ok(all) => all.into_iter().filter(|(_, _, version)| *version != self.rules.version).collect::<Vec<_>>(),
            Err(error) => {
                tracing::error!(%error, "cannot list classifications; datasets keep their grades until the next start");
                return;
            }
        };
        if outdated.is_empty() {
            return;
        }
        tracing::info!(datasets = outdated.len(), rules = %self.rules.version, "re-classifying datasets graded under other rules");
        for (tenant, dataset, version) in outdated {
            if shutdown.is_cancelled() {
                return;
            }
            match self.classify(tenant.as_str(), &dataset).await {
                Ok(outcome) => {
                    tracing::info!(tenant = %tenant, dataset, from = version, grade = ?outcome.classification.grade, changes = outcome.changes.len(), "re-classified")
                }
                Err(error) => tracing::warn!(tenant = %tenant, dataset, %error, "re-classification failed"),
            }
        }
    }

    /// An authorized person's grade for a field, with the reason; recorded in history.
    pub(crate) async fn override_grade(
        &self,
        tenant: &str,
        name: &str,
        field: &str,
        grade: crate::domain::Grade,
        reason: &str,
        caller: &Principal,
    ) -> Result<crate::domain::DatasetClassification, GovernanceError> {
        let actor = caller.subject.actor();
        let actor = actor.as_str();
        let tenant_id = tenant_id(tenant)?;
        let dataset = self.existing(&tenant_id, name).await?;
        let mut classification = match dataset.classification {
            Some(c) => c,
            None => self.classify(tenant, name).await?.classification,
        };
        let change = crate::domain::apply_override(&mut classification, field, grade, reason, actor)
            .map_err(|e| invalid(field, &e.to_string()))?;
        self.store.save_classification(&tenant_id, name, &classification, Some((field, &change))).await?;
        let details = json!({ "field": field, "grade": grade, "reason": reason });
        self.audit.record(caller, tenant, "grade.override", name, details).await?;
        Ok(classification)
    }
}
