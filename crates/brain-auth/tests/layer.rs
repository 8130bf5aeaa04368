#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The one auth layer over an axum router and over tonic gRPC routes.

use async_trait::async_trait;
use axum::Extension;
use axum::body::Body;
use axum::routing::get;
use brain_auth::apikey::{ApiKey, ApiKeyRecord};
use brain_auth::{
    ApiKeyResolver, AuthError, AuthLayer, AuthMethod, Credential, JwtAuthenticator, JwtIssuer,
    JwtVerifier, KeyScope, Principal, PublicPaths, Role, SigningKey, StaticAuthenticator, Subject,
};
use http::{Request, StatusCode};
use std::sync::{Arc, Mutex};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower::{Layer, ServiceExt};

const TENANT: &str = "91350100M000100Y43";

fn user() -> Principal {
    Principal {
        tenant: TENANT.into(),
        subject: Subject::User {
            id: "u-7".into(),
            name: "chen.jie".into(),
        },
        roles: [Role::EnterpriseAdmin].into(),
        scope: None,
        method: AuthMethod::Password,
        session_id: Some("s-7".into()),
    }
}

struct OneKey(ApiKeyRecord);

#[async_trait]
impl ApiKeyResolver for OneKey {
    async fn resolve(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        Ok((key_id == self.0.id).then(|| self.0.clone()))
    }
}

async fn whoami(Extension(principal): Extension<Principal>) -> String {
    format!("{} {}", principal.tenant, principal.subject.actor())
}

async fn send(
    app: &axum::Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn axum_router_behind_the_layer() {
    let signing = Arc::new(SigningKey::generate().unwrap());
    let issuer = JwtIssuer::new(signing.clone(), "industry-brain", 900);
    let verifier =
        JwtVerifier::new("industry-brain", "industry-brain").with_key(&signing.public_key());
    let api_key = ApiKey::generate();
    let record = ApiKeyRecord {
        id: api_key.key_id().into(),
        tenant: TENANT.into(),
        name: "mes-bridge".into(),
        scope: KeyScope::default(),
        roles: [Role::Provider].into(),
        expires_at: None,
        revoked_at: None,
        hash: api_key.hash(),
    };
    let authenticator = JwtAuthenticator::new(verifier, Arc::new(OneKey(record)));
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/whoami", get(whoami))
        .layer(AuthLayer::new(
            Arc::new(authenticator),
            PublicPaths::platform_defaults(),
        ));

    let (status, _, body) = send(&app, "/healthz", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));

    let (status, headers, body) = send(&app, "/api/v1/whoami", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[http::header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(headers[http::header::WWW_AUTHENTICATE], "Bearer");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["code"], "unauthenticated");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("no credential")
    );

    let token = issuer.issue(&user()).unwrap().token;
    let bearer = format!("Bearer {token}");
    let (status, _, body) = send(&app, "/api/v1/whoami", &[("authorization", &bearer)]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "91350100M000100Y43 user:u-7")
    );

    let (status, _, body) = send(&app, "/api/v1/whoami", &[("x-api-key", api_key.expose())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, format!("{TENANT} api-key:{}", api_key.key_id()));
    let as_bearer = format!("Bearer {}", api_key.expose());
    assert_eq!(
        send(&app, "/api/v1/whoami", &[("authorization", &as_bearer)])
            .await
            .0,
        StatusCode::OK
    );

    // A token from another brain's key, and a forged API key: refused, and nothing of the
    // credential is echoed back.
    let foreign = JwtIssuer::new(
        Arc::new(SigningKey::generate().unwrap()),
        "industry-brain",
        900,
    )
    .issue(&user())
    .unwrap()
    .token;
    let (status, headers, body) = send(
        &app,
        "/api/v1/whoami",
        &[("authorization", &format!("Bearer {foreign}"))],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[http::header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    assert!(!body.contains(&foreign[..20]));
    let forged = format!("bk_{}_{}", api_key.key_id(), "B".repeat(42) + "A");
    let (status, _, body) = send(&app, "/api/v1/whoami", &[("x-api-key", &forged)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.contains(&forged[16..]));

    // Authentication runs before routing: an unknown path does not reveal that it is unknown.
    assert_eq!(
        send(&app, "/api/v1/secret-thing", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, "/api/v1/secret-thing", &[("authorization", &bearer)])
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

/// gRPC health behind the layer; an interceptor records the principal the handler sees.
async fn grpc_server(public: PublicPaths, seen: Arc<Mutex<Vec<Option<Principal>>>>) -> String {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let observed = tonic::service::interceptor::InterceptedService::new(
        health,
        move |request: tonic::Request<()>| {
            seen.lock()
                .unwrap()
                .push(request.extensions().get::<Principal>().cloned());
            Ok(request)
        },
    );
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(observed);
    let authenticator =
        StaticAuthenticator::new().with(Credential::Bearer("good-token".into()), user());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(AuthLayer::new(Arc::new(authenticator), public))
            .add_routes(routes.routes())
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

async fn check(url: &str, authorization: Option<&str>) -> Result<ServingStatus, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    client.check(request).await.map(|r| r.into_inner().status())
}

#[tokio::test]
async fn grpc_routes_behind_the_layer() {
    // Only an HTTP-style path is public: gRPC health needs a credential here.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = grpc_server(PublicPaths::none().exact("/healthz"), seen.clone()).await;

    let refused = check(&url, None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(
        refused.message().starts_with("no credential"),
        "{}",
        refused.message()
    );
    let problem: brain_proto::common::v1::Problem =
        prost::Message::decode(refused.details()).unwrap();
    assert_eq!(problem.code, "unauthenticated");

    let wrong = check(&url, Some("Bearer stolen-token")).await.unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    assert_eq!(wrong.message(), "invalid credential: unknown credential");
    let basic = check(&url, Some("Basic dTpw")).await.unwrap_err();
    assert_eq!(
        basic.message(),
        "invalid credential: authorization scheme must be Bearer"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "refused calls never reach the handler"
    );

    assert_eq!(
        check(&url, Some("Bearer good-token")).await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        &[Some(user())],
        "the handler sees the principal"
    );
}

#[tokio::test]
async fn grpc_health_is_public_with_the_platform_defaults() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = grpc_server(PublicPaths::platform_defaults(), seen.clone()).await;
    assert_eq!(check(&url, None).await.unwrap(), ServingStatus::Serving);
    // A public path does not authenticate, so no principal even with a credential.
    assert_eq!(
        check(&url, Some("Bearer good-token")).await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(seen.lock().unwrap().as_slice(), &[None, None]);
}

#[tokio::test]
async fn the_layer_wraps_tonic_routes_as_a_plain_tower_service() {
    let (_, health) = tonic_health::server::health_reporter();
    let mut builder = tonic::service::RoutesBuilder::default();
    builder.add_service(health);
    let authenticator = StaticAuthenticator::new();
    let service =
        AuthLayer::new(Arc::new(authenticator), PublicPaths::none()).layer(builder.routes());
    let request = Request::post("/grpc.health.v1.Health/Check")
        .header("content-type", "application/grpc")
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "16");
}
