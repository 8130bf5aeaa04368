#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The data chain end to end: catalog → ingestion → governance → warehouse, rejected records
//! with reasons, re-submission, quality scores, no duplicates — in one process and across
//! processes on Kafka and PostgreSQL, including a governance crash mid-stream.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

async fn records(client: &reqwest::Client, http: &str, dataset: &str) -> Vec<Value> {
    // A small page size so that paging itself is exercised.
    records_paged(client, http, dataset, 7).await
}

async fn records_paged(client: &reqwest::Client, http: &str, dataset: &str, page_size: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut url = format!("{http}/api/v1/tenants/{TENANT}/datasets/{dataset}/records?page_size={page_size}");
        if let Some(t) = &token {
            url.push_str(&format!("&page_token={t}"));
        }
        let page: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        out.extend(page["records"].as_array().unwrap().iter().cloned());
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return out,
        }
    }
}

async fn rejected(client: &reqwest::Client, http: &str, dataset: &str) -> Vec<Value> {
    let page: Value = client.get(format!("{http}/api/v1/tenants/{TENANT}/datasets/{dataset}/rejected")).send().await.unwrap().json().await.unwrap();
    page["records"].as_array().unwrap().clone()
}

async fn wait_for_count(client: &reqwest::Client, http: &str, dataset: &str, n: usize, what: &str) -> Vec<Value> {
    eventually(Duration::from_secs(30), what, || async {
        let got = records(client, http, dataset).await;
        (got.len() >= n).then_some(got)
    })
    .await
}

/// The scenario, given where ingestion and governance answer (one process or two).
async fn data_chain(session: &Session, ingest_http: &str, governance_http: &str) {
    let client = session.http.clone();
    let created = client.post(format!("{governance_http}/api/v1/tenants/{TENANT}/datasets")).json(&textile_dataset()).send().await.unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let again = client.post(format!("{governance_http}/api/v1/tenants/{TENANT}/datasets")).json(&textile_dataset()).send().await.unwrap();
    assert_eq!(again.status(), 409);

    let mut batch = textile_batch(1, 5);
    let list = batch.as_array_mut().unwrap();
    list.push(json!({"_id": "bad-type", "enterprise_uscc": TENANT, "line": "L1", "output_m": "lots"}));
    list.push(json!({"_id": "bad-field", "enterprise_uscc": TENANT, "line": "L1", "output_m": 5, "colour": "indigo"}));
    list.push(json!({"_id": "bad-range", "enterprise_uscc": TENANT, "line": "L1", "output_m": -4}));
    list.push(json!({"_id": "bad-time", "_event_time": "yesterday", "line": "L1"}));
    let url = format!("{ingest_http}/api/v1/tenants/{TENANT}/datasets/production-output/records");
    let ack: Value = client.post(&url).json(&batch).send().await.unwrap().json().await.unwrap();
    assert_eq!((ack["accepted"].as_u64(), ack["rejected"].as_u64()), (Some(8), Some(1)), "{ack}");

    let stored = wait_for_count(&client, governance_http, "production-output", 5, "5 records in the warehouse").await;
    assert_eq!(stored.len(), 5);
    assert_eq!(stored[0]["payload"]["fabric"], "denim");
    assert_eq!(stored[0]["event_time"], "2026-11-22T00:00:00Z");

    let refused = eventually(Duration::from_secs(30), "4 rejected records", || async {
        let got = rejected(&client, governance_http, "production-output").await;
        (got.len() >= 4).then_some(got)
    })
    .await;
    let reason = |id: &str| -> (String, String) {
        let r = refused.iter().find(|r| r["record_id"] == id).unwrap_or_else(|| panic!("{id} not rejected: {refused:?}"));
        let v = &r["violations"][0];
        (v["field"].as_str().unwrap_or("").to_owned(), v["rule"].as_str().unwrap().to_owned())
    };
    assert_eq!(reason("bad-type"), ("output_m".into(), "type".into()));
    assert_eq!(reason("bad-field"), ("colour".into(), "known_field".into()));
    assert_eq!(reason("bad-range"), ("output_m".into(), "quality.range".into()));
    assert_eq!(reason("bad-time"), ("_event_time".into(), "event_time".into()));

    // The fix of a rejected record goes through under its id.
    let fixed = client
        .post(format!("{governance_http}/api/v1/tenants/{TENANT}/datasets/production-output/rejected/bad-type/resubmit"))
        .json(&json!({"enterprise_uscc": TENANT, "line": "L1", "output_m": 42}))
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.status(), 202);
    wait_for_count(&client, governance_http, "production-output", 6, "the re-submitted record").await;
    let twice = client
        .post(format!("{governance_http}/api/v1/tenants/{TENANT}/datasets/production-output/rejected/bad-type/resubmit"))
        .json(&json!({"output_m": 43}))
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 404, "a re-submitted rejection is closed");

    // A re-sent batch creates no duplicates, in the warehouse or among rejected records.
    // (Without the original invalid `bad-type`: sent again, it would be a new rejection.)
    batch.as_array_mut().unwrap().retain(|r| r["_id"] != "bad-type");
    let ack: Value = client.post(&url).json(&batch).send().await.unwrap().json().await.unwrap();
    assert_eq!(ack["accepted"], 7);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored_after = records(&client, governance_http, "production-output").await;
    assert_eq!(stored_after.len(), 6, "no duplicates after the re-sent batch: {stored_after:?}");
    assert!(stored_after.iter().any(|r| r["record_id"] == "bad-type" && r["payload"]["output_m"] == 42));

    let quality: Value = client
        .get(format!("{governance_http}/api/v1/tenants/{TENANT}/datasets/production-output/quality"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((quality["accepted"].as_i64(), quality["rejected"].as_i64()), (Some(6), Some(4)), "{quality}");
    assert_eq!(quality["score"], 60.0);

    // A unique key admits one record id per key value, in a batch and against the warehouse.
    let mut spec = textile_dataset();
    spec["name"] = json!("line-output");
    spec["quality_rules"] = json!([{"rule": "unique_key", "fields": ["enterprise_uscc", "line"]}]);
    let created = client.post(format!("{governance_http}/api/v1/tenants/{TENANT}/datasets")).json(&spec).send().await.unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let keyed_url = format!("{ingest_http}/api/v1/tenants/{TENANT}/datasets/line-output/records");
    let line = |id: &str, line: &str| json!({"_id": id, "enterprise_uscc": TENANT, "line": line, "output_m": 1});
    let first = json!([line("k1", "L1"), line("k2", "L1"), line("k3", "L2")]);
    client.post(&keyed_url).json(&first).send().await.unwrap();
    wait_for_count(&client, governance_http, "line-output", 2, "2 keyed records").await;
    client.post(&keyed_url).json(&json!([line("k1", "L1"), line("k4", "L2")])).send().await.unwrap();
    let refused = eventually(Duration::from_secs(30), "2 unique-key rejections", || async {
        let got = rejected(&client, governance_http, "line-output").await;
        (got.len() >= 2).then_some(got)
    })
    .await;
    let ids: Vec<&str> = refused.iter().map(|r| r["record_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["k2", "k4"], "{refused:?}");
    assert_eq!(refused[0]["violations"][0]["rule"], "quality.unique_key");
    assert!(refused[1]["violations"][0]["reason"].as_str().unwrap().ends_with("is already held by record k3"), "{refused:?}");
    let kept: Vec<String> = records(&client, governance_http, "line-output").await.iter().map(|r| r["record_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kept.len(), 2, "k1 again is a redelivery, not a conflict: {kept:?}");

    // Records of a dataset that is not in the catalog are refused at the API, saying why.
    let unknown = format!("{ingest_http}/api/v1/tenants/{TENANT}/datasets/not-registered/records");
    let refused = client.post(&unknown).json(&json!([{"_id": "u1", "a": 1}])).send().await.unwrap();
    assert_eq!(refused.status(), 404);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["detail"], format!("dataset {TENANT}/not-registered is not in the catalog; register it with governance first"), "{problem}");

    // Compatible evolution is allowed; an incompatible one explains the rule.
    let schema_url = format!("{governance_http}/api/v1/tenants/{TENANT}/datasets/production-output/schema");
    let mut fields = textile_dataset()["fields"].clone();
    fields.as_array_mut().unwrap().push(json!({"name": "shift", "type": "string"}));
    let evolved: Value = client.post(&schema_url).json(&json!({"fields": fields})).send().await.unwrap().json().await.unwrap();
    assert_eq!(evolved["schema_version"], 2, "{evolved}");
    fields.as_array_mut().unwrap().push(json!({"name": "operator", "type": "string", "required": true}));
    let refused = client.post(&schema_url).json(&json!({"fields": fields})).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["violations"][0]["rule"], "new_fields_optional", "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_chain_in_one_process() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let session = enterprise(&brain.http).await;
    data_chain(&session, &brain.http, &brain.http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_chain_across_processes_on_kafka_and_postgres() {
    let Some((database, env)) = distributed().await else { return };
    let governance = spawn("governance,trust", &env);
    let ingestion = spawn("ingestion", &with_governance_peer(&env, &governance));
    let session = enterprise(&governance.http).await;
    data_chain(&session, &ingestion.http, &governance.http).await;
    drop((ingestion, governance));
    database.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_governance_mid_stream_loses_and_duplicates_nothing() {
    let Some((database, env)) = distributed().await else { return };
    let mut governance = spawn("governance,trust", &env);
    // Ingestion asks governance about datasets, but does not stop taking records when it is gone.
    let ingestion = spawn("ingestion", &with_governance_peer(&env, &governance));
    let client = enterprise(&governance.http).await.http;
    let created = client.post(format!("{}/api/v1/tenants/{TENANT}/datasets", governance.http)).json(&textile_dataset()).send().await.unwrap();
    assert_eq!(created.status(), 201);

    // Push 40 batches of 50 while governance is killed and restarted in the middle.
    let url = format!("{}/api/v1/tenants/{TENANT}/datasets/production-output/records", ingestion.http);
    let mut sent = 0;
    for batch in 0..40 {
        if batch == 15 {
            governance.kill_hard();
        }
        if batch == 25 {
            governance = spawn("governance,trust", &env);
        }
        let body = textile_batch(batch, 50);
        let ack: Value = client.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
        sent += ack["accepted"].as_u64().unwrap();
    }
    assert_eq!(sent, 2000);
    let count = |http: String| {
        let client = client.clone();
        async move { records_paged(&client, &http, "production-output", 1000).await.len() }
    };
    eventually(Duration::from_secs(60), "all 2000 records in the warehouse", || {
        let c = count(governance.http.clone());
        async move { (c.await == 2000).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(governance.http.clone()).await, 2000, "exactly one row per record");
    let quality: Value = client
        .get(format!("{}/api/v1/tenants/{TENANT}/datasets/production-output/quality", governance.http))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quality["accepted"], 2000, "counted once each: {quality}");
    drop((ingestion, governance));
    database.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_ingestion_and_warehouse_over_grpc() {
    use brain_proto::common::v1::{DataDomain, DatasetRef, Library, PageRequest};
    use brain_proto::governance::v1 as gov;
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let channel = enterprise(&brain.http).await.grpc(&brain.grpc).await;
    let reference = DatasetRef { tenant_id: TENANT.into(), dataset: "energy-use".into() };
    let mut catalog = gov::catalog_service_client::CatalogServiceClient::new(channel.clone());
    let field = |name: &str, kind: gov::FieldType, required: bool| gov::Field { name: name.into(), r#type: kind as i32, required, ..Default::default() };
    let created = catalog
        .create_dataset(gov::CreateDatasetRequest {
            dataset: Some(gov::Dataset {
                r#ref: Some(reference.clone()),
                title: "Energy use per line (能耗)".into(),
                library: Library::Industry as i32,
                domain: DataDomain::Production as i32,
                schema: Some(gov::Schema {
                    fields: vec![field("line", gov::FieldType::String, true), field("kwh", gov::FieldType::Number, true)],
                    ..Default::default()
                }),
                quality_rules: vec![gov::QualityRule {
                    field: "kwh".into(),
                    rule: Some(gov::quality_rule::Rule::Range(gov::Range { min: 0.0, max: f64::INFINITY })),
                }],
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.schema.unwrap().version, 1);
    let missing = catalog.get_dataset(gov::GetDatasetRequest { r#ref: Some(DatasetRef { tenant_id: TENANT.into(), dataset: "nope".into() }) }).await;
    assert_eq!(missing.unwrap_err().code(), tonic::Code::NotFound);

    let mut ingestion = brain_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient::new(channel.clone());
    let records = (0..3)
        .map(|i| brain_proto::ingestion::v1::InputRecord {
            id: format!("e{i}"),
            event_time: None,
            payload_json: format!(r#"{{"line":"L{i}","kwh":{}}}"#, 100 + i).into_bytes(),
        })
        .collect();
    let ack = ingestion
        .ingest(brain_proto::ingestion::v1::IngestBatch { batch_id: "b1".into(), dataset: Some(reference.clone()), source: None, records })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.accepted, 3);

    let mut warehouse = gov::warehouse_service_client::WarehouseServiceClient::new(channel.clone());
    let stored = eventually(Duration::from_secs(30), "3 records over gRPC", || {
        let mut warehouse = warehouse.clone();
        let reference = reference.clone();
        async move {
            let page = warehouse
                .query_records(gov::QueryRecordsRequest { r#ref: Some(reference), range: None, page: Some(PageRequest { page_size: 2, page_token: String::new() }) })
                .await
                .ok()?
                .into_inner();
            (page.records.len() == 2).then_some(page)
        }
    })
    .await;
    let token = stored.page.unwrap().next_page_token;
    assert!(!token.is_empty(), "a second page exists");
    let rest = warehouse
        .query_records(gov::QueryRecordsRequest { r#ref: Some(reference.clone()), range: None, page: Some(PageRequest { page_size: 2, page_token: token }) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.records.len(), 1);

    let listed = catalog.list_datasets(gov::ListDatasetsRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.datasets.len(), 1);
    assert_eq!(listed.datasets[0].quality_rules.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_of_id_card_numbers_is_graded_high_with_an_explanation() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let client = enterprise(&brain.http).await.http;
    let base = format!("{}/api/v1/tenants/{TENANT}/datasets", brain.http);
    let spec = json!({
        "name": "workers",
        "title": "Line workers",
        "library": "basic",
        "domain": "management",
        "fields": [
            {"name": "worker_no", "type": "string", "required": true},
            {"name": "holder", "type": "string"},
            {"name": "shift", "type": "string"}
        ]
    });
    let created: Value = client.post(&base).json(&spec).send().await.unwrap().json().await.unwrap();
    let by_name = |c: &Value, field: &str| c["fields"].as_array().unwrap().iter().find(|f| f["field"] == field).unwrap().clone();
    // By name alone, "holder" says nothing.
    assert_eq!(by_name(&created["classification"], "holder")["grade"], "low", "{created}");

    let records: Vec<Value> = (0..20)
        .map(|i| json!({"_id": format!("w{i}"), "worker_no": format!("W{i:04}"), "holder": id_card("330602", &format!("19{}0315", 70 + i % 20), i), "shift": "night"}))
        .collect();
    let ack: Value = client.post(format!("{base}/workers/records")).json(&records).send().await.unwrap().json().await.unwrap();
    assert_eq!(ack["accepted"], 20, "{ack}");
    wait_for_count(&client, &brain.http, "workers", 20, "20 worker records").await;

    let outcome: Value = client.post(format!("{base}/workers/classification")).send().await.unwrap().json().await.unwrap();
    let holder = by_name(&outcome["classification"], "holder");
    assert_eq!(holder["grade"], "high", "{holder}");
    let explanation = holder["explanation"].as_str().unwrap();
    assert!(explanation.contains("resident ID card"), "{explanation}");
    assert!(explanation.contains("20 of 20"), "{explanation}");
    assert_eq!(outcome["classification"]["grade"], "high", "the dataset grade is its highest field grade");
    assert!(outcome["changes"].as_array().unwrap().iter().any(|c| c["field"] == "holder"), "{outcome}");

    // An authorized person overrides with a reason; the override is recorded and explained.
    let overridden: Value = client
        .post(format!("{base}/workers/grades"))
        .json(&json!({"field": "holder", "grade": "medium", "reason": "numbers are masked at the source"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let holder = by_name(&overridden, "holder");
    assert_eq!(holder["grade"], "medium", "{holder}");
    assert!(holder["explanation"].as_str().unwrap().contains("overridden"), "{holder}");
    let missing_reason = client
        .post(format!("{base}/workers/grades"))
        .json(&json!({"field": "holder", "grade": "low", "reason": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_reason.status(), 400);
    // Re-classification keeps the manual override.
    let again: Value = client.post(format!("{base}/workers/classification")).send().await.unwrap().json().await.unwrap();
    assert_eq!(by_name(&again["classification"], "holder")["grade"], "medium");
}

/// A brain's own classification rules replace the built-in ones; datasets graded under the
/// old rules are graded again at start, and a broken rules file stops the start with the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_classification_rules_regrade_datasets_at_start() {
    let data = tempfile::tempdir().unwrap();
    let mut brain = brain_up(data.path());
    let client = enterprise(&brain.http).await.http;
    let spec = json!({
        "name": "line-costs", "title": "Cost per line", "library": "industry", "domain": "management",
        "fields": [{"name": "line", "type": "string", "required": true}, {"name": "energy_cost", "type": "number"}]
    });
    let created: Value = client.post(format!("{}/api/v1/tenants/{TENANT}/datasets", brain.http)).json(&spec).send().await.unwrap().json().await.unwrap();
    assert_eq!(created["classification"]["rules_version"], "builtin-2025.1", "{created}");
    assert_eq!(created["classification"]["grade"], "medium", "cost is medium in the built-in dictionary: {created}");
    assert_eq!(brain.terminate(Duration::from_secs(20)), Some(0), "{}", brain.log());

    // This brain grades cost data high.
    let builtin = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../services/governance/src/domain/default_rules.yaml")).unwrap();
    let own = builtin.replace("version: builtin-2025.1", "version: textile-2026.2").replace(
        "    domain: management\n    grade: medium\n    reason: cost data reveals margins",
        "    domain: management\n    grade: high\n    reason: cost data of this cluster is a trade secret",
    );
    assert_ne!(own, builtin);
    let rules = data.path().join("rules.yaml");
    std::fs::write(&rules, own).unwrap();
    let rules_env = rules.to_str().unwrap().to_owned();
    let args = ["up", "--data-dir", data.path().to_str().unwrap(), "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"];
    let brain = brain_testkit::BrainProcess::spawn(&args, &[("BRAIN_GOVERNANCE__CLASSIFICATION_RULES", rules_env.as_str())]).unwrap();
    let url = format!("{}/api/v1/tenants/{TENANT}/datasets/line-costs", brain.http);
    let regraded = eventually(Duration::from_secs(30), "the re-classification", || async {
        let dataset: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        (dataset["classification"]["rules_version"] == "textile-2026.2").then_some(dataset)
    })
    .await;
    assert_eq!(regraded["classification"]["grade"], "high", "{regraded}");
    let field = regraded["classification"]["fields"].as_array().unwrap().iter().find(|f| f["field"] == "energy_cost").unwrap();
    assert!(field["explanation"].as_str().unwrap().contains("trade secret"), "{field}");
    drop(brain);

    std::fs::write(&rules, builtin.replace("match_share: 0.5", "match_share: 2")).unwrap();
    let output = std::process::Command::new(brain_testkit::process::brain_binary().unwrap())
        .args(args)
        .env("BRAIN_GOVERNANCE__CLASSIFICATION_RULES", &rules_env)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("governance.classification_rules") && stderr.contains("match_share"), "{stderr}");
}
