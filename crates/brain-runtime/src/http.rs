//! The HTTP listener: service REST routes plus operations endpoints (`/healthz`, `/readyz`,
//! `/metrics`, `/openapi.json`, `/docs`), each request traced and measured.

use crate::metrics;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use brain_telemetry::propagation::{HttpHeaders, set_remote_parent};
use opentelemetry::KeyValue;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// What `/readyz` checks: every backend this process started.
#[derive(Clone)]
pub(crate) struct Readiness {
    pub store: Option<brain_store::Store>,
    pub bus: Option<Arc<dyn brain_bus::EventBus>>,
    pub cache: Option<Arc<dyn brain_cache::Cache>>,
    pub draining: tokio_util::sync::CancellationToken,
}

#[derive(Clone)]
struct OpsState {
    readiness: Readiness,
    telemetry: Arc<brain_telemetry::Telemetry>,
    openapi: Arc<String>,
}

/// The operations endpoints, documented alongside the services' routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, metrics_text, openapi_doc))]
struct OpsApi;

pub(crate) fn router(
    services: Router,
    mut openapi: utoipa::openapi::OpenApi,
    readiness: Readiness,
    telemetry: Arc<brain_telemetry::Telemetry>,
    auth: brain_auth::AuthLayer,
) -> Router {
    openapi.merge(<OpsApi as utoipa::OpenApi>::openapi());
    let openapi_json = openapi.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    let state = OpsState { readiness, telemetry, openapi: Arc::new(openapi_json) };
    let ops = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi_doc))
        .route("/docs", get(docs))
        .with_state(state);
    // Outermost first: observe, authenticate, then refuse other tenants' routes.
    services
        .merge(ops)
        .layer(axum::middleware::from_fn(crate::auth::tenant_guard))
        .layer(auth)
        .layer(axum::middleware::from_fn(observe))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: every backend of this process is reachable and the process is not draining.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, description = "Ready, with a check per backend"), (status = 503, description = "A backend is unreachable, or the process is draining"))
)]
async fn readyz(State(state): State<OpsState>) -> Response {
    let r = &state.readiness;
    let mut checks = serde_json::Map::new();
    let mut ready = !r.draining.is_cancelled();
    if let Some(store) = &r.store {
        let result = store.ping().await.map_err(|e| e.to_string());
        ready &= result.is_ok();
        checks.insert("store".into(), check_json(result));
    }
    if let Some(bus) = &r.bus {
        let result = bus.ping().await.map_err(|e| e.to_string());
        ready &= result.is_ok();
        checks.insert("bus".into(), check_json(result));
    }
    if let Some(cache) = &r.cache {
        let result = cache.ping().await.map_err(|e| e.to_string());
        ready &= result.is_ok();
        checks.insert("cache".into(), check_json(result));
    }
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "draining": r.draining.is_cancelled(),
        "checks": checks,
    });
    let status = if ready { http::StatusCode::OK } else { http::StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

fn check_json(result: Result<(), String>) -> serde_json::Value {
    match result {
        Ok(()) => serde_json::json!({ "status": "ok" }),
        Err(error) => serde_json::json!({ "status": "error", "error": error }),
    }
}

/// Metrics of this process in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus exposition", content_type = "text/plain")))]
async fn metrics_text(State(state): State<OpsState>) -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.telemetry.render_prometheus())
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_doc(State(state): State<OpsState>) -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/json")], state.openapi.as_str().to_owned())
}

/// A self-contained API browser: brains run in closed data-center networks, so the page
/// loads nothing from the internet; it renders `/openapi.json` with a few lines of script.
async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

/// Traces and measures every request: a server span continuing the caller's trace, and
/// RED metrics labelled by the matched route (never the raw path: ids would explode labels).
async fn observe(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
    );
    set_remote_parent(&span, &HttpHeaders(request.headers()));
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    brain_telemetry::spans::set_attributes(&span, [KeyValue::new("http.response.status_code", i64::from(status))]);
    let m = metrics::get();
    let labels = [KeyValue::new("route", route), KeyValue::new("method", method)];
    m.http_seconds.record(started.elapsed().as_secs_f64(), &labels);
    let [route, method] = labels;
    m.http_requests.add(1, &[route, method, KeyValue::new("status", i64::from(status))]);
    response
}
