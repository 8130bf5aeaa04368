//! Ingestion service: enterprises, edge gateways and public-data feeds push records of a
//! dataset; each record is checked for shape and size, given an id, and published to the
//! data chain. Refused records are published as dead letters with their reasons — nothing
//! is silently dropped.
//!
//! Built: REST bodies as a JSON array, NDJSON or CSV; gRPC `Ingest` and the bidirectional
//! `IngestStream`; MQTT subscriptions and scheduled pulls ([`sources`], run as the service's
//! background work); records of datasets not in the catalog are refused at the API
//! ([`catalog`]).

mod api;
mod catalog;
mod domain;
mod error;
mod events;
mod metrics;
pub mod sources;
pub mod parse;

pub use domain::{RecordInput, RecordOutcome};
pub use error::IngestionError;

use brain_proto::events::v1::SourceKind;
use brain_runtime::{Backend, RuntimeError, Service, ServiceContext, ServiceSpec};
use std::sync::Arc;

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "ingestion",
        description: "records in over gRPC, REST, MQTT subscriptions and scheduled pulls, onto the data chain",
        // The store keeps the cursors of pull feeds.
        needs: &[Backend::Bus, Backend::Store],
        migrations: &[sources::MIGRATIONS],
        build: |ctx| Box::pin(async move { Ok(Arc::new(Ingestion::new(&ctx)?) as Arc<dyn Service>) }),
    }
}

/// The service: a publisher of checked records.
#[derive(Clone)]
pub struct Ingestion {
    publisher: events::Publisher,
    limits: domain::Limits,
    catalog: catalog::CatalogCheck,
    sources: sources::SourceDirectory,
}

impl Ingestion {
    fn new(ctx: &ServiceContext) -> Result<Self, RuntimeError> {
        let c = &ctx.config.ingestion;
        let catalog = catalog::CatalogCheck::new(ctx.peers.channel("governance")?);
        if !catalog.is_enabled() {
            tracing::warn!("governance is not in this process and common.peers.governance is not set: records of unknown datasets are taken, and governance rejects them later");
        }
        Ok(Self {
            catalog,
            publisher: events::Publisher::new(ctx.bus()?.clone(), &ctx.topics),
            limits: domain::Limits::from_config(c),
            sources: sources::SourceDirectory::from_config(c),
        })
    }
}

#[async_trait::async_trait]
impl Service for Ingestion {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec![api::grpc::SERVICE_NAME]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(api::grpc::server(self.clone()));
    }

    fn rest(&self) -> utoipa_axum::router::OpenApiRouter {
        api::rest::router(self.clone())
    }

    /// MQTT subscriptions and scheduled pulls, until shutdown (see [`sources`]).
    async fn run(self: Arc<Self>, ctx: ServiceContext) -> Result<(), RuntimeError> {
        let sources = sources::Sources::with_ingestion((*self).clone(), Some(ctx.store()?.clone()), &ctx.config)
            .map_err(|e| RuntimeError::Service { service: "ingestion", reason: e.to_string() })?;
        sources.run(ctx.shutdown.clone()).await;
        Ok(())
    }
}

impl Ingestion {
    /// Checks a batch, publishes its outcomes durably, and reports one outcome per record.
    #[tracing::instrument(name = "ingestion.ingest", skip_all, fields(tenant = %tenant, dataset = %dataset, records = inputs.len()))]
    pub(crate) async fn ingest(
        &self,
        tenant: &str,
        dataset: &str,
        source: brain_proto::events::v1::Source,
        inputs: Vec<RecordInput>,
    ) -> Result<Vec<RecordOutcome>, IngestionError> {
        domain::validate_name("tenant", tenant)?;
        domain::validate_name("dataset", dataset)?;
        // Callers who can be told are told; records from machine sources (MQTT, pulls) of an
        // unknown dataset are kept by governance as rejected records, with the reason.
        let can_be_told = matches!(SourceKind::try_from(source.kind), Ok(SourceKind::Rest | SourceKind::Grpc));
        if can_be_told && self.catalog.presence(tenant, dataset).await == catalog::Presence::Unknown {
            return Err(IngestionError::UnknownDataset { tenant: tenant.to_owned(), dataset: dataset.to_owned() });
        }
        if inputs.len() > self.limits.max_batch_records as usize {
            return Err(IngestionError::BatchTooLarge { count: inputs.len(), limit: self.limits.max_batch_records });
        }
        let now = chrono::Utc::now().timestamp_millis();
        let outcomes: Vec<RecordOutcome> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| domain::check_record(i as u32, tenant, dataset, input, now, &self.limits))
            .collect();
        self.publisher.publish(tenant, dataset, &source, &outcomes).await?;
        let channel = SourceKind::try_from(source.kind).map_or("unknown", |k| match k {
            SourceKind::Grpc => "grpc",
            SourceKind::Rest => "rest",
            SourceKind::Mqtt => "mqtt",
            SourceKind::Pull => "pull",
            _ => "other",
        });
        let accepted = outcomes.iter().filter(|o| matches!(o, RecordOutcome::Accepted { .. })).count() as u64;
        let m = metrics::get();
        m.records.add(accepted, &[opentelemetry::KeyValue::new("channel", channel), opentelemetry::KeyValue::new("outcome", "accepted")]);
        m.records.add(outcomes.len() as u64 - accepted, &[opentelemetry::KeyValue::new("channel", channel), opentelemetry::KeyValue::new("outcome", "rejected")]);
        Ok(outcomes)
    }
}
