#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Forwarding against real HTTP servers that speak the OpenAI protocol, with latency and
//! failure injection: weighted choice, retries on the next endpoint, circuit breaking,
//! timeouts, concurrency limits, streaming passed through as it arrives.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use brain_governance::domain::Grade;
use brain_model_gateway::gateway::breaker::BreakerPolicy;
use brain_model_gateway::gateway::forward::Upstreams;
use brain_model_gateway::gateway::openai::{self, Operation};
use brain_model_gateway::registry::{Endpoint, Level, Location, ModelRoute};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
enum Mode {
    Ok,
    Fail,
    Hang,
    Slow(u64),
    Stream { chunks: usize, gap_ms: u64 },
}

struct Mock {
    mode: Mode,
    calls: AtomicUsize,
}

async fn answer(State(mock): State<Arc<Mock>>) -> Response {
    mock.calls.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::json!({"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
                                   "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
    match mock.mode {
        Mode::Ok => axum::Json(body).into_response(),
        Mode::Fail => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            axum::Json(body).into_response()
        }
        Mode::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            axum::Json(body).into_response()
        }
        Mode::Stream { chunks, gap_ms } => {
            let events = futures::stream::iter(0..chunks).then(move |i| async move {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(gap_ms)).await;
                }
                Ok::<_, std::io::Error>(format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"t{i}\"}}}}]}}\n\n"))
            });
            Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(events)).unwrap()
        }
    }
}

async fn models(State(mock): State<Arc<Mock>>) -> Response {
    match mock.mode {
        Mode::Fail => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        _ => axum::Json(serde_json::json!({"object": "list", "data": [{"id": "textile-qa", "object": "model"}]})).into_response(),
    }
}

/// An upstream on a port the OS picks; its base URL and its call counter.
async fn upstream(mode: Mode) -> (String, Arc<Mock>) {
    let mock = Arc::new(Mock { mode, calls: AtomicUsize::new(0) });
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(answer))
        .route("/v1/models", axum::routing::get(models))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, mock)
}

fn endpoint(url: &str, weight: u32, max_concurrency: u32, timeout_ms: Option<u32>) -> Endpoint {
    Endpoint { url: url.into(), location: Location::OnPremise, weight, max_concurrency, request_timeout_ms: timeout_ms, api_key_secret_env: None }
}

fn route(endpoints: Vec<Endpoint>) -> ModelRoute {
    ModelRoute {
        model: "textile-qa".into(),
        version: "1".into(),
        level: Level::Scenario,
        owner_tenant: "platform".into(),
        created_at: chrono::Utc::now(),
        endpoints,
        withheld_endpoints: 0,
        trained_on_grade: Grade::Low,
        fallback_model: None,
    }
}

fn chat(stream: bool) -> openai::ProxyRequest {
    let body = serde_json::json!({"model": "textile-qa", "messages": [{"role": "user", "content": "面料库存?"}], "stream": stream});
    openai::parse(Operation::Chat, body.to_string().into()).unwrap()
}

fn upstreams() -> Upstreams {
    Upstreams::new(BreakerPolicy { failures_to_open: 3, open_for: Duration::from_secs(60) }).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_follows_the_weights() {
    let ((a, mock_a), (b, mock_b)) = (upstream(Mode::Ok).await, upstream(Mode::Ok).await);
    let (gateway, route) = (upstreams(), route(vec![endpoint(&a, 300, 100, None), endpoint(&b, 100, 100, None)]));
    for _ in 0..400 {
        let answer = gateway.send(&route, &chat(false), &[true, true]).await.unwrap();
        assert_eq!(answer.response.status(), 200);
    }
    assert_eq!((mock_a.calls.load(Ordering::SeqCst), mock_b.calls.load(Ordering::SeqCst)), (300, 100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_elsewhere_then_cut_off_by_its_breaker() {
    let ((bad, mock_bad), (good, mock_good)) = (upstream(Mode::Fail).await, upstream(Mode::Ok).await);
    let (gateway, route) = (upstreams(), route(vec![endpoint(&bad, 100, 100, None), endpoint(&good, 100, 100, None)]));
    for _ in 0..20 {
        let answer = gateway.send(&route, &chat(false), &[true, true]).await.unwrap();
        assert_eq!(answer.response.status(), 200, "every request is answered by the good endpoint");
    }
    assert_eq!(mock_bad.calls.load(Ordering::SeqCst), 3, "three failures open the breaker; then no more traffic");
    assert_eq!(mock_good.calls.load(Ordering::SeqCst), 20);

    let only_bad = route_with(&bad);
    let error = gateway.send(&only_bad, &chat(false), &[true]).await.err().unwrap();
    assert_eq!(error.status, 503, "an open breaker and nothing else: unavailable, with a retry hint: {error:?}");
    assert_eq!(error.retry_after, Some(1));
}

fn route_with(url: &str) -> ModelRoute {
    route(vec![endpoint(url, 100, 100, None)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_times_out_and_the_next_one_answers() {
    let ((hang, _), (good, _)) = (upstream(Mode::Hang).await, upstream(Mode::Ok).await);
    let gateway = upstreams();
    let route = route(vec![endpoint(&hang, 1000, 100, Some(200)), endpoint(&good, 1, 100, None)]);
    let started = Instant::now();
    let answer = gateway.send(&route, &chat(false), &[true, true]).await.unwrap();
    assert_eq!(answer.response.status(), 200);
    assert_eq!(answer.retries, 1);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

    let alone = route_with_timeout(&hang);
    let error = gateway.send(&alone, &chat(false), &[true]).await.err().unwrap();
    assert_eq!(error.status, 502);
    assert!(error.message.contains("timed out"), "{error:?}");
}

fn route_with_timeout(url: &str) -> ModelRoute {
    route(vec![endpoint(url, 100, 100, Some(200))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_at_its_concurrency_limit_takes_no_more() {
    let ((slow, mock_slow), (other, mock_other)) = (upstream(Mode::Slow(300)).await, upstream(Mode::Ok).await);
    let gateway = Arc::new(upstreams());
    let route = Arc::new(route(vec![endpoint(&slow, 1000, 1, None), endpoint(&other, 1, 100, None)]));
    let first = {
        let (gateway, route) = (gateway.clone(), route.clone());
        tokio::spawn(async move {
            let answer = gateway.send(&route, &chat(false), &[true, true]).await.unwrap();
            answer.response.bytes().await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = gateway.send(&route, &chat(false), &[true, true]).await.unwrap();
    assert_eq!(second.response.status(), 200);
    first.await.unwrap();
    assert_eq!((mock_slow.calls.load(Ordering::SeqCst), mock_other.calls.load(Ordering::SeqCst)), (1, 1), "the busy endpoint was skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_pass_through_as_the_tokens_arrive() {
    let (url, _) = upstream(Mode::Stream { chunks: 5, gap_ms: 150 }).await;
    let gateway = upstreams();
    let started = Instant::now();
    let answer = gateway.send(&route_with(&url), &chat(true), &[true]).await.unwrap();
    let mut body = answer.response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let mut text = String::from_utf8(first.to_vec()).unwrap();
    while let Some(chunk) = body.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert!(first_at < Duration::from_millis(300), "the first token was held back: {first_at:?}");
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(text.matches("data: ").count(), 5, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_the_guardrail_refuses_are_never_called() {
    let ((external, mock_external), (on_premise, mock_on_premise)) = (upstream(Mode::Ok).await, upstream(Mode::Ok).await);
    let gateway = upstreams();
    let route = route(vec![endpoint(&external, 1000, 100, None), endpoint(&on_premise, 1, 100, None)]);
    for _ in 0..10 {
        gateway.send(&route, &chat(false), &[false, true]).await.unwrap();
    }
    assert_eq!((mock_external.calls.load(Ordering::SeqCst), mock_on_premise.calls.load(Ordering::SeqCst)), (0, 10));
    let error = gateway.send(&route, &chat(false), &[false, false]).await.err().unwrap();
    assert_eq!(error.status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probes_take_a_sick_endpoint_out_before_any_caller_meets_it() {
    let ((sick, mock_sick), (well, mock_well)) = (upstream(Mode::Fail).await, upstream(Mode::Ok).await);
    let gateway = upstreams();
    let route = route(vec![endpoint(&sick, 1000, 100, None), endpoint(&well, 1, 100, None)]);
    for _ in 0..3 {
        gateway.probe_all(std::slice::from_ref(&route)).await;
    }
    for _ in 0..10 {
        gateway.send(&route, &chat(false), &[true, true]).await.unwrap();
    }
    assert_eq!(mock_sick.calls.load(Ordering::SeqCst), 0, "three failed probes opened its breaker: no request went there");
    assert_eq!(mock_well.calls.load(Ordering::SeqCst), 10);
    assert!(gateway.probe(&route.endpoints[1]).await, "a healthy endpoint passes its probe");
    assert!(!gateway.probe(&endpoint("http://127.0.0.1:9/v1", 1, 1, None)).await, "nothing listens on port 9");
}
