//! Governance service: the catalog of the basic, industry and scenario libraries, validation
//! and quality, classification and grading, rejected records, and the industry data warehouse.
//!
//! Built: catalog (create, read, list/search, evolve with compatibility rules), validation
//! against schema and quality rules (unique keys checked against the warehouse), the
//! warehouse (PostgreSQL or SQLite, one row per record id), the rejected-record store with
//! re-submission, quality scores per day, and classification and grading with overrides and
//! re-classification when the rules change — over REST and gRPC.

pub mod domain;

mod api;
mod catalog;
mod error;
mod operations;
mod pipeline;
mod store;

pub use error::GovernanceError;

use brain_runtime::{Backend, RuntimeError, Service, ServiceContext, ServiceSpec};
use std::sync::Arc;

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "governance",
        description: "catalog, validation, classification and grading, warehouse",
        needs: &[Backend::Store, Backend::Bus],
        migrations: &[store::MIGRATIONS],
        build: |ctx| Box::pin(async move { Ok(Arc::new(Governance::new(&ctx)?) as Arc<dyn Service>) }),
    }
}

#[derive(Clone)]
pub struct Governance {
    store: store::GovernanceStore,
    pipeline: pipeline::Pipeline,
    rules: Arc<domain::ClassificationRules>,
    /// Dataset and schema changes and grade overrides go to the ledger.
    audit: brain_runtime::Auditor,
}

impl Governance {
    fn new(ctx: &ServiceContext) -> Result<Self, RuntimeError> {
        let store = store::GovernanceStore::new(ctx.store()?.clone());
        let pipeline = pipeline::Pipeline {
            bus: ctx.bus()?.clone(),
            store: store.clone(),
            ingest_topic: ctx.topics.name(brain_bus::topics::INGEST_RECORDS),
            accepted_topic: ctx.topics.name(brain_bus::topics::GOVERNANCE_ACCEPTED),
            rejected_topic: ctx.topics.name(brain_bus::topics::GOVERNANCE_REJECTED),
        };
        let rules = classification_rules(&ctx.config.governance.classification_rules)
            .map_err(|reason| RuntimeError::Service { service: "governance", reason })?;
        tracing::info!(version = %rules.version, "classification rules loaded");
        Ok(Self { store, pipeline, rules: Arc::new(rules), audit: brain_runtime::Auditor::new(ctx.peers.clone()) })
    }
}

/// The built-in rules, or the brain's own from `governance.classification_rules` (YAML, or
/// JSON when the file name ends in `.json`).
pub fn classification_rules(path: &str) -> Result<domain::ClassificationRules, String> {
    if path.is_empty() {
        return domain::ClassificationRules::builtin().map_err(|e| format!("built-in classification rules: {e}"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("governance.classification_rules: cannot read {path}: {e}"))?;
    let parsed = if path.ends_with(".json") { domain::ClassificationRules::from_json(&text) } else { domain::ClassificationRules::from_yaml(&text) };
    parsed.map_err(|e| format!("governance.classification_rules: {path}: {e}"))
}

#[async_trait::async_trait]
impl Service for Governance {
    fn grpc_names(&self) -> Vec<&'static str> {
        api::grpc::SERVICE_NAMES.to_vec()
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        api::grpc::add(routes, self);
    }

    fn rest(&self) -> utoipa_axum::router::OpenApiRouter {
        api::rest::router(self.clone())
    }

    async fn run(self: Arc<Self>, ctx: ServiceContext) -> Result<(), RuntimeError> {
        let failed = |e: GovernanceError| RuntimeError::Service { service: "governance", reason: e.to_string() };
        // Datasets graded under other rules are graded again, beside the consumers.
        let reclassify = self.reclassify_outdated(ctx.shutdown.clone());
        let warehouse = self.pipeline.clone().run_warehouse(ctx.shutdown.clone());
        let rejected = self.pipeline.clone().run_rejected_store(ctx.shutdown.clone());
        let (warehouse, rejected, ()) = tokio::join!(warehouse, rejected, reclassify);
        warehouse.map_err(failed)?;
        rejected.map_err(failed)
    }
}
