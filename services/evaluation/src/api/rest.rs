//! REST routes of evaluation under `/api/v1`.

use crate::domain::valid_day;
use crate::{Evaluation, EvaluationError};
use axum::extract::{Path, Query, State};
use axum::Json;
use brain_core::Problem;
use brain_store::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "evaluation";

pub(crate) fn router(service: Evaluation) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(usage_summary)).routes(routes!(list_indicators)).with_state(service)
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct DayRange {
    /// First day, `YYYY-MM-DD` (China Standard Time), inclusive.
    #[serde(default)]
    from: String,
    /// Last day, `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    to: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct UsageTotalJson {
    /// e.g. `records_ingested`, `model_tokens`, `api_call`
    kind: String,
    unit: String,
    quantity: f64,
    events: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct UsageSummaryJson {
    tenant_id: String,
    totals: Vec<UsageTotalJson>,
}

/// Usage of a tenant, summed per kind over a range of days.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/usage",
    tag = TAG,
    params(("tenant" = String, Path, description = "Tenant id"), DayRange),
    responses(
        (status = 200, body = UsageSummaryJson),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn usage_summary(
    State(service): State<Evaluation>,
    Path(tenant): Path<String>,
    Query(range): Query<DayRange>,
) -> Result<Json<UsageSummaryJson>, Problem> {
    let totals = service.usage_totals(&tenant, &range.from, &range.to).await.map_err(|e| Problem::from(&e))?;
    Ok(Json(UsageSummaryJson {
        tenant_id: tenant,
        totals: totals.into_iter().map(|t| UsageTotalJson { kind: t.kind, unit: t.unit, quantity: t.quantity, events: t.events }).collect(),
    }))
}

/// Indicators of the evaluation system (E1).
#[utoipa::path(
    get,
    path = "/api/v1/indicators",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn list_indicators() -> Problem {
    Problem::unimplemented("GET /api/v1/indicators")
}

impl Evaluation {
    /// Shared by REST and gRPC: checks the arguments, then sums.
    pub(crate) async fn usage_totals(&self, tenant: &str, from: &str, to: &str) -> Result<Vec<crate::store::UsageTotal>, EvaluationError> {
        let tenant = TenantId::new(tenant).map_err(|e| EvaluationError::InvalidArgument { field: "tenant", reason: e.to_string() })?;
        for (field, day) in [("from", from), ("to", to)] {
            if !valid_day(day) {
                return Err(EvaluationError::InvalidArgument { field, reason: format!("`{day}` is not a YYYY-MM-DD date") });
            }
        }
        self.usage.totals(&tenant, from, to).await
    }
}
