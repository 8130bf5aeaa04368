//! Portal API: the backend of the government and enterprise portals and the cockpit.
//!
//! Every method answers UNIMPLEMENTED until its issue builds it.

use brain_core::Problem;
use brain_proto::portal::v1::portal_service_server::{PortalService, PortalServiceServer};
use brain_runtime::{Backend, Service, ServiceSpec};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "portal-api";

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "portal-api",
        description: "portal and cockpit backend",
        needs: &[Backend::Store],
        migrations: &[],
        build: |_ctx| Box::pin(async move { Ok(Arc::new(PortalApi) as Arc<dyn Service>) }),
    }
}

#[derive(Clone, Debug, Default)]
pub struct PortalApi;

#[async_trait::async_trait]
impl Service for PortalApi {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec!["brain.portal.v1.PortalService"]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(PortalServiceServer::new(self.clone()));
    }

    fn rest(&self) -> OpenApiRouter {
        OpenApiRouter::new()
        .routes(routes!(cockpit_overview))
        .routes(routes!(industry_graph))
    }
}

// Default trait methods answer UNIMPLEMENTED: nothing here fakes a response.
#[tonic::async_trait]
impl PortalService for PortalApi {}

/// Cockpit overview of the industry (驾驶舱).
#[utoipa::path(
    get,
    path = "/api/v1/cockpit/overview",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn cockpit_overview() -> Problem {
    Problem::unimplemented("GET /api/v1/cockpit/overview")
}

/// Industry panorama graph (产业全景图谱).
#[utoipa::path(
    get,
    path = "/api/v1/cockpit/graph",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn industry_graph() -> Problem {
    Problem::unimplemented("GET /api/v1/cockpit/graph")
}
