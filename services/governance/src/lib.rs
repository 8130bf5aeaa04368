//! Governance service: catalog of the basic, industry and scenario libraries, validation and quality,
//! classification and grading, rejected records, and the industry data warehouse.
//!
//! Every method answers UNIMPLEMENTED until the data-chain issue builds it.

use brain_core::Problem;
use brain_proto::governance::v1::catalog_service_server::{CatalogService, CatalogServiceServer};
use brain_proto::governance::v1::classification_service_server::{ClassificationService, ClassificationServiceServer};
use brain_proto::governance::v1::quality_service_server::{QualityService, QualityServiceServer};
use brain_proto::governance::v1::warehouse_service_server::{WarehouseService, WarehouseServiceServer};
use brain_runtime::{Backend, Service, ServiceSpec};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "governance";

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "governance",
        description: "catalog, validation, classification and grading, warehouse",
        needs: &[Backend::Store, Backend::Bus],
        migrations: &[],
        build: |_ctx| Box::pin(async move { Ok(Arc::new(Governance) as Arc<dyn Service>) }),
    }
}

#[derive(Clone, Debug, Default)]
pub struct Governance;

#[async_trait::async_trait]
impl Service for Governance {
    fn grpc_names(&self) -> Vec<&'static str> {
        vec!["brain.governance.v1.CatalogService", "brain.governance.v1.ClassificationService", "brain.governance.v1.QualityService", "brain.governance.v1.WarehouseService"]
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        routes.add_service(CatalogServiceServer::new(self.clone()));
        routes.add_service(ClassificationServiceServer::new(self.clone()));
        routes.add_service(QualityServiceServer::new(self.clone()));
        routes.add_service(WarehouseServiceServer::new(self.clone()));
    }

    fn rest(&self) -> OpenApiRouter {
        OpenApiRouter::new()
        .routes(routes!(create_dataset))
        .routes(routes!(list_datasets))
        .routes(routes!(get_dataset))
        .routes(routes!(evolve_schema))
        .routes(routes!(override_grade))
        .routes(routes!(quality_score))
        .routes(routes!(list_rejected))
        .routes(routes!(query_records))
    }
}

// Default trait methods answer UNIMPLEMENTED: nothing here fakes a response.
#[tonic::async_trait]
impl CatalogService for Governance {}

#[tonic::async_trait]
impl ClassificationService for Governance {}

#[tonic::async_trait]
impl QualityService for Governance {}

#[tonic::async_trait]
impl WarehouseService for Governance {}

/// Register a dataset in the catalog.
#[utoipa::path(
    post,
    path = "/api/v1/datasets",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn create_dataset() -> Problem {
    Problem::unimplemented("POST /api/v1/datasets")
}

/// List or search datasets.
#[utoipa::path(
    get,
    path = "/api/v1/datasets",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn list_datasets() -> Problem {
    Problem::unimplemented("GET /api/v1/datasets")
}

/// Get a dataset with its schema and grades.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{tenant}/{dataset}",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn get_dataset() -> Problem {
    Problem::unimplemented("GET /api/v1/datasets/{tenant}/{dataset}")
}

/// Add a schema version.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/{tenant}/{dataset}/schema",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn evolve_schema() -> Problem {
    Problem::unimplemented("POST /api/v1/datasets/{tenant}/{dataset}/schema")
}

/// Override the grade of a field, with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/datasets/{tenant}/{dataset}/grades",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn override_grade() -> Problem {
    Problem::unimplemented("POST /api/v1/datasets/{tenant}/{dataset}/grades")
}

/// Quality score per day.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{tenant}/{dataset}/quality",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn quality_score() -> Problem {
    Problem::unimplemented("GET /api/v1/datasets/{tenant}/{dataset}/quality")
}

/// Rejected records with reasons.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{tenant}/{dataset}/rejected",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn list_rejected() -> Problem {
    Problem::unimplemented("GET /api/v1/datasets/{tenant}/{dataset}/rejected")
}

/// Records of a dataset by time range.
#[utoipa::path(
    get,
    path = "/api/v1/datasets/{tenant}/{dataset}/records",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn query_records() -> Problem {
    Problem::unimplemented("GET /api/v1/datasets/{tenant}/{dataset}/records")
}
