#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The whole system in one process on embedded backends (`brain up`).

mod common;

use common::*;
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brain_up_serves_every_service_and_the_operations_endpoints() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    eprintln!("brain up: ready in {} ms (process), {:?} from spawn", brain.ready_ms, brain.spawn_to_ready);
    assert!(brain.ready_ms < 2000, "ready in {} ms; the goal is under 2 s", brain.ready_ms);
    let client = http();

    let healthz = client.get(format!("{}/healthz", brain.http)).send().await.unwrap();
    assert_eq!(healthz.status(), 200);

    let readyz: serde_json::Value = client.get(format!("{}/readyz", brain.http)).send().await.unwrap().json().await.unwrap();
    assert_eq!(readyz["status"], "ready", "{readyz}");
    for backend in ["store", "bus", "cache"] {
        assert_eq!(readyz["checks"][backend]["status"], "ok", "{readyz}");
    }

    // Every gRPC service reports SERVING.
    for (target, service) in all_grpc_services() {
        assert_eq!(health(&brain.grpc, service).await, ServingStatus::Serving, "{target}: {service}");
    }
    assert_eq!(health(&brain.grpc, "").await, ServingStatus::Serving);

    // The OpenAPI document is 3.1 and lists a route of every service.
    let openapi: serde_json::Value = client.get(format!("{}/openapi.json", brain.http)).send().await.unwrap().json().await.unwrap();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3.1"), "{}", openapi["openapi"]);
    let paths = openapi["paths"].as_object().unwrap();
    for path in [
        "/api/v1/tenants/{tenant}/datasets/{dataset}/records",
        "/api/v1/tenants/{tenant}/datasets",
        "/api/v1/tenants/{tenant}/datasets/{dataset}/classification",
        "/api/v1/jobs",
        "/v1/chat/completions",
        "/api/v1/components",
        "/api/v1/cockpit/overview",
        "/api/v1/tenants/{tenant}/usage",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} missing from /openapi.json");
    }
    let docs = client.get(format!("{}/docs", brain.http)).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("/openapi.json"));

    // Every API needs a caller: without a token, 401 in problem+json.
    let anonymous = client.get(format!("{}/api/v1/tenants/{TENANT}/datasets", brain.http)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["content-type"], "application/problem+json");

    // A route that is not built yet says so in problem+json, it does not fake data.
    let session = enterprise(&brain.http).await;
    let stub = session.http.post(format!("{}/api/v1/jobs", brain.http)).send().await.unwrap();
    assert_eq!(stub.status(), 501);
    assert_eq!(stub.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = stub.json().await.unwrap();
    assert_eq!(problem["code"], "unimplemented");

    // And over gRPC: UNIMPLEMENTED.
    let mut scheduler =
        brain_proto::scheduler::v1::compute_scheduler_service_client::ComputeSchedulerServiceClient::new(session.grpc(&brain.grpc).await);
    let status = scheduler.list_clusters(brain_proto::scheduler::v1::ListClustersRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);

    // Metrics name the routes that were called.
    let metrics = client.get(format!("{}/metrics", brain.http)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("brain_http_requests_total{"), "{metrics}");
    assert!(metrics.contains("route=\"/api/v1/jobs\""), "{metrics}");
    assert!(metrics.contains("brain_grpc_requests_total{"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_reflection_lists_every_service() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let mut client = ServerReflectionClient::new(channel(&brain.grpc).await);
    let request = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut responses = client.server_reflection_info(tokio_stream::once(request)).await.unwrap().into_inner();
    let Some(Ok(response)) = responses.next().await else { panic!("no reflection response") };
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else { panic!("unexpected response") };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for (_, service) in all_grpc_services() {
        assert!(names.iter().any(|n| n == service), "{service} not in {names:?}");
    }
    assert!(names.iter().any(|n| n == "grpc.health.v1.Health"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingested_records_are_metered_by_evaluation() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let client = enterprise(&brain.http).await.http;
    register_dataset(&client, &brain.http, TENANT, &textile_dataset()).await;
    let url = format!("{}/api/v1/tenants/91330100MA27XKQ717/datasets/production-output/records", brain.http);
    let mut batch = textile_batch(1, 5);
    batch.as_array_mut().unwrap().push(serde_json::json!({"_event_time": "last tuesday", "line": "L9"}));
    let ack: serde_json::Value = client.post(&url).json(&batch).send().await.unwrap().json().await.unwrap();
    assert_eq!(ack["accepted"], 5, "{ack}");
    assert_eq!(ack["rejected"], 1, "{ack}");
    let rejected = &ack["results"][5];
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["violation"]["field"], "_event_time");
    assert_eq!(rejected["violation"]["record_index"], 5);

    // Evaluation consumes the usage event ingestion published and sums it per tenant.
    let usage_url = format!("{}/api/v1/tenants/91330100MA27XKQ717/usage", brain.http);
    let total = eventually(Duration::from_secs(10), "usage to be metered", || {
        let client = client.clone();
        let usage_url = usage_url.clone();
        async move {
            let usage: serde_json::Value = client.get(&usage_url).send().await.ok()?.json().await.ok()?;
            let totals = usage["totals"].as_array()?;
            totals.iter().find(|t| t["kind"] == "records_ingested").map(|t| t["quantity"].as_f64().unwrap_or(0.0))
        }
    })
    .await;
    assert_eq!(total, 5.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_precise_errors() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let client = enterprise(&brain.http).await.http;
    let orders = serde_json::json!({
        "name": "orders", "title": "Orders", "library": "industry", "domain": "management",
        "fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}]
    });
    register_dataset(&client, &brain.http, TENANT, &orders).await;
    let url = format!("{}/api/v1/tenants/{TENANT}/datasets/orders/records", brain.http);

    let unknown = client.post(format!("{}/api/v1/tenants/{TENANT}/datasets/invoices/records", brain.http)).json(&serde_json::json!([{"a": 1}])).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let problem: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(problem["code"], "not_found", "{problem}");

    let malformed = client.post(&url).body("[{\"a\":1},").header("content-type", "application/json").send().await.unwrap();
    assert_eq!(malformed.status(), 400);
    let problem: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_argument");
    assert!(problem["detail"].as_str().unwrap().contains("not a JSON array"), "{problem}");

    let bad_name = client.post(format!("{}/api/v1/tenants/{TENANT}/datasets/bad%20name/records", brain.http)).json(&serde_json::json!([])).send().await.unwrap();
    assert_eq!(bad_name.status(), 400);
    let problem: serde_json::Value = bad_name.json().await.unwrap();
    assert_eq!(problem["violations"][0]["field"], "dataset", "{problem}");

    let too_big = client.post(&url).body(vec![b' '; 17 * 1024 * 1024]).header("content-type", "application/json").send().await.unwrap();
    assert_eq!(too_big.status(), 413);

    let xml = client.post(&url).body("<a/>").header("content-type", "application/xml").send().await.unwrap();
    assert_eq!(xml.status(), 415);

    let csv = client.post(&url).body("a,b\n1,2\n1\n").header("content-type", "text/csv").send().await.unwrap();
    assert_eq!(csv.status(), 200);
    let ack: serde_json::Value = csv.json().await.unwrap();
    assert_eq!((ack["accepted"].as_u64(), ack["rejected"].as_u64()), (Some(1), Some(1)), "{ack}");
    assert_eq!(ack["results"][1]["line"], 3, "a ragged row names its line: {ack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_gracefully() {
    let data = tempfile::tempdir().unwrap();
    let mut brain = brain_up(data.path());
    let code = brain.terminate(Duration::from_secs(20));
    assert_eq!(code, Some(0), "log:\n{}", brain.log());
    assert!(brain.log().contains("\"stopped\""), "log:\n{}", brain.log());
}
