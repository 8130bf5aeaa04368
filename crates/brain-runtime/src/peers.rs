//! How a service reaches another service's gRPC API: through this process's own listener
//! when the other service runs here too (`brain up`, `--target=all`), otherwise at the URL
//! in `common.peers.<service>`. Callers get a lazily connecting channel, so a peer that is
//! down at start only fails the calls made while it is down.

use crate::RuntimeError;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// A single call to a peer may not take longer than this.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Default)]
pub struct Peers {
    local: Vec<&'static str>,
    own_grpc: Option<String>,
    configured: BTreeMap<String, String>,
}

impl Peers {
    pub(crate) fn new(local: Vec<&'static str>, own_grpc: SocketAddr, configured: BTreeMap<String, String>) -> Self {
        Self { local, own_grpc: Some(own_url(own_grpc)), configured }
    }

    /// Where `service` answers gRPC, if this process knows.
    pub fn url(&self, service: &str) -> Option<String> {
        if self.local.contains(&service) {
            return self.own_grpc.clone();
        }
        self.configured.get(&service.replace('-', "_")).cloned()
    }

    /// A lazily connecting channel to `service`; None when it is neither in this process nor
    /// configured.
    pub fn channel(&self, service: &'static str) -> Result<Option<Channel>, RuntimeError> {
        let Some(url) = self.url(service) else { return Ok(None) };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| RuntimeError::Service { service, reason: format!("peer URL `{url}`: {e}") })?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .tcp_nodelay(true);
        Ok(Some(endpoint.connect_lazy()))
    }
}

/// The listener's address as a client dials it: a wildcard bind is reached on loopback.
fn own_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{ip}:{}", addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_services_use_the_own_listener_and_others_the_config() {
        let configured = BTreeMap::from([("model_gateway".to_owned(), "http://gw:50051".to_owned())]);
        let peers = Peers::new(vec!["governance"], "0.0.0.0:4000".parse().unwrap(), configured);
        assert_eq!(peers.url("governance").unwrap(), "http://127.0.0.1:4000");
        assert_eq!(peers.url("model-gateway").unwrap(), "http://gw:50051");
        assert_eq!(peers.url("evaluation"), None);
        assert_eq!(own_url("[::]:9".parse().unwrap()), "http://[::1]:9");
        assert_eq!(own_url("10.0.0.7:9".parse().unwrap()), "http://10.0.0.7:9");
    }

    #[tokio::test]
    async fn channels_connect_lazily() {
        let peers = Peers::new(vec!["governance"], "127.0.0.1:1".parse().unwrap(), BTreeMap::new());
        assert!(peers.channel("governance").unwrap().is_some(), "nothing listens on port 1, and no call was made");
        assert!(peers.channel("evaluation").unwrap().is_none());
    }
}
