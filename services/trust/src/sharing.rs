//! Data leaving its owner: registered products, grants on them, and reads under a grant.
//!
//! Reads of another tenant's data happen here, not in governance: the trust service checks
//! the grant and the product's registration on every read, asks governance (as a service)
//! for the rows and the fields' grades, keeps only what the grant allows, masks what is
//! graded above it, meters the read on the bus, audits it in the ledger and issues a signed
//! trusted-status report of it for both parties.

use crate::audit::{Audit, AuditEntry};
use crate::domain::grants::{self, Access, AccessRequest, Narrowing};
use crate::domain::products::{self, Product, ProductStatus, Registration};
use crate::domain::reports::{Check, ReportKind};
use crate::domain::{Grant, GrantStatus};
use crate::reporting::{Exchange, Reporter};
use crate::store::{Side, TrustStore};
use crate::{TrustError, authz};
use brain_auth::{AuthError, Principal};
use brain_bus::{CloudEvent, Event, EventBus};
use brain_governance::domain::{Grade, MaskingTable};
use brain_proto::common::v1::{DatasetRef, PageRequest, TimeRange};
use brain_proto::events::v1::{UsageEvent, UsageKind};
use brain_proto::governance::v1::catalog_service_client::CatalogServiceClient;
use brain_proto::governance::v1::warehouse_service_client::WarehouseServiceClient;
use brain_proto::governance::v1::{GetDatasetRequest, QueryRecordsRequest};
use brain_runtime::Peers;
use chrono::{DateTime, Utc};
use prost::Message;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

const SOURCE: &str = "/brain/trust";

#[derive(Clone)]
pub struct Sharing {
    pub(crate) store: TrustStore,
    pub(crate) audit: Audit,
    pub(crate) peers: Peers,
    pub(crate) masking: Arc<MaskingTable>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) usage_topic: String,
    pub(crate) reporter: Reporter,
}

/// One page of a read under a grant.
pub struct GrantedPage {
    pub records: Vec<GrantedRecord>,
    pub next_page_token: Option<String>,
    /// The ledger entry of this read.
    pub ledger_seq: u64,
    /// SHA-256 of what was returned (the records' canonical JSON, one per line), hex.
    pub content_hash: String,
    /// The signed trusted-status report of this read.
    pub report_id: String,
}

pub struct GrantedRecord {
    pub id: String,
    pub event_time: DateTime<Utc>,
    pub fields: Map<String, Value>,
}

/// A dataset as governance describes it: its schema fields and their grades.
pub(crate) struct DatasetView {
    pub(crate) fields: Vec<String>,
    pub(crate) grades: HashMap<String, Grade>,
}

/// The checks every export under a grant passed, as the report states them.
fn export_checks(caller: &Principal, grant: &Grant, product: &Product, access: &Access, view: &DatasetView) -> Vec<Check> {
    let check = |name: &str, detail: String| Check { name: name.into(), passed: true, detail };
    let masked: Vec<&str> = access
        .fields
        .iter()
        .filter(|f| view.grades.get(f.as_str()).copied().unwrap_or(Grade::High) > access.max_grade)
        .map(String::as_str)
        .collect();
    let present = access.fields.iter().filter(|f| view.fields.contains(f)).count();
    vec![
        check("identity", format!("{} of tenant {} ({:?})", caller.subject.actor(), caller.tenant, caller.method)),
        check("grant", format!("grant {} active until {} for purpose {:?}", grant.id, grant.expires_at.to_rfc3339(), grant.purpose)),
        check("product", format!("registered product {} of {}", product.id, grant.owner_tenant)),
        check("schema", format!("{present} of {} granted fields in the dataset's current schema; others left out", access.fields.len())),
        check("grade", format!("fields graded above {:?} masked: {}", access.max_grade, if masked.is_empty() { "none".to_owned() } else { masked.join(", ") })),
        check("masking", format!("{} field(s) masked by the grade's masking policy", masked.len())),
    ]
}

pub(crate) fn governance_unavailable(reason: impl std::fmt::Display) -> TrustError {
    TrustError::Upstream { service: "governance", reason: reason.to_string() }
}

impl Sharing {
    // ---- products --------------------------------------------------------------------------

    pub async fn register_product(&self, caller: &Principal, registration: Registration) -> Result<(Product, u64), TrustError> {
        authz::may_manage_products(caller)?;
        caller.require_dataset(&registration.dataset)?;
        let view = self.dataset(&caller.tenant, &registration.dataset).await?;
        let fields: Vec<&str> = view.fields.iter().map(String::as_str).collect();
        let filters = products::check_registration(&registration, &fields).map_err(|v| TrustError::Grant(crate::domain::GrantError::Invalid(v)))?;
        let now = Utc::now();
        let product = Product {
            id: format!("DP-{}-{}", now.format("%Y%m%d"), &uuid::Uuid::now_v7().simple().to_string()[20..]),
            owner_tenant: caller.tenant.clone(),
            dataset: registration.dataset,
            title: registration.title,
            fields: registration.fields,
            filters,
            max_grade: registration.max_grade,
            terms: registration.terms,
            price_fen: registration.price_fen,
            status: ProductStatus::Registered,
        };
        let mut tx = self.store.begin().await?;
        self.store.save_product(&mut tx, &product, now).await?;
        tx.commit().await?;
        let seq = self.audit.record(AuditEntry::by(caller, "product.register", &product.id, serde_json::to_value(&product).unwrap_or_default())).await?;
        Ok((product, seq))
    }

    /// Anyone signed in reads the circulation catalog: what circulates is public, its data is not.
    pub async fn product(&self, id: &str) -> Result<Product, TrustError> {
        self.store.product(id).await
    }

    pub async fn products(&self, owner: Option<&str>, after: &str, limit: i64) -> Result<Vec<Product>, TrustError> {
        self.store.registered_products(owner, after, limit).await
    }

    pub async fn withdraw_product(&self, caller: &Principal, id: &str, reason: &str) -> Result<Product, TrustError> {
        authz::may_manage_products(caller)?;
        let product = self.store.product(id).await?;
        if product.owner_tenant != caller.tenant {
            // Same answer as for an unknown id: other tenants' products are not theirs to touch.
            return Err(AuthError::denied(format!("product {id} is not a product of tenant {}", caller.tenant)).into());
        }
        let withdrawn = Product { status: ProductStatus::Withdrawn, ..product };
        let mut tx = self.store.begin().await?;
        self.store.save_product(&mut tx, &withdrawn, Utc::now()).await?;
        tx.commit().await?;
        self.audit.record(AuditEntry::by(caller, "product.withdraw", id, json!({ "reason": reason }))).await?;
        Ok(withdrawn)
    }

    // ---- grants ----------------------------------------------------------------------------

    pub async fn request_access(&self, caller: &Principal, product_id: &str, ask: AccessRequest) -> Result<Grant, TrustError> {
        authz::may_consume(caller)?;
        let product = self.store.product(product_id).await?;
        if !product.is_registered() {
            return Err(TrustError::Grant(crate::domain::GrantError::Refused(format!("product {product_id} is not registered for circulation"))));
        }
        let grant = grants::request(format!("G-{}", uuid::Uuid::now_v7().simple()), &product, &caller.tenant, ask, Utc::now())?;
        self.save(&grant).await?;
        self.audit
            .record(AuditEntry::by(caller, "grant.request", &grant.id, json!({ "product": product_id, "owner": grant.owner_tenant, "dataset": grant.dataset, "purpose": grant.purpose, "fields": grant.fields })))
            .await?;
        Ok(grant)
    }

    pub async fn decide(&self, caller: &Principal, grant_id: &str, approve: bool, narrowing: Narrowing, reason: Option<String>) -> Result<Grant, TrustError> {
        authz::may_manage_products(caller)?;
        let grant = self.store.grant(&caller.tenant, grant_id).await?;
        let actor = caller.subject.actor();
        let now = Utc::now();
        let decided = if approve {
            let product = self.store.product(&grant.product_id).await?;
            if !product.is_registered() {
                return Err(TrustError::Grant(crate::domain::GrantError::Refused(format!("product {} is withdrawn", product.id))));
            }
            grants::approve(&grant, &caller.tenant, &actor, narrowing, reason, now)?
        } else {
            grants::deny(&grant, &caller.tenant, &actor, reason.unwrap_or_default(), now)?
        };
        self.save(&decided).await?;
        let action = if approve { "grant.approve" } else { "grant.deny" };
        self.audit
            .record(AuditEntry::by(caller, action, grant_id, json!({ "fields": decided.fields, "max_grade": decided.max_grade, "data_period": decided.data_period, "expires_at": decided.expires_at })))
            .await?;
        Ok(decided)
    }

    pub async fn revoke(&self, caller: &Principal, grant_id: &str, reason: String) -> Result<Grant, TrustError> {
        authz::may_manage_products(caller)?;
        let grant = self.store.grant(&caller.tenant, grant_id).await?;
        let revoked = grants::revoke(&grant, &caller.tenant, &caller.subject.actor(), reason.clone(), Utc::now())?;
        self.save(&revoked).await?;
        self.audit.record(AuditEntry::by(caller, "grant.revoke", grant_id, json!({ "reason": reason }))).await?;
        Ok(revoked)
    }

    pub async fn grants(&self, caller: &Principal, side: Side, status: Option<GrantStatus>, after: &str, limit: i64) -> Result<Vec<Grant>, TrustError> {
        self.store.grants(&caller.tenant, side, status, after, limit).await
    }

    async fn save(&self, grant: &Grant) -> Result<(), TrustError> {
        let mut tx = self.store.begin().await?;
        self.store.save_grant(&mut tx, grant).await?;
        tx.commit().await?;
        Ok(())
    }

    /// For services where data leaves its owner: the consumer's usable grant on a dataset.
    pub async fn check_access(&self, caller: &Principal, consumer: &str, owner: &str, dataset: &str) -> Result<(Grant, Product, Access), TrustError> {
        if !caller.is_service() {
            caller.require_tenant(consumer)?;
        }
        let now = Utc::now();
        let mut last_refusal = format!("tenant {consumer} holds no active grant on {owner}/{dataset}");
        for grant in self.store.active_grants(consumer, owner, dataset, now).await? {
            let product = self.store.product(&grant.product_id).await?;
            match grants::access(&grant, &product, consumer, now) {
                Ok(access) => return Ok((grant, product, access)),
                Err(refusal) => last_refusal = refusal.to_string(),
            }
        }
        Err(TrustError::Grant(crate::domain::GrantError::Refused(last_refusal)))
    }

    // ---- reads under a grant -----------------------------------------------------------------

    /// One page of the granted dataset, as the grant lets the caller's tenant see it.
    pub async fn read(&self, caller: &Principal, grant_id: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, page_size: Option<u32>, page_token: Option<String>) -> Result<GrantedPage, TrustError> {
        authz::may_consume(caller)?;
        let refused = |reason: String| TrustError::Grant(crate::domain::GrantError::Refused(reason));
        // Another tenant's grant id reads as unknown: the store scopes grants by party.
        let grant = self.store.grant(&caller.tenant, grant_id).await?;
        if grant.consumer_tenant != caller.tenant {
            return Err(refused(format!("grant {grant_id} is not for tenant {}", caller.tenant)));
        }
        caller.require_dataset(&grant.dataset)?;
        let product = self.store.product(&grant.product_id).await?;
        let now = Utc::now();
        let access = match grants::access(&grant, &product, &caller.tenant, now) {
            Ok(access) => access,
            Err(refusal) => {
                self.audit.record(AuditEntry::by(caller, "data.read_granted", grant_id, json!({ "reason": refusal.to_string() })).result("denied")).await?;
                return Err(refusal.into());
            }
        };
        let view = self.dataset(&grant.owner_tenant, &grant.dataset).await?;
        // Only rows inside the granted period are asked for.
        let start = from.map_or(access.data_period.start, |f| f.max(access.data_period.start));
        let end = to.map_or(access.data_period.end, |t| t.min(access.data_period.end));
        let (rows, next_page_token) = self.rows(&grant, start, end, page_size, page_token).await?;
        let mut records = Vec::with_capacity(rows.len());
        let mut hasher = Sha256::new();
        for (id, event_time, payload) in rows {
            if let Some(fields) = grants::shape_record(&payload, event_time, &access, &product, &view.grades, &self.masking) {
                hasher.update(crate::domain::reports::canonical_json(&Value::Object(fields.clone())).as_bytes());
                hasher.update(b"\n");
                records.push(GrantedRecord { id, event_time, fields });
            }
        }
        let content_hash = hex::encode(hasher.finalize());
        let details = json!({ "product": product.id, "owner": grant.owner_tenant, "dataset": grant.dataset, "records": records.len(), "content_sha256": content_hash });
        let ledger_seq = self.audit.record(AuditEntry::by(caller, "data.read_granted", grant_id, details)).await?;
        self.meter(caller, &grant, records.len(), ledger_seq).await?;
        let exchange = Exchange {
            kind: ReportKind::Export,
            actor: caller.subject.actor(),
            tenant: caller.tenant.clone(),
            subject: format!("grant {} / product {} / {}/{}", grant.id, product.id, grant.owner_tenant, grant.dataset),
            checks: export_checks(caller, &grant, &product, &access, &view),
            content_sha256: content_hash.clone(),
            records: records.len() as u64,
            ledger_seqs: vec![ledger_seq],
        };
        let report = self.reporter.issue(exchange, &[&grant.consumer_tenant, &grant.owner_tenant]).await?;
        Ok(GrantedPage { records, next_page_token, ledger_seq, content_hash, report_id: report.body.id })
    }

    /// Rows of the owner's dataset from governance, as (id, event time, fields).
    async fn rows(&self, grant: &Grant, start: DateTime<Utc>, end: DateTime<Utc>, page_size: Option<u32>, page_token: Option<String>) -> Result<(Vec<(String, DateTime<Utc>, Map<String, Value>)>, Option<String>), TrustError> {
        if start >= end {
            return Ok((Vec::new(), None));
        }
        let channel = self.peers.channel("governance").map_err(governance_unavailable)?.ok_or_else(|| governance_unavailable("not in this process and not configured in common.peers.governance"))?;
        let request = QueryRecordsRequest {
            r#ref: Some(DatasetRef { tenant_id: grant.owner_tenant.clone(), dataset: grant.dataset.clone() }),
            range: Some(TimeRange { start: Some(brain_auth::proto::timestamp(start)), end: Some(brain_auth::proto::timestamp(end)) }),
            page: Some(PageRequest { page_size: page_size.unwrap_or(100), page_token: page_token.unwrap_or_default() }),
        };
        let answer = WarehouseServiceClient::new(channel).query_records(request).await.map_err(|s| governance_unavailable(s.message()))?.into_inner();
        let mut rows = Vec::with_capacity(answer.records.len());
        for record in answer.records {
            let payload: Map<String, Value> = serde_json::from_slice(&record.payload_json).map_err(|e| governance_unavailable(format!("record {}: {e}", record.id)))?;
            let event_time = brain_auth::proto::time(record.event_time.as_ref()).ok_or_else(|| governance_unavailable(format!("record {} has no event time", record.id)))?;
            rows.push((record.id, event_time, payload));
        }
        let next = answer.page.map(|p| p.next_page_token).filter(|t| !t.is_empty());
        Ok((rows, next))
    }

    /// The owner's dataset as governance describes it (fields and their grades).
    pub(crate) async fn dataset(&self, owner: &str, dataset: &str) -> Result<DatasetView, TrustError> {
        let channel = self.peers.channel("governance").map_err(governance_unavailable)?.ok_or_else(|| governance_unavailable("not in this process and not configured in common.peers.governance"))?;
        let request = GetDatasetRequest { r#ref: Some(DatasetRef { tenant_id: owner.to_owned(), dataset: dataset.to_owned() }) };
        let found = match CatalogServiceClient::new(channel).get_dataset(request).await {
            Ok(found) => found.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Err(TrustError::NotFound { what: "dataset", id: format!("{owner}/{dataset}") }),
            Err(status) => return Err(governance_unavailable(status.message())),
        };
        let fields = found.schema.map(|s| s.fields).unwrap_or_default();
        let grades = fields.iter().filter_map(|f| Grade::from_proto(f.grade).map(|g| (f.name.clone(), g))).collect();
        Ok(DatasetView { fields: fields.into_iter().map(|f| f.name).collect(), grades })
    }

    /// One usage event per read, keyed by the consumer, for evaluation and billing.
    async fn meter(&self, caller: &Principal, grant: &Grant, records: usize, ledger_seq: u64) -> Result<(), TrustError> {
        let id = format!("read-{ledger_seq}");
        let usage = UsageEvent {
            id: id.clone(),
            tenant_id: caller.tenant.clone(),
            kind: UsageKind::DataRead as i32,
            service: "trust".into(),
            subject: format!("{}/{}", grant.owner_tenant, grant.dataset),
            quantity: records as f64,
            unit: "records".into(),
            time: Some(brain_auth::proto::timestamp(Utc::now())),
            attributes: [("grant_id".to_owned(), grant.id.clone()), ("product_id".to_owned(), grant.product_id.clone())].into_iter().collect(),
        };
        let ce = CloudEvent { id: &id, kind: "brain.usage.event.v1", source: SOURCE, subject: &grant.id, tenant: &caller.tenant };
        let event = Event::cloud(&ce, caller.tenant.clone(), usage.encode_to_vec());
        self.bus.publish(&self.usage_topic, vec![event]).await.map_err(|e| TrustError::Upstream { service: "bus", reason: e.to_string() })?;
        Ok(())
    }
}
