//! gRPC `brain.evaluation.v1.EvaluationService`. Methods not listed here answer UNIMPLEMENTED.

use crate::domain::kind_from_name;
use crate::Evaluation;
use brain_core::grpc_status;
use brain_proto::evaluation::v1::evaluation_service_server::{EvaluationService, EvaluationServiceServer};
use brain_proto::evaluation::v1::{GetUsageSummaryRequest, UsageSummary, UsageTotal};
use tonic::{Request, Response, Status};

pub(crate) const SERVICE_NAME: &str = "brain.evaluation.v1.EvaluationService";

pub(crate) fn server(service: Evaluation) -> EvaluationServiceServer<Evaluation> {
    EvaluationServiceServer::new(service)
}

#[tonic::async_trait]
impl EvaluationService for Evaluation {
    async fn get_usage_summary(&self, request: Request<GetUsageSummaryRequest>) -> Result<Response<UsageSummary>, Status> {
        let caller = brain_auth::grpc_principal(&request)?;
        let r = request.into_inner();
        caller.require_tenant(&r.tenant_id).map_err(grpc_status)?;
        let totals = self.usage_totals(&r.tenant_id, &r.from_day, &r.to_day).await.map_err(grpc_status)?;
        Ok(Response::new(UsageSummary {
            tenant_id: r.tenant_id,
            totals: totals
                .into_iter()
                .map(|t| UsageTotal {
                    kind: kind_from_name(&t.kind) as i32,
                    unit: t.unit,
                    quantity: t.quantity,
                    events: u64::try_from(t.events).unwrap_or(0),
                })
                .collect(),
        }))
    }
}
