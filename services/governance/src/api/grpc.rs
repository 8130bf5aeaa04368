//! gRPC services of governance: thin translations onto the operations shared with REST.
//! Classification answers UNIMPLEMENTED until built.

use super::convert::{self, dataset_to, new_dataset_from, page_response, page_size, page_token, record_to, rejected_to, time};
use crate::Governance;
use brain_auth::grpc_principal;
use brain_core::grpc_status;
use brain_proto::governance::v1::catalog_service_server::{CatalogService, CatalogServiceServer};
use brain_proto::governance::v1::classification_service_server::{ClassificationService, ClassificationServiceServer};
use brain_proto::governance::v1::quality_service_server::{QualityService, QualityServiceServer};
use brain_proto::governance::v1::warehouse_service_server::{WarehouseService, WarehouseServiceServer};
use brain_proto::governance::v1::*;
use tonic::{Request, Response, Status};

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
impl CatalogService for Governance {
    async fn create_dataset(&self, request: Request<CreateDatasetRequest>) -> Result<Response<Dataset>, Status> {
        let caller = grpc_principal(&request)?;
        let (tenant, new) = new_dataset_from(request.into_inner().dataset.unwrap_or_default()).map_err(grpc_status)?;
        caller.require_dataset_of(&tenant, &new.name).map_err(grpc_status)?;
        let dataset = Governance::create_dataset(self, &caller, &tenant, new).await.map_err(grpc_status)?;
        Ok(Response::new(dataset_to(dataset)))
    }

    async fn get_dataset(&self, request: Request<GetDatasetRequest>) -> Result<Response<Dataset>, Status> {
        let caller = grpc_principal(&request)?;
        let reference = request.into_inner().r#ref.unwrap_or_default();
        caller.require_dataset_of(&reference.tenant_id, &reference.dataset).map_err(grpc_status)?;
        let dataset = Governance::get_dataset(self, &reference.tenant_id, &reference.dataset).await.map_err(grpc_status)?;
        Ok(Response::new(dataset_to(dataset)))
    }

    /// Lists the datasets of the caller's tenant.
    async fn list_datasets(&self, request: Request<ListDatasetsRequest>) -> Result<Response<ListDatasetsResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let tenant = caller.tenant.clone();
        let r = request.into_inner();
        let library = convert::library_from(r.library).map_err(grpc_status)?;
        let page = Governance::list_datasets(self, &tenant, library, "", page_size(r.page.as_ref()), page_token(r.page.as_ref()))
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(ListDatasetsResponse { datasets: page.items.into_iter().map(dataset_to).collect(), page: page_response(page.next_page_token) }))
    }

    async fn search_datasets(&self, request: Request<SearchDatasetsRequest>) -> Result<Response<ListDatasetsResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let tenant = caller.tenant.clone();
        let r = request.into_inner();
        let page = Governance::list_datasets(self, &tenant, None, &r.query, page_size(r.page.as_ref()), page_token(r.page.as_ref()))
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(ListDatasetsResponse { datasets: page.items.into_iter().map(dataset_to).collect(), page: page_response(page.next_page_token) }))
    }

    async fn evolve_schema(&self, request: Request<EvolveSchemaRequest>) -> Result<Response<Dataset>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let reference = r.r#ref.unwrap_or_default();
        caller.require_dataset_of(&reference.tenant_id, &reference.dataset).map_err(grpc_status)?;
        let fields = convert::fields_from(r.fields).map_err(grpc_status)?;
        let dataset = Governance::evolve_schema(self, &caller, &reference.tenant_id, &reference.dataset, fields).await.map_err(grpc_status)?;
        Ok(Response::new(dataset_to(dataset)))
    }
}


fn classification_to(reference: brain_proto::common::v1::DatasetRef, c: crate::domain::DatasetClassification) -> Classification {
    Classification { r#ref: Some(reference), grade: c.grade.to_proto(), fields: c.fields.iter().map(|f| f.to_field_grade()).collect() }
}

#[tonic::async_trait]
impl ClassificationService for Governance {
    async fn classify_dataset(&self, request: Request<ClassifyDatasetRequest>) -> Result<Response<Classification>, Status> {
        let caller = grpc_principal(&request)?;
        let reference = request.into_inner().r#ref.unwrap_or_default();
        caller.require_dataset_of(&reference.tenant_id, &reference.dataset).map_err(grpc_status)?;
        let outcome = Governance::classify(self, &reference.tenant_id, &reference.dataset).await.map_err(grpc_status)?;
        Ok(Response::new(classification_to(reference, outcome.classification)))
    }

    async fn override_field_grade(&self, request: Request<OverrideFieldGradeRequest>) -> Result<Response<Classification>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let reference = r.r#ref.unwrap_or_default();
        caller.require_dataset_of(&reference.tenant_id, &reference.dataset).map_err(grpc_status)?;
        let grade = crate::domain::Grade::from_proto(r.grade).ok_or_else(|| Status::invalid_argument("grade must be LOW, MEDIUM or HIGH"))?;
        let classification = Governance::override_grade(self, &reference.tenant_id, &reference.dataset, &r.field, grade, &r.reason, &caller)
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(classification_to(reference, classification)))
    }
}

#[tonic::async_trait]
impl QualityService for Governance {
    async fn get_quality_score(&self, request: Request<GetQualityScoreRequest>) -> Result<Response<QualityScore>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let reference = r.r#ref.unwrap_or_default();
        caller.require_dataset_of(&reference.tenant_id, &reference.dataset).map_err(grpc_status)?;
        let range = r.range.unwrap_or_default();
        let day = |ts: Option<&prost_types::Timestamp>| {
            time(ts).map(|t| brain_core::calendar::cst_day(t.timestamp_millis())).unwrap_or_default()
        };
        let quality = Governance::quality(self, &reference.tenant_id, &reference.dataset, &day(range.start.as_ref()), &day(range.end.as_ref()))
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(QualityScore {
            r#ref: Some(reference),
            score: quality.score,
            days: quality
                .days
                .into_iter()
                .map(|(day, accepted, rejected, score)| DailyQuality {
                    day,
                    accepted: u64::try_from(accepted).unwrap_or(0),
                    rejected: u64::try_from(rejected).unwrap_or(0),
                    score,
                })
                .collect(),
        }))
    }

    async fn list_rejected_records(&self, request: Request<ListRejectedRecordsRequest>) -> Result<Response<ListRejectedRecordsResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let reference = r.r#ref.unwrap_or_default();
        caller.require_dataset_of(&reference.tenant_id, &reference.dataset).map_err(grpc_status)?;
        let page = Governance::list_rejected(self, &reference.tenant_id, &reference.dataset, page_size(r.page.as_ref()), page_token(r.page.as_ref()))
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(ListRejectedRecordsResponse {
            records: page.items.into_iter().map(|row| rejected_to(&reference.tenant_id, &reference.dataset, row)).collect(),
            page: page_response(page.next_page_token),
        }))
    }

    async fn resubmit_rejected_record(&self, request: Request<ResubmitRejectedRecordRequest>) -> Result<Response<ResubmitRejectedRecordResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let reference = r.r#ref.unwrap_or_default();
        caller.require_dataset_of(&reference.tenant_id, &reference.dataset).map_err(grpc_status)?;
        let payload: serde_json::Value =
            serde_json::from_slice(&r.payload_json).map_err(|e| Status::invalid_argument(format!("payload_json is not JSON: {e}")))?;
        Governance::resubmit(self, &reference.tenant_id, &reference.dataset, &r.record_id, payload).await.map_err(grpc_status)?;
        Ok(Response::new(ResubmitRejectedRecordResponse { record_id: r.record_id }))
    }
}

#[tonic::async_trait]
impl WarehouseService for Governance {
    async fn query_records(&self, request: Request<QueryRecordsRequest>) -> Result<Response<QueryRecordsResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let reference = r.r#ref.unwrap_or_default();
        caller.require_dataset_of(&reference.tenant_id, &reference.dataset).map_err(grpc_status)?;
        let range = r.range.unwrap_or_default();
        let page = Governance::query_records(
            self,
            &reference.tenant_id,
            &reference.dataset,
            time(range.start.as_ref()),
            time(range.end.as_ref()),
            page_size(r.page.as_ref()),
            page_token(r.page.as_ref()),
        )
        .await
        .map_err(grpc_status)?;
        Ok(Response::new(QueryRecordsResponse {
            records: page.items.into_iter().map(|record| record_to(&reference.tenant_id, &reference.dataset, record)).collect(),
            page: page_response(page.next_page_token),
        }))
    }
}
