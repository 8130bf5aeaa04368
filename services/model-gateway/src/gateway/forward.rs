//! Sending a request to a model's endpoints: in the balancer's order, past endpoints whose
//! breaker is open or whose concurrency limit is reached; a failure (connection, timeout,
//! 5xx, 429) counts against the endpoint and the request moves on to the next one. An
//! answer — success or the caller's own 4xx — is handed back with the endpoint's permit, held
//! until the caller has read the body (a stream included).

use super::balance::SmoothWeighted;
use super::breaker::{Breaker, BreakerPolicy};
use super::openai::{OpenAiError, Operation, ProxyRequest};
use crate::registry::{Endpoint, ModelRoute};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a non-streaming request may take when the endpoint names no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// A streaming upstream that sends nothing for this long is given up.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

struct EndpointState {
    breaker: Mutex<Breaker>,
    permits: Arc<Semaphore>,
    /// The endpoint's chat, completion and embedding URLs, parsed once (`None`: not a URL).
    urls: [Option<reqwest::Url>; 3],
}

/// An upstream's answer, and the endpoint slot it occupies until dropped.
pub struct Answer {
    pub response: reqwest::Response,
    pub endpoint: Endpoint,
    pub permit: OwnedSemaphorePermit,
    /// Endpoints tried before this one answered.
    pub retries: usize,
}

pub struct Upstreams {
    http: reqwest::Client,
    policy: BreakerPolicy,
    endpoints: Mutex<HashMap<String, Arc<EndpointState>>>,
    balancers: Mutex<HashMap<String, SmoothWeighted>>,
}

impl Upstreams {
    pub fn new(policy: BreakerPolicy) -> Result<Self, OpenAiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(STREAM_IDLE_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| OpenAiError::internal(format!("HTTP client: {e}")))?;
        Ok(Self { http, policy, endpoints: Mutex::default(), balancers: Mutex::default() })
    }

    fn state(&self, endpoint: &Endpoint) -> Arc<EndpointState> {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        endpoints
            .entry(endpoint.url.clone())
            .or_insert_with(|| {
                Arc::new(EndpointState {
                    breaker: Mutex::new(Breaker::new(self.policy)),
                    permits: Arc::new(Semaphore::new(endpoint.max_concurrency.max(1) as usize)),
                    urls: Operation::ALL.map(|operation| reqwest::Url::parse(&operation_address(&endpoint.url, operation)).ok()),
                })
            })
            .clone()
    }

    /// The endpoints of `route` in the order to try them.
    fn order(&self, route: &ModelRoute, states: &[Arc<EndpointState>]) -> Vec<usize> {
        let weights: Vec<u32> = route.endpoints.iter().map(|e| e.weight).collect();
        let available: Vec<bool> = states
            .iter()
            .map(|s| {
                let open = matches!(s.breaker.lock().map(|b| b.state()), Ok(super::breaker::BreakerState::Open { until }) if until > Instant::now());
                !open && s.permits.available_permits() > 0
            })
            .collect();
        let mut balancers = self.balancers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        balancers.entry(route.model.clone()).or_default().order(&weights, &available)
    }

    /// Sends `request` to the first endpoint of `route` that answers.
    pub async fn send(&self, route: &ModelRoute, request: &ProxyRequest, allowed: &[bool]) -> Result<Answer, OpenAiError> {
        let states: Vec<Arc<EndpointState>> = route.endpoints.iter().map(|e| self.state(e)).collect();
        let order: Vec<usize> = self.order(route, &states).into_iter().filter(|i| allowed.get(*i).copied().unwrap_or(false)).collect();
        let mut failures = Vec::new();
        for (retries, index) in order.into_iter().enumerate() {
            let (endpoint, state) = (&route.endpoints[index], &states[index]);
            let acquired = state.breaker.lock().map(|mut b| b.try_acquire(Instant::now())).unwrap_or(false);
            if !acquired {
                continue;
            }
            let Ok(permit) = state.permits.clone().try_acquire_owned() else { continue };
            match self.call(endpoint, state, request).await {
                Ok(response) if response.status().is_server_error() || response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                    failures.push(format!("{}: {}", endpoint_name(index), response.status()));
                    record(state, false);
                }
                Ok(response) => {
                    record(state, true);
                    return Ok(Answer { response, endpoint: endpoint.clone(), permit, retries });
                }
                Err(error) => {
                    failures.push(format!("{}: {}", endpoint_name(index), describe(&error)));
                    record(state, false);
                }
            }
        }
        if failures.is_empty() {
            Err(OpenAiError::unavailable(format!("no endpoint of `{}` can take a request now (circuit open, at its concurrency limit, or not allowed for this content)", route.model)))
        } else {
            Err(OpenAiError::upstream(format!("every endpoint of `{}` failed: {}", route.model, failures.join("; "))))
        }
    }

    async fn call(&self, endpoint: &Endpoint, state: &EndpointState, request: &ProxyRequest) -> Result<reqwest::Response, reqwest::Error> {
        let mut call = match &state.urls[request.operation.index()] {
            Some(url) => self.http.post(url.clone()),
            // Not a URL: the client says so, as for any bad address.
            None => self.http.post(operation_address(&endpoint.url, request.operation)),
        };
        call = call.header(reqwest::header::CONTENT_TYPE, "application/json").body(request.wire.clone());
        if !request.stream {
            call = call.timeout(endpoint.request_timeout().unwrap_or(DEFAULT_TIMEOUT));
        }
        // The upstream's key comes from the gateway's environment; the registry holds only its name.
        if let Some(key) = endpoint.api_key_secret_env.as_deref().and_then(|name| std::env::var(name).ok()) {
            call = call.bearer_auth(key);
        }
        call.send().await
    }
}

/// `{base}/{path}` of an operation.
fn operation_address(base: &str, operation: Operation) -> String {
    format!("{}/{}", base.trim_end_matches('/'), operation.path())
}

/// How long an active health probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Upstreams {
    /// Active health check: `GET {base}/models`, as every OpenAI-compatible server answers. A
    /// failure counts against the endpoint like a failed request (enough of them open its
    /// breaker before any caller is hurt); a success closes it again.
    pub async fn probe(&self, endpoint: &Endpoint) -> bool {
        let url = format!("{}/models", endpoint.url.trim_end_matches('/'));
        let mut call = self.http.get(url).timeout(PROBE_TIMEOUT);
        if let Some(key) = endpoint.api_key_secret_env.as_deref().and_then(|name| std::env::var(name).ok()) {
            call = call.bearer_auth(key);
        }
        let healthy = matches!(call.send().await, Ok(response) if response.status().is_success());
        record(&self.state(endpoint), healthy);
        healthy
    }

    /// Probes every endpoint of `routes` once, concurrently.
    pub async fn probe_all(&self, routes: &[ModelRoute]) {
        let endpoints = routes.iter().flat_map(|r| r.endpoints.iter());
        futures::future::join_all(endpoints.map(|e| self.probe(e))).await;
    }
}

fn record(state: &EndpointState, success: bool) {
    if let Ok(mut breaker) = state.breaker.lock() {
        if success { breaker.on_success() } else { breaker.on_failure(Instant::now()) }
    }
}

/// Endpoints are named by position: their URLs are the owner's business.
fn endpoint_name(index: usize) -> String {
    format!("endpoint {}", index + 1)
}

fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection refused or unreachable"
    } else {
        "transport error"
    }
}
