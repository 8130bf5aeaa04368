//! REST routes of the evidence: `/api/v1/ledger/*` and `/api/v1/reports/*`.

use super::rest::{ApiResult, Page, PageParams, page, problem};
use crate::TrustError;
use crate::operations::{Trust, page_limit};
use axum::extract::{Path, Query, State};
use axum::Json;
use brain_auth::Principal;
use brain_core::Problem;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "trust";

pub(crate) fn router() -> OpenApiRouter<Trust> {
    OpenApiRouter::new()
        .routes(routes!(ledger_entries))
        .routes(routes!(verify_ledger))
        .routes(routes!(ledger_proof))
        .routes(routes!(ledger_public_key))
        .routes(routes!(list_reports))
        .routes(routes!(get_report))
        .routes(routes!(report_onboarding))
}

fn json_of<T: Serialize>(value: &T) -> ApiResult<Json<serde_json::Value>> {
    serde_json::to_value(value).map(Json).map_err(|e| problem(TrustError::Corrupt { what: "evidence", id: String::new(), reason: e.to_string() }))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct EntriesParams {
    /// Entries after this sequence number (0: from the start).
    after_seq: Option<u64>,
    /// At most this many (≤ 1000).
    limit: Option<u32>,
}

/// Ledger entries in sequence order (auditor, security administrator; two factors).
#[utoipa::path(get, path = "/api/v1/ledger/entries", tag = TAG, params(EntriesParams),
    responses((status = 200, description = "Entries: seq, at, actor, tenant, action, subject, result, details, details_hash, prev_hash, entry_hash"), (status = 403, body = Problem)))]
async fn ledger_entries(State(trust): State<Trust>, principal: Principal, Query(params): Query<EntriesParams>) -> ApiResult<Json<serde_json::Value>> {
    let entries = trust.ledger_entries(&principal, params.after_seq.unwrap_or(0), params.limit.unwrap_or(100)).await.map_err(problem)?;
    json_of(&serde_json::json!({ "entries": entries }))
}

/// Verify the whole hash chain and every signed checkpoint; names the first broken sequence
/// number and why.
#[utoipa::path(post, path = "/api/v1/ledger/verify", tag = TAG,
    responses((status = 200, description = "entries_checked, checkpoints_checked, first_broken_seq, problems"), (status = 403, body = Problem)))]
async fn verify_ledger(State(trust): State<Trust>, principal: Principal) -> ApiResult<Json<serde_json::Value>> {
    let report = trust.verify_ledger(&principal).await.map_err(problem)?;
    let mut body = serde_json::to_value(&report).unwrap_or_default();
    body["ok"] = serde_json::Value::Bool(report.ok());
    Ok(Json(body))
}

/// The inclusion proof of one entry against the latest signed checkpoint that covers it;
/// check it offline with `brain ledger check-proof`.
#[utoipa::path(get, path = "/api/v1/ledger/proof/{seq}", tag = TAG, params(("seq" = u64, Path)),
    responses((status = 200, description = "seq, leaf_index, entry, audit_path, checkpoint"), (status = 404, body = Problem), (status = 412, description = "Not in a checkpoint yet", body = Problem)))]
async fn ledger_proof(State(trust): State<Trust>, principal: Principal, Path(seq): Path<u64>) -> ApiResult<Json<serde_json::Value>> {
    json_of(&trust.ledger_proof(&principal, seq).await.map_err(problem)?)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PublicKeyBody {
    key_id: String,
    suite: &'static str,
    public_key_pem: String,
}

/// The ledger's public key: what checkpoints, proofs and trusted-status reports verify against.
#[utoipa::path(get, path = "/api/v1/ledger/public-key", tag = TAG, responses((status = 200, body = PublicKeyBody)))]
async fn ledger_public_key(State(trust): State<Trust>) -> ApiResult<Json<PublicKeyBody>> {
    let key = trust.ledger_public_key();
    let pem = key.to_pem().map_err(|e| problem(e.into()))?;
    Ok(Json(PublicKeyBody { key_id: key.kid, suite: "ed25519", public_key_pem: pem }))
}

/// Trusted-status reports the caller's tenant is a party of.
#[utoipa::path(get, path = "/api/v1/reports", tag = TAG, params(PageParams), responses((status = 200, description = "A page of signed reports")))]
async fn list_reports(State(trust): State<Trust>, principal: Principal, Query(params): Query<PageParams>) -> ApiResult<Json<Page<serde_json::Value>>> {
    let limit = page_limit(params.page_size);
    let reports = trust.reports(&principal, params.after(), limit).await.map_err(problem)?;
    let items = reports.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect();
    Ok(Json(page(items, limit, |r: &serde_json::Value| r["body"]["id"].as_str().unwrap_or_default().to_owned())))
}

/// One signed trusted-status report; verify it offline with `brain report verify`.
#[utoipa::path(get, path = "/api/v1/reports/{report_id}", tag = TAG, params(("report_id" = String, Path)),
    responses((status = 200, description = "body, signed_json, key_id, algorithm, signature_hex"), (status = 404, body = Problem)))]
async fn get_report(State(trust): State<Trust>, principal: Principal, Path(id): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    json_of(&trust.report(&principal, &id).await.map_err(problem)?)
}

/// The owner's signed report of a dataset's onboarding: identity, schema, grading, quality and
/// masking checks, a SHA-256 of every accepted record, the ledger entry.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/datasets/{dataset}/onboarding-report", tag = TAG, params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 201, description = "body, signed_json, key_id, algorithm, signature_hex"), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn report_onboarding(State(trust): State<Trust>, principal: Principal, Path((tenant, dataset)): Path<(String, String)>) -> ApiResult<(axum::http::StatusCode, Json<serde_json::Value>)> {
    let report = trust.sharing.report_onboarding(&principal, &tenant, &dataset).await.map_err(problem)?;
    Ok((axum::http::StatusCode::CREATED, json_of(&report)?))
}
