#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The trust layer end to end: tenant isolation over every route and RPC, authorized use of
//! data under grants (shaping, masking, revocation), signed reports verified offline, the
//! tamper-evident ledger on both SQL engines, and refusal of bad credentials.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// A second enterprise, with a valid unified social credit code.
fn other_enterprise() -> String {
    let first17 = "91330602MA2BCDE8G";
    format!("{first17}{}", brain_auth::uscc::check_character(first17).unwrap())
}

async fn created(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Registers `spec` for the session's tenant, sends `records` and waits until the warehouse holds them.
async fn dataset_with_records(http: &str, owner: &Session, spec: &Value, records: &Value) {
    let tenant = &owner.tenant;
    let name = spec["name"].as_str().unwrap();
    created(owner.http.post(format!("{http}/api/v1/tenants/{tenant}/datasets")).json(spec).send().await.unwrap(), "dataset").await;
    let ack = created(owner.http.post(format!("{http}/api/v1/tenants/{tenant}/datasets/{name}/records")).json(records).send().await.unwrap(), "records").await;
    let expected = records.as_array().unwrap().len();
    assert_eq!(ack["accepted"].as_u64(), Some(expected as u64), "{ack}");
    let url = format!("{http}/api/v1/tenants/{tenant}/datasets/{name}/records?page_size=1000");
    eventually(Duration::from_secs(30), "records in the warehouse", || async {
        let page: Value = owner.http.get(&url).send().await.ok()?.json().await.ok()?;
        (page["records"].as_array()?.len() == expected).then_some(())
    })
    .await;
}

// ---- authorized use of data ------------------------------------------------------------

fn day(d: u32) -> String {
    format!("2026-11-{d:02}T08:00:00Z")
}

fn workers_spec() -> Value {
    json!({
        "name": "workers", "title": "Line workers", "library": "basic", "domain": "management",
        "fields": [
            {"name": "worker_no", "type": "string", "required": true},
            {"name": "holder", "type": "string"},
            {"name": "shift", "type": "string"},
            {"name": "output_m", "type": "integer"}
        ]
    })
}

/// Ten workers on days 1-10, night shift on odd days.
fn workers() -> Value {
    (1..=10u32)
        .map(|d| {
            json!({"_id": format!("w{d}"), "_event_time": day(d), "worker_no": format!("W{d:04}"),
                   "holder": id_card("330602", &format!("19{}0315", 70 + d), d), "shift": if d % 2 == 1 { "night" } else { "day" }, "output_m": 1000 + d})
        })
        .collect()
}

/// The whole life of a grant, given where trust (with governance and ingestion) answers.
async fn grant_lifecycle(http: &str, grpc: &str) {
    let admin = platform_admin(http).await;
    let owner = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let bank = tenant_user(http, &admin, "bank-hz-01", "bank", "credit-officer", &["enterprise-user"]).await;
    let outsider = tenant_user(http, &admin, &other_enterprise(), "enterprise", "dyer", &["enterprise-admin"]).await;
    dataset_with_records(http, &owner, &workers_spec(), &workers()).await;
    let graded: Value = owner.http.post(format!("{http}/api/v1/tenants/{TENANT}/datasets/workers/classification")).send().await.unwrap().json().await.unwrap();
    let holder_grade = graded["classification"]["fields"].as_array().unwrap().iter().find(|f| f["field"] == "holder").unwrap()["grade"].clone();
    assert_eq!(holder_grade, "high", "{graded}");

    // The factory's onboarding is reported: every check passed, a hash of all ten records.
    let onboarding_url = format!("{http}/api/v1/tenants/{TENANT}/datasets/workers/onboarding-report");
    let onboarding = created(owner.http.post(&onboarding_url).send().await.unwrap(), "onboarding report").await;
    assert_eq!((onboarding["body"]["kind"].as_str(), onboarding["body"]["records"].as_u64()), (Some("onboarding"), Some(10)), "{onboarding}");
    assert!(onboarding["body"]["checks"].as_array().unwrap().iter().all(|c| c["passed"] == true), "{onboarding}");
    assert_eq!(outsider.http.post(&onboarding_url).send().await.unwrap().status(), 403, "only the owner reports its onboarding");

    // Only registered products circulate: the owner registers night-shift rows, graded up to medium.
    let product = created(
        owner
            .http
            .post(format!("{http}/api/v1/products"))
            .json(&json!({"dataset": "workers", "title": "Night-shift output", "fields": ["worker_no", "holder", "shift", "output_m"],
                          "filters": ["shift = \"night\""], "max_grade": "medium", "terms": "credit assessment only", "price_fen": 100}))
            .send()
            .await
            .unwrap(),
        "product",
    )
    .await;
    let product_id = product["id"].as_str().unwrap().to_owned();

    // The bank asks for three fields of days 1-6; the owner approves two of them.
    let ask = json!({"product_id": product_id, "purpose": "credit assessment", "fields": ["worker_no", "holder", "output_m"],
                     "data_period": {"start": day(1), "end": day(7)}, "expires_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()});
    let grant = created(bank.http.post(format!("{http}/api/v1/grants")).json(&ask).send().await.unwrap(), "access request").await;
    let grant_id = grant["id"].as_str().unwrap().to_owned();
    let read_url = format!("{http}/api/v1/grants/{grant_id}/records");
    let early = bank.http.get(&read_url).send().await.unwrap();
    assert_eq!(early.status(), 403, "a requested grant does not read: {}", early.text().await.unwrap());
    let by_bank = bank.http.post(format!("{http}/api/v1/grants/{grant_id}/decision")).json(&json!({"approve": true})).send().await.unwrap();
    assert_eq!(by_bank.status(), 403, "the consumer cannot approve its own request");
    let approved = created(
        owner.http.post(format!("{http}/api/v1/grants/{grant_id}/decision")).json(&json!({"approve": true, "fields": ["worker_no", "holder"]})).send().await.unwrap(),
        "approval",
    )
    .await;
    assert_eq!(approved["status"], "active", "{approved}");

    // Rows outside the period and the product's filter are absent, fields outside the grant
    // are absent, and the high-graded holder is masked by the high grade's policy: hashing,
    // which without a configured salt drops the value (the built-in rules set no salt).
    let page = created(bank.http.get(&read_url).send().await.unwrap(), "read under the grant").await;
    let records = page["records"].as_array().unwrap();
    let ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["w1", "w3", "w5"], "night shifts of days 1-6: {page}");
    for (record, number) in records.iter().zip(["W0001", "W0003", "W0005"]) {
        assert_eq!(record["fields"], json!({"worker_no": number}), "{record}");
    }
    assert!(!page.to_string().contains("330602"), "no ID card number leaves: {page}");
    let report_id = page["report_id"].as_str().unwrap().to_owned();
    assert!(page["ledger_seq"].as_u64().unwrap() > 0);

    // The same over gRPC.
    let mut access = brain_proto::trust::v1::access_service_client::AccessServiceClient::new(bank.grpc(grpc).await);
    let read = brain_proto::trust::v1::ReadGrantedRequest { grant_id: grant_id.clone(), ..Default::default() };
    let granted = access.read_granted(read.clone()).await.unwrap().into_inner();
    assert_eq!(granted.records.len(), 3);
    let fields: Value = serde_json::from_slice(&granted.records[0].fields_json).unwrap();
    assert_eq!(fields, json!({"worker_no": "W0001"}));

    // A third tenant sees neither the grant nor its report nor its records.
    assert_eq!(outsider.http.get(&read_url).send().await.unwrap().status(), 404);
    assert_eq!(outsider.http.get(format!("{http}/api/v1/reports/{report_id}")).send().await.unwrap().status(), 404);

    // The signed report verifies offline with the ledger's public key — and fails once altered.
    let report: Value = bank.http.get(format!("{http}/api/v1/reports/{report_id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["body"]["records"], 3, "{report}");
    let checks: Vec<&str> = report["body"]["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for check in ["identity", "grant", "product", "grade", "masking"] {
        assert!(checks.contains(&check), "{check} missing from {checks:?}");
    }
    let grade_check = report["body"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "grade").unwrap();
    assert!(grade_check["detail"].as_str().unwrap().contains("holder"), "{grade_check}");
    assert_eq!(report["body"]["content_hash"], page["content_sha256"]);
    let owner_copy: Value = owner.http.get(format!("{http}/api/v1/reports/{report_id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(owner_copy, report, "both parties hold the same report");
    let key: Value = reqwest::get(format!("{http}/api/v1/ledger/public-key")).await.unwrap().json().await.unwrap();
    let files = tempfile::tempdir().unwrap();
    let pem = files.path().join("ledger.pem");
    std::fs::write(&pem, key["public_key_pem"].as_str().unwrap()).unwrap();
    let report_file = files.path().join("report.json");
    std::fs::write(&report_file, report.to_string()).unwrap();
    let verify = |file: &std::path::Path| {
        std::process::Command::new(brain_testkit::process::brain_binary().unwrap())
            .args(["report", "verify", file.to_str().unwrap(), "--public-key", pem.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let good = verify(&report_file);
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert!(String::from_utf8_lossy(&good.stdout).contains("verifies"));
    let mut altered = report.clone();
    altered["body"]["records"] = json!(30);
    let altered_file = files.path().join("altered.json");
    std::fs::write(&altered_file, altered.to_string()).unwrap();
    let onboarding_file = files.path().join("onboarding.json");
    std::fs::write(&onboarding_file, onboarding.to_string()).unwrap();
    assert!(verify(&onboarding_file).status.success(), "the onboarding report verifies offline too");
    let bad = verify(&altered_file);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("does NOT verify"), "{}", String::from_utf8_lossy(&bad.stderr));

    // Every read is metered for the consumer.
    let usage_url = format!("{http}/api/v1/tenants/bank-hz-01/usage");
    eventually(Duration::from_secs(30), "data reads metered", || async {
        let usage: Value = bank.http.get(&usage_url).send().await.ok()?.json().await.ok()?;
        let read = usage["totals"].as_array()?.iter().find(|t| t["kind"] == "data_read")?["quantity"].as_f64()?;
        (read == 6.0).then_some(())
    })
    .await;

    // Revocation takes effect on the next read, over REST and gRPC.
    created(owner.http.post(format!("{http}/api/v1/grants/{grant_id}/revoke")).json(&json!({"reason": "loan decided"})).send().await.unwrap(), "revocation").await;
    let refused = bank.http.get(&read_url).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let problem: Value = refused.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("revoked"), "{problem}");
    assert_eq!(access.read_granted(read).await.unwrap_err().code(), tonic::Code::PermissionDenied);

    // The auditor finds the whole story in the ledger, and the ledger verifies.
    let auditor = platform_officer(http, &admin, "auditor", "auditor").await;
    let entries: Value = auditor.http.get(format!("{http}/api/v1/ledger/entries?limit=1000")).send().await.unwrap().json().await.unwrap();
    let actions: Vec<&str> = entries["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["dataset.create", "product.register", "grant.request", "grant.approve", "data.read_granted", "grant.revoke"] {
        assert!(actions.contains(&action), "{action} not in the ledger: {actions:?}");
    }
    let denied_read = entries["entries"].as_array().unwrap().iter().any(|e| e["action"] == "data.read_granted" && e["result"] == "denied");
    assert!(denied_read, "the refused read is audited too");
    let verified: Value = auditor.http.post(format!("{http}/api/v1/ledger/verify")).send().await.unwrap().json().await.unwrap();
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(bank.http.get(format!("{http}/api/v1/ledger/entries")).send().await.unwrap().status(), 403, "tenants do not read the ledger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_shapes_reads_and_its_revocation_refuses_the_next_read_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    let mut brain = brain_up(data.path());
    grant_lifecycle(&brain.http, &brain.grpc).await;
    assert_eq!(brain.terminate(Duration::from_secs(20)), Some(0), "{}", brain.log());

    // Every step was also announced on the bus, each with its ledger sequence number.
    use brain_bus::EventBus;
    use prost::Message;
    let settings = brain_bus::BusSettings::from(&brain_config::BusConfig::default());
    let log = brain_bus::EmbeddedLog::open(&data.path().join("bus"), settings).unwrap();
    let mut announced = Vec::new();
    for partition in 0..brain_config::BusConfig::default().partitions {
        for event in log.read("brain.audit.events.v1", partition, 0, 100_000).await.unwrap() {
            let audit = brain_proto::events::v1::AuditEvent::decode(event.payload.as_slice()).unwrap();
            assert!(audit.ledger_seq > 0, "{audit:?}");
            announced.push(audit.action);
        }
    }
    for action in ["grant.request", "grant.approve", "data.read_granted", "grant.revoke"] {
        assert!(announced.iter().any(|a| a == action), "{action} not announced: {announced:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_shapes_reads_and_its_revocation_refuses_the_next_read_on_postgres() {
    let Some((database, env)) = distributed().await else { return };
    let brain = spawn("ingestion,governance,trust,evaluation", &env);
    grant_lifecycle(&brain.http, &brain.grpc).await;
    drop(brain);
    database.drop_now().await.unwrap();
}

// ---- the tamper-evident ledger ---------------------------------------------------------

/// Some key operations, so that the ledger has entries; returns the auditor.
async fn audited_activity(http: &str) -> Session {
    let admin = platform_admin(http).await;
    let owner = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    created(owner.http.post(format!("{http}/api/v1/tenants/{TENANT}/datasets")).json(&textile_dataset()).send().await.unwrap(), "dataset").await;
    platform_officer(http, &admin, "auditor", "auditor").await
}

async fn verify_api(http: &str, auditor: &Session) -> Value {
    auditor.http.post(format!("{http}/api/v1/ledger/verify")).send().await.unwrap().json().await.unwrap()
}

/// Edits entry 3's subject directly in the database, as someone with database access would.
async fn tamper(database_url: &str) {
    let store = brain_store::Store::connect(database_url).await.unwrap();
    let changed = store.unscoped().execute("UPDATE ledger_entries SET subject = 'nothing happened' WHERE seq = 3", &[]).await.unwrap();
    assert_eq!(changed, 1);
    store.close().await;
}

fn cli_verify(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(brain_testkit::process::brain_binary().unwrap());
    command.args(["ledger", "verify"]);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_ledger_row_in_sqlite_is_detected_with_its_sequence_number() {
    let data = tempfile::tempdir().unwrap();
    let mut brain = brain_up(data.path());
    let auditor = audited_activity(&brain.http).await;
    let before = verify_api(&brain.http, &auditor).await;
    assert_eq!(before["ok"], true, "{before}");
    assert!(before["entries_checked"].as_u64().unwrap() >= 5, "{before}");
    assert_eq!(brain.terminate(Duration::from_secs(20)), Some(0), "{}", brain.log());

    let data_dir = data.path().to_str().unwrap();
    let clean = cli_verify(&[("BRAIN_COMMON__DATA_DIR", data_dir)]);
    assert!(clean.status.success(), "{}{}", String::from_utf8_lossy(&clean.stdout), String::from_utf8_lossy(&clean.stderr));
    tamper(&format!("sqlite://{data_dir}/brain.db")).await;
    let broken = cli_verify(&[("BRAIN_COMMON__DATA_DIR", data_dir)]);
    assert!(!broken.status.success());
    let stdout = String::from_utf8_lossy(&broken.stdout);
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("first broken sequence number 3"), "{stdout}{stderr}");
    assert!(stdout.contains("seq 3"), "{stdout}");

    // The restarted brain reports the same through its API (the auditor's token, signed with
    // the brain's key, is still valid).
    let brain = brain_up(data.path());
    let after = verify_api(&brain.http, &auditor).await;
    assert_eq!((after["ok"].as_bool(), after["first_broken_seq"].as_u64()), (Some(false), Some(3)), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_ledger_row_in_postgres_is_detected_with_its_sequence_number() {
    let Some((database, env)) = distributed().await else { return };
    let brain = spawn("governance,trust", &env);
    let auditor = audited_activity(&brain.http).await;
    assert_eq!(verify_api(&brain.http, &auditor).await["ok"], true);
    tamper(database.url()).await;
    let after = verify_api(&brain.http, &auditor).await;
    assert_eq!((after["ok"].as_bool(), after["first_broken_seq"].as_u64()), (Some(false), Some(3)), "{after}");
    let reasons = after["problems"].to_string();
    assert!(reasons.contains("seq 3"), "{after}");

    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let broken = cli_verify(&env);
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("first broken sequence number 3"), "{}", String::from_utf8_lossy(&broken.stderr));
    drop(brain);
    database.drop_now().await.unwrap();
}

// ---- tenant isolation over every route and RPC -----------------------------------------

/// What tenant B keeps to itself; none of it may reach tenant A.
struct Secrets {
    tenant: String,
    dataset: &'static str,
    record_id: &'static str,
    grant_id: String,
    product_id: String,
    report_id: String,
    key_id: String,
    seq: u64,
    /// Strings that appear only in B's data: a record value, a user name, ids.
    markers: Vec<String>,
}

impl Secrets {
    /// A marker in `text` that the caller did not send itself (echoing a requested id back
    /// in "grant G-1 does not exist" tells nothing).
    fn leaked(&self, text: &str, sent: &str) -> Option<&String> {
        self.markers.iter().find(|m| text.contains(m.as_str()) && !sent.contains(m.as_str()))
    }
}

/// Tenant B with a dataset, records, an API key, a product, a grant to a bank and a read
/// under it (so a report and ledger entries of B's exist).
async fn tenant_b(http: &str, admin: &Session) -> Secrets {
    let tenant = other_enterprise();
    let b = tenant_user(http, admin, &tenant, "enterprise", "dyer", &["enterprise-admin"]).await;
    let spec = json!({"name": "dye-recipes", "title": "Dye recipes", "library": "industry", "domain": "production",
                      "fields": [{"name": "recipe", "type": "string", "required": true}, {"name": "vat", "type": "integer"}]});
    let records = json!([{"_id": "r-4711", "_event_time": day(2), "recipe": "B-SECRET-4711 indigo 3%", "vat": 7}]);
    dataset_with_records(http, &b, &spec, &records).await;
    let key = created(b.http.post(format!("{http}/api/v1/identity/tenants/{tenant}/api-keys")).json(&json!({"name": "erp", "roles": ["enterprise-admin"]})).send().await.unwrap(), "api key").await;
    let product = created(
        b.http.post(format!("{http}/api/v1/products")).json(&json!({"dataset": "dye-recipes", "title": "Vat usage", "fields": ["vat"], "max_grade": "medium"})).send().await.unwrap(),
        "product",
    )
    .await;
    let bank = tenant_user(http, admin, "bank-walk", "bank", "analyst", &["enterprise-user"]).await;
    let ask = json!({"product_id": product["id"], "purpose": "audit", "fields": ["vat"], "data_period": {"start": day(1), "end": day(9)},
                     "expires_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()});
    let grant = created(bank.http.post(format!("{http}/api/v1/grants")).json(&ask).send().await.unwrap(), "request").await;
    let grant_id = grant["id"].as_str().unwrap().to_owned();
    created(b.http.post(format!("{http}/api/v1/grants/{grant_id}/decision")).json(&json!({"approve": true})).send().await.unwrap(), "approval").await;
    let read = created(bank.http.get(format!("{http}/api/v1/grants/{grant_id}/records")).send().await.unwrap(), "read").await;
    let key_id = key["key"]["id"].as_str().unwrap().to_owned();
    let report_id = read["report_id"].as_str().unwrap().to_owned();
    Secrets {
        markers: vec!["B-SECRET-4711".into(), "dyer".into(), key_id.clone(), grant_id.clone(), report_id.clone(), "bank-walk".into()],
        tenant,
        dataset: "dye-recipes",
        record_id: "r-4711",
        product_id: product["id"].as_str().unwrap().to_owned(),
        seq: read["ledger_seq"].as_u64().unwrap(),
        grant_id,
        report_id,
        key_id,
    }
}

/// `path` with every `{parameter}` replaced by B's resource; whether one was B-specific.
fn aimed_at_b(path: &str, b: &Secrets) -> (String, bool) {
    let mut out = String::new();
    let mut targeted = false;
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).unwrap();
        out.push_str(&rest[..open]);
        let parameter = &rest[open + 1..close];
        let value = match parameter {
            "tenant" => b.tenant.clone(),
            "dataset" => b.dataset.to_owned(),
            "record_id" => b.record_id.to_owned(),
            "grant_id" => b.grant_id.clone(),
            "product_id" => b.product_id.clone(),
            "report_id" => b.report_id.clone(),
            "seq" => b.seq.to_string(),
            "id" => b.key_id.clone(),
            // Resources of services not built yet (jobs, models, components): nobody's.
            other => format!("unknown-{other}"),
        };
        // The product catalog is open to every tenant; withdrawing is the owner's.
        let owned_by_b = !value.starts_with("unknown-") && (parameter != "product_id" || path.ends_with("/withdraw"));
        targeted |= owned_by_b;
        out.push_str(&value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    (out, targeted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_tenant_a_the_resources_of_tenant_b_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    cross_tenant_walk(&brain.http, &brain.grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_tenant_a_the_resources_of_tenant_b_on_postgres() {
    let Some((database, env)) = distributed().await else { return };
    let brain = spawn("all", &env);
    cross_tenant_walk(&brain.http, &brain.grpc).await;
    drop(brain);
    database.drop_now().await.unwrap();
}

/// Tenant A calls every route and every RPC aimed at tenant B's resources.
async fn cross_tenant_walk(http: &str, grpc: &str) {
    let admin = platform_admin(http).await;
    let a = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let b = tenant_b(http, &admin).await;

    let openapi: Value = reqwest::get(format!("{http}/openapi.json")).await.unwrap().json().await.unwrap();
    let mut calls = 0;
    let mut failures = Vec::new();
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        let (url, targeted) = aimed_at_b(path, &b);
        for method in operations.as_object().unwrap().keys().filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str())) {
            let request = a.http.request(method.to_uppercase().parse().unwrap(), format!("{http}{url}"));
            let request = if method == "get" { request } else { request.json(&json!({})) };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            calls += 1;
            if let Some(marker) = b.leaked(&body, &url) {
                failures.push(format!("{method} {url}: {status} leaks {marker:?}: {body}"));
            } else if status >= 500 && status != 501 {
                failures.push(format!("{method} {url}: server error {status}: {body}"));
            } else if targeted && (200..300).contains(&status) {
                failures.push(format!("{method} {url}: {status} — tenant A reached tenant B's resource: {body}"));
            } else if targeted && method == "get" && ![403, 404].contains(&status) {
                failures.push(format!("{method} {url}: {status}, expected 403 or 404: {body}"));
            }
        }
    }
    assert!(calls >= 40, "only {calls} calls: is /openapi.json complete?");
    assert!(failures.is_empty(), "{} of {calls} calls misbehave:\n{}", failures.len(), failures.join("\n"));

    // Another tenant's grant and a grant that does not exist look the same.
    let theirs: Value = a.http.get(format!("{http}/api/v1/grants/{}/records", b.grant_id)).send().await.unwrap().json().await.unwrap();
    let nobody: Value = a.http.get(format!("{http}/api/v1/grants/G-nonexistent/records")).send().await.unwrap().json().await.unwrap();
    assert_eq!((theirs["status"].clone(), theirs["code"].clone()), (nobody["status"].clone(), nobody["code"].clone()), "{theirs} vs {nobody}");
    let walked = every_rpc_refuses_tenant_a(grpc, &a, &b).await;
    eprintln!("{calls} REST calls and {walked} RPCs as tenant A against tenant B: refused, nothing leaked");
}

/// Raw protobuf on the wire: requests built from the descriptors, answers kept as bytes.
mod raw {
    use bytes::{Buf, BufMut};
    use tonic::Status;
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    #[derive(Default)]
    pub struct Bytes;
    pub struct Enc;
    pub struct Dec;

    impl Codec for Bytes {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = Enc;
        type Decoder = Dec;
        fn encoder(&mut self) -> Enc {
            Enc
        }
        fn decoder(&mut self) -> Dec {
            Dec
        }
    }

    impl Encoder for Enc {
        type Item = Vec<u8>;
        type Error = Status;
        fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for Dec {
        type Item = Vec<u8>;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
            Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
        }
    }
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn length_delimited(number: i32, bytes: &[u8], out: &mut Vec<u8>) {
    varint(((number as u64) << 3) | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// A request message aimed at B: string and integer fields named like B's resources get
/// them, nested messages of the platform are filled the same way (three levels deep).
fn encode_aimed(messages: &std::collections::HashMap<String, prost_types::DescriptorProto>, name: &str, b: &Secrets, depth: u32) -> (Vec<u8>, bool) {
    use prost_types::field_descriptor_proto::Type;
    let mut out = Vec::new();
    let mut targeted = false;
    let Some(message) = messages.get(name) else { return (out, false) };
    for field in &message.field {
        let number = field.number();
        let value = match field.name() {
            "tenant_id" | "consumer_tenant_id" | "owner_tenant_id" => Some(b.tenant.clone()),
            "dataset" if field.r#type() == Type::String => Some(b.dataset.to_owned()),
            "grant_id" => Some(b.grant_id.clone()),
            "report_id" => Some(b.report_id.clone()),
            "record_id" => Some(b.record_id.to_owned()),
            "api_key_id" | "key_id" | "id" => Some(b.key_id.clone()),
            _ => None,
        };
        match field.r#type() {
            Type::String => {
                if let Some(value) = value {
                    length_delimited(number, value.as_bytes(), &mut out);
                    targeted = true;
                }
            }
            Type::Uint64 if field.name() == "seq" => {
                varint((number as u64) << 3, &mut out);
                varint(b.seq, &mut out);
                targeted = true;
            }
            Type::Message if depth < 3 && field.type_name().starts_with(".brain.") => {
                let (nested, aimed) = encode_aimed(messages, field.type_name(), b, depth + 1);
                if aimed {
                    length_delimited(number, &nested, &mut out);
                    targeted = true;
                }
            }
            _ => {}
        }
    }
    (out, targeted)
}

/// Every RPC of every platform service, called by A with a request aimed at B's resources.
async fn every_rpc_refuses_tenant_a(grpc: &str, a: &Session, b: &Secrets) -> usize {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(brain_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut messages = std::collections::HashMap::new();
    for file in &set.file {
        for message in &file.message_type {
            messages.insert(format!(".{}.{}", file.package(), message.name()), message.clone());
        }
    }
    // Public, or answering only from the caller's own tenant or the open product catalog.
    let may_answer = ["GetLedgerPublicKey", "GetTokenKeys", "WhoAmI", "GetProduct", "ListProducts"];
    let mut calls = 0;
    let mut failures = Vec::new();
    let mut codes: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for file in set.file.iter().filter(|f| f.package().starts_with("brain.")) {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                let (request, targeted) = encode_aimed(&messages, method.input_type(), b, 0);
                let sent = String::from_utf8_lossy(&request).into_owned();
                let mut client = tonic::client::Grpc::new(a.grpc(grpc).await);
                client.ready().await.unwrap();
                let outcome = client
                    .streaming(tonic::Request::new(tokio_stream::once(request)), http::uri::PathAndQuery::try_from(path.as_str()).unwrap(), raw::Bytes)
                    .await;
                let answer = match outcome {
                    Ok(response) => tokio::time::timeout(Duration::from_secs(10), response.into_inner().message()).await.unwrap(),
                    Err(status) => Err(status),
                };
                calls += 1;
                *codes.entry(answer.as_ref().map_or_else(|s| format!("{:?}", s.code()), |_| "Ok".into())).or_default() += 1;
                match answer {
                    Ok(message) => {
                        let text = String::from_utf8_lossy(message.as_deref().unwrap_or_default()).into_owned();
                        if let Some(marker) = b.leaked(&text, &sent) {
                            failures.push(format!("{path}: OK leaks {marker:?}"));
                        } else if targeted && !may_answer.contains(&method.name()) {
                            failures.push(format!("{path}: OK for a request aimed at tenant B"));
                        }
                    }
                    Err(status) => {
                        if status.code() == tonic::Code::Unauthenticated && !["SignIn", "Refresh", "SignOut"].contains(&method.name()) {
                            failures.push(format!("{path}: A's token refused: {}", status.message()));
                        }
                        if let Some(marker) = b.leaked(status.message(), &sent) {
                            failures.push(format!("{path}: {:?} leaks {marker:?}: {}", status.code(), status.message()));
                        } else if matches!(status.code(), tonic::Code::Internal | tonic::Code::Unknown) {
                            failures.push(format!("{path}: {:?}: {}", status.code(), status.message()));
                        }
                    }
                }
            }
        }
    }
    assert!(calls >= 50, "only {calls} RPCs found in the descriptors");
    assert!(failures.is_empty(), "{} of {calls} RPCs misbehave:\n{}", failures.len(), failures.join("\n"));
    // The walk got past authentication (A's own calls answer) and was refused on B's resources.
    assert!(codes.get("Ok").is_some_and(|n| *n > 0) && codes.get("PermissionDenied").is_some_and(|n| *n >= 10), "{codes:?}");
    eprintln!("RPC outcomes: {codes:?}");
    calls
}

// ---- bad credentials ---------------------------------------------------------------------

async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let problem: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(problem["status"], status, "problem+json body: {problem}");
    (status, problem["detail"].as_str().unwrap_or_default().to_owned())
}

/// A user's token for `tenant`, signed by `key` at `at` (what a forger or a clock would make).
fn token_signed_by(key: brain_auth::SigningKey, tenant: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let issuer = brain_auth::JwtIssuer::new(std::sync::Arc::new(key), "industry-brain", 900);
    let principal = brain_auth::Principal {
        tenant: tenant.into(),
        subject: brain_auth::Subject::User { id: "0193aaaa".into(), name: "Mallory".into() },
        roles: [brain_auth::Role::EnterpriseAdmin].into_iter().collect(),
        scope: None,
        method: brain_auth::AuthMethod::Password,
        session_id: None,
    };
    issuer.issue_at(&principal, at).unwrap().token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_refused_clearly_and_replays_fail() {
    let data = tempfile::tempdir().unwrap();
    let brain = brain_up(data.path());
    let http = brain.http.as_str();
    let admin = platform_admin(http).await;
    let weaver = tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let url = format!("{http}/api/v1/tenants/{TENANT}/datasets");
    let client = common::http();
    let with = |header: &str, value: String| client.get(&url).header(header, value).send();

    // Malformed, forged, tampered and expired tokens: 401, saying why.
    for value in ["Bearer", "Bearer not-a-jwt", "Basic d2VhdmVyOnB3", "Bearer a.b.c"] {
        let (status, detail) = refusal(with("authorization", value.to_owned()).await.unwrap()).await;
        assert_eq!(status, 401, "{value}: {detail}");
    }
    let forged = token_signed_by(brain_auth::SigningKey::generate().unwrap(), TENANT, chrono::Utc::now());
    assert_eq!(refusal(with("authorization", format!("Bearer {forged}")).await.unwrap()).await.0, 401, "a token signed by another key");
    let (head, rest) = weaver.token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut claims: Value = serde_json::from_slice(&data_encoding::BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap();
    claims["tenant"] = json!(other_enterprise());
    let tampered = format!("{head}.{}.{signature}", data_encoding::BASE64URL_NOPAD.encode(&serde_json::to_vec(&claims).unwrap()));
    assert_eq!(refusal(with("authorization", format!("Bearer {tampered}")).await.unwrap()).await.0, 401, "a token whose claims were changed");
    let brain_key = brain_auth::SigningKey::load(data.path().join("jwt-signing.pem")).unwrap();
    let expired = token_signed_by(brain_key, TENANT, chrono::Utc::now() - chrono::Duration::hours(2));
    let (status, detail) = refusal(with("authorization", format!("Bearer {expired}")).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(detail.contains("expired"), "{detail}");
    let ok = with("authorization", format!("Bearer {}", weaver.token)).await.unwrap();
    assert_eq!(ok.status(), 200, "the genuine token works");

    // The same over gRPC: UNAUTHENTICATED.
    let mut catalog = brain_proto::governance::v1::catalog_service_client::CatalogServiceClient::new(Session::new("not-a-jwt".into(), TENANT).grpc(&brain.grpc).await);
    let status = catalog.list_datasets(brain_proto::governance::v1::ListDatasetsRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");

    // API keys: garbage, expired and revoked keys are refused.
    let keys = format!("{http}/api/v1/identity/tenants/{TENANT}/api-keys");
    assert_eq!(refusal(with("x-api-key", "bk_nope_nope".into()).await.unwrap()).await.0, 401);
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let short = created(weaver.http.post(&keys).json(&json!({"name": "short", "roles": ["enterprise-admin"], "expires_at": soon})).send().await.unwrap(), "key").await;
    let short_secret = short["secret"].as_str().unwrap().to_owned();
    assert_eq!(with("x-api-key", short_secret.clone()).await.unwrap().status(), 200, "a fresh key works");
    let revocable = created(weaver.http.post(&keys).json(&json!({"name": "erp", "roles": ["enterprise-admin"]})).send().await.unwrap(), "key").await;
    let revocable_secret = revocable["secret"].as_str().unwrap().to_owned();
    assert_eq!(with("x-api-key", revocable_secret.clone()).await.unwrap().status(), 200);
    let listed = weaver.http.get(&keys).send().await.unwrap().text().await.unwrap();
    assert!(!listed.contains(&revocable_secret), "secrets are shown once: {listed}");
    let key_id = revocable["key"]["id"].as_str().unwrap();
    created(weaver.http.post(format!("{keys}/{key_id}/revoke")).send().await.unwrap(), "revocation").await;
    // Resolved keys are cached for 5 s; after that the revocation and the expiry hold.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (status, detail) = refusal(with("x-api-key", short_secret).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(detail.contains("expired"), "{detail}");
    let (status, detail) = refusal(with("x-api-key", revocable_secret).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(detail.contains("revoked"), "{detail}");

    // A refresh token works once: replaying it is refused and ends the whole session.
    let signed_in: Value = client
        .post(format!("{http}/api/v1/auth/sign-in"))
        .json(&json!({"tenant_id": TENANT, "username": "weaver", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = signed_in["refresh_token"].as_str().unwrap();
    let refresh = |token: &str| client.post(format!("{http}/api/v1/auth/refresh")).json(&json!({"refresh_token": token})).send();
    let rotated: Value = refresh(first).await.unwrap().json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refusal(refresh(first).await.unwrap()).await.0, 401, "a replayed refresh token");
    assert_eq!(refusal(refresh(&second).await.unwrap()).await.0, 401, "the replay revoked the session");

    // A TOTP code works once.
    let officer = admin
        .http
        .post(format!("{http}/api/v1/identity/tenants/platform/users"))
        .json(&json!({"username": "secofficer", "display_name": "Security", "password": USER_PASSWORD, "roles": ["security-admin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(officer.status(), 201);
    let first = sign_in(http, "platform", "secofficer", USER_PASSWORD, None).await;
    let enrolment: Value = first.http.post(format!("{http}/api/v1/auth/totp/enroll")).send().await.unwrap().json().await.unwrap();
    let secret = enrolment["secret_base32"].as_str().unwrap();
    let earlier = std::time::SystemTime::now() - Duration::from_secs(30);
    first.http.post(format!("{http}/api/v1/auth/totp/confirm")).json(&json!({"secret_base32": secret, "code": totp_code(secret, earlier)})).send().await.unwrap();
    let code = totp_code(secret, std::time::SystemTime::now());
    let sign_in_with = |code: String| {
        client
            .post(format!("{http}/api/v1/auth/sign-in"))
            .json(&json!({"tenant_id": "platform", "username": "secofficer", "password": USER_PASSWORD, "totp_code": code}))
            .send()
    };
    assert_eq!(sign_in_with(code.clone()).await.unwrap().status(), 200);
    let (status, detail) = refusal(sign_in_with(code).await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(detail.contains("already used"), "{detail}");

    // Repeated wrong passwords lock the account: then even the right one is refused.
    for _ in 0..5 {
        let wrong = client.post(format!("{http}/api/v1/auth/sign-in")).json(&json!({"tenant_id": TENANT, "username": "weaver", "password": "wrong-Password-1"})).send().await.unwrap();
        assert_eq!(wrong.status(), 401);
    }
    let (status, detail) = refusal(client.post(format!("{http}/api/v1/auth/sign-in")).json(&json!({"tenant_id": TENANT, "username": "weaver", "password": USER_PASSWORD})).send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(detail.contains("locked"), "{detail}");
}
