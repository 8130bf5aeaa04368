//! The OpenAI-compatible REST API: `GET /v1/models`, `POST /v1/chat/completions` (streaming
//! passed through chunk by chunk), `POST /v1/completions`, `POST /v1/embeddings`. Unchanged
//! OpenAI clients work against it: they send their key as `Authorization: Bearer bk_…`.

use super::forward::{Answer, Upstreams};
use super::metering::{Meter, Metered};
use super::guardrail::{self, Decision, Treatment};
use super::openai::{self, OpenAiError, Operation, ProxyRequest};
use super::quota::{LimitTable, Quota, Reservation};
use crate::registry::{Location, ModelRoute, Registry};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use brain_auth::Principal;
use tracing::Instrument;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "model-gateway";

#[derive(Clone)]
pub struct Gateway {
    pub registry: Registry,
    pub upstreams: Arc<Upstreams>,
    pub meter: Meter,
    pub quota: Quota,
    pub limits: Arc<LimitTable>,
    pub guard: super::guard::Guard,
}

/// Completion tokens reserved when a request names no `max_tokens`; usage above it is charged
/// when the upstream reports it.
const DEFAULT_COMPLETION_RESERVE: u64 = 1024;

impl Gateway {
    /// Rate limits and the token budgets of the caller's tenant and key, before any upstream
    /// is called. The reservation is an upper bound: every character of the prompt as a token,
    /// plus the completion's cap; `settle` gives back what the upstream did not use.
    pub(crate) async fn admit(&self, caller: &Principal, request: &ProxyRequest) -> Result<Reservation, super::quota::QuotaError> {
        let prompt_chars = request.prompt.chars().count() as u64;
        let completion = if request.operation == Operation::Embedding { 0 } else { request.max_tokens.unwrap_or(DEFAULT_COMPLETION_RESERVE) };
        let key = match &caller.subject {
            brain_auth::Subject::ApiKey { id, .. } => Some(id.as_str()),
            _ => None,
        };
        self.quota.admit(&caller.tenant, key, self.limits.for_tenant(&caller.tenant), prompt_chars + completion, chrono::Utc::now()).await
    }

    /// Charges what the request used; a counter that cannot be corrected is logged.
    pub(crate) async fn settle(&self, reservation: Reservation, used: Option<u64>) {
        let used = used.unwrap_or(reservation.reserved());
        if let Err(error) = self.quota.settle(reservation, used).await {
            tracing::error!(%error, "token budget not settled");
        }
    }
}

fn quota_refusal(error: &super::quota::QuotaError) -> Response {
    let (status, headers, body) = error.openai_error();
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().extend(headers);
    response
}

pub fn router(gateway: Gateway) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(chat_completions))
        .routes(routes!(completions))
        .routes(routes!(embeddings))
        .layer(axum::extract::DefaultBodyLimit::max(openai::MAX_BODY_BYTES))
        // Shared, not cloned: axum hands every request its own copy of the state.
        .with_state(Arc::new(gateway))
}

fn location_name(location: Location) -> &'static str {
    match location {
        Location::OnPremise => "on_premise",
        Location::InProvince => "in_province",
        Location::External => "external",
    }
}

/// Models with a version in production (OpenAI's list format).
#[utoipa::path(get, path = "/v1/models", tag = TAG, responses((status = 200, description = "`{object: list, data: [{id, object: model, created, owned_by}]}`")))]
async fn list_models(State(gateway): State<Arc<Gateway>>, _caller: Principal) -> Response {
    match gateway.registry.serving_models().await {
        Ok(routes) => {
            let data: Vec<Value> =
                routes.iter().map(|r| json!({ "id": r.model, "object": "model", "created": r.created_at.timestamp(), "owned_by": r.owner_tenant })).collect();
            axum::Json(json!({ "object": "list", "data": data })).into_response()
        }
        Err(error) => OpenAiError::internal(format!("the model registry: {error}")).into_response(),
    }
}

/// Chat completion (OpenAI-compatible; `stream: true` answers server-sent events).
#[utoipa::path(post, path = "/v1/chat/completions", tag = TAG, request_body(content = Object, description = "OpenAI chat completion request"),
    responses((status = 200, description = "OpenAI chat completion, or `text/event-stream` chunks"), (status = 400, description = "OpenAI error object"), (status = 404, description = "Unknown model"), (status = 502, description = "Every endpoint failed")))]
async fn chat_completions(State(gateway): State<Arc<Gateway>>, caller: Principal, body: Bytes) -> Response {
    proxy(&gateway, &caller, Operation::Chat, body).await
}

/// Text completion (OpenAI-compatible).
#[utoipa::path(post, path = "/v1/completions", tag = TAG, request_body(content = Object, description = "OpenAI completion request"),
    responses((status = 200, description = "OpenAI completion"), (status = 400, description = "OpenAI error object")))]
async fn completions(State(gateway): State<Arc<Gateway>>, caller: Principal, body: Bytes) -> Response {
    proxy(&gateway, &caller, Operation::Completion, body).await
}

/// Embeddings (OpenAI-compatible).
#[utoipa::path(post, path = "/v1/embeddings", tag = TAG, request_body(content = Object, description = "OpenAI embeddings request"),
    responses((status = 200, description = "OpenAI embeddings"), (status = 400, description = "OpenAI error object")))]
async fn embeddings(State(gateway): State<Arc<Gateway>>, caller: Principal, body: Bytes) -> Response {
    proxy(&gateway, &caller, Operation::Embedding, body).await
}

async fn route_of(gateway: &Gateway, model: &str) -> Result<ModelRoute, OpenAiError> {
    match gateway.registry.route(model).await {
        Ok(Some(route)) => Ok(route),
        Ok(None) => Err(OpenAiError::model_not_found(model)),
        Err(error) => Err(OpenAiError::internal(format!("the model registry: {error}"))),
    }
}

/// A request that went out: the route that answered, its answer, and the guardrail's decision.
pub(crate) struct Sent {
    pub route: ModelRoute,
    pub answer: Answer,
    pub decision: Decision,
}

/// Sends `request` to the endpoints of `route` the guardrail allows: first those that may take
/// it as it is, then (masked) those that may take it masked.
async fn send_guarded(gateway: &Gateway, caller: &Principal, route: ModelRoute, request: &ProxyRequest) -> Result<Sent, OpenAiError> {
    let verdict = gateway.guard.inspect(caller, request).await;
    let plan = gateway.guard.plan(&verdict, &route);
    if plan.iter().all(|t| *t == Treatment::Refuse) {
        gateway.guard.record(caller, &route, &verdict, Decision::Block).await?;
        return Err(super::guard::blocked(&route, &verdict));
    }
    let as_is: Vec<bool> = plan.iter().map(|t| *t == Treatment::Send).collect();
    let mut outcome = if as_is.contains(&true) { gateway.upstreams.send(&route, request, &as_is).await.map(|a| (a, Treatment::Send)) } else { Err(OpenAiError::unavailable("")) };
    if outcome.is_err() && plan.contains(&Treatment::SendMasked) {
        let masked_only: Vec<bool> = plan.iter().map(|t| *t == Treatment::SendMasked).collect();
        let masked = gateway.guard.masked(request);
        if let Ok(answer) = gateway.upstreams.send(&route, &masked, &masked_only).await {
            outcome = Ok((answer, Treatment::SendMasked));
        }
    }
    let (answer, used) = outcome?;
    let decision = guardrail::decision(&plan, Some(used));
    gateway.guard.record(caller, &route, &verdict, decision).await?;
    Ok(Sent { route, answer, decision })
}

/// The model's endpoints, then (once) its fallback model's.
pub(crate) async fn send(gateway: &Gateway, caller: &Principal, request: &ProxyRequest) -> Result<Sent, OpenAiError> {
    let route = route_of(gateway, &request.model).await?;
    let fallback = route.fallback_model.clone();
    match send_guarded(gateway, caller, route, request).await {
        Ok(sent) => Ok(sent),
        Err(error) if error.status == StatusCode::FORBIDDEN => Err(error),
        Err(error) => {
            let Some(fallback) = fallback else { return Err(error) };
            let fallback_route = route_of(gateway, &fallback).await.map_err(|_| error.clone())?;
            send_guarded(gateway, caller, fallback_route, request)
                .await
                .map_err(|e| OpenAiError { message: format!("{}; fallback `{fallback}`: {}", error.message, e.message), ..e })
        }
    }
}

/// OpenTelemetry's GenAI semantic conventions: the operation, the model asked for and the
/// one that answered, the tokens the upstream reported.
fn genai_span(operation: Operation, model: &str) -> tracing::Span {
    let name = match operation {
        Operation::Chat => "chat",
        Operation::Completion => "text_completion",
        Operation::Embedding => "embeddings",
    };
    tracing::info_span!(
        "gen_ai",
        otel.name = %format!("{name} {model}"),
        otel.kind = "client",
        gen_ai.operation.name = name,
        gen_ai.request.model = %model,
    )
}

/// The answer's attributes, on the OpenTelemetry span only (see `set_attributes`).
fn record_usage(span: &tracing::Span, metered: &Metered) {
    use opentelemetry::KeyValue;
    let mut attributes = vec![
        KeyValue::new("gen_ai.response.model", metered.model.clone()),
        KeyValue::new("brain.guardrail.decision", metered.guardrail),
    ];
    if metered.usage_reported {
        attributes.push(KeyValue::new("gen_ai.usage.input_tokens", i64::try_from(metered.prompt_tokens).unwrap_or(i64::MAX)));
        attributes.push(KeyValue::new("gen_ai.usage.output_tokens", i64::try_from(metered.completion_tokens).unwrap_or(i64::MAX)));
    }
    brain_telemetry::spans::set_attributes(span, attributes);
}

async fn proxy(gateway: &Arc<Gateway>, caller: &Principal, operation: Operation, body: Bytes) -> Response {
    let started = Instant::now();
    let request = match openai::parse(operation, body) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    let span = genai_span(operation, &request.model);
    proxy_checked(gateway, caller, request, started, span.clone()).instrument(span).await
}

async fn proxy_checked(gateway: &Arc<Gateway>, caller: &Principal, request: ProxyRequest, started: Instant, span: tracing::Span) -> Response {
    let reservation = match gateway.admit(caller, &request).await {
        Ok(reservation) => reservation,
        Err(error) => return quota_refusal(&error),
    };
    let Sent { route, answer, decision } = match send(gateway, caller, &request).await {
        Ok(sent) => sent,
        Err(error) => {
            gateway.settle(reservation, Some(0)).await;
            let guardrail = if error.code == Some("guardrail_blocked") { Decision::Block.as_str() } else { Decision::Allow.as_str() };
            let metered = Metered { model: request.model.clone(), status: error.status.as_u16(), latency: started.elapsed(), guardrail, ..Metered::default() };
            let mut response = error.into_response();
            response.headers_mut().insert("x-brain-guardrail", HeaderValue::from_static(guardrail));
            gateway.meter.record(caller, &metered);
            return response;
        }
    };
    let mut metered = Metered {
        model: route.model.clone(),
        version: route.version.clone(),
        location: location_name(answer.endpoint.location).into(),
        status: answer.response.status().as_u16(),
        guardrail: decision.as_str(),
        ..Metered::default()
    };
    if request.stream && answer.response.status().is_success() {
        return stream_through(gateway.clone(), caller.clone(), metered, route, answer, reservation, started, span).await;
    }
    let status = StatusCode::from_u16(answer.response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let bytes = answer.response.bytes().await;
    drop(answer.permit);
    // The answer goes back byte for byte; only its `usage` is read.
    let (body, used) = match bytes.map(|b| openai::usage_of(&b).map(|used| (b, used))) {
        Ok(Ok(read)) => read,
        outcome => {
            gateway.settle(reservation, None).await;
            let reason = if outcome.is_err() { "broke off its answer".to_owned() } else { format!("answered {status} with a body that is not a JSON object") };
            return OpenAiError::upstream(format!("the upstream {reason}")).into_response();
        }
    };
    if let Some((prompt, completion)) = used {
        (metered.prompt_tokens, metered.completion_tokens, metered.usage_reported) = (prompt, completion, true);
    }
    // An upstream that refused the request (4xx) did no work.
    let charged = if status.is_success() { used.map(|(p, c)| p + c) } else { Some(0) };
    gateway.settle(reservation, charged).await;
    metered.latency = started.elapsed();
    record_usage(&span, &metered);
    gateway.meter.record(caller, &metered);
    let mut response = (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    decorate(&mut response, &route, decision.as_str());
    response
}

/// What the gateway did, for the caller: the version that answered and the guardrail's decision.
fn decorate(response: &mut Response, route: &ModelRoute, guardrail: &'static str) {
    let headers = response.headers_mut();
    if let Ok(version) = HeaderValue::from_str(&route.version) {
        headers.insert("x-brain-model-version", version);
    }
    headers.insert("x-brain-guardrail", HeaderValue::from_static(guardrail));
}

/// Server-sent events passed through as they arrive; the usage chunk (if the caller asked for
/// one with `stream_options.include_usage`) is read on the way for metering.
///
/// The first chunk is awaited before the headers go out: the caller then gets headers and first
/// chunk in one write (the time to the first token is the same), and an upstream that breaks
/// off before sending anything is answered with an error instead of an empty `200` stream.
#[allow(clippy::too_many_arguments)] // one request's whole state, handed to the body that streams it
async fn stream_through(gateway: Arc<Gateway>, caller: Principal, metered: Metered, route: ModelRoute, answer: Answer, reservation: Reservation, started: Instant, span: tracing::Span) -> Response {
    use futures::StreamExt;
    let guardrail = metered.guardrail;
    let Answer { response, permit, .. } = answer;
    let settlement = Settlement { gateway, caller, metered, reservation, started, span, permit };
    let mut stream = MeteredStream { upstream: Box::pin(response.bytes_stream()), tap: UsageTap::default(), settlement: Some(settlement), first: None };
    match stream.next().await {
        Some(Ok(first)) => stream.first = Some(first),
        // Settled (and metered as broken off) by the stream itself.
        Some(Err(_)) => {
            let mut response = OpenAiError::upstream("the upstream broke off its stream before the first chunk").into_response();
            decorate(&mut response, &route, guardrail);
            return response;
        }
        None => {}
    }
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    decorate(&mut response, &route, guardrail);
    response
}

/// The upstream's event stream as the caller's body, chunk for chunk in the caller's own
/// task (no hand-over per chunk). Each chunk is tapped for usage; when the stream ends, breaks
/// off, or the caller goes away (the body is dropped), the request is settled and metered once.
struct MeteredStream {
    upstream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    tap: UsageTap,
    settlement: Option<Settlement>,
    /// A chunk read ahead (the first one, see `stream_through`), handed out before any other.
    first: Option<Bytes>,
}

/// What a streamed request still owes when its stream is over.
struct Settlement {
    gateway: Arc<Gateway>,
    caller: Principal,
    metered: Metered,
    reservation: Reservation,
    started: Instant,
    span: tracing::Span,
    /// The endpoint slot, held until the stream is over.
    permit: tokio::sync::OwnedSemaphorePermit,
}

impl MeteredStream {
    fn settle(&mut self, broke_off: bool) {
        let Some(Settlement { gateway, caller, mut metered, reservation, started, span, permit }) = self.settlement.take() else { return };
        drop(permit);
        let usage = self.tap.usage;
        if broke_off {
            metered.status = 502;
        }
        if let Some((prompt, completion)) = usage {
            (metered.prompt_tokens, metered.completion_tokens, metered.usage_reported) = (prompt, completion, true);
        }
        metered.latency = started.elapsed();
        record_usage(&span, &metered);
        // The body is polled outside the request's span: enter it, so that the usage event
        // carries the request's trace (and its consumer knows whether that trace is sampled).
        span.in_scope(|| gateway.meter.record(&caller, &metered));
        // Without a usage chunk the whole reservation stays charged. (No runtime: the process
        // is going down, and the in-memory counters with it.)
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { gateway.settle(reservation, usage.map(|(p, c)| p + c)).await });
        }
    }
}

impl futures::Stream for MeteredStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        match self.upstream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                self.tap.feed(&bytes);
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(error))) => {
                self.settle(true);
                Poll::Ready(Some(Err(std::io::Error::other(format!("upstream stream broke off: {error}")))))
            }
            Poll::Ready(None) => {
                self.settle(false);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for MeteredStream {
    fn drop(&mut self) {
        // The caller went away mid-stream: what was used so far is still settled and metered.
        self.settle(false);
    }
}

/// Finds the last `usage` object in an SSE stream without holding the stream.
#[derive(Default)]
struct UsageTap {
    events: openai::SseData,
    usage: Option<(u64, u64)>,
}

impl UsageTap {
    fn feed(&mut self, bytes: &[u8]) {
        let Self { events, usage } = self;
        events.for_each_data(bytes, |data| {
            // Content chunks are most of a stream: only one that names `usage` is parsed.
            if data.windows(USAGE_MEMBER.len()).any(|w| w == USAGE_MEMBER)
                && let Ok(Some(reported)) = openai::usage_of(data)
            {
                *usage = Some(reported);
            }
        });
    }
}

const USAGE_MEMBER: &[u8] = b"\"usage\"";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_chunk_is_found_across_chunk_boundaries() {
        let mut tap = UsageTap::default();
        tap.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[],\"usa");
        tap.feed(b"ge\":{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n");
        assert_eq!(tap.usage, Some((9, 3)));
    }
}
