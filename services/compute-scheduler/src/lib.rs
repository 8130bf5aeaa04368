//! Compute scheduler: compute and storage of regional and industry data centers, and jobs
//! placed on them with quotas, priorities and data residency.
//!
//! Every method answers UNIMPLEMENTED until its issue builds it.

use brain_core::Problem;
use brain_proto::scheduler::v1::compute_scheduler_service_server::{ComputeSchedulerService, ComputeSchedulerServiceServer};
use brain_runtime::{Backend, Service, ServiceSpec};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "compute-scheduler";

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "compute-scheduler",
        description: "clusters of regional and industry data centers, job placement",
        needs: &[Backend::Store, Backend::Bus],
        migrations: &[],
        build: |_ctx| Box::pin(async move { Ok(Arc::new(ComputeScheduler) as Arc<dyn Service>) }),
    }
}

#[derive(Clone, Debug, Default)]
pub struct ComputeScheduler;

#[async_trait::async_trait]
impl Service for ComputeScheduler {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec!["brain.scheduler.v1.ComputeSchedulerService"]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(ComputeSchedulerServiceServer::new(self.clone()));
    }

    fn rest(&self) -> OpenApiRouter {
        OpenApiRouter::new()
        .routes(routes!(register_cluster))
        .routes(routes!(list_clusters))
        .routes(routes!(submit_job))
        .routes(routes!(get_job))
        .routes(routes!(cancel_job))
    }
}

// Default trait methods answer UNIMPLEMENTED: nothing here fakes a response.
#[tonic::async_trait]
impl ComputeSchedulerService for ComputeScheduler {}

/// Register a compute cluster.
#[utoipa::path(
    post,
    path = "/api/v1/clusters",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn register_cluster() -> Problem {
    Problem::unimplemented("POST /api/v1/clusters")
}

/// List compute clusters.
#[utoipa::path(
    get,
    path = "/api/v1/clusters",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn list_clusters() -> Problem {
    Problem::unimplemented("GET /api/v1/clusters")
}

/// Submit a compute job.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn submit_job() -> Problem {
    Problem::unimplemented("POST /api/v1/jobs")
}

/// Get a job and its placement.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job}",
    tag = TAG,
    params(("job" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn get_job() -> Problem {
    Problem::unimplemented("GET /api/v1/jobs/{job}")
}

/// Cancel a job.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{job}/cancel",
    tag = TAG,
    params(("job" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn cancel_job() -> Problem {
    Problem::unimplemented("POST /api/v1/jobs/{job}/cancel")
}
