//! `brain-load gateway`: what the model gateway adds to a chat completion.
//!
//! A mock upstream that speaks the OpenAI protocol runs inside this process (axum on
//! 127.0.0.1, its own runtime). One `brain up` registers it as the on-premise endpoint of a
//! model in production; the gateway runs with authentication (an API key sent as
//! `Authorization: Bearer bk_…`), quotas (tenant and key limits set high enough never to
//! refuse, so every request is counted), metering (one usage event per request) and the
//! guardrail (a short Chinese/English question is scanned on every request).
//!
//! The same request is sent open-loop at fixed rates to three systems, one after the other
//! at each rate:
//! - `direct`: the mock itself, the baseline every added figure is measured against;
//! - `pass-through`: a bare proxy in this process (reqwest → mock, body streamed back), the
//!   throughput reference of the goal "≥ 0.5× a bare pass-through";
//! - `gateway`: `POST /v1/chat/completions` of the brain.
//!
//! Open loop: a scheduler thread issues request `i` at `start + i / rate` whatever the
//! answers, each on its own task, and the latency is taken from the scheduled time (not the
//! send time), so a slow system is not hidden by a generator that waits for it (coordinated
//! omission). The load generator, the mock and the brain share this machine's cores.

use crate::brainproc::{self, Brain};
use crate::bus::cpus;
use crate::cpu;
use crate::report::{median, new_histogram, round};
use crate::trust::{ADMIN_PASSWORD, Credential, USER_PASSWORD, call, platform_admin, sign_in, tenant_user, text_of};
use anyhow::{Context, anyhow, bail, ensure};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt as _;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TENANT: &str = "91330100MA27XKQ717";
const USER: &str = "weaver";
const MODEL: &str = "textile-qa";
/// A realistic, harmless question: the guardrail scans it and allows it.
const PROMPT: &str = "请问本周涤纶长丝 150D/48F 的库存还有多少米？What is this week's stock of polyester filament 150D/48F?";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Generous limits: counted on every request, never reached in a run.
const LIMIT_ENV: [(&str, &str); 6] = [
    ("BRAIN_MODEL_GATEWAY__LIMITS__TENANT__REQUESTS_PER_MINUTE", "100000000"),
    ("BRAIN_MODEL_GATEWAY__LIMITS__TENANT__TOKENS_PER_DAY", "1000000000"),
    ("BRAIN_MODEL_GATEWAY__LIMITS__TENANT__TOKENS_PER_MONTH", "100000000000"),
    ("BRAIN_MODEL_GATEWAY__LIMITS__API_KEY__REQUESTS_PER_MINUTE", "100000000"),
    ("BRAIN_MODEL_GATEWAY__LIMITS__API_KEY__TOKENS_PER_DAY", "1000000000"),
    ("BRAIN_MODEL_GATEWAY__LIMITS__API_KEY__TOKENS_PER_MONTH", "100000000000"),
];
/// Goals of issue 6 at 1,000 requests/s (ms), and the throughput ratio.
const GOAL_RATE: u32 = 1000;
const GOAL_P50_ADDED_MS: f64 = 0.3;
const GOAL_P99_ADDED_MS: f64 = 1.0;
const GOAL_TTFT_P99_ADDED_MS: f64 = 1.0;
const GOAL_THROUGHPUT_RATIO: f64 = 0.5;
/// Measurements of a sweep step that missed the latency limit (the majority decides).
const SWEEP_ATTEMPTS: u32 = 3;

/// Idle connections a client keeps per host. The generator, the pass-through and the mock
/// share one process: after an overloaded sweep step (thousands of requests in flight, four
/// descriptors each) unbounded pools would keep the process at its file limit for the next
/// system's phases.
const IDLE_CONNECTIONS: usize = 256;

#[derive(clap::Args, Clone, Debug)]
pub struct GatewayArgs {
    /// Fixed request rates (requests/s), each measured on every system.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000")]
    rates: Vec<u32>,
    /// Seconds measured per system and rate.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Rounds of the fixed-rate phases, interleaved (every system once per round): the added
    /// latencies are the median over rounds of gateway − direct within a round, so a stall of
    /// the machine during one phase does not decide the figure.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Seconds of requests at the same rate before each measured phase (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Delay of the mock before it answers (before the first chunk when streaming).
    #[arg(long, default_value_t = 0)]
    upstream_delay_ms: u64,
    /// Content chunks of a streamed answer.
    #[arg(long, default_value_t = 8)]
    stream_chunks: usize,
    /// Gap between two streamed chunks (the first one goes at once).
    #[arg(long, default_value_t = 2)]
    chunk_gap_ms: u64,
    /// Leave out the streaming phases.
    #[arg(long)]
    no_stream: bool,
    /// Leave out the search for the highest rate at p99 ≤ --p99-limit-ms.
    #[arg(long)]
    no_sweep: bool,
    /// The sweep goes up from the highest --rates by this factor while p99 stays under the limit.
    #[arg(long, default_value_t = 1.25)]
    sweep_step: f64,
    /// Highest rate the sweep tries.
    #[arg(long, default_value_t = 20000)]
    max_rate: u32,
    /// Seconds measured per sweep step (after --warmup).
    #[arg(long, default_value_t = 5)]
    sweep_duration: u64,
    /// The latency limit (p99, ms) of the throughput figure.
    #[arg(long, default_value_t = 10.0)]
    p99_limit_ms: f64,
    /// The endpoint's max_concurrency in the registry.
    #[arg(long, default_value_t = 1024)]
    max_concurrency: u32,
    #[command(flatten)]
    run: brainproc::BrainRun,
}

// ---------------------------------------------------------------------------------------
// The mock upstream and the bare pass-through

#[derive(Clone)]
struct Mock {
    delay: Duration,
    chunks: usize,
    gap: Duration,
}

fn chunk_event(delta: Value) -> String {
    let chunk = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_767_225_600, "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

const ANSWER: [&str; 8] = ["本周", "涤纶长丝", " 150D/48F", " 库存", "约 12,400", " 米", "，", "够两周用。"];

/// An OpenAI chat completion, at once or after the delay; `stream: true` → server-sent
/// events: the first content chunk at once, then one every gap, usage, `[DONE]`.
async fn completion(State(mock): State<Mock>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (axum::http::StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    if !mock.delay.is_zero() {
        tokio::time::sleep(mock.delay).await;
    }
    let usage = json!({"prompt_tokens": 42, "completion_tokens": mock.chunks.max(1), "total_tokens": 42 + mock.chunks.max(1)});
    if request["stream"] == true {
        let mut events: Vec<String> = (0..mock.chunks)
            .map(|i| {
                let text = ANSWER[i % ANSWER.len()];
                if i == 0 { chunk_event(json!({"role": "assistant", "content": text})) } else { chunk_event(json!({"content": text})) }
            })
            .collect();
        if request["stream_options"]["include_usage"] == true {
            let chunk = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_767_225_600, "model": MODEL, "choices": [], "usage": usage});
            events.push(format!("data: {chunk}\n\n"));
        }
        events.push("data: [DONE]\n\n".to_owned());
        let gap = mock.gap;
        let chunks = mock.chunks;
        let stream = futures::stream::unfold(events.into_iter().enumerate(), move |mut it| async move {
            let (i, event) = it.next()?;
            if i > 0 && i < chunks && !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            Some((Ok::<_, std::io::Error>(event), it))
        });
        return ([("content-type", "text/event-stream")], Body::from_stream(stream)).into_response();
    }
    let content: String = ANSWER.concat();
    axum::Json(json!({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1_767_225_600, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}], "usage": usage}))
    .into_response()
}

/// The model list, which the gateway's active health probe asks for: without it the probe
/// fails and, with no traffic to outweigh it, the endpoint's breaker opens between phases.
async fn models() -> axum::Json<Value> {
    axum::Json(json!({"object": "list", "data": [{"id": MODEL, "object": "model", "created": 1_767_225_600, "owned_by": "bench"}]}))
}

#[derive(Clone)]
struct PassThrough {
    client: reqwest::Client,
    url: String,
}

/// Forwards the body to the mock and streams the answer back: the least a proxy does.
async fn pass_through(State(proxy): State<PassThrough>, body: Bytes) -> Response {
    let answer = match proxy.client.post(&proxy.url).header("content-type", "application/json").body(body).send().await {
        Ok(answer) => answer,
        Err(e) => return (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status();
    let content_type = answer.headers().get("content-type").cloned();
    let stream = futures::stream::unfold(Some(answer), |state| async move {
        let mut answer = state?;
        match answer.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(answer))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    if let Some(value) = content_type {
        response.headers_mut().insert("content-type", value);
    }
    response
}

/// The mock and the pass-through, each on a runtime of its own (two worker threads, as the
/// brain has), so that neither queues behind the other or behind the load generator's tasks.
struct Upstream {
    /// `http://127.0.0.1:<port>/v1`
    mock: String,
    /// `http://127.0.0.1:<port>/v1`
    proxy: String,
    runtimes: Vec<tokio::runtime::Runtime>,
}

impl Drop for Upstream {
    /// A runtime may not be dropped (which blocks) inside another one: let it go in the background.
    fn drop(&mut self) {
        for runtime in self.runtimes.drain(..) {
            runtime.shutdown_background();
        }
    }
}

/// Serves `app` on 127.0.0.1 from `runtime`; its `http://…/v1` base URL.
async fn serve_on(runtime: &tokio::runtime::Runtime, app: axum::Router) -> anyhow::Result<String> {
    let started = runtime.spawn(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/v1", listener.local_addr()?);
        // Small SSE chunks must not wait for the peer's delayed ACK (Nagle).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        anyhow::Ok(url)
    });
    started.await?
}

async fn start_upstream(mock: Mock) -> anyhow::Result<Upstream> {
    let runtime = |name: &str| tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name(name).enable_all().build();
    let mut upstream = Upstream { mock: String::new(), proxy: String::new(), runtimes: vec![runtime("mock-upstream")?, runtime("pass-through")?] };
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(completion)).route("/v1/models", axum::routing::get(models)).with_state(mock);
    upstream.mock = serve_on(&upstream.runtimes[0], app).await?;
    let client = reqwest::Client::builder().tcp_nodelay(true).timeout(REQUEST_TIMEOUT).pool_max_idle_per_host(IDLE_CONNECTIONS).build()?;
    let proxy = PassThrough { client, url: format!("{}/chat/completions", upstream.mock) };
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(pass_through)).with_state(proxy);
    upstream.proxy = serve_on(&upstream.runtimes[1], app).await?;
    Ok(upstream)
}

// ---------------------------------------------------------------------------------------
// The systems and one open-loop phase

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    Direct,
    PassThrough,
    Gateway,
}

const SYSTEMS: [System; 3] = [System::Direct, System::PassThrough, System::Gateway];

impl System {
    fn id(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::PassThrough => "pass-through",
            Self::Gateway => "gateway",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Unary,
    Stream,
}

impl Mode {
    fn id(self) -> &'static str {
        match self {
            Self::Unary => "unary",
            Self::Stream => "stream",
        }
    }
}

/// How to send the request to one system.
#[derive(Clone)]
struct Sender {
    client: reqwest::Client,
    url: String,
    unary: Bytes,
    stream: Bytes,
}

impl Sender {
    fn new(base: &str, bearer: Option<&str>) -> anyhow::Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(secret) = bearer {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {secret}")).context("API key is not a header value")?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        headers.insert(reqwest::header::CONTENT_TYPE, reqwest::header::HeaderValue::from_static("application/json"));
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(IDLE_CONNECTIONS)
            .default_headers(headers)
            .build()?;
        let messages = json!([{"role": "system", "content": "你是纺织企业的生产助手。You answer briefly."}, {"role": "user", "content": PROMPT}]);
        let unary = json!({"model": MODEL, "messages": messages, "max_tokens": 64, "temperature": 0.2});
        let stream = json!({"model": MODEL, "messages": messages, "max_tokens": 64, "temperature": 0.2, "stream": true});
        Ok(Self { client, url: format!("{base}/chat/completions"), unary: Bytes::from(unary.to_string()), stream: Bytes::from(stream.to_string()) })
    }

    /// One request; the instant the first content arrived (streaming) and the answer's headers.
    async fn send(&self, mode: Mode) -> anyhow::Result<(Option<Instant>, reqwest::header::HeaderMap, usize)> {
        let body = if mode == Mode::Stream { self.stream.clone() } else { self.unary.clone() };
        let mut response = self.client.post(&self.url).body(body).send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bail!("{status}: {}", text.chars().take(300).collect::<String>());
        }
        let mut first = None;
        let mut seen = Vec::new();
        let mut size = 0;
        while let Some(chunk) = response.chunk().await? {
            size += chunk.len();
            if mode == Mode::Stream && first.is_none() {
                seen.extend_from_slice(&chunk);
                if seen.windows(10).any(|w| w == b"\"content\":") {
                    first = Some(Instant::now());
                }
            }
        }
        if mode == Mode::Stream && first.is_none() {
            bail!("the stream ended without content");
        }
        Ok((first, headers, size))
    }
}

#[derive(Default)]
struct Recorded {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Option<Histogram<u64>>,
    ttft: Option<Histogram<u64>>,
    lag: Option<Histogram<u64>>,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// One measured phase.
struct Phase {
    system: System,
    mode: Mode,
    rate: u32,
    /// 1-based round of the fixed-rate phases (sweep steps: 0).
    round: u32,
    sweep: bool,
    scheduled: u64,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    /// µs from the scheduled time to the last byte of the answer.
    latency: Histogram<u64>,
    /// µs from the scheduled time to the first content chunk (streaming).
    ttft: Histogram<u64>,
    /// µs from the scheduled time to the send (the generator's own lateness).
    lag: Histogram<u64>,
    usage: cpu::Usage,
    brain_cores: Option<f64>,
}

impl Phase {
    fn ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
        (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
    }

    fn p(&self, q: f64) -> Option<f64> {
        Self::ms(&self.latency, q)
    }

    fn ttft(&self, q: f64) -> Option<f64> {
        Self::ms(&self.ttft, q)
    }

    /// Answered everything, at p99 within the limit.
    fn within(&self, limit_ms: f64) -> bool {
        self.errors == 0 && self.ok == self.scheduled && self.p(0.99).is_some_and(|p| p <= limit_ms)
    }

    fn to_json(&self) -> Value {
        let q = |v: Option<f64>| v.map(|v| round(v, 3));
        json!({
            "system": self.system.id(), "mode": self.mode.id(), "rate": self.rate, "round": self.round, "sweep": self.sweep,
            "scheduled": self.scheduled, "ok": self.ok, "errors": self.errors, "first_error": self.first_error,
            "p50_ms": q(self.p(0.5)), "p99_ms": q(self.p(0.99)), "p999_ms": q(self.p(0.999)), "max_ms": q(self.p(1.0)),
            "ttft_p50_ms": q(self.ttft(0.5)), "ttft_p99_ms": q(self.ttft(0.99)), "ttft_p999_ms": q(self.ttft(0.999)),
            "lag_p50_ms": q(Self::ms(&self.lag, 0.5)), "lag_p99_ms": q(Self::ms(&self.lag, 0.99)),
            "brain_cores": self.brain_cores.map(|c| round(c, 2)), "cpu": self.usage.to_json(),
        })
    }
}

/// Sends `rate` requests/s for `warmup + duration`, each on its own task, issued by a
/// scheduler thread at `start + i / rate`; records those scheduled in the measured window.
async fn open_loop(sender: &Sender, mode: Mode, rate: u32, warmup: Duration, duration: Duration, watched: &[(&str, u32)]) -> anyhow::Result<Phase> {
    let handle = tokio::runtime::Handle::current();
    let recorded = Arc::new(Mutex::new(Recorded { latency: Some(new_histogram()?), ttft: Some(new_histogram()?), lag: Some(new_histogram()?), ..Recorded::default() }));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + warmup;
    let end = measure_from + duration;

    let scheduler = {
        let (sender, recorded, in_flight) = (sender.clone(), recorded.clone(), in_flight.clone());
        std::thread::Builder::new().name("open-loop".into()).spawn(move || {
            let mut scheduled = 0u64;
            for i in 0u32.. {
                let at = start + interval * i;
                if at >= end {
                    break;
                }
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                let measured = at >= measure_from;
                scheduled += u64::from(measured);
                let (sender, recorded, in_flight) = (sender.clone(), recorded.clone(), in_flight.clone());
                in_flight.fetch_add(1, Ordering::SeqCst);
                handle.spawn(async move {
                    let sent = Instant::now();
                    let outcome = sender.send(mode).await;
                    let done = Instant::now();
                    if measured {
                        let mut r = recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if let Some(h) = r.lag.as_mut() {
                            h.saturating_record(micros(sent.saturating_duration_since(at)));
                        }
                        match outcome {
                            Ok((first, _, _)) => {
                                r.ok += 1;
                                if let Some(h) = r.latency.as_mut() {
                                    h.saturating_record(micros(done - at));
                                }
                                if let (Some(first), Some(h)) = (first, r.ttft.as_mut()) {
                                    h.saturating_record(micros(first - at));
                                }
                            }
                            Err(e) => {
                                r.errors += 1;
                                if r.first_error.is_none() {
                                    r.first_error = Some(format!("{e:#}"));
                                }
                            }
                        }
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
            scheduled
        })?
    };
    tokio::time::sleep_until(tokio::time::Instant::from_std(measure_from)).await;
    let snapshot = cpu::snapshot(watched);
    tokio::time::sleep_until(tokio::time::Instant::from_std(end)).await;
    let usage = snapshot.usage();
    let scheduled = tokio::task::spawn_blocking(move || scheduler.join()).await?.map_err(|_| anyhow!("the scheduler thread panicked"))?;
    let deadline = Instant::now() + REQUEST_TIMEOUT + Duration::from_secs(5);
    while in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut r = recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let brain_cores = usage.cores.iter().find(|(name, _)| name == "brain").map(|(_, c)| *c);
    Ok(Phase {
        system: System::Direct,
        mode,
        rate,
        round: 0,
        sweep: false,
        scheduled,
        ok: r.ok,
        errors: r.errors,
        first_error: r.first_error.take(),
        latency: r.latency.take().ok_or_else(|| anyhow!("no histogram"))?,
        ttft: r.ttft.take().ok_or_else(|| anyhow!("no histogram"))?,
        lag: r.lag.take().ok_or_else(|| anyhow!("no histogram"))?,
        usage,
        brain_cores,
    })
}

/// Waits until the brain is idle (below 0.05 of a core over half a second), at most 30 s:
/// the usage events of the last gateway phase are consumed in the background.
async fn settle(watched: &[(&str, u32)]) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let snapshot = cpu::snapshot(watched);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !snapshot.usage().cores.iter().any(|(name, c)| name == "brain" && *c >= 0.05) {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// The brain

/// Starts `brain up` with generous limits, registers the mock as `textile-qa` (on premise,
/// staging → production) and issues an API key for an enterprise user; the key's secret.
async fn prepare_brain(binary: &std::path::Path, work: &std::path::Path, upstream: &str, max_concurrency: u32) -> anyhow::Result<(Brain, String)> {
    let data_dir = work.join("brain");
    std::fs::create_dir_all(&data_dir)?;
    let data_dir = data_dir.display().to_string();
    let mut env = vec![("BRAIN_TRUST__BOOTSTRAP_ADMIN_PASSWORD".to_owned(), ADMIN_PASSWORD.to_owned())];
    env.extend(LIMIT_ENV.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let args = ["up", "--data-dir", &data_dir, "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"];
    let brain = Brain::spawn(binary, "brain", &args, &env, work).await?;
    let http = brain.http.clone();
    let admin = platform_admin(&http).await.context("signing in the platform administrator with TOTP")?;
    let models = format!("{http}/api/v1/models");
    let model = json!({"name": MODEL, "level": "foundation", "description": "纺织问答 textile Q&A (brain-load mock)",
        "version": {"version": "1", "endpoints": [{"url": upstream, "location": "on_premise", "max_concurrency": max_concurrency}]}});
    call(&admin, reqwest::Method::POST, &models, Some(&model), &[201]).await.context("registering the model")?;
    for stage in ["staging", "production"] {
        call(&admin, reqwest::Method::POST, &format!("{models}/{MODEL}/versions/1/promote"), Some(&json!({"stage": stage})), &[200]).await.with_context(|| format!("promoting to {stage}"))?;
    }
    tenant_user(&http, &admin, TENANT, "enterprise", USER, &["enterprise-admin"]).await?;
    let owner = Credential::bearer(&sign_in(&http, TENANT, USER, USER_PASSWORD, None).await?).http_client()?;
    let body = json!({"name": "brain-load gateway", "roles": ["enterprise-admin"]});
    let key = call(&owner, reqwest::Method::POST, &format!("{http}/api/v1/identity/tenants/{TENANT}/api-keys"), Some(&body), &[201]).await?;
    Ok((brain, text_of(&key, "secret", "API key")?))
}

// ---------------------------------------------------------------------------------------
// The run

struct Senders {
    direct: Sender,
    proxy: Sender,
    gateway: Sender,
}

impl Senders {
    fn of(&self, system: System) -> &Sender {
        match system {
            System::Direct => &self.direct,
            System::PassThrough => &self.proxy,
            System::Gateway => &self.gateway,
        }
    }
}

/// Sends one request of each mode to each system and checks the answers (and, through the
/// gateway, that the guardrail allowed the prompt).
async fn probe(senders: &Senders, modes: &[Mode]) -> anyhow::Result<()> {
    for system in SYSTEMS {
        for &mode in modes {
            let (_, headers, size) = senders.of(system).send(mode).await.with_context(|| format!("probing {} {}", system.id(), mode.id()))?;
            ensure!(size > 0, "{} {} answered an empty body", system.id(), mode.id());
            if system == System::Gateway {
                let decision = headers.get("x-brain-guardrail").and_then(|v| v.to_str().ok()).unwrap_or("(none)");
                ensure!(decision == "allow", "the guardrail answered `{decision}` to the benchmark prompt, not `allow`");
            }
        }
    }
    Ok(())
}

pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    ensure!(!args.rates.is_empty() && args.rates.iter().all(|r| *r > 0), "--rates must be positive");
    ensure!(args.duration > 0 && args.sweep_duration > 0, "--duration and --sweep-duration must be positive");
    ensure!(args.sweep_step > 1.0, "--sweep-step must be above 1");
    ensure!(args.rounds > 0, "--rounds must be positive");
    let binary = args.run.binary()?;
    let dir = args.run.dir();
    let work = tempfile::Builder::new().prefix("brain-load-gateway-").tempdir_in(&dir).with_context(|| format!("temp dir in {}", dir.display()))?;
    let mut notes: Vec<String> = vec![format!(
        "the load generator, the mock upstream, the pass-through and the brain share this machine's {} cores (nothing is pinned): every figure includes the generator's own cost, the same for each system",
        cpus()
    )];

    let upstream = start_upstream(Mock { delay: Duration::from_millis(args.upstream_delay_ms), chunks: args.stream_chunks.max(1), gap: Duration::from_millis(args.chunk_gap_ms) }).await?;
    eprintln!("brain-load: mock upstream {}, pass-through {}; starting the brain in {} …", upstream.mock, upstream.proxy, work.path().display());
    let (brain, secret) = prepare_brain(&binary, work.path(), &upstream.mock, args.max_concurrency).await?;
    let watched = [("brain", brain.pid())];
    let senders = Senders { direct: Sender::new(&upstream.mock, None)?, proxy: Sender::new(&upstream.proxy, None)?, gateway: Sender::new(&format!("{}/v1", brain.http), Some(&secret))? };
    let modes: Vec<Mode> = if args.no_stream { vec![Mode::Unary] } else { vec![Mode::Unary, Mode::Stream] };
    probe(&senders, &modes).await?;

    let warmup = Duration::from_secs(args.warmup);
    let mut phases: Vec<Phase> = Vec::new();
    let mut rates = args.rates.clone();
    rates.sort_unstable();
    rates.dedup();
    for round in 1..=args.rounds {
        for &mode in &modes {
            for &rate in &rates {
                for system in SYSTEMS {
                    if !settle(&watched).await {
                        notes.push(format!("{} {} {rate}/s round {round}: the brain was still busy after 30 s; measured anyway", mode.id(), system.id()));
                    }
                    eprintln!("brain-load: round {round}/{}: {} {} at {rate}/s …", args.rounds, mode.id(), system.id());
                    let mut phase = open_loop(senders.of(system), mode, rate, warmup, Duration::from_secs(args.duration), &watched).await?;
                    phase.system = system;
                    phase.round = round;
                    phases.push(phase);
                }
            }
        }
    }
    // The throughput at the latency limit: from the highest fixed rate up, by --sweep-step,
    // while the last step stayed within the limit.
    if !args.no_sweep {
        // The gateway first, on a machine not yet worn by the others' overloaded last steps.
        for system in SYSTEMS.into_iter().rev() {
            let mut rate = rates.last().copied().unwrap_or(1000);
            while within_at(&phases, system, rate, args.p99_limit_ms) && rate < args.max_rate {
                rate = ((f64::from(rate) * args.sweep_step).round() as u32).min(args.max_rate);
                // A step that misses the limit is measured twice more and kept if two of the
                // three keep it: one noisy step (a hiccup of the shared VM) does not end the
                // sweep early, for any of the systems.
                for attempt in 1..=SWEEP_ATTEMPTS {
                    settle(&watched).await;
                    eprintln!("brain-load: sweep unary {} at {rate}/s (attempt {attempt}) …", system.id());
                    let mut phase = open_loop(senders.of(system), Mode::Unary, rate, warmup, Duration::from_secs(args.sweep_duration), &watched).await?;
                    phase.system = system;
                    phase.sweep = true;
                    let kept = phase.within(args.p99_limit_ms);
                    phases.push(phase);
                    if attempt == 1 && kept {
                        break;
                    }
                }
            }
        }
    }

    let log_tail = brain.log_tail(5);
    let stopped = brain.stop().await.context("stopping the brain");
    if args.run.keep {
        notes.push(format!("kept {}", work.keep().display()));
    }
    let summary = Summary::of(&phases, args.p99_limit_ms);
    println!(
        "brain-load gateway: rates={} rounds={} duration={} s warmup={} s upstream_delay={} ms stream={} chunks every {} ms sweep={} p99_limit={} ms cpus={}",
        rates.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
        args.rounds,
        args.duration,
        args.warmup,
        args.upstream_delay_ms,
        args.stream_chunks,
        args.chunk_gap_ms,
        if args.no_sweep { "off".to_owned() } else { format!("×{} up to {}/s, {} s", args.sweep_step, args.max_rate, args.sweep_duration) },
        args.p99_limit_ms,
        cpus()
    );
    println!("gateway: auth (API key as Bearer), quota (tenant and key limits counted, never reached), metering, guardrail (allow) on; brain: {}", binary.display());
    println!();
    print!("{}", table(&phases));
    println!();
    for line in summary.lines() {
        println!("{line}");
    }
    for phase in phases.iter().filter(|p| p.errors > 0) {
        notes.push(format!("{} {} {}/s round {}: {} errors, first: {}", phase.mode.id(), phase.system.id(), phase.rate, phase.round, phase.errors, phase.first_error.as_deref().unwrap_or("?")));
    }
    if phases.iter().any(|p| p.errors > 0) {
        notes.push(format!("brain log ends: {log_tail}"));
    }
    for line in &notes {
        println!("note: {line}");
    }
    let line = json!({
        "benchmark": "gateway",
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "params": {
            "rates": rates, "rounds": args.rounds, "duration_s": args.duration, "warmup_s": args.warmup, "upstream_delay_ms": args.upstream_delay_ms,
            "stream_chunks": args.stream_chunks, "chunk_gap_ms": args.chunk_gap_ms, "stream": !args.no_stream, "sweep": !args.no_sweep,
            "sweep_step": args.sweep_step, "max_rate": args.max_rate, "sweep_duration_s": args.sweep_duration, "p99_limit_ms": args.p99_limit_ms,
            "max_concurrency": args.max_concurrency, "model": MODEL, "tenant": TENANT,
        },
        "environment": {"cpus": cpus(), "brain": binary.display().to_string(), "dir": dir.display().to_string(), "notes": notes},
        "phases": phases.iter().map(Phase::to_json).collect::<Vec<_>>(),
        "summary": summary.to_json(),
    });
    println!("{line}");
    stopped
}

// ---------------------------------------------------------------------------------------
// Output

fn find(phases: &[Phase], system: System, mode: Mode, rate: u32, round: u32) -> Option<&Phase> {
    phases.iter().find(|p| p.system == system && p.mode == mode && p.rate == rate && p.round == round)
}

/// Whether `system` kept the limit at `rate` (unary) in most of its phases there.
fn within_at(phases: &[Phase], system: System, rate: u32, limit_ms: f64) -> bool {
    let at: Vec<&Phase> = phases.iter().filter(|p| p.system == system && p.mode == Mode::Unary && p.rate == rate).collect();
    !at.is_empty() && 2 * at.iter().filter(|p| p.within(limit_ms)).count() > at.len()
}

/// Median over rounds of `figure(gateway) − figure(direct)` within each round.
fn median_added(phases: &[Phase], mode: Mode, figure: impl Fn(&Phase) -> Option<f64>) -> Option<f64> {
    let per_round: Vec<f64> = phases
        .iter()
        .filter(|g| g.system == System::Gateway && g.mode == mode && g.rate == GOAL_RATE && !g.sweep)
        .filter_map(|g| added(figure(g), find(phases, System::Direct, mode, GOAL_RATE, g.round).and_then(&figure)))
        .collect();
    median(&per_round)
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

fn added(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

fn table(phases: &[Phase]) -> String {
    let mut out = String::new();
    let header = format!(
        "{:<6} {:>6} {:>5} {:<12} {:>7} {:>4} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6}\n",
        "mode", "rate/s", "round", "system", "ok", "err", "p50 ms", "p99 ms", "p999 ms", "+p50", "+p99", "+p999", "TTFT p50", "TTFT p99", "lag p99", "brain"
    );
    out.push_str(&header);
    out.push_str(&"-".repeat(header.chars().count()));
    out.push('\n');
    for p in phases {
        let direct = find(phases, System::Direct, p.mode, p.rate, p.round);
        let (a50, a99, a999) = match (p.system, direct) {
            (System::Direct, _) | (_, None) => (String::new(), String::new(), String::new()),
            (_, Some(d)) => (fmt(added(p.p(0.5), d.p(0.5))), fmt(added(p.p(0.99), d.p(0.99))), fmt(added(p.p(0.999), d.p(0.999)))),
        };
        let stream = p.mode == Mode::Stream;
        let line = format!(
            "{:<6} {:>6} {:>5} {:<12} {:>7} {:>4} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6}",
            if p.sweep { "sweep" } else { p.mode.id() },
            p.rate,
            if p.sweep { String::new() } else { p.round.to_string() },
            p.system.id(),
            p.ok,
            p.errors,
            fmt(p.p(0.5)),
            fmt(p.p(0.99)),
            fmt(p.p(0.999)),
            a50,
            a99,
            a999,
            if stream { fmt(p.ttft(0.5)) } else { String::new() },
            if stream { fmt(p.ttft(0.99)) } else { String::new() },
            fmt(Phase::ms(&p.lag, 0.99)),
            p.brain_cores.map_or_else(String::new, |c| format!("{c:.2}")),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The goals, checked.
struct Summary {
    p50_added: Option<f64>,
    p99_added: Option<f64>,
    ttft_p99_added: Option<f64>,
    /// Highest unary rate within the limit per system, and whether a higher step failed
    /// (otherwise the figure is a lower bound).
    max_rate: Vec<(System, Option<u32>, bool)>,
    limit_ms: f64,
}

impl Summary {
    fn of(phases: &[Phase], limit_ms: f64) -> Self {
        let max_rate = SYSTEMS
            .iter()
            .map(|&system| {
                let mut rates: Vec<u32> = phases.iter().filter(|p| p.system == system && p.mode == Mode::Unary).map(|p| p.rate).collect();
                rates.sort_unstable();
                rates.dedup();
                let best = rates.iter().copied().filter(|&r| within_at(phases, system, r, limit_ms)).max();
                let bounded = rates.iter().any(|&r| !within_at(phases, system, r, limit_ms) && best.is_none_or(|b| r > b));
                (system, best, bounded)
            })
            .collect();
        Self {
            p50_added: median_added(phases, Mode::Unary, |p| p.p(0.5)),
            p99_added: median_added(phases, Mode::Unary, |p| p.p(0.99)),
            ttft_p99_added: median_added(phases, Mode::Stream, |p| p.ttft(0.99)),
            max_rate,
            limit_ms,
        }
    }

    fn rate_of(&self, system: System) -> Option<(u32, bool)> {
        self.max_rate.iter().find(|(s, _, _)| *s == system).and_then(|(_, r, b)| r.map(|r| (r, *b)))
    }

    fn ratio(&self, baseline: System) -> Option<f64> {
        let (g, _) = self.rate_of(System::Gateway)?;
        let (b, _) = self.rate_of(baseline)?;
        Some(f64::from(g) / f64::from(b.max(1)))
    }

    fn lines(&self) -> Vec<String> {
        let verdict = |v: Option<f64>, goal: f64| match v {
            Some(v) if v <= goal => format!("{v:.3} ms (goal ≤ {goal} ms: met)"),
            Some(v) => format!("{v:.3} ms (goal ≤ {goal} ms: MISSED by {:.3} ms)", v - goal),
            None => format!("not measured (needs {GOAL_RATE}/s in --rates)"),
        };
        let mut out = vec![
            format!("added p50 at {GOAL_RATE}/s (gateway − direct, median of rounds): {}", verdict(self.p50_added, GOAL_P50_ADDED_MS)),
            format!("added p99 at {GOAL_RATE}/s (gateway − direct, median of rounds): {}", verdict(self.p99_added, GOAL_P99_ADDED_MS)),
            format!("added TTFT p99 at {GOAL_RATE}/s, streaming (gateway − direct, median of rounds): {}", verdict(self.ttft_p99_added, GOAL_TTFT_P99_ADDED_MS)),
        ];
        let rates: Vec<String> = SYSTEMS
            .iter()
            .map(|&s| match self.rate_of(s) {
                Some((r, true)) => format!("{} {r}/s", s.id()),
                Some((r, false)) => format!("{} ≥ {r}/s", s.id()),
                None => format!("{} none", s.id()),
            })
            .collect();
        out.push(format!("highest unary rate at p99 ≤ {} ms: {}", self.limit_ms, rates.join(", ")));
        let ratio = |b: System| self.ratio(b).map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
        let met = match self.ratio(System::PassThrough) {
            Some(r) if r >= GOAL_THROUGHPUT_RATIO => "met",
            Some(_) => "MISSED",
            None => "not measured",
        };
        out.push(format!(
            "gateway / pass-through: {} (goal ≥ {GOAL_THROUGHPUT_RATIO}: {met}); gateway / direct: {}",
            ratio(System::PassThrough),
            ratio(System::Direct)
        ));
        out
    }

    fn to_json(&self) -> Value {
        let q = |v: Option<f64>| v.map(|v| round(v, 3));
        json!({
            "goal_rate": GOAL_RATE,
            "p50_added_ms": q(self.p50_added), "p50_goal_met": self.p50_added.map(|v| v <= GOAL_P50_ADDED_MS),
            "p99_added_ms": q(self.p99_added), "p99_goal_met": self.p99_added.map(|v| v <= GOAL_P99_ADDED_MS),
            "ttft_p99_added_ms": q(self.ttft_p99_added), "ttft_goal_met": self.ttft_p99_added.map(|v| v <= GOAL_TTFT_P99_ADDED_MS),
            "p99_limit_ms": self.limit_ms,
            "max_rate": self.max_rate.iter().map(|(s, r, b)| (s.id().to_owned(), json!({"rate": r, "bounded_above": b}))).collect::<serde_json::Map<_, _>>(),
            "throughput_ratio_vs_pass_through": q(self.ratio(System::PassThrough)),
            "throughput_ratio_vs_direct": q(self.ratio(System::Direct)),
            "throughput_goal_met": self.ratio(System::PassThrough).map(|r| r >= GOAL_THROUGHPUT_RATIO),
        })
    }
}
