//! gRPC services of governance. Their methods answer UNIMPLEMENTED until built; the REST API
//! carries the catalog, warehouse and quality operations today.

use crate::Governance;
use brain_proto::governance::v1::catalog_service_server::{CatalogService, CatalogServiceServer};
use brain_proto::governance::v1::classification_service_server::{ClassificationService, ClassificationServiceServer};
use brain_proto::governance::v1::quality_service_server::{QualityService, QualityServiceServer};
use brain_proto::governance::v1::warehouse_service_server::{WarehouseService, WarehouseServiceServer};

pub(crate) const SERVICE_NAMES: [&str; 4] = [
    "brain.governance.v1.CatalogService",
    "brain.governance.v1.ClassificationService",
    "brain.governance.v1.QualityService",
    "brain.governance.v1.WarehouseService",
];

pub(crate) fn add(routes: &mut tonic::service::RoutesBuilder, service: &Governance) {
    routes
        .add_service(CatalogServiceServer::new(service.clone()))
        .add_service(ClassificationServiceServer::new(service.clone()))
        .add_service(QualityServiceServer::new(service.clone()))
        .add_service(WarehouseServiceServer::new(service.clone()));
}

#[tonic::async_trait]
impl CatalogService for Governance {}

#[tonic::async_trait]
impl ClassificationService for Governance {}

#[tonic::async_trait]
impl QualityService for Governance {}

#[tonic::async_trait]
impl WarehouseService for Governance {}
