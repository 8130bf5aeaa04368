#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The model registry end to end (`brain up`): REST and gRPC, who may change what, precise
//! refusals, the grade a fine-tuned model inherits, and every change in the ledger.

mod common;

use brain_proto::gateway::v1 as pb;
use brain_proto::gateway::v1::model_registry_service_client::ModelRegistryServiceClient;
use common::*;
use serde_json::{Value, json};

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn fields(problem: &Value) -> Vec<(String, String)> {
    problem["violations"].as_array().unwrap().iter().map(|v| (v["field"].as_str().unwrap_or("").to_owned(), v["rule"].as_str().unwrap().to_owned())).collect()
}

fn pair(field: &str, rule: &str) -> (String, String) {
    (field.to_owned(), rule.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_are_registered_promoted_and_retired_over_rest_and_grpc() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let http = brain.http.as_str();
    let models = format!("{http}/api/v1/models");
    let admin = platform_admin(http).await;
    let operator = platform_officer(http, &admin, "ops", "operator").await;
    let vendor = tenant_user(http, &admin, "ai-vendor", "service-provider", "vendor", &["provider"]).await;
    let weaver = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;

    // A provider registers an external foundation model; it starts in development.
    let base = json!({"name": "vendor-chat", "level": "foundation", "description": "hosted chat model",
        "version": {"version": "2026-01", "endpoints": [{"url": "https://api.vendor.example/v1", "location": "external", "max_concurrency": 32}]}});
    let (status, created) = answer(vendor.http.post(&models).json(&base).send().await.unwrap()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["owner_tenant"].as_str(), created["versions"][0]["stage"].as_str()), (Some("ai-vendor"), Some("development")), "{created}");
    assert_eq!(created["versions"][0]["endpoints"][0]["weight"], 100, "{created}");
    assert_eq!(answer(vendor.http.post(&models).json(&base).send().await.unwrap()).await.0, 409, "the name is taken");
    assert_eq!(answer(weaver.http.post(&models).json(&base).send().await.unwrap()).await.0, 403, "enterprises read the catalog only");

    // Every problem of a registration at once, field by field; malformed JSON says where.
    let bad = json!({"name": "Bad Name", "level": "industry",
        "version": {"version": "", "endpoints": [{"url": "https://user:pw@api.example.com/v1?key=1", "location": "external", "max_concurrency": 0, "api_key_secret_env": "sk-live-123"}]}});
    let (status, problem) = answer(vendor.http.post(&models).json(&bad).send().await.unwrap()).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        fields(&problem),
        [
            pair("name", "name"),
            pair("parent", "parent"),
            pair("version.version", "name"),
            pair("version.endpoints[0].url", "url"),
            pair("version.endpoints[0].max_concurrency", "range"),
            pair("version.endpoints[0].api_key_secret_env", "secret_env"),
            pair("version.training_datasets", "required"),
        ],
        "{problem}"
    );
    assert!(!problem.to_string().contains("sk-live-123"), "a pasted key is not echoed: {problem}");
    let (status, problem) = answer(vendor.http.post(&models).json(&json!({"name": "m", "level": "foundation", "version": {"version": "1", "endpoints": [{"url": "http://a/v1", "location": "cloud", "max_concurrency": 1}]}})).send().await.unwrap()).await;
    assert_eq!((status, fields(&problem)), (400, vec![pair("version.endpoints[0].location", "json")]), "{problem}");

    // Staging, then production: an external endpoint without a key needs nobody's attestation.
    let promote = |model: &str, version: &str| format!("{models}/{model}/versions/{version}/promote");
    let (status, skipped) = answer(vendor.http.post(promote("vendor-chat", "2026-01")).json(&json!({"stage": "production"})).send().await.unwrap()).await;
    assert_eq!(status, 409, "production only through staging: {skipped}");
    assert_eq!(answer(vendor.http.post(promote("vendor-chat", "2026-01")).json(&json!({"stage": "staging"})).send().await.unwrap()).await.0, 200);
    let (status, serving) = answer(vendor.http.post(promote("vendor-chat", "2026-01")).json(&json!({"stage": "production", "reason": "evaluated"})).send().await.unwrap()).await;
    assert_eq!((status, serving["production_version"].as_str()), (200, Some("2026-01")), "{serving}");

    // The platform's foundation model over gRPC: the administrator registers (two factors),
    // the operator promotes.
    let mut as_admin = ModelRegistryServiceClient::new(admin.grpc(&brain.grpc).await);
    let on_premise = pb::Endpoint { url: "http://vllm-0.models.svc:8000/v1".into(), location: pb::EndpointLocation::OnPremise as i32, max_concurrency: 64, ..Default::default() };
    let registered = as_admin
        .register_model(pb::RegisterModelRequest {
            name: "qwen2.5-72b".into(),
            level: pb::ModelLevel::Foundation as i32,
            version: Some(pb::NewVersion {
                version: "2025-01".into(),
                endpoints: vec![on_premise.clone()],
                training_datasets: vec![brain_proto::common::v1::DatasetRef { tenant_id: "platform".into(), dataset: "industry-corpus".into() }],
                trained_on_grade: brain_proto::common::v1::Grade::High as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((registered.owner_tenant_id.as_str(), registered.lineage_grade), ("platform", brain_proto::common::v1::Grade::High as i32));
    let mut as_operator = ModelRegistryServiceClient::new(operator.grpc(&brain.grpc).await);
    for stage in [pb::Stage::Staging, pb::Stage::Production] {
        let request = pb::PromoteVersionRequest { name: "qwen2.5-72b".into(), version: "2025-01".into(), stage: stage as i32, reason: String::new() };
        as_operator.promote_version(request).await.unwrap();
    }

    // A fine-tuned child inherits high: only on-premise endpoints may serve it.
    let child = json!({"name": "textile-qa", "level": "industry", "parent": "qwen2.5-72b",
        "version": {"version": "1", "training_datasets": [format!("{TENANT}/production-output")], "trained_on_grade": "low",
                    "endpoints": [{"url": "https://api.vendor.example/v1", "location": "external", "max_concurrency": 8}]}});
    let (status, problem) = answer(vendor.http.post(&models).json(&child).send().await.unwrap()).await;
    assert_eq!((status, fields(&problem)), (400, vec![pair("version.endpoints[0].location", "location_grade")]), "{problem}");
    let mut child = child;
    child["version"]["endpoints"] = json!([{"url": "http://vllm-7.models.svc:8000/v1", "location": "on_premise", "max_concurrency": 8}]);
    let (status, created) = answer(vendor.http.post(&models).json(&child).send().await.unwrap()).await;
    assert_eq!((status, created["versions"][0]["effective_grade"].as_str()), (201, Some("high")), "{created}");
    vendor.http.post(promote("textile-qa", "1")).json(&json!({"stage": "staging"})).send().await.unwrap();
    let (status, problem) = answer(vendor.http.post(promote("textile-qa", "1")).json(&json!({"stage": "production"})).send().await.unwrap()).await;
    assert_eq!(status, 403, "an on-premise claim goes to production with the platform's word: {problem}");

    // Everyone reads the catalog; the addresses only the owner and the platform.
    let (status, seen) = answer(weaver.http.get(format!("{models}/textile-qa")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{seen}");
    assert!(seen["versions"][0]["endpoints"][0].get("url").is_none() && seen["versions"][0]["endpoints"][0]["location"] == "on_premise", "{seen}");
    let (_, own) = answer(vendor.http.get(format!("{models}/textile-qa")).send().await.unwrap()).await;
    assert_eq!(own["versions"][0]["endpoints"][0]["url"], "http://vllm-7.models.svc:8000/v1");
    let (status, missing) = answer(weaver.http.get(format!("{models}/no-such-model")).send().await.unwrap()).await;
    assert_eq!((status, missing["code"].as_str()), (404, Some("not_found")), "{missing}");
    let (_, page) = answer(weaver.http.get(format!("{models}?level=foundation&stage=production")).send().await.unwrap()).await;
    let names: Vec<&str> = page["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["qwen2.5-72b", "vendor-chat"], "{page}");
    let (status, problem) = answer(weaver.http.get(format!("{models}?level=cloud&page_size=many")).send().await.unwrap()).await;
    assert_eq!((status, fields(&problem)), (400, vec![pair("level", "enum"), pair("page_size", "range")]), "{problem}");
    let (_, first) = answer(weaver.http.get(format!("{models}?page_size=1")).send().await.unwrap()).await;
    assert_eq!(first["next_page_token"], "qwen2.5-72b", "{first}");
    let mut as_weaver = ModelRegistryServiceClient::new(weaver.grpc(&brain.grpc).await);
    let listed = as_weaver
        .list_models(pb::ListModelsRequest { parent: "qwen2.5-72b".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["textile-qa"]);
    assert!(listed.models[0].versions[0].endpoints[0].url.is_empty(), "redacted over gRPC too");
    let refused = as_weaver.retire_version(pb::RetireVersionRequest { name: "vendor-chat".into(), version: "2026-01".into(), reason: String::new() }).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // Retired for good.
    let retire = format!("{models}/vendor-chat/versions/2026-01/retire");
    let (status, retired) = answer(vendor.http.post(&retire).json(&json!({"reason": "contract ended"})).send().await.unwrap()).await;
    assert_eq!((status, retired["versions"][0]["stage"].as_str(), retired.get("production_version").and_then(Value::as_str)), (200, Some("retired"), None), "{retired}");
    assert_eq!(answer(vendor.http.post(&retire).send().await.unwrap()).await.0, 409, "already retired (and the body is optional)");
    let again = as_admin.promote_version(pb::PromoteVersionRequest { name: "vendor-chat".into(), version: "2026-01".into(), stage: pb::Stage::Staging as i32, reason: String::new() }).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition, "{again:?}");

    // The auditor finds every change in the ledger.
    let auditor = platform_officer(http, &admin, "auditor", "auditor").await;
    let entries: Value = auditor.http.get(format!("{http}/api/v1/ledger/entries?limit=1000")).send().await.unwrap().json().await.unwrap();
    let actions: Vec<(&str, &str)> = entries["entries"].as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["subject"].as_str().unwrap())).collect();
    for expected in [("model.register", "vendor-chat"), ("model.promote", "vendor-chat"), ("model.register", "qwen2.5-72b"), ("model.promote", "qwen2.5-72b"), ("model.register", "textile-qa"), ("model.retire", "vendor-chat")] {
        assert!(actions.contains(&expected), "{expected:?} not in the ledger: {actions:?}");
    }
}
