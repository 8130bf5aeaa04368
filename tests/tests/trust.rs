#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The trust layer end to end: tenant isolation over every route and RPC, authorized use of
//! data under grants (shaping, masking, revocation), signed reports verified offline, the
//! tamper-evident ledger on both SQL engines, and refusal of bad credentials.

mod common;

use brain_testkit::engines;
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
    let brain = brain_up(data.path());
    grant_lifecycle(&brain.http, &brain.grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_shapes_reads_and_its_revocation_refuses_the_next_read_on_postgres() {
    let (Some(kafka), Some(postgres)) = (engines::kafka(), engines::postgres()) else { return };
    let database = brain_testkit::postgres::fresh_database(&postgres).await.unwrap();
    let env = distributed_env(&kafka, database.url(), &format!("e2e{}", uuid::Uuid::now_v7().simple()));
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
    let (Some(kafka), Some(postgres)) = (engines::kafka(), engines::postgres()) else { return };
    let database = brain_testkit::postgres::fresh_database(&postgres).await.unwrap();
    let env = distributed_env(&kafka, database.url(), &format!("e2e{}", uuid::Uuid::now_v7().simple()));
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
