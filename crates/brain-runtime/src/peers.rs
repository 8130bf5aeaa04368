//! How a service reaches another service's gRPC API. When the other service runs in this
//! process (`brain up`, `--target=all`) the call goes straight to its in-process gRPC routes,
//! with no network in between; otherwise it goes over a lazily connecting channel to the URL
//! in `common.peers.<service>`, so a peer that is down fails only the calls made meanwhile.
//! Either way the caller uses the service's generated tonic client over a [`PeerChannel`],
//! and the callee sees the calling service: in-process as a service principal in the
//! request's extensions, over the network as a service token in `authorization`.

use crate::RuntimeError;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::body::Body;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint};

/// A single call to a remote peer may not take longer than this.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The gRPC routes of this process, set once its services have registered them.
pub(crate) type LocalRoutes = Arc<OnceLock<Routes>>;

#[derive(Clone, Default)]
pub struct Peers {
    local: Vec<&'static str>,
    routes: LocalRoutes,
    configured: BTreeMap<String, String>,
    /// The service making the calls, and how it proves it to remote peers.
    caller: &'static str,
    tokens: Option<Arc<crate::auth::ServiceTokens>>,
    /// How `https://` peers are dialled (`common.tls`).
    tls: Option<crate::ServiceTls>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers").field("local", &self.local).field("configured", &self.configured).finish_non_exhaustive()
    }
}

impl Peers {
    pub(crate) fn new(local: Vec<&'static str>, routes: LocalRoutes, configured: BTreeMap<String, String>, tls: Option<crate::ServiceTls>) -> Self {
        Self { local, routes, configured, caller: "brain", tokens: None, tls }
    }

    /// The same peers, called as `caller` proving itself with `tokens`.
    pub(crate) fn for_service(&self, caller: &'static str, tokens: Arc<crate::auth::ServiceTokens>) -> Self {
        Self { caller, tokens: Some(tokens), ..self.clone() }
    }

    /// A channel to `service`'s gRPC API; None when it is neither in this process nor
    /// configured in `common.peers`.
    pub fn channel(&self, service: &'static str) -> Result<Option<PeerChannel>, RuntimeError> {
        if self.local.contains(&service) {
            return Ok(Some(PeerChannel(Route::Local(self.routes.clone(), self.caller))));
        }
        let Some(url) = self.configured.get(&service.replace('-', "_")) else { return Ok(None) };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| RuntimeError::Service { service, reason: format!("peer URL `{url}`: {e}") })?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .tcp_nodelay(true);
        let channel = if url.starts_with("https://") {
            let Some(tls) = &self.tls else {
                return Err(RuntimeError::Service { service, reason: format!("peer URL `{url}` is https:// but common.tls is not set") });
            };
            endpoint.connect_with_connector_lazy(tls.connector())
        } else {
            endpoint.connect_lazy()
        };
        let credential = self.tokens.clone().map(|tokens| (tokens, self.caller));
        Ok(Some(PeerChannel(Route::Remote(channel, credential))))
    }
}

/// What a generated tonic client runs over: in-process routes or a network channel.
#[derive(Clone)]
pub struct PeerChannel(Route);

#[derive(Clone)]
enum Route {
    Local(LocalRoutes, &'static str),
    /// The service token is made per call (cached by [`crate::auth::ServiceTokens`]), so a
    /// long-lived channel never sends an expired one.
    Remote(Channel, Option<(Arc<crate::auth::ServiceTokens>, &'static str)>),
}

impl PeerChannel {
    /// A channel that sends no credential (to services outside the brain's authentication).
    pub fn remote(channel: Channel) -> Self {
        Self(Route::Remote(channel, None))
    }
}

impl tower::Service<http::Request<Body>> for PeerChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match &mut self.0 {
            Route::Local(..) => Poll::Ready(Ok(())),
            Route::Remote(channel, _) => tower::Service::poll_ready(channel, cx).map_err(Into::into),
        }
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        match &mut self.0 {
            Route::Local(routes, caller) => match routes.get().cloned() {
                Some(mut routes) => {
                    request.extensions_mut().insert(brain_auth::Principal::service(caller));
                    Box::pin(async move { Ok(tower::Service::call(&mut routes, request).await?) })
                }
                None => Box::pin(async { Err("the service's gRPC routes are not registered yet".into()) }),
            },
            Route::Remote(channel, credential) => {
                if let Some((tokens, caller)) = credential {
                    match tokens.token(caller).map(|t| http::HeaderValue::try_from(format!("Bearer {t}"))) {
                        Ok(Ok(value)) => {
                            request.headers_mut().insert(http::header::AUTHORIZATION, value);
                        }
                        Ok(Err(e)) => return Box::pin(async move { Err(e.into()) }),
                        Err(e) => return Box::pin(async move { Err(e.into()) }),
                    }
                }
                let call = tower::Service::call(channel, request);
                Box::pin(async move { Ok(call.await?) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

    #[tokio::test]
    async fn local_services_answer_in_process_and_others_need_config() {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter.set_service_status("brain.test.v1.Svc", tonic_health::ServingStatus::Serving).await;
        let routes = LocalRoutes::default();
        let configured = BTreeMap::from([("model_gateway".to_owned(), "http://127.0.0.1:1".to_owned())]);
        let peers = Peers::new(vec!["governance"], routes.clone(), configured, None);
        let mut client = HealthClient::new(peers.channel("governance").unwrap().unwrap());
        let early = client.check(HealthCheckRequest { service: String::new() }).await.unwrap_err();
        assert!(early.message().contains("not registered yet"), "{early}");

        let mut builder = tonic::service::RoutesBuilder::default();
        builder.add_service(health);
        assert!(routes.set(builder.routes()).is_ok());
        let answer = client.check(HealthCheckRequest { service: "brain.test.v1.Svc".into() }).await.unwrap().into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32);

        let mut remote = HealthClient::new(peers.channel("model-gateway").unwrap().unwrap());
        assert!(remote.check(HealthCheckRequest::default()).await.is_err(), "nothing listens on port 1");
        assert!(peers.channel("evaluation").unwrap().is_none());
    }
}
