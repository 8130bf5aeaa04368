use super::*;
use brain_testkit::certs::{Issued, TestCa, TlsFiles};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn config(files: &TlsFiles, client_auth: ClientAuth) -> TlsConfig {
    TlsConfig {
        cert_file: files.cert.display().to_string(),
        key_file: files.key.display().to_string(),
        ca_file: files.ca.display().to_string(),
        client_auth,
        reload_seconds: 60,
    }
}

fn secret(ca: &TestCa, dir: &std::path::Path, name: &str) -> TlsFiles {
    ca.write_secret(&ca.issue(&[name]).unwrap(), &dir.join(name)).unwrap()
}

/// A gRPC health service on a random loopback port behind `tls`; returns its port.
async fn serve(tls: &ServiceTls) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_, health) = tonic_health::server::health_reporter();
    let incoming = tls.incoming(listener, CancellationToken::new());
    tokio::spawn(tonic::transport::Server::builder().add_service(health).serve_with_incoming(incoming));
    port
}

async fn check(channel: tonic::transport::Channel) -> Result<(), tonic::Status> {
    HealthClient::new(channel).check(HealthCheckRequest::default()).await.map(|_| ())
}

fn endpoint(port: u16) -> tonic::transport::Endpoint {
    tonic::transport::Endpoint::from_shared(format!("https://localhost:{port}")).unwrap().timeout(Duration::from_secs(5))
}

/// A channel to `port` over TLS that trusts `ca` but presents no certificate.
fn anonymous(ca: &TestCa, port: u16) -> tonic::transport::Channel {
    brain_testkit::certs::channel(&format!("https://localhost:{port}"), ca.pem(), None).unwrap()
}

#[tokio::test]
async fn only_certificates_of_the_services_ca_get_in() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("brain services CA").unwrap();
    let server = ServiceTls::from_config(&config(&secret(&ca, dir.path(), "localhost"), ClientAuth::Required)).unwrap().unwrap();
    let port = serve(&server).await;

    let peer = ServiceTls::from_config(&config(&secret(&ca, dir.path(), "brain-ingestion"), ClientAuth::Required)).unwrap().unwrap();
    check(endpoint(port).connect_with_connector_lazy(peer.connector())).await.expect("a service of the same CA");

    let foreign = TestCa::new("someone else's CA").unwrap();
    let stranger = ServiceTls::from_config(&config(&secret(&foreign, dir.path(), "brain-stranger"), ClientAuth::Required)).unwrap().unwrap();
    let refused = check(endpoint(port).connect_with_connector_lazy(stranger.connector())).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused}");

    // TLS 1.3: the client's handshake ends before the server checks it, so the refusal reaches
    // the first call as an alert, a broken pipe or a closed connection, whichever comes first.
    assert!(check(anonymous(&ca, port)).await.is_err(), "no client certificate");

    let plaintext = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}")).unwrap().timeout(Duration::from_secs(5));
    assert!(check(plaintext.connect_lazy()).await.is_err(), "plaintext gRPC to a TLS listener");

    // The server's name is checked too: a peer URL naming another host is refused.
    let wrong_name = tonic::transport::Endpoint::from_shared(format!("https://127.0.0.1:{port}")).unwrap().timeout(Duration::from_secs(5));
    assert!(check(wrong_name.connect_with_connector_lazy(peer.connector())).await.is_err(), "certificate is for localhost only");
}

#[tokio::test]
async fn optional_client_auth_admits_anonymous_clients_but_not_foreign_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("brain services CA").unwrap();
    let server = ServiceTls::from_config(&config(&secret(&ca, dir.path(), "localhost"), ClientAuth::Optional)).unwrap().unwrap();
    let port = serve(&server).await;
    check(anonymous(&ca, port)).await.expect("no certificate is allowed");
    let foreign = TestCa::new("someone else's CA").unwrap();
    let stranger = ServiceTls::from_config(&config(&secret(&foreign, dir.path(), "brain-stranger"), ClientAuth::Optional)).unwrap().unwrap();
    assert!(check(endpoint(port).connect_with_connector_lazy(stranger.connector())).await.is_err(), "a presented certificate must chain to the CA");
}

#[test]
fn bad_files_are_refused_with_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("brain services CA").unwrap();
    let files = secret(&ca, dir.path(), "brain-trust");
    let good = config(&files, ClientAuth::Required);
    assert!(ServiceTls::from_config(&TlsConfig::default()).unwrap().is_none(), "no files, no TLS");

    let missing = TlsConfig { ca_file: dir.path().join("nope.crt").display().to_string(), ..good.clone() };
    let error = ServiceTls::from_config(&missing).err().unwrap().to_string();
    assert!(error.contains("nope.crt") && error.contains("No such file"), "{error}");

    let other = ca.issue(&["brain-other"]).unwrap();
    let mismatched_key = dir.path().join("other.key");
    std::fs::write(&mismatched_key, &other.key_pem).unwrap();
    let error = ServiceTls::from_config(&TlsConfig { key_file: mismatched_key.display().to_string(), ..good.clone() }).err().unwrap().to_string();
    assert!(error.contains("other.key") && error.contains("does not match the certificate"), "{error}");

    let empty_ca = dir.path().join("empty-ca.crt");
    std::fs::write(&empty_ca, "no PEM here\n").unwrap();
    let error = ServiceTls::from_config(&TlsConfig { ca_file: empty_ca.display().to_string(), ..good.clone() }).err().unwrap().to_string();
    assert!(error.contains("empty-ca.crt") && error.contains("no PEM certificate"), "{error}");

    let error = ServiceTls::from_config(&TlsConfig { key_file: files.cert.display().to_string(), ..good }).err().unwrap().to_string();
    assert!(error.contains("tls.crt") && error.contains("no PEM private key"), "{error}");
}

/// The certificate the server presents, by its notAfter.
async fn presented_expiry(port: u16, ca: &TestCa, client: &Issued) -> i64 {
    let der = brain_testkit::certs::presented_certificate("localhost", port, ca.pem(), client).await.unwrap();
    crate::x509::not_after(&der).unwrap()
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("brain services CA").unwrap();
    let files = ca.write_secret(&ca.issue_until(&["localhost"], (2030, 1, 1)).unwrap(), dir.path()).unwrap();
    let server = ServiceTls::from_config(&config(&files, ClientAuth::Required)).unwrap().unwrap();
    let port = serve(&server).await;
    let issued = ca.issue(&["brain-ingestion"]).unwrap();
    let client = ServiceTls::from_config(&config(&ca.write_secret(&issued, &dir.path().join("client")).unwrap(), ClientAuth::Required)).unwrap().unwrap();
    assert_eq!(presented_expiry(port, &ca, &issued).await, 1_893_456_000);
    assert!(!server.reload().unwrap(), "nothing changed");

    // cert-manager renews: the Secret's files change in place.
    ca.write_secret(&ca.issue_until(&["localhost"], (2031, 1, 1)).unwrap(), dir.path()).unwrap();
    assert!(server.reload().unwrap());
    assert_eq!(presented_expiry(port, &ca, &issued).await, 1_924_992_000);

    // A half-written renewal (key of another certificate) keeps the last good material.
    std::fs::write(&files.key, ca.issue(&["localhost"]).unwrap().key_pem).unwrap();
    let error = server.reload().unwrap_err().to_string();
    assert!(error.contains("does not match"), "{error}");
    assert_eq!(presented_expiry(port, &ca, &issued).await, 1_924_992_000);
    check(endpoint(port).connect_with_connector_lazy(client.connector())).await.expect("still serving");
}

#[tokio::test]
async fn a_ca_bundle_admits_the_certificates_of_both_cas_during_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new, third) = (TestCa::new("old services CA").unwrap(), TestCa::new("new services CA").unwrap(), TestCa::new("a third CA").unwrap());
    let files = secret(&old, dir.path(), "localhost");
    std::fs::write(&files.ca, format!("{}{}", old.pem(), new.pem())).unwrap();
    let server = ServiceTls::from_config(&config(&files, ClientAuth::Required)).unwrap().unwrap();
    let port = serve(&server).await;
    let url = format!("https://localhost:{port}");
    // The server still presents the old CA's certificate; callers present either CA's.
    for (issuer, what) in [(&old, "the old CA"), (&new, "the new CA")] {
        let client = issuer.issue(&["brain-ingestion"]).unwrap();
        check(brain_testkit::certs::channel(&url, old.pem(), Some(&client)).unwrap()).await.expect(what);
    }
    let stranger = third.issue(&["brain-ingestion"]).unwrap();
    assert!(check(brain_testkit::certs::channel(&url, old.pem(), Some(&stranger)).unwrap()).await.is_err(), "a CA outside the bundle");
}
