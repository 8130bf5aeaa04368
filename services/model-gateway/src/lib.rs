//! Model gateway and registry: the foundation → industry → scenario model tree, and the
//! OpenAI-compatible front door with grade-aware routing.
//!
//! - [`registry`]: models, versions, stages and endpoints over REST (`/api/v1/models`) and
//!   gRPC (`ModelRegistryService`), every change in the audit ledger; [`registry::Registry::route`]
//!   tells the gateway what serves a model.
//! - [`gateway`]: the OpenAI-compatible REST API (`/v1/models`, `/v1/chat/completions` with
//!   streaming, `/v1/completions`, `/v1/embeddings`): weighted endpoints, retries, circuit
//!   breaking, fallback, budgets and rate limits, the grade-aware guardrail, one usage event
//!   per request; its gRPC twin `ModelGatewayService`.

pub mod gateway;
pub mod registry;

use brain_proto::gateway::v1::model_gateway_service_server::ModelGatewayServiceServer;
use brain_proto::gateway::v1::model_registry_service_server::ModelRegistryServiceServer;
use brain_runtime::{Backend, RuntimeError, Service, ServiceContext, ServiceSpec};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;


pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "model-gateway",
        description: "model registry and OpenAI-compatible gateway",
        needs: &[Backend::Store, Backend::Bus, Backend::Cache],
        migrations: &[registry::MIGRATIONS],
        build: |ctx| Box::pin(async move { Ok(Arc::new(ModelGateway::new(&ctx)?) as Arc<dyn Service>) }),
    }
}

/// How often every serving endpoint is probed.
const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
pub struct ModelGateway {
    registry: registry::Registry,
    gateway: gateway::api::Gateway,
    /// Taken by [`Service::run`], which drives it.
    publisher: Arc<std::sync::Mutex<Option<gateway::metering::MeterPublisher>>>,
}

impl ModelGateway {
    fn new(ctx: &ServiceContext) -> Result<Self, RuntimeError> {
        let store = registry::RegistryStore::new(ctx.store()?.clone());
        let audit = Arc::new(registry::audit::Ledger::new(ctx.peers.clone()));
        let registry = registry::Registry::new(store, audit);
        let upstreams = gateway::forward::Upstreams::new(gateway::breaker::BreakerPolicy::default())
            .map_err(|e| RuntimeError::Service { service: "model-gateway", reason: e.message })?;
        gateway::metrics::touch();
        let (meter, publisher) = gateway::metering::Meter::new(ctx.bus()?.clone(), ctx.topics.name(brain_bus::topics::USAGE_EVENTS));
        let quota = gateway::quota::Quota::new(ctx.cache()?.clone());
        let limits = Arc::new(gateway::quota::LimitTable::new(&ctx.config.model_gateway.limits));
        let rules = brain_governance::classification_rules(&ctx.config.governance.classification_rules)
            .map_err(|reason| RuntimeError::Service { service: "model-gateway", reason })?;
        let guard = gateway::guard::Guard {
            rules: Arc::new(rules),
            policy: gateway::guardrail::GuardrailPolicy::default(),
            peers: ctx.peers.clone(),
            audit: brain_runtime::Auditor::new(ctx.peers.clone()),
        };
        let gateway = gateway::api::Gateway { registry: registry.clone(), upstreams: Arc::new(upstreams), meter, quota, limits, guard };
        Ok(Self { registry, gateway, publisher: Arc::new(std::sync::Mutex::new(Some(publisher))) })
    }
}

#[async_trait::async_trait]
impl Service for ModelGateway {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec!["brain.gateway.v1.ModelRegistryService", "brain.gateway.v1.ModelGatewayService"]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(ModelRegistryServiceServer::new(self.registry.clone()));
        routes.add_service(ModelGatewayServiceServer::new(self.gateway.clone()));
    }

    /// Active health probes of every serving endpoint until shutdown; usage events to the bus
    /// until the last request is done.
    async fn run(self: Arc<Self>, ctx: ServiceContext) -> Result<(), RuntimeError> {
        let publisher = self.publisher.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let publishing = publisher.map(|p| tokio::spawn(p.run(ctx.requests_done.clone())));
        self.probe_until_shutdown(&ctx).await;
        if let Some(publishing) = publishing {
            publishing.await.map_err(|e| RuntimeError::Service { service: "model-gateway", reason: format!("usage publisher: {e}") })?;
        }
        Ok(())
    }

    fn rest(&self) -> OpenApiRouter {
        OpenApiRouter::new()
        .merge(gateway::api::router(self.gateway.clone()))
        .merge(registry::rest::router(self.registry.clone()))
    }
}

impl ModelGateway {
    async fn probe_until_shutdown(&self, ctx: &ServiceContext) {
        let mut ticks = tokio::time::interval(PROBE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = ctx.shutdown.cancelled() => return,
                _ = ticks.tick() => match self.registry.serving_models().await {
                    Ok(routes) => self.gateway.upstreams.probe_all(&routes).await,
                    Err(error) => tracing::warn!(%error, "health probes skipped: the model registry did not answer"),
                },
            }
        }
    }
}
