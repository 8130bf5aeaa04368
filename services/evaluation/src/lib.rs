//! Evaluation: metering, the indicator system (E1) and reports to the provincial capability
//! center (E2).
//!
//! Built: usage metering — a consumer of `brain.usage.events.v1` sums usage per tenant, day
//! and kind, exactly once per event — and its queries (gRPC `GetUsageSummary`, REST
//! `GET /api/v1/tenants/{tenant}/usage`). Indicators and monthly reports answer UNIMPLEMENTED.

mod api;
mod domain;
mod error;
mod events;
mod store;

pub use error::EvaluationError;

use brain_runtime::{Backend, RuntimeError, Service, ServiceContext, ServiceSpec};
use std::sync::Arc;

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "evaluation",
        description: "usage metering, indicators and reports to the provincial center",
        needs: &[Backend::Store, Backend::Bus],
        migrations: &[store::MIGRATIONS],
        build: |ctx| Box::pin(async move { Ok(Arc::new(Evaluation::new(&ctx)?) as Arc<dyn Service>) }),
    }
}

#[derive(Clone)]
pub struct Evaluation {
    usage: store::UsageStore,
}

impl Evaluation {
    fn new(ctx: &ServiceContext) -> Result<Self, RuntimeError> {
        Ok(Self { usage: store::UsageStore::new(ctx.store()?.clone()) })
    }
}

#[async_trait::async_trait]
impl Service for Evaluation {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec![api::grpc::SERVICE_NAME]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(api::grpc::server(self.clone()));
    }

    fn rest(&self) -> utoipa_axum::router::OpenApiRouter {
        api::rest::router(self.clone())
    }

    async fn run(self: Arc<Self>, ctx: ServiceContext) -> Result<(), RuntimeError> {
        let topic = ctx.topics.name(brain_bus::topics::USAGE_EVENTS);
        events::meter_usage(ctx.bus()?.clone(), &topic, self.usage.clone(), ctx.shutdown.clone())
            .await
            .map_err(|e| RuntimeError::Service { service: "evaluation", reason: e.to_string() })
    }
}
