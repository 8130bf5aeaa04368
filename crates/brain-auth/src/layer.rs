//! One authentication layer for REST (axum) and gRPC (tonic): both are tower services over
//! `http::Request`, so the same [`AuthLayer`] wraps an axum `Router` and tonic `Routes`.
//!
//! Public paths pass untouched (no credential is read, so none is needed). Every other
//! request needs a credential the [`Authenticator`] accepts; its [`Principal`] then rides in
//! the request's extensions (`Extension<Principal>` in axum,
//! `request.extensions().get::<Principal>()` in tonic). A refusal is a trailers-only gRPC
//! status for gRPC callers and `401 application/problem+json` with `WWW-Authenticate` for
//! the others. Credentials are never logged.

use crate::authenticator::Authenticator;
use crate::credential::Credential;
use crate::error::AuthError;
use crate::principal::Principal;
use brain_core::{ErrorCode, Problem, ServiceError};
use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Paths reachable without a credential: exact paths, and prefixes (end a prefix with `/` or
/// `.` so that `/docs` does not also open `/docsecret`).
#[derive(Clone, Debug, Default)]
pub struct PublicPaths {
    exact: BTreeSet<String>,
    prefixes: Vec<String>,
}

impl PublicPaths {
    /// Nothing public.
    pub fn none() -> Self {
        Self::default()
    }

    /// Operations endpoints, the API description, sign-in, gRPC health and reflection.
    pub fn platform_defaults() -> Self {
        Self::none()
            .exact("/healthz")
            .exact("/readyz")
            .exact("/metrics")
            .exact("/openapi.json")
            .exact("/docs")
            .prefix("/docs/")
            .exact("/api/v1/auth/sign-in")
            .exact("/api/v1/auth/refresh")
            .exact("/api/v1/auth/sign-out")
            .exact("/api/v1/auth/jwks")
            .exact("/api/v1/ledger/public-key")
            .exact("/brain.trust.v1.IdentityService/SignIn")
            .exact("/brain.trust.v1.IdentityService/Refresh")
            .exact("/brain.trust.v1.IdentityService/SignOut")
            .exact("/brain.trust.v1.IdentityService/GetTokenKeys")
            .exact("/brain.trust.v1.LedgerService/GetLedgerPublicKey")
            .prefix("/grpc.health.v1.Health/")
            .prefix("/grpc.reflection.")
    }

    pub fn exact(mut self, path: impl Into<String>) -> Self {
        self.exact.insert(path.into());
        self
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.push(prefix.into());
        self
    }

    pub fn is_public(&self, path: &str) -> bool {
        // Dot segments could make a public prefix reach a private route after normalisation.
        if path
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
        {
            return false;
        }
        self.exact.contains(path) || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// Builds refusal bodies for the response body types of axum and tonic.
pub trait ResponseBody: Send + 'static {
    fn from_text(text: String) -> Self;
}

impl ResponseBody for axum::body::Body {
    fn from_text(text: String) -> Self {
        axum::body::Body::from(text)
    }
}

impl ResponseBody for tonic::body::Body {
    fn from_text(text: String) -> Self {
        tonic::body::Body::new(text)
    }
}

#[derive(Clone)]
pub struct AuthLayer {
    authenticator: Arc<dyn Authenticator>,
    public: Arc<PublicPaths>,
    unenforced: Option<Arc<Principal>>,
}

impl AuthLayer {
    pub fn new(authenticator: Arc<dyn Authenticator>, public: PublicPaths) -> Self {
        Self {
            authenticator,
            public: Arc::new(public),
            unenforced: None,
        }
    }

    /// Reads no credential and gives every request `principal`: only for measuring what
    /// authentication costs (`trust.enforce: false`).
    pub fn unenforced(authenticator: Arc<dyn Authenticator>, principal: Principal) -> Self {
        Self {
            authenticator,
            public: Arc::new(PublicPaths::none()),
            unenforced: Some(Arc::new(principal)),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authenticator: self.authenticator.clone(),
            public: self.public.clone(),
            unenforced: self.unenforced.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Arc<dyn Authenticator>,
    public: Arc<PublicPaths>,
    unenforced: Option<Arc<Principal>>,
}

impl<S, B, RB> tower::Service<Request<B>> for AuthService<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: ResponseBody,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if let Some(principal) = &self.unenforced {
            request.extensions_mut().insert::<Principal>(Principal::clone(principal));
            return Box::pin(self.inner.call(request));
        }
        if self.public.is_public(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        // Take the service that was driven to readiness; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            let grpc = is_grpc(&request);
            let outcome = match Credential::from_headers(request.headers()) {
                Ok(Some(credential)) => authenticator.authenticate(&credential).await,
                Ok(None) => Err(AuthError::MissingCredential),
                Err(error) => Err(error),
            };
            match outcome {
                Ok(principal) => {
                    request.extensions_mut().insert::<Principal>(principal);
                    inner.call(request).await
                }
                Err(error) => {
                    tracing::debug!(path = request.uri().path(), code = error.code().as_str(), reason = %error, "request refused by authentication");
                    Ok(if grpc {
                        grpc_refusal(&error)
                    } else {
                        http_refusal(&error)
                    })
                }
            }
        })
    }
}

fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// HTTP 200 with `grpc-status` in the headers (a trailers-only response), carrying the same
/// problem as every other gRPC error of the platform in its details.
fn grpc_refusal<RB: ResponseBody>(error: &AuthError) -> Response<RB> {
    let status = tonic::Status::from(Problem::from(error));
    let (parts, ()) = status.into_http::<()>().into_parts();
    Response::from_parts(parts, RB::from_text(String::new()))
}

fn http_refusal<RB: ResponseBody>(error: &AuthError) -> Response<RB> {
    let problem = Problem::from(error);
    let body = serde_json::to_string(&problem).unwrap_or_default();
    let mut response = Response::new(RB::from_text(body));
    *response.status_mut() = error.code().http_status();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if error.code() == ErrorCode::Unauthenticated {
        // RFC 6750 §3: no error code when no credential was sent.
        let challenge = if matches!(error, AuthError::MissingCredential) {
            "Bearer"
        } else {
            "Bearer error=\"invalid_token\""
        };
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_match_exactly_or_by_prefix() {
        let public = PublicPaths::platform_defaults();
        for path in [
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
            "/docs",
            "/docs/app.js",
            "/api/v1/auth/sign-in",
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ] {
            assert!(public.is_public(path), "{path}");
        }
        for path in [
            "/",
            "/healthz/x",
            "/docsecret",
            "/api/v1/auth/sign-in/x",
            "/api/v1/tenants/t/datasets",
            "/brain.ingestion.v1.IngestionService/Ingest",
            "/grpc.health.v1.Health",
            "/docs/../api/v1/usage/t",
            "/docs/./x",
        ] {
            assert!(!public.is_public(path), "{path}");
        }
        assert!(!PublicPaths::none().is_public("/healthz"));
    }

    #[test]
    fn refusals_have_the_transport_specific_shape() {
        let response: Response<axum::body::Body> = http_refusal(&AuthError::MissingCredential);
        assert_eq!(response.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[http::header::WWW_AUTHENTICATE], "Bearer");
        let response: Response<axum::body::Body> = http_refusal(&AuthError::Expired {
            what: "access token",
        });
        assert_eq!(
            response.headers()[http::header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        let response: Response<axum::body::Body> = http_refusal(&AuthError::denied("scope"));
        assert_eq!(response.status(), http::StatusCode::FORBIDDEN);
        assert!(
            response
                .headers()
                .get(http::header::WWW_AUTHENTICATE)
                .is_none()
        );

        let response: Response<tonic::body::Body> = grpc_refusal(&AuthError::MissingCredential);
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "16");
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/grpc"
        );
        let status = tonic::Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(
            status.message().starts_with("no credential"),
            "{}",
            status.message()
        );
    }
}
