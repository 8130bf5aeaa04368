#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! mTLS between brain processes (`common.tls`), as the chart deploys it with cert-manager:
//! each process holds a certificate of the services' CA, serves gRPC over TLS, dials its
//! peers over TLS, refuses clients without a certificate of that CA, and serves a renewed
//! certificate without a restart.

mod common;

use brain_testkit::certs::{TestCa, TlsFiles, channel, presented_certificate};
use common::*;
use std::time::Duration;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// The environment of one process: its own data directory, the brain's shared JWT key, and
/// its certificate (re-read every second so the test need not wait a minute).
fn process_env(dir: &std::path::Path, name: &str, files: &TlsFiles) -> Vec<(String, String)> {
    [
        ("BRAIN_COMMON__DATA_DIR", dir.join(name).display().to_string()),
        ("BRAIN_COMMON__HTTP_ADDR", "127.0.0.1:0".into()),
        ("BRAIN_COMMON__GRPC_ADDR", "127.0.0.1:0".into()),
        ("BRAIN_TRUST__JWT_SIGNING_KEY_FILE", dir.join("jwt-signing.pem").display().to_string()),
        ("BRAIN_COMMON__TLS__CERT_FILE", files.cert.display().to_string()),
        ("BRAIN_COMMON__TLS__KEY_FILE", files.key.display().to_string()),
        ("BRAIN_COMMON__TLS__CA_FILE", files.ca.display().to_string()),
        ("BRAIN_COMMON__TLS__RELOAD_SECONDS", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn with_trust_peer(mut env: Vec<(String, String)>, trust_grpc: &str) -> Vec<(String, String)> {
    env.push(("BRAIN_COMMON__PEERS__TRUST".into(), trust_grpc.to_owned()));
    env
}

async fn serving(channel: tonic::transport::Channel) -> Result<i32, tonic::Status> {
    Ok(HealthClient::new(channel).check(HealthCheckRequest::default()).await?.into_inner().status)
}

/// The value of an unlabelled series on a process's /metrics.
async fn metric(http: &str, name: &str) -> Option<f64> {
    let text = common::http().get(format!("{http}/metrics")).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_call_each_other_over_mutual_tls_and_refuse_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("textile brain services CA").unwrap();
    // What cert-manager issues per component; the test's peers dial 127.0.0.1.
    let names = ["localhost", "127.0.0.1"];
    let trust_cert = ca.issue_until(&names, (2030, 1, 1)).unwrap();
    let trust_files = ca.write_secret(&trust_cert, &dir.path().join("trust-tls")).unwrap();
    let front_cert = ca.issue(&names).unwrap();
    let front_files = ca.write_secret(&front_cert, &dir.path().join("front-tls")).unwrap();

    let trust = spawn("trust", &process_env(dir.path(), "trust", &trust_files));
    assert!(trust.grpc.starts_with("https://"), "{}", trust.grpc);
    let front = spawn("ingestion,governance", &with_trust_peer(process_env(dir.path(), "front", &front_files), &trust.grpc));

    // An enterprise system's API key, made in the trust process, works at the front: the front
    // resolves it with the trust service over mTLS.
    let admin = platform_admin(&trust.http).await;
    let weaver = tenant_user(&trust.http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await;
    let key: serde_json::Value =
        weaver.http.post(format!("{}/api/v1/identity/tenants/{TENANT}/api-keys", trust.http)).json(&serde_json::json!({"name": "erp", "roles": ["enterprise-admin"]})).send().await.unwrap().json().await.unwrap();
    let erp = Session::new(key["secret"].as_str().unwrap().to_owned(), TENANT);
    let created = erp.http.post(format!("{}/api/v1/tenants/{TENANT}/datasets", front.http)).json(&textile_dataset()).send().await.unwrap();
    assert_eq!(created.status(), 201, "{}\nfront log:\n{}", created.text().await.unwrap(), front.log());

    // The gRPC listener: a service certificate gets in; no certificate, plaintext or another
    // CA's certificate does not.
    let serving_status = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let status = serving(channel(&front.grpc, ca.pem(), Some(&front_cert)).unwrap()).await;
    assert_eq!(status.as_ref().ok(), Some(&serving_status), "{status:?}\n{}\nfront log:\n{}", front.grpc, front.log());
    // (TLS 1.3: the refusal reaches the first call as an alert, a broken pipe or a closed
    // connection, whichever comes first; the server's count says why.)
    assert!(serving(channel(&front.grpc, ca.pem(), None).unwrap()).await.is_err(), "no client certificate");
    let plaintext = front.grpc.replacen("https://", "http://", 1);
    assert!(serving(tonic::transport::Endpoint::from_shared(plaintext).unwrap().timeout(Duration::from_secs(5)).connect_lazy()).await.is_err());
    let foreign = TestCa::new("someone else's CA").unwrap();
    let stranger_cert = foreign.issue(&names).unwrap();
    assert!(serving(channel(&front.grpc, ca.pem(), Some(&stranger_cert)).unwrap()).await.is_err(), "a foreign CA's certificate");
    let refused = eventually(Duration::from_secs(5), "the front to count three refused handshakes", || async {
        metric(&front.http, "brain_tls_handshake_failures_total").await.filter(|n| *n >= 3.0)
    })
    .await;
    assert_eq!(refused, 3.0, "no certificate, plaintext, a foreign certificate");

    // A process holding another CA's certificate cannot reach the trust service: its API-key
    // callers are refused, and the trust process counts the refused handshakes.
    let stranger_files = foreign.write_secret(&stranger_cert, &dir.path().join("stranger-tls")).unwrap();
    let stranger = spawn("ingestion,governance", &with_trust_peer(process_env(dir.path(), "stranger", &stranger_files), &trust.grpc));
    let refused = erp.http.get(format!("{}/api/v1/tenants/{TENANT}/datasets", stranger.http)).send().await.unwrap();
    assert_eq!(refused.status(), 503, "an API key resolved through a peer of another CA");
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("UnknownIssuer"), "the stranger does not trust the trust service either: {problem}");
    let failures = metric(&trust.http, "brain_tls_handshake_failures_total").await.unwrap_or_default();
    assert!(failures >= 1.0, "refused handshakes counted: {failures}");
    assert_eq!(metric(&trust.http, "brain_tls_certificate_expiry_timestamp_seconds").await, Some(1_893_456_000.0), "2030-01-01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("textile brain services CA").unwrap();
    let names = ["localhost", "127.0.0.1"];
    let first = ca.issue_until(&names, (2030, 1, 1)).unwrap();
    let files = ca.write_secret(&first, &dir.path().join("tls")).unwrap();
    let client = ca.issue(&names).unwrap();
    let brain = spawn("governance", &process_env(dir.path(), "brain", &files));
    let port: u16 = brain.grpc.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(presented_certificate("localhost", port, ca.pem(), &client).await.unwrap(), first.cert_der);

    // cert-manager renews the Secret; the kubelet rewrites the mounted files.
    let renewed = ca.issue_until(&names, (2031, 1, 1)).unwrap();
    ca.write_secret(&renewed, &dir.path().join("tls")).unwrap();
    eventually(Duration::from_secs(10), "the renewed certificate in use", || {
        let (ca, client, want) = (ca.pem().to_owned(), &client, renewed.cert_der.clone());
        async move {
            let presented = presented_certificate("localhost", port, &ca, client).await.ok()?;
            (presented == want).then_some(())
        }
    })
    .await;
    assert_eq!(metric(&brain.http, "brain_tls_certificate_expiry_timestamp_seconds").await, Some(1_924_992_000.0), "2031-01-01");
    let serving_status = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    assert_eq!(serving(channel(&brain.grpc, ca.pem(), Some(&client)).unwrap()).await.unwrap(), serving_status);
}

/// `infra/service-certs.sh` makes the `mtls.existingSecret` of clusters without cert-manager
/// (and Tilt's): the brain must serve and dial with what it writes, for every Service name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_certs_script_makes_a_secret_the_brain_serves_with() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("secret");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/service-certs.sh");
    let made = std::process::Command::new(script).arg(&out).args(["textile-industry-brain", "textile-brain"]).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let read = |file: &str| std::fs::read_to_string(out.join(file)).unwrap();

    let sans = std::process::Command::new("openssl").args(["x509", "-noout", "-ext", "subjectAltName", "-in"]).arg(out.join("tls.crt")).output().unwrap();
    let sans = String::from_utf8(sans.stdout).unwrap();
    for service in ["textile-industry-brain", "textile-industry-brain-trust", "textile-industry-brain-model-gateway"] {
        assert!(sans.contains(&format!("DNS:{service}.textile-brain.svc,")), "{service} in {sans}");
    }

    let files = TlsFiles { cert: out.join("tls.crt"), key: out.join("tls.key"), ca: out.join("ca.crt") };
    let brain = spawn("governance", &process_env(dir.path(), "brain", &files));
    let client = brain_testkit::certs::Issued::from_pem(&read("tls.crt"), &read("tls.key")).unwrap();
    let status = serving(channel(&brain.grpc, &read("ca.crt"), Some(&client)).unwrap()).await;
    let serving_status = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    assert_eq!(status.as_ref().ok(), Some(&serving_status), "{status:?}\n{}", brain.log());

    // A second run keeps a certificate that is still good (and so the CA the cluster trusts).
    let before = read("tls.crt");
    let again = std::process::Command::new(script).arg(&out).args(["textile-industry-brain", "textile-brain"]).output().unwrap();
    assert!(again.status.success());
    assert_eq!(read("tls.crt"), before);
}
