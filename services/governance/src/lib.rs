//! Governance service: the catalog of the basic, industry and scenario libraries, validation
//! and quality, classification and grading, rejected records, and the industry data warehouse.
//!
//! Built: catalog (create, read, list/search, evolve with compatibility rules), validation
//! against schema and quality rules, the warehouse (PostgreSQL or SQLite, one row per record
//! id), the rejected-record store with re-submission, and quality scores per day — over REST
//! and gRPC. Classification and grading (`domain`) are not wired to the API yet: those
//! endpoints answer UNIMPLEMENTED.

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
        let rules = domain::ClassificationRules::builtin()
            .map_err(|e| RuntimeError::Service { service: "governance", reason: format!("classification rules: {e}") })?;
        Ok(Self { store, pipeline, rules: Arc::new(rules) })
    }
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
        let warehouse = self.pipeline.clone().run_warehouse(ctx.shutdown.clone());
        let rejected = self.pipeline.clone().run_rejected_store(ctx.shutdown.clone());
        let (warehouse, rejected) = tokio::join!(warehouse, rejected);
        warehouse.map_err(failed)?;
        rejected.map_err(failed)
    }
}
