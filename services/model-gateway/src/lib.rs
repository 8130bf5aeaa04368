//! Model gateway and registry: the foundation → industry → scenario model tree, and the
//! OpenAI-compatible front door with grade-aware routing.
//!
//! - [`registry`]: models, versions, stages and endpoints over REST (`/api/v1/models`) and
//!   gRPC (`ModelRegistryService`), every change in the audit ledger; [`registry::Registry::route`]
//!   tells the gateway what serves a model.
//! - The gateway (`/v1/…`, `ModelGatewayService`) answers 501 / UNIMPLEMENTED until it is built.

pub mod gateway;
pub mod registry;

use brain_core::Problem;
use brain_proto::gateway::v1::model_gateway_service_server::{ModelGatewayService, ModelGatewayServiceServer};
use brain_proto::gateway::v1::model_registry_service_server::ModelRegistryServiceServer;
use brain_runtime::{Backend, RuntimeError, Service, ServiceContext, ServiceSpec};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "model-gateway";

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "model-gateway",
        description: "model registry and OpenAI-compatible gateway",
        needs: &[Backend::Store, Backend::Bus, Backend::Cache],
        migrations: &[registry::MIGRATIONS],
        build: |ctx| Box::pin(async move { Ok(Arc::new(ModelGateway::new(&ctx)?) as Arc<dyn Service>) }),
    }
}

#[derive(Clone)]
pub struct ModelGateway {
    registry: registry::Registry,
}

impl ModelGateway {
    fn new(ctx: &ServiceContext) -> Result<Self, RuntimeError> {
        let store = registry::RegistryStore::new(ctx.store()?.clone());
        let audit = Arc::new(registry::audit::Ledger::new(ctx.peers.clone()));
        Ok(Self { registry: registry::Registry::new(store, audit) })
    }
}

#[async_trait::async_trait]
impl Service for ModelGateway {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec!["brain.gateway.v1.ModelRegistryService", "brain.gateway.v1.ModelGatewayService"]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(ModelRegistryServiceServer::new(self.registry.clone()));
        routes.add_service(ModelGatewayServiceServer::new(self.clone()));
    }

    fn rest(&self) -> OpenApiRouter {
        OpenApiRouter::new()
        .routes(routes!(list_openai_models))
        .routes(routes!(chat_completions))
        .routes(routes!(completions))
        .routes(routes!(embeddings))
        .merge(registry::rest::router(self.registry.clone()))
    }
}

// Default trait methods answer UNIMPLEMENTED: nothing here fakes a response.
#[tonic::async_trait]
impl ModelGatewayService for ModelGateway {}

/// List models (OpenAI-compatible).
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn list_openai_models() -> Problem {
    Problem::unimplemented("GET /v1/models")
}

/// Chat completion (OpenAI-compatible).
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn chat_completions() -> Problem {
    Problem::unimplemented("POST /v1/chat/completions")
}

/// Text completion (OpenAI-compatible).
#[utoipa::path(
    post,
    path = "/v1/completions",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn completions() -> Problem {
    Problem::unimplemented("POST /v1/completions")
}

/// Embeddings (OpenAI-compatible).
#[utoipa::path(
    post,
    path = "/v1/embeddings",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn embeddings() -> Problem {
    Problem::unimplemented("POST /v1/embeddings")
}
