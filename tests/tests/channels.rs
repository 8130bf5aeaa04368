#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Every ingestion channel delivers into the warehouse, in one process and across processes:
//! REST as a JSON array, NDJSON and CSV; the gRPC stream; an MQTT subscription (Mosquitto);
//! a scheduled pull of a JSON feed. Sources are listed with their live state over REST and
//! gRPC.

mod common;

use brain_proto::ingestion::v1 as ing;
use brain_testkit::engines;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TENANT: &str = "91330100MA27XKQ717";
const POWER_TENANT: &str = "gov-power";

fn telemetry_spec() -> Value {
    json!({
        "name": "line-telemetry",
        "title": "Line telemetry (产线遥测)",
        "library": "industry",
        "domain": "production",
        "fields": [
            {"name": "line", "type": "string", "required": true},
            {"name": "signal", "type": "string", "required": true},
            {"name": "value", "type": "number", "required": true}
        ]
    })
}

fn power_spec() -> Value {
    json!({
        "name": "power-usage",
        "title": "Electricity use per enterprise (用电量)",
        "library": "basic",
        "domain": "external",
        "fields": [
            {"name": "uscc", "type": "string", "required": true},
            {"name": "month", "type": "string", "required": true},
            {"name": "kwh", "type": "number", "required": true}
        ]
    })
}

/// A public-data feed: every request gets the same page of power figures.
async fn power_feed() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = json!({"data": {"items": [
        {"uscc": TENANT, "month": "2026-10", "kwh": 182000.5},
        {"uscc": "91330100MA27XKQ717", "month": "2026-09", "kwh": 176500.0},
        {"uscc": "91330600MA2BXXXX1N", "month": "2026-10", "kwh": 90210.0}
    ]}})
    .to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/feeds/power?key=s3cret")
}

/// A brain configuration with one MQTT subscription and one pull feed.
fn sources_config(dir: &std::path::Path, mqtt: &str, feed: &str, run: &str) -> std::path::PathBuf {
    let config = format!(
        "ingestion:\n  mqtt:\n    - name: edge\n      broker: mqtt://{mqtt}\n      topic: \"{run}/factory/{{uscc}}/line/{{line}}/telemetry\"\n      tenant: \"{{uscc}}\"\n      dataset: line-telemetry\n      qos: 1\n      client_id: brain-{run}\n  pulls:\n    - name: power\n      url: \"{feed}\"\n      schedule: \"* * * * * *\"\n      tenant: {POWER_TENANT}\n      dataset: power-usage\n      records_pointer: /data/items\n"
    );
    let path = dir.join("brain.yaml");
    std::fs::write(&path, config).unwrap();
    path
}

async fn count(client: &reqwest::Client, http: &str, tenant: &str, dataset: &str) -> usize {
    let url = format!("{http}/api/v1/tenants/{tenant}/datasets/{dataset}/records?page_size=1000");
    let page: Value = client.get(url).send().await.unwrap().json().await.unwrap();
    page["records"].as_array().map_or(0, Vec::len)
}

async fn device_publishes(broker: &str, topic: &str, payloads: &[Value]) {
    let (host, port) = broker.rsplit_once(':').unwrap();
    let options = rumqttc::MqttOptions::new(format!("it-device-{}", uuid::Uuid::now_v7().simple()), host, port.parse().unwrap());
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 10);
    for payload in payloads {
        client.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.to_string()).await.unwrap();
    }
    let mut acked = 0;
    while acked < payloads.len() {
        if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = eventloop.poll().await.unwrap() {
            acked += 1;
        }
    }
    client.disconnect().await.unwrap();
}

/// The scenario, given where trust, ingestion (HTTP, gRPC) and governance answer.
async fn every_channel(trust_http: &str, ingest_http: &str, ingest_grpc: &str, governance_http: &str, broker: &str, run: &str) {
    // The enterprise and the power bureau each see their own data; the platform administrator,
    // who configures sources, sees every source.
    let admin = platform_admin(trust_http).await;
    let weaver = tenant_user(trust_http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let power = tenant_user(trust_http, &admin, POWER_TENANT, "government", "power", &["gov-admin"]).await;
    let client = weaver.http.clone();
    for (session, spec) in [(&weaver, telemetry_spec()), (&power, power_spec())] {
        let tenant = &session.tenant;
        let created = session.http.post(format!("{governance_http}/api/v1/tenants/{tenant}/datasets")).json(&spec).send().await.unwrap();
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    }
    let url = format!("{ingest_http}/api/v1/tenants/{TENANT}/datasets/line-telemetry/records");
    let post = |body: String, content_type: &'static str| {
        let request = client.post(&url).header("content-type", content_type).body(body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let ack: Value = response.json().await.unwrap();
            assert_eq!((ack["accepted"].as_u64(), ack["rejected"].as_u64()), (Some(2), Some(0)), "{ack}");
        }
    };
    let json_body = json!([{"_id": "json-1", "line": "L1", "signal": "temp", "value": 21.5}, {"_id": "json-2", "line": "L1", "signal": "rpm", "value": 900}]);
    post(json_body.to_string(), "application/json").await;
    post("{\"_id\":\"nd-1\",\"line\":\"L2\",\"signal\":\"temp\",\"value\":22}\n{\"_id\":\"nd-2\",\"line\":\"L2\",\"signal\":\"rpm\",\"value\":880}\n".into(), "application/x-ndjson").await;
    post("_id,line,signal,value\ncsv-1,L3,temp,23.5\ncsv-2,L3,rpm,870\n".into(), "text/csv").await;

    let mut ingestion = ing::ingestion_service_client::IngestionServiceClient::new(weaver.grpc(ingest_grpc).await);
    let record = |id: &str, value: f64| ing::InputRecord {
        id: id.into(),
        payload_json: json!({"line": "L4", "signal": "temp", "value": value}).to_string().into_bytes(),
        ..Default::default()
    };
    let batch = ing::IngestBatch {
        batch_id: "grpc-batch-1".into(),
        dataset: Some(brain_proto::common::v1::DatasetRef { tenant_id: TENANT.into(), dataset: "line-telemetry".into() }),
        records: vec![record("grpc-1", 24.0), record("grpc-2", 24.5)],
        ..Default::default()
    };
    let mut acks = ingestion.ingest_stream(tokio_stream::iter(vec![batch])).await.unwrap().into_inner();
    let ack = acks.message().await.unwrap().unwrap();
    assert_eq!((ack.batch_id.as_str(), ack.accepted, ack.rejected), ("grpc-batch-1", 2, 0));

    // The MQTT subscription must be in place before the device publishes.
    let sources_url = format!("{ingest_http}/api/v1/ingestion/sources");
    eventually(Duration::from_secs(30), "the MQTT subscription", || async {
        let list: Value = admin.http.get(&sources_url).send().await.unwrap().json().await.unwrap();
        (list["sources"][0]["subscribed"] == true).then_some(())
    })
    .await;
    let topic = format!("{run}/factory/{TENANT}/line/L5/telemetry");
    device_publishes(broker, &topic, &[json!({"_id": "mqtt-1", "line": "L5", "signal": "temp", "value": 25}), json!({"_id": "mqtt-2", "line": "L5", "signal": "rpm", "value": 860})]).await;

    eventually(Duration::from_secs(60), "10 telemetry records from five channels", || async {
        (count(&client, governance_http, TENANT, "line-telemetry").await == 10).then_some(())
    })
    .await;
    let stored = format!("{governance_http}/api/v1/tenants/{TENANT}/datasets/line-telemetry/records?page_size=1000");
    let page: Value = client.get(stored).send().await.unwrap().json().await.unwrap();
    let mut ids: Vec<&str> = page["records"].as_array().unwrap().iter().map(|r| r["record_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["csv-1", "csv-2", "grpc-1", "grpc-2", "json-1", "json-2", "mqtt-1", "mqtt-2", "nd-1", "nd-2"]);
    let csv_value = page["records"].as_array().unwrap().iter().find(|r| r["record_id"] == "csv-1").unwrap()["payload"]["value"].clone();
    assert_eq!(csv_value, json!(23.5), "CSV numbers are typed");

    // The feed is pulled every second and serves the same page: three records, once each.
    eventually(Duration::from_secs(30), "3 power records from the pull feed", || async {
        (count(&power.http, governance_http, POWER_TENANT, "power-usage").await == 3).then_some(())
    })
    .await;
    let list: Value = eventually(Duration::from_secs(30), "a second pull run", || async {
        let list: Value = admin.http.get(&sources_url).send().await.unwrap().json().await.unwrap();
        (list["sources"][1]["runs"].as_u64() >= Some(2)).then_some(list)
    })
    .await;
    assert_eq!(count(&power.http, governance_http, POWER_TENANT, "power-usage").await, 3, "pulled again, stored once");

    let (edge, power) = (&list["sources"][0], &list["sources"][1]);
    assert_eq!((edge["kind"].as_str(), edge["name"].as_str(), edge["connected"].as_bool()), (Some("mqtt"), Some("edge"), Some(true)), "{list}");
    assert_eq!(edge["tenant"], "{uscc}");
    assert!(edge["last_success"].is_string(), "{list}");
    assert_eq!((power["kind"].as_str(), power["schedule"].as_str()), (Some("pull"), Some("* * * * * *")), "{list}");
    assert!(!power["pattern"].as_str().unwrap().contains("s3cret"), "the feed's query (an API key) is not shown: {list}");
    assert_eq!(power["failures"], 0);

    let mut sources = ing::ingestion_service_client::IngestionServiceClient::new(admin.grpc(ingest_grpc).await);
    let listed = sources.list_sources(ing::ListSourcesRequest { page: Some(brain_proto::common::v1::PageRequest { page_size: 1, page_token: String::new() }) }).await.unwrap().into_inner();
    assert_eq!(listed.sources.len(), 1);
    assert_eq!(listed.sources[0].name, "edge");
    let token = listed.page.unwrap().next_page_token;
    let rest = sources.list_sources(ing::ListSourcesRequest { page: Some(brain_proto::common::v1::PageRequest { page_size: 1, page_token: token }) }).await.unwrap().into_inner();
    assert_eq!((rest.sources[0].name.as_str(), rest.sources[0].schedule.as_str()), ("power", "* * * * * *"));
    assert!(rest.sources[0].last_success.is_some());
    assert_eq!(rest.page.unwrap().next_page_token, "", "the last page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_channel_into_the_warehouse_in_one_process() {
    let Some(broker) = engines::mqtt() else { return };
    let run = format!("it{}", uuid::Uuid::now_v7().simple());
    let data = tempfile::tempdir().unwrap();
    let config = sources_config(data.path(), &broker, &power_feed().await, &run);
    let brain = brain_testkit::BrainProcess::spawn(
        &["up", "--config", config.to_str().unwrap(), "--data-dir", data.path().to_str().unwrap(), "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"],
        &[],
    )
    .unwrap();
    every_channel(&brain.http, &brain.http, &brain.grpc, &brain.http, &broker, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_channel_into_the_warehouse_across_processes() {
    let (Some(kafka), Some(postgres), Some(broker)) = (engines::kafka(), engines::postgres(), engines::mqtt()) else { return };
    let run = format!("it{}", uuid::Uuid::now_v7().simple());
    let data = tempfile::tempdir().unwrap();
    let config = sources_config(data.path(), &broker, &power_feed().await, &run);
    let database = brain_testkit::postgres::fresh_database(&postgres).await.unwrap();
    let mut env = distributed_env(&kafka, database.url(), &run);
    env.push(("BRAIN_CONFIG".into(), config.to_str().unwrap().to_owned()));
    env.push(("BRAIN_COMMON__DATA_DIR".into(), data.path().to_str().unwrap().to_owned()));
    let governance = spawn("governance,trust", &env);
    let ingestion = spawn("ingestion", &with_governance_peer(&env, &governance));
    every_channel(&governance.http, &ingestion.http, &ingestion.grpc, &governance.http, &broker, &run).await;
    drop((ingestion, governance));
    database.drop_now().await.unwrap();
}
