#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The system split across two processes on real Kafka, PostgreSQL and Redis: each process
//! serves its services, and an event published in one reaches its consumer in the other
//! with its trace context intact.

mod common;

use brain_testkit::{BrainProcess, MockCollector, engines};
use common::*;
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;

const FRONT: &str = "ingestion,governance,compute-scheduler,model-gateway";
const BACK: &str = "service-opening,portal-api,evaluation,trust";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_data_chain_and_one_trace() {
    let (Some(kafka), Some(postgres), Some(redis)) = (engines::kafka(), engines::postgres(), engines::redis()) else { return };
    let database = brain_testkit::postgres::fresh_database(&postgres).await.unwrap();
    let (collector, otlp) = MockCollector::start().await.unwrap();
    // A topic prefix of its own keeps this run apart from others on the shared broker.
    let prefix = format!("e2e{}", uuid::Uuid::now_v7().simple());
    let bus = format!("kafka://{kafka}");
    // One data directory: the two processes share the access-token signing key.
    let data_dir = tempfile::tempdir().unwrap();
    let env = [
        ("BRAIN_COMMON__DATA_DIR", data_dir.path().to_str().unwrap()),
        ("BRAIN_COMMON__BUS", bus.as_str()),
        ("BRAIN_COMMON__DATABASE", database.url()),
        ("BRAIN_COMMON__CACHE", redis.as_str()),
        ("BRAIN_COMMON__TOPIC_PREFIX", prefix.as_str()),
        ("BRAIN_COMMON__HTTP_ADDR", "127.0.0.1:0"),
        ("BRAIN_COMMON__GRPC_ADDR", "127.0.0.1:0"),
        ("BRAIN_BUS__KAFKA_SESSION_TIMEOUT_MS", "1000"),
        ("BRAIN_BUS__KAFKA_HEARTBEAT_INTERVAL_MS", "100"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    // The back process keeps the ledger (trust): the front's governance records its key
    // operations there.
    let back = BrainProcess::spawn(&["serve", "--target", BACK], &env).unwrap();
    let mut front_env = env.to_vec();
    front_env.push(("BRAIN_COMMON__PEERS__TRUST", back.grpc.as_str()));
    let front = BrainProcess::spawn(&["serve", "--target", FRONT], &front_env).unwrap();

    // Each process serves exactly its own services.
    for (target, service) in all_grpc_services() {
        let (mine, other) = if FRONT.split(',').any(|t| t == target) { (&front, &back) } else { (&back, &front) };
        assert_eq!(health(&mine.grpc, service).await, ServingStatus::Serving, "{service} in its process");
        assert_eq!(health(&other.grpc, service).await, ServingStatus::ServiceUnknown, "{service} in the other process");
    }
    // The administrator signs in once (the first sign-in enrols the second factor).
    let admin = platform_admin(&back.http).await;
    let session = tenant_user(&back.http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let client = session.http.clone();
    for process in [&front, &back] {
        let ready: serde_json::Value = client.get(format!("{}/readyz", process.http)).send().await.unwrap().json().await.unwrap();
        assert_eq!(ready["status"], "ready", "{ready}");
    }

    // A client call with its own trace: ingestion (front) publishes on Kafka, evaluation
    // (back) consumes and writes PostgreSQL.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let tenant = TENANT;
    let created = client.post(format!("{}/api/v1/tenants/{tenant}/datasets", front.http)).json(&textile_dataset()).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let ack: serde_json::Value = client
        .post(format!("{}/api/v1/tenants/{tenant}/datasets/production-output/records", front.http))
        .header("traceparent", &traceparent)
        .json(&textile_batch(7, 3))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ack["accepted"], 3, "{ack}");

    let usage_url = format!("{}/api/v1/tenants/{tenant}/usage", back.http);
    let total = eventually(Duration::from_secs(30), "evaluation to meter the batch", || {
        let client = client.clone();
        let usage_url = usage_url.clone();
        async move {
            let usage: serde_json::Value = client.get(&usage_url).send().await.ok()?.json().await.ok()?;
            usage["totals"].as_array()?.iter().find(|t| t["kind"] == "records_ingested").and_then(|t| t["quantity"].as_f64())
        }
    })
    .await;
    assert_eq!(total, 3.0);

    // The consumer's span in the back process continues the client's trace.
    let span = eventually(Duration::from_secs(20), "the consumer span at the collector", || {
        let spans = collector.spans();
        async move { spans.into_iter().find(|s| s.name == "evaluation.record_usage" && s.trace_id == trace_id) }
    })
    .await;
    assert!(span.resource.iter().any(|r| r.contains("brain.targets") && r.contains("evaluation")), "{:?}", span.resource);
    // The front process exports on its own schedule: its spans of the same trace may come later.
    eventually(Duration::from_secs(20), "the front process's spans of the same trace", || {
        let spans = collector.spans();
        async move { spans.into_iter().find(|s| s.trace_id == trace_id && s.resource.iter().any(|r| r.contains("ingestion"))) }
    })
    .await;

    // The same over gRPC: the trace context travels in the request metadata.
    let grpc_trace = "0af7651916cd43dd8448eb211c80319c";
    let mut ingestion = brain_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient::new(session.grpc(&front.grpc).await);
    let mut request = tonic::Request::new(brain_proto::ingestion::v1::IngestBatch {
        batch_id: "grpc-1".into(),
        dataset: Some(brain_proto::common::v1::DatasetRef { tenant_id: tenant.into(), dataset: "production-output".into() }),
        source: None,
        records: vec![brain_proto::ingestion::v1::InputRecord {
            id: "grpc-r1".into(),
            event_time: None,
            payload_json: br#"{"line":"L2","output_m":800}"#.to_vec(),
        }],
    });
    request.metadata_mut().insert("traceparent", format!("00-{grpc_trace}-b7ad6b7169203331-01").parse().unwrap());
    let ack = ingestion.ingest(request).await.unwrap().into_inner();
    assert_eq!((ack.batch_id.as_str(), ack.accepted), ("grpc-1", 1));
    eventually(Duration::from_secs(20), "the consumer span of the gRPC call", || {
        let spans = collector.spans();
        async move { spans.into_iter().find(|s| s.name == "evaluation.record_usage" && s.trace_id == grpc_trace) }
    })
    .await;

    // A streamed model request (front) is metered on Kafka and counted by evaluation (back):
    // the usage event, sent after the last chunk, still continues the caller's trace.
    serve_model(&front.http, &admin, &mock_upstream().await, 4).await;
    let stream_trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    let ask = serde_json::json!({"model": "textile-qa", "messages": [{"role": "user", "content": "库存?"}], "stream": true});
    let streamed = client
        .post(format!("{}/v1/chat/completions", front.http))
        .header("traceparent", format!("00-{stream_trace}-00f067aa0ba902b8-01"))
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 200);
    assert!(streamed.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    eventually(Duration::from_secs(20), "the consumer span of the streamed model request", || {
        let spans = collector.spans();
        async move { spans.into_iter().find(|s| s.name == "evaluation.record_usage" && s.trace_id == stream_trace) }
    })
    .await;

    drop((front, back));
    database.drop_now().await.unwrap();
}
