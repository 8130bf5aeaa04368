//! Test certificates for mTLS: a CA and the certificates it issues, written as PEM files the
//! way a mounted Kubernetes TLS Secret holds them (`tls.crt`, `tls.key`, `ca.crt`).

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A certificate authority that signs service certificates.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A certificate (PEM and DER) and its private key (PEM).
pub struct Issued {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pem: String,
}

/// Where [`TestCa::write_secret`] put the three files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl Issued {
    /// A certificate and key made elsewhere (e.g. by `openssl`), from their PEM files' text.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, BoxError> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())?.to_vec();
        Ok(Self { cert_pem: cert_pem.to_owned(), cert_der, key_pem: key_pem.to_owned() })
    }
}

impl TestCa {
    /// A self-signed CA named `name`.
    pub fn new(name: &str) -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let pem = params.self_signed(&key)?.pem();
        Ok(Self { issuer: Issuer::new(params, key), pem })
    }

    /// The CA certificate (what `ca.crt` holds).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A certificate for `names` (DNS names or IP addresses) usable as server and client, as
    /// cert-manager issues them for the chart's services.
    pub fn issue(&self, names: &[&str]) -> Result<Issued, rcgen::Error> {
        self.issue_with(names, |_| {})
    }

    /// Like [`Self::issue`], valid until the given day (UTC midnight).
    pub fn issue_until(&self, names: &[&str], (year, month, day): (i32, u8, u8)) -> Result<Issued, rcgen::Error> {
        self.issue_with(names, |params| params.not_after = rcgen::date_time_ymd(year, month, day))
    }

    fn issue_with(&self, names: &[&str], adjust: impl FnOnce(&mut CertificateParams)) -> Result<Issued, rcgen::Error> {
        let mut params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        adjust(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued { cert_pem: cert.pem(), cert_der: cert.der().to_vec(), key_pem: key.serialize_pem() })
    }

    /// Writes `issued` with this CA into `dir` as `tls.crt`, `tls.key` and `ca.crt`.
    pub fn write_secret(&self, issued: &Issued, dir: &Path) -> std::io::Result<TlsFiles> {
        std::fs::create_dir_all(dir)?;
        let files = TlsFiles { cert: dir.join("tls.crt"), key: dir.join("tls.key"), ca: dir.join("ca.crt") };
        std::fs::write(&files.cert, &issued.cert_pem)?;
        std::fs::write(&files.key, &issued.key_pem)?;
        std::fs::write(&files.ca, &self.pem)?;
        Ok(files)
    }
}

/// A TLS client configuration trusting `ca_pem`, presenting `client` when given; speaks h2.
pub fn client_config(ca_pem: &str, client: Option<&Issued>) -> Result<Arc<ClientConfig>, BoxError> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes())?)?;
    let builder = ClientConfig::builder_with_provider(Arc::new(tokio_rustls::rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match client {
        Some(issued) => builder.with_client_auth_cert(vec![CertificateDer::from(issued.cert_der.clone())], PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes())?)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A gRPC channel to `https://host:port` trusting `ca_pem`, presenting `client` when given.
pub fn channel(url: &str, ca_pem: &str, client: Option<&Issued>) -> Result<tonic::transport::Channel, BoxError> {
    let config = client_config(ca_pem, client)?;
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())?.timeout(std::time::Duration::from_secs(10));
    Ok(endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: http::Uri| {
        let config = config.clone();
        async move {
            let host = uri.host().ok_or("no host")?.to_owned();
            let tcp = TcpStream::connect((host.as_str(), uri.port_u16().unwrap_or(443))).await?;
            // Without it, h2's small writes wait for the server's delayed ACK (~40 ms).
            tcp.set_nodelay(true)?;
            let stream = tokio_rustls::TlsConnector::from(config).connect(ServerName::try_from(host)?, tcp).await?;
            Ok::<_, BoxError>(hyper_util::rt::TokioIo::new(stream))
        }
    })))
}

/// The leaf certificate (DER) the TLS server at `host:port` presents to a client of `ca_pem`
/// holding `client`.
pub async fn presented_certificate(host: &str, port: u16, ca_pem: &str, client: &Issued) -> Result<Vec<u8>, BoxError> {
    let tcp = TcpStream::connect((host, port)).await?;
    let stream = tokio_rustls::TlsConnector::from(client_config(ca_pem, Some(client))?).connect(ServerName::try_from(host.to_owned())?, tcp).await?;
    let certs = stream.get_ref().1.peer_certificates().ok_or("no certificate presented")?;
    Ok(certs.first().ok_or("empty certificate chain")?.to_vec())
}
