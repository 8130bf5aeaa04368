//! REST routes of the registry under `/api/v1/models`.

use super::catalog::Page;
use super::domain::{Level, Model, NewModel, NewVersion, Stage, Version, violation};
use super::store::ListFilter;
use super::{Registry, RegistryError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use brain_auth::Principal;
use brain_core::{Problem, Violation};
use brain_governance::domain::Grade;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "model-registry";

pub(crate) fn router(registry: Registry) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(register_model, list_models))
        .routes(routes!(get_model))
        .routes(routes!(add_version))
        .routes(routes!(promote_version))
        .routes(routes!(retire_version))
        .with_state(registry)
}

type ApiResult<T> = Result<T, Problem>;

fn problem(error: RegistryError) -> Problem {
    Problem::from(&error)
}

/// A JSON body, or 400 naming where it is wrong (`endpoints[0].location: unknown variant …`).
/// An empty body reads as `{}`.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        problem(RegistryError::invalid("request body", vec![violation(field, "json", e.inner().to_string())]))
    })
}

/// A version as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct VersionBody {
    #[serde(flatten)]
    version: Version,
    /// The highest of its own grade and every grade its ancestors were trained on; what the
    /// gateway guards (high: on-premise endpoints only; medium: not external).
    effective_grade: Option<Grade>,
}

/// A model as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ModelBody {
    name: String,
    level: Level,
    parent: Option<String>,
    description: String,
    /// The tenant that registered it.
    owner_tenant: String,
    created_at: DateTime<Utc>,
    /// The highest grade any version of it or of its ancestors was trained on: what its children inherit.
    lineage_grade: Option<Grade>,
    /// The version that serves, if any.
    production_version: Option<String>,
    /// In the order they were added.
    versions: Vec<VersionBody>,
}

fn model_body(model: Model) -> ModelBody {
    let lineage_grade = model.lineage_grade();
    let production_version = model.production().map(|v| v.version.clone());
    let versions = model.versions.iter().map(|v| VersionBody { effective_grade: model.effective_grade(v), version: v.clone() }).collect();
    ModelBody {
        name: model.name,
        level: model.level,
        parent: model.parent,
        description: model.description,
        owner_tenant: model.owner_tenant,
        created_at: model.created_at,
        lineage_grade,
        production_version,
        versions,
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ModelPage {
    models: Vec<ModelBody>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

fn page_body(page: Page) -> ModelPage {
    ModelPage { models: page.models.into_iter().map(model_body).collect(), next_page_token: page.next_page_token }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// `foundation`, `industry` or `scenario`.
    level: Option<String>,
    /// Only the children of this model.
    parent: Option<String>,
    /// Only models with a version in this stage: `development`, `staging`, `production`, `retired`.
    stage: Option<String>,
    /// Only models this tenant registered.
    owner: Option<String>,
    /// 1-1000, default 100.
    #[param(value_type = Option<u32>)]
    page_size: Option<String>,
    /// The `next_page_token` of the previous page.
    page_token: Option<String>,
}

impl ListParams {
    /// The filter and page size, or 400 with every parameter that cannot be read.
    fn parse(self) -> ApiResult<(ListFilter, Option<u32>, Option<String>)> {
        let mut violations = Vec::new();
        let level = enum_param("level", self.level, Level::parse, "foundation, industry, scenario", &mut violations);
        let stage = enum_param("stage", self.stage, Stage::parse, "development, staging, production, retired", &mut violations);
        let page_size = match self.page_size.filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => v.parse::<u32>().map(Some).unwrap_or_else(|_| {
                violations.push(violation("page_size", "range", format!("{v:?} is not a number of 1-{}", super::catalog::MAX_PAGE)));
                None
            }),
        };
        RegistryError::check("listing", violations).map_err(problem)?;
        let filter = ListFilter { level, parent: self.parent.filter(|p| !p.is_empty()), stage, owner: self.owner.filter(|o| !o.is_empty()) };
        Ok((filter, page_size, self.page_token))
    }
}

/// A query parameter naming one of an enum's values; a violation when it names none.
fn enum_param<T>(name: &str, value: Option<String>, parse: fn(&str) -> Option<T>, allowed: &str, violations: &mut Vec<Violation>) -> Option<T> {
    let value = value.filter(|v| !v.is_empty())?;
    let parsed = parse(&value);
    if parsed.is_none() {
        violations.push(violation(name, "enum", format!("{value:?} is not one of {allowed}")));
    }
    parsed
}

/// Register a model with its first version (in development). Operators and providers register
/// for their tenant; the system administrator (signed in with TOTP) for the platform.
#[utoipa::path(post, path = "/api/v1/models", tag = TAG, request_body = NewModel,
    responses(
        (status = 201, body = ModelBody),
        (status = 400, description = "Every problem of the registration: field, rule, reason", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
    ))]
async fn register_model(State(registry): State<Registry>, principal: Principal, bytes: Bytes) -> ApiResult<(StatusCode, Json<ModelBody>)> {
    let new: NewModel = body(&bytes)?;
    let model = registry.register(&principal, new).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(model_body(model))))
}

/// The registry's models by name: the brain's whole catalog, readable by every tenant
/// (endpoint addresses only by the owner tenant and the platform).
#[utoipa::path(get, path = "/api/v1/models", tag = TAG, params(ListParams),
    responses((status = 200, body = ModelPage), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn list_models(State(registry): State<Registry>, principal: Principal, Query(params): Query<ListParams>) -> ApiResult<Json<ModelPage>> {
    let (filter, page_size, page_token) = params.parse()?;
    let page = registry.list(&principal, &filter, page_size, page_token.as_deref()).await.map_err(problem)?;
    Ok(Json(page_body(page)))
}

/// A model with its versions.
#[utoipa::path(get, path = "/api/v1/models/{model}", tag = TAG, params(("model" = String, Path)),
    responses((status = 200, body = ModelBody), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_model(State(registry): State<Registry>, principal: Principal, Path(model): Path<String>) -> ApiResult<Json<ModelBody>> {
    Ok(Json(model_body(registry.model(&principal, &model).await.map_err(problem)?)))
}

/// Add a version (in development).
#[utoipa::path(post, path = "/api/v1/models/{model}/versions", tag = TAG, params(("model" = String, Path)), request_body = NewVersion,
    responses(
        (status = 201, body = ModelBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The version exists", body = Problem, content_type = "application/problem+json"),
    ))]
async fn add_version(State(registry): State<Registry>, principal: Principal, Path(model): Path<String>, bytes: Bytes) -> ApiResult<(StatusCode, Json<ModelBody>)> {
    let new: NewVersion = body(&bytes)?;
    let model = registry.add_version(&principal, &model, new).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(model_body(model))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromoteBody {
    /// `development`, `staging` or `production`.
    stage: Stage,
    /// Why, for the audit ledger.
    #[serde(default)]
    reason: String,
}

/// Move a version to development, staging or production. A version reaches production through
/// staging; the previous production version goes back to staging. Production needs the
/// platform's operators when the endpoints claim to run on premise or in the province, or name
/// a key of the gateway.
#[utoipa::path(post, path = "/api/v1/models/{model}/versions/{version}/promote", tag = TAG,
    params(("model" = String, Path), ("version" = String, Path)), request_body = PromoteBody,
    responses(
        (status = 200, body = ModelBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from its stage, or its endpoints do not suit its grade", body = Problem, content_type = "application/problem+json"),
    ))]
async fn promote_version(State(registry): State<Registry>, principal: Principal, Path((model, version)): Path<(String, String)>, bytes: Bytes) -> ApiResult<Json<ModelBody>> {
    let PromoteBody { stage, reason } = body(&bytes)?;
    Ok(Json(model_body(registry.promote(&principal, &model, &version, stage, &reason).await.map_err(problem)?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetireBody {
    /// Why, for the audit ledger.
    #[serde(default)]
    reason: String,
}

/// Retire a version: it never serves again (retiring the production version stops the model
/// serving at once). The body is optional.
#[utoipa::path(post, path = "/api/v1/models/{model}/versions/{version}/retire", tag = TAG,
    params(("model" = String, Path), ("version" = String, Path)), request_body(content = Option<RetireBody>),
    responses(
        (status = 200, body = ModelBody),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already retired", body = Problem, content_type = "application/problem+json"),
    ))]
async fn retire_version(State(registry): State<Registry>, principal: Principal, Path((model, version)): Path<(String, String)>, bytes: Bytes) -> ApiResult<Json<ModelBody>> {
    let RetireBody { reason } = body(&bytes)?;
    Ok(Json(model_body(registry.retire(&principal, &model, &version, &reason).await.map_err(problem)?)))
}
