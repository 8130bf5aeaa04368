//! `brain.gateway.v1.ModelRegistryService`: thin translations onto the registry's operations.

use super::convert::{level_from, model_to, new_model_from, new_version_from, stage_from};
use super::domain::violation;
use super::store::ListFilter;
use super::{Registry, RegistryError};
use brain_auth::grpc_principal;
use brain_core::grpc_status;
use brain_proto::common::v1::PageResponse;
use brain_proto::gateway::v1::model_registry_service_server::ModelRegistryService;
use brain_proto::gateway::v1::*;
use tonic::{Request, Response, Status};

fn status(error: RegistryError) -> Status {
    grpc_status(error)
}

fn invalid(what: &'static str, violations: Vec<brain_core::Violation>) -> Status {
    status(RegistryError::invalid(what, violations))
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned()).filter(|v| !v.is_empty())
}

#[tonic::async_trait]
impl ModelRegistryService for Registry {
    async fn register_model(&self, request: Request<RegisterModelRequest>) -> Result<Response<Model>, Status> {
        let caller = grpc_principal(&request)?;
        let new = new_model_from(request.into_inner()).map_err(|v| invalid("model registration", v))?;
        Ok(Response::new(model_to(&self.register(&caller, new).await.map_err(status)?)))
    }

    async fn get_model(&self, request: Request<GetModelRequest>) -> Result<Response<Model>, Status> {
        let caller = grpc_principal(&request)?;
        Ok(Response::new(model_to(&self.model(&caller, &request.get_ref().name).await.map_err(status)?)))
    }

    async fn list_models(&self, request: Request<ListModelsRequest>) -> Result<Response<ListModelsResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let mut violations = Vec::new();
        if r.level != 0 && level_from(r.level).is_none() {
            violations.push(violation("level", "enum", format!("{} is not a model level", r.level)));
        }
        if r.stage != 0 && stage_from(r.stage).is_none() {
            violations.push(violation("stage", "enum", format!("{} is not a stage", r.stage)));
        }
        RegistryError::check("listing", violations).map_err(status)?;
        let filter = ListFilter { level: level_from(r.level), parent: text(&r.parent), stage: stage_from(r.stage), owner: text(&r.owner) };
        let page = r.page.unwrap_or_default();
        let token = text(&page.page_token);
        let listed = self.list(&caller, &filter, Some(page.page_size), token.as_deref()).await.map_err(status)?;
        Ok(Response::new(ListModelsResponse {
            models: listed.models.iter().map(model_to).collect(),
            page: Some(PageResponse { next_page_token: listed.next_page_token.unwrap_or_default() }),
        }))
    }

    async fn add_version(&self, request: Request<AddVersionRequest>) -> Result<Response<Model>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let Some(version) = r.version else { return Err(invalid("new version", vec![violation("version", "required", "the new version is required")])) };
        let new = new_version_from(version, "version.").map_err(|v| invalid("new version", v))?;
        Ok(Response::new(model_to(&self.add_version(&caller, &r.name, new).await.map_err(status)?)))
    }

    async fn promote_version(&self, request: Request<PromoteVersionRequest>) -> Result<Response<Model>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let Some(stage) = stage_from(r.stage) else { return Err(invalid("promotion", vec![violation("stage", "required", "DEVELOPMENT, STAGING or PRODUCTION")])) };
        Ok(Response::new(model_to(&self.promote(&caller, &r.name, &r.version, stage, &r.reason).await.map_err(status)?)))
    }

    async fn retire_version(&self, request: Request<RetireVersionRequest>) -> Result<Response<Model>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        Ok(Response::new(model_to(&self.retire(&caller, &r.name, &r.version, &r.reason).await.map_err(status)?)))
    }
}
