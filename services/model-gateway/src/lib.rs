//! Model gateway and registry: the foundation → industry → scenario model tree, and the
//! OpenAI-compatible front door with grade-aware routing.
//!
//! Every method answers UNIMPLEMENTED until its issue builds it.

use brain_core::Problem;
use brain_proto::gateway::v1::model_registry_service_server::{ModelRegistryService, ModelRegistryServiceServer};
use brain_proto::gateway::v1::model_gateway_service_server::{ModelGatewayService, ModelGatewayServiceServer};
use brain_runtime::{Backend, Service, ServiceSpec};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "model-gateway";

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "model-gateway",
        description: "model registry and OpenAI-compatible gateway",
        needs: &[Backend::Store, Backend::Bus, Backend::Cache],
        migrations: &[],
        build: |_ctx| Box::pin(async move { Ok(Arc::new(ModelGateway) as Arc<dyn Service>) }),
    }
}

#[derive(Clone, Debug, Default)]
pub struct ModelGateway;

#[async_trait::async_trait]
impl Service for ModelGateway {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec!["brain.gateway.v1.ModelRegistryService", "brain.gateway.v1.ModelGatewayService"]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(ModelRegistryServiceServer::new(self.clone()));
        routes.add_service(ModelGatewayServiceServer::new(self.clone()));
    }

    fn rest(&self) -> OpenApiRouter {
        OpenApiRouter::new()
        .routes(routes!(list_openai_models))
        .routes(routes!(chat_completions))
        .routes(routes!(completions))
        .routes(routes!(embeddings))
        .routes(routes!(register_model))
        .routes(routes!(get_model))
    }
}

// Default trait methods answer UNIMPLEMENTED: nothing here fakes a response.
#[tonic::async_trait]
impl ModelRegistryService for ModelGateway {}

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

/// Register a model in the registry.
#[utoipa::path(
    post,
    path = "/api/v1/models",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn register_model() -> Problem {
    Problem::unimplemented("POST /api/v1/models")
}

/// Get a model with its versions.
#[utoipa::path(
    get,
    path = "/api/v1/models/{model}",
    tag = TAG,
    params(("model" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn get_model() -> Problem {
    Problem::unimplemented("GET /api/v1/models/{model}")
}
