//! Service opening: capability components (knowledge, tool, application) listed, traded and
//! reused, and data services for government and enterprises.
//!
//! Every method answers UNIMPLEMENTED until its issue builds it.

use brain_core::Problem;
use brain_proto::opening::v1::service_opening_service_server::{ServiceOpeningService, ServiceOpeningServiceServer};
use brain_runtime::{Backend, Service, ServiceSpec};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "service-opening";

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "service-opening",
        description: "capability components and data services",
        needs: &[Backend::Store],
        migrations: &[],
        build: |_ctx| Box::pin(async move { Ok(Arc::new(ServiceOpening) as Arc<dyn Service>) }),
    }
}

#[derive(Clone, Debug, Default)]
pub struct ServiceOpening;

#[async_trait::async_trait]
impl Service for ServiceOpening {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec!["brain.opening.v1.ServiceOpeningService"]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(ServiceOpeningServiceServer::new(self.clone()));
    }

    fn rest(&self) -> OpenApiRouter {
        OpenApiRouter::new()
        .routes(routes!(list_components))
        .routes(routes!(publish_component))
        .routes(routes!(get_component))
        .routes(routes!(subscribe_component))
    }
}

// Default trait methods answer UNIMPLEMENTED: nothing here fakes a response.
#[tonic::async_trait]
impl ServiceOpeningService for ServiceOpening {}

/// List capability components.
#[utoipa::path(
    get,
    path = "/api/v1/components",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn list_components() -> Problem {
    Problem::unimplemented("GET /api/v1/components")
}

/// List a component for reuse (上架).
#[utoipa::path(
    post,
    path = "/api/v1/components",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn publish_component() -> Problem {
    Problem::unimplemented("POST /api/v1/components")
}

/// Get a capability component.
#[utoipa::path(
    get,
    path = "/api/v1/components/{component}",
    tag = TAG,
    params(("component" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn get_component() -> Problem {
    Problem::unimplemented("GET /api/v1/components/{component}")
}

/// Subscribe to a component.
#[utoipa::path(
    post,
    path = "/api/v1/components/{component}/subscriptions",
    tag = TAG,
    params(("component" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn subscribe_component() -> Problem {
    Problem::unimplemented("POST /api/v1/components/{component}/subscriptions")
}
