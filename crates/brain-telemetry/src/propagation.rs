//! W3C trace context (`traceparent`, `tracestate`) across process boundaries: gRPC metadata,
//! HTTP headers and event headers all go through the global propagator set by [`crate::init`].

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Header name of the W3C trace parent.
pub const TRACEPARENT: &str = "traceparent";

/// Event headers as ordered name/value pairs (the bus's header type).
pub struct HeaderPairs<'a>(pub &'a mut Vec<(String, String)>);

impl Injector for HeaderPairs<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_owned(), value));
    }
}

/// Read-only view of event headers.
pub struct HeaderPairsRef<'a>(pub &'a [(String, String)]);

impl Extractor for HeaderPairsRef<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// HTTP and gRPC (tonic metadata wraps an `http::HeaderMap`) headers.
pub struct HttpHeaders<'a>(pub &'a http::HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

pub struct HttpHeadersMut<'a>(pub &'a mut http::HeaderMap);

impl Injector for HttpHeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// Adds the current trace context to an outgoing gRPC request's metadata.
pub fn inject_grpc<T>(request: &mut tonic::Request<T>) {
    let mut headers = std::mem::take(request.metadata_mut()).into_headers();
    inject_current(&mut HttpHeadersMut(&mut headers));
    *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
}

/// Writes the context of the current `tracing` span into `injector`.
pub fn inject_current(injector: &mut dyn Injector) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| propagator.inject_context(&context, injector));
}

/// Reads a remote parent context from `extractor`.
pub fn extract(extractor: &dyn Extractor) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(extractor))
}

/// Makes `span` a child of the remote context found in `extractor`, if any.
pub fn set_remote_parent(span: &tracing::Span, extractor: &dyn Extractor) {
    let parent = extract(extractor);
    if opentelemetry::trace::TraceContextExt::has_active_span(&parent) {
        let _ = span.set_parent(parent);
    }
}

/// The `traceparent` of the current span, if it has a valid context.
pub fn current_traceparent() -> Option<String> {
    let mut headers = Vec::new();
    inject_current(&mut HeaderPairs(&mut headers));
    headers.into_iter().find(|(k, _)| k == TRACEPARENT).map(|(_, v)| v)
}

/// The sampled flag of a `traceparent` value (`None`: not a `traceparent`). Read from the
/// text, not through the propagator: consumers ask it once per event.
pub fn sampled_flag(traceparent: &str) -> Option<bool> {
    let flags = traceparent.split('-').nth(3)?;
    let flags = u8::from_str_radix(flags.get(..2)?, 16).ok()?;
    Some(flags & 1 == 1)
}

/// Trace id (32 hex digits) of a `traceparent` value, for tests and logs.
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    (trace_id.len() == 32).then_some(trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_sampled_flag_is_read_from_a_traceparent() {
        assert_eq!(sampled_flag(PARENT), Some(true));
        assert_eq!(sampled_flag("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), Some(false));
        // Only bit 0 means sampled; other flags (random trace id, W3C level 2) do not.
        assert_eq!(sampled_flag("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"), Some(false));
        assert_eq!(sampled_flag("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"), Some(true));
        for broken in ["", "00-abc", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"] {
            assert_eq!(sampled_flag(broken), None, "{broken}");
        }
    }

    /// A remote parent read from event headers is carried to the next hop: event headers,
    /// HTTP headers and gRPC metadata all keep the same trace id.
    #[test]
    fn trace_id_survives_every_hop() {
        opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("consumer");
            let incoming = vec![(TRACEPARENT.to_owned(), PARENT.to_owned())];
            set_remote_parent(&span, &HeaderPairsRef(&incoming));
            let _entered = span.enter();

            let mut event_headers = Vec::new();
            inject_current(&mut HeaderPairs(&mut event_headers));
            let traceparent = HeaderPairsRef(&event_headers).get(TRACEPARENT).unwrap().to_owned();
            assert_eq!(trace_id_of(&traceparent), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
            assert_ne!(traceparent, PARENT, "the child has its own span id");

            let mut request = tonic::Request::new(());
            inject_grpc(&mut request);
            let sent = request.metadata().get(TRACEPARENT).unwrap().to_str().unwrap();
            assert_eq!(trace_id_of(sent), Some("4bf92f3577b34da6a3ce929d0e0e4736"));

            let headers = request.metadata().clone().into_headers();
            let context = extract(&HttpHeaders(&headers));
            use opentelemetry::trace::TraceContextExt;
            assert_eq!(context.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        });
    }
}
