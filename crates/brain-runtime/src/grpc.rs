//! The gRPC listener: every service of the process, `grpc.health.v1` and reflection, each
//! call traced (continuing the caller's `traceparent`) and measured.

use crate::metrics;
use brain_telemetry::propagation::{HttpHeaders, set_remote_parent};
use opentelemetry::KeyValue;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;

/// Reflection lists every contract of the platform plus the health service.
pub(crate) fn reflection() -> Result<tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>, tonic_reflection::server::Error> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(brain_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
}

/// Tower layer that wraps each gRPC call in a server span and records RED metrics.
#[derive(Clone, Copy, Default)]
pub(crate) struct ObserveLayer;

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

#[derive(Clone)]
pub(crate) struct Observe<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // Take the service that was driven to readiness; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path().trim_start_matches('/').to_owned();
        let (service, method) = path.split_once('/').map_or((path.clone(), String::new()), |(s, m)| (s.to_owned(), m.to_owned()));
        let span = tracing::info_span!(
            "grpc.request",
            otel.name = %path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        set_remote_parent(&span, &HttpHeaders(request.headers()));
        Box::pin(
            async move {
                let started = Instant::now();
                let result = inner.call(request).await;
                // Errors come as trailers-only responses with `grpc-status` in the headers;
                // a successful call's status is in the trailers, so no header means OK.
                let code = match &result {
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .unwrap_or(0),
                    Err(_) => 2,
                };
                tracing::Span::current().record("rpc.grpc.status_code", code);
                let m = metrics::get();
                let labels = [KeyValue::new("service", service), KeyValue::new("method", method)];
                m.grpc_seconds.record(started.elapsed().as_secs_f64(), &labels);
                let [service, method] = labels;
                m.grpc_requests.add(1, &[service, method, KeyValue::new("code", format!("{:?}", tonic::Code::from(code)))]);
                result
            }
            .instrument(span),
        )
    }
}
