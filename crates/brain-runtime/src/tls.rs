//! Mutual TLS between the brain's services (`common.tls`): the gRPC listener serves TLS and, by
//! default, requires a client certificate from the services' CA; `https://` peers are dialled
//! with this process's certificate and must present one from the same CA.
//!
//! The files are a mounted Secret that cert-manager rewrites before the certificate expires, so
//! they are re-read every `reload_seconds`: new connections get the new material, open ones keep
//! theirs. Material that fails to load stops the start; later, the last good material stays in
//! use and the failure is logged and counted.

use crate::RuntimeError;
use brain_config::{ClientAuth, ServiceTls as TlsConfig};
use futures::future::BoxFuture;
use opentelemetry::metrics::{Counter, Gauge};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_util::sync::CancellationToken;

/// A client that connects but never finishes its handshake loses its connection after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Accepted connections waiting for the gRPC server to take them.
const ACCEPT_QUEUE: usize = 128;
/// Handshakes in progress at once; a connection beyond it is closed at once (and counted), so
/// a flood of idle connections cannot hold every file descriptor for 10 s each.
const MAX_PENDING_HANDSHAKES: usize = 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// This process's TLS material, swapped in place when the files change.
#[derive(Clone)]
pub struct ServiceTls {
    inner: Arc<Inner>,
}

struct Inner {
    config: TlsConfig,
    current: RwLock<Material>,
}

/// Everything built from one reading of the three files.
struct Material {
    read: [Vec<u8>; 3],
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

fn tls_error(file: &str, reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Tls { file: file.to_owned(), reason: reason.to_string() }
}

impl ServiceTls {
    /// Loads the files of `common.tls`; None when mTLS is not configured.
    pub fn from_config(config: &TlsConfig) -> Result<Option<Self>, RuntimeError> {
        if !config.enabled() {
            return Ok(None);
        }
        let read = read_files(config)?;
        let material = build(config, read)?;
        tls_metrics().expiry.record(material_expiry(&material.read[0]), &[]);
        Ok(Some(Self { inner: Arc::new(Inner { config: config.clone(), current: RwLock::new(material) }) }))
    }

    /// The material in use. A panic while it was being replaced cannot leave it half-written
    /// (the swap is one assignment), so a poisoned lock is still good to read.
    fn current(&self) -> RwLockReadGuard<'_, Material> {
        self.inner.current.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        self.current().server.clone()
    }

    fn client_config(&self) -> Arc<ClientConfig> {
        self.current().client.clone()
    }

    /// Re-reads the files; Ok(true) when they changed and the new material is in use.
    pub(crate) fn reload(&self) -> Result<bool, RuntimeError> {
        let read = read_files(&self.inner.config)?;
        if self.current().read == read {
            return Ok(false);
        }
        let material = build(&self.inner.config, read)?;
        tls_metrics().expiry.record(material_expiry(&material.read[0]), &[]);
        *self.inner.current.write().unwrap_or_else(PoisonError::into_inner) = material;
        Ok(true)
    }

    /// Re-reads the files every `reload_seconds` until `shutdown`.
    pub(crate) fn spawn_reloader(&self, shutdown: CancellationToken) {
        let tls = self.clone();
        let period = Duration::from_secs(self.inner.config.reload_seconds);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                // Reading three small files and parsing PEM is quick, but it is file I/O.
                let attempt = tls.clone();
                match tokio::task::spawn_blocking(move || attempt.reload()).await {
                    Ok(Ok(true)) => tracing::info!("service TLS certificate reloaded"),
                    Ok(Ok(false)) => {}
                    Ok(Err(error)) => {
                        tls_metrics().reload_failures.add(1, &[]);
                        tracing::warn!(%error, "service TLS files did not load; the previous certificate stays in use");
                    }
                    Err(error) => tracing::warn!(%error, "service TLS reload task failed"),
                }
            }
        });
    }

    /// TLS connections accepted on `listener`, handshaken off the accept loop so a slow or
    /// hostile client holds up only itself; refused handshakes are logged and counted.
    pub(crate) fn incoming(
        &self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> tokio_stream::wrappers::ReceiverStream<Result<tokio_rustls::server::TlsStream<TcpStream>, std::io::Error>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(ACCEPT_QUEUE);
        let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
        let tls = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // e.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!(%error, "gRPC listener could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = pending.clone().try_acquire_owned() else {
                    handshake_refused(peer, "too many TLS handshakes in progress");
                    continue;
                };
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "TCP_NODELAY not set");
                }
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
                let sender = sender.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            // The server is gone when the receiver is: the connection just closes.
                            let _ = sender.send(Ok(stream)).await;
                        }
                        Ok(Err(error)) => handshake_refused(peer, &error.to_string()),
                        Err(_) => handshake_refused(peer, "no handshake within 10 s"),
                    }
                });
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(receiver)
    }

    /// What a tonic channel to an `https://` peer connects with.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector { tls: self.clone() }
    }
}

/// Counts every refusal; logs at most one a second at warn (a scanner must not flood the log),
/// the rest at debug.
fn handshake_refused(peer: SocketAddr, reason: &str) {
    static LAST_WARNED_SECOND: AtomicU64 = AtomicU64::new(0);
    tls_metrics().handshake_failures.add(1, &[]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if LAST_WARNED_SECOND.swap(now, Ordering::Relaxed) != now {
        tracing::warn!(%peer, reason, "gRPC TLS handshake refused (further refusals this second are logged at debug)");
    } else {
        tracing::debug!(%peer, reason, "gRPC TLS handshake refused");
    }
}

fn read_files(config: &TlsConfig) -> Result<[Vec<u8>; 3], RuntimeError> {
    let read = |file: &str| std::fs::read(file).map_err(|e| tls_error(file, e));
    Ok([read(&config.cert_file)?, read(&config.key_file)?, read(&config.ca_file)?])
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

/// Server and client configurations from the three files' contents.
fn build(config: &TlsConfig, read: [Vec<u8>; 3]) -> Result<Material, RuntimeError> {
    let [cert_pem, key_pem, ca_pem] = &read;
    let chain = certificates(&config.cert_file, cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| tls_error(&config.key_file, format!("no PEM private key: {e}")))?;
    let mut roots = RootCertStore::empty();
    for ca in certificates(&config.ca_file, ca_pem)? {
        roots.add(ca).map_err(|e| tls_error(&config.ca_file, format!("not a usable CA certificate: {e}")))?;
    }
    let roots = Arc::new(roots);

    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider());
    let verifier = match config.client_auth {
        ClientAuth::Required => verifier,
        ClientAuth::Optional => verifier.allow_unauthenticated(),
    }
    .build()
    .map_err(|e| tls_error(&config.ca_file, e))?;
    let mut server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&config.cert_file, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(|e| tls_error(&config.key_file, format!("does not match the certificate in {}: {e}", config.cert_file)))?;
    server.alpn_protocols = vec![b"h2".to_vec()];

    let mut client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(&config.cert_file, e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| tls_error(&config.key_file, e))?;
    client.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Material { read, server: Arc::new(server), client: Arc::new(client) })
}

fn certificates(file: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, RuntimeError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(file, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls_error(file, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// The leaf certificate's notAfter as Unix seconds, 0 when it cannot be read.
fn material_expiry(cert_pem: &[u8]) -> i64 {
    CertificateDer::pem_slice_iter(cert_pem)
        .next()
        .and_then(Result::ok)
        .and_then(|der| crate::x509::not_after(&der))
        .unwrap_or(0)
}

/// Connects to an `https://` peer: TCP, then a TLS handshake with the current material.
#[derive(Clone)]
pub struct TlsConnector {
    tls: ServiceTls,
}

impl tower::Service<http::Uri> for TlsConnector {
    type Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let config = self.tls.client_config();
        Box::pin(async move {
            let host = uri.host().ok_or_else(|| format!("peer URL `{uri}` has no host"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(host)?;
            let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
            Ok(hyper_util::rt::TokioIo::new(stream))
        })
    }
}

struct TlsMetrics {
    handshake_failures: Counter<u64>,
    reload_failures: Counter<u64>,
    expiry: Gauge<i64>,
}

/// Registered at start, so the series exist (at 0) before anything fails.
fn tls_metrics() -> &'static TlsMetrics {
    static METRICS: OnceLock<TlsMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = brain_telemetry::metrics::meter();
        TlsMetrics {
            handshake_failures: meter
                .u64_counter("brain_tls_handshake_failures_total")
                .with_description("gRPC connections refused during the TLS handshake (no, expired or foreign certificate)")
                .build(),
            reload_failures: meter
                .u64_counter("brain_tls_reload_failures_total")
                .with_description("Re-reads of the service TLS files that failed; the previous certificate stays in use")
                .build(),
            expiry: meter
                .i64_gauge("brain_tls_certificate_expiry_timestamp_seconds")
                .with_description("When the service certificate in use expires (Unix seconds); 0 without mTLS")
                .build(),
        }
    })
}

/// Makes the TLS series visible (at 0) in every process, with or without mTLS.
pub(crate) fn register_metrics() {
    let metrics = tls_metrics();
    metrics.handshake_failures.add(0, &[]);
    metrics.reload_failures.add(0, &[]);
    metrics.expiry.record(0, &[]);
}

#[cfg(test)]
mod tests;
