//! Who may call this process: every request but the public ones carries an access token (a
//! JWT this brain issued, verified with its signing key) or an API key (resolved through the
//! trust service, in this process or a peer), and REST routes under `/api/v1/tenants/{tenant}/`
//! are refused to callers of another tenant before any handler runs.
//!
//! Services call each other with a short-lived service token signed with the same key (every
//! process of one brain mounts it from one Secret); in-process calls carry a service
//! principal without any token.

use crate::{Peers, RuntimeError};
use async_trait::async_trait;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use brain_auth::{ApiKeyRecord, ApiKeyResolver, AuthError, Authenticator, JwtAuthenticator, JwtIssuer, JwtVerifier, Principal, SigningKey};
use brain_config::Config;
use brain_core::Problem;
use brain_proto::trust::v1::ResolveApiKeyRequest;
use brain_proto::trust::v1::identity_service_client::IdentityServiceClient;
use std::sync::{Arc, Mutex};

/// How long a service token lives, and how long before its end a new one is made.
const SERVICE_TOKEN_SECONDS: u64 = 300;
const SERVICE_TOKEN_RENEW_SECONDS: i64 = 60;

/// The process's authentication: whether it is enforced, and the authenticator.
pub struct ProcessAuth {
    pub enforce: bool,
    pub authenticator: Arc<dyn Authenticator>,
}

/// Loads (or creates) the brain's token signing key: verifies access tokens, signs service tokens.
pub(crate) fn signing_key(config: &Config) -> Result<Arc<SigningKey>, RuntimeError> {
    let path = config.trust.jwt_key_path(&config.common);
    SigningKey::load_or_generate(&path)
        .map(Arc::new)
        .map_err(|e| RuntimeError::Service { service: "auth", reason: e.to_string() })
}

impl ProcessAuth {
    pub(crate) fn new(config: &Config, key: &SigningKey, peers: Peers) -> Result<Arc<Self>, RuntimeError> {
        let trust = &config.trust;
        let verifier = JwtVerifier::new(&trust.token_issuer, &trust.token_issuer).with_key(&key.public_key());
        let mut authenticator = JwtAuthenticator::new(verifier, Arc::new(TrustApiKeys { peers }));
        if let Some(oidc) = oidc_provider(&trust.oidc)? {
            authenticator = authenticator.with_oidc(Arc::new(oidc));
        }
        let authenticator: Arc<dyn Authenticator> = Arc::new(authenticator);
        if !trust.enforce {
            tracing::warn!("trust.enforce is false: authentication, authorization and auditing are OFF; every caller acts as the system administrator. Use only to measure their cost.");
        }
        Ok(Arc::new(Self { enforce: trust.enforce, authenticator }))
    }
}

/// The external identity provider of `trust.oidc`, if one is configured.
fn oidc_provider(settings: &brain_config::OidcSettings) -> Result<Option<brain_auth::OidcAuthenticator>, RuntimeError> {
    if settings.issuer.is_empty() {
        return Ok(None);
    }
    let failed = |reason: String| RuntimeError::Service { service: "auth", reason: format!("trust.oidc: {reason}") };
    let mut config = brain_auth::OidcConfig::new(&settings.issuer, "", &settings.jwks_url);
    config.audiences = settings.audiences.clone();
    if !settings.tenant_claim.is_empty() {
        config.tenant_claim = settings.tenant_claim.clone();
    }
    if !settings.roles_claim.is_empty() {
        config.roles_claim = settings.roles_claim.clone();
    }
    config.default_tenant = Some(settings.default_tenant.clone()).filter(|t| !t.is_empty());
    for (theirs, ours) in &settings.role_mapping {
        let role = ours.parse().map_err(|e: brain_auth::AuthError| failed(format!("role_mapping.{theirs}: {e}")))?;
        config.role_mapping.insert(theirs.clone(), role);
    }
    brain_auth::OidcAuthenticator::new(config).map(Some).map_err(|e| failed(e.to_string()))
}

/// Short-lived bearer tokens naming a service of this process, for calls to peers in other
/// processes; one is reused until shortly before it expires.
pub struct ServiceTokens {
    issuer: JwtIssuer,
    cached: Mutex<std::collections::HashMap<String, brain_auth::jwt::IssuedToken>>,
}

impl ServiceTokens {
    pub(crate) fn new(config: &Config, key: Arc<SigningKey>) -> Self {
        Self { issuer: JwtIssuer::new(key, &config.trust.token_issuer, SERVICE_TOKEN_SECONDS), cached: Mutex::default() }
    }

    pub fn token(&self, service: &str) -> Result<String, AuthError> {
        let now = chrono::Utc::now();
        let mut cached = self.cached.lock().map_err(|_| AuthError::internal("service token cache poisoned"))?;
        if let Some(token) = cached.get(service).filter(|t| (t.expires_at - now).num_seconds() > SERVICE_TOKEN_RENEW_SECONDS) {
            return Ok(token.token.clone());
        }
        let issued = self.issuer.issue_at(&Principal::service(service), now)?;
        let token = issued.token.clone();
        cached.insert(service.to_owned(), issued);
        Ok(token)
    }
}

/// API keys are stored by the trust service: ask it (in-process or the configured peer).
struct TrustApiKeys {
    peers: Peers,
}

#[async_trait]
impl ApiKeyResolver for TrustApiKeys {
    async fn resolve(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        let unreachable = |reason: String| AuthError::ProviderUnavailable { reason: format!("API keys cannot be checked: {reason}") };
        let channel = self
            .peers
            .channel("trust")
            .map_err(|e| unreachable(e.to_string()))?
            .ok_or_else(|| unreachable("the trust service is neither in this process nor configured in common.peers.trust".into()))?;
        let answer = IdentityServiceClient::new(channel).resolve_api_key(ResolveApiKeyRequest { key_id: key_id.to_owned() }).await;
        match answer {
            Ok(resolved) => Ok(Some(brain_auth::proto::api_key_record_from(resolved.into_inner()).map_err(AuthError::internal)?)),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(unreachable(status.message().to_owned())),
        }
    }
}

/// With `trust.enforce: false`, every request acts as the platform's system administrator.
pub(crate) fn unenforced_principal() -> Principal {
    Principal {
        tenant: brain_auth::PLATFORM_TENANT.to_owned(),
        subject: brain_auth::Subject::Service { name: "unenforced".into() },
        roles: [brain_auth::Role::SystemAdmin].into_iter().collect(),
        scope: None,
        method: brain_auth::AuthMethod::PasswordOtp,
        session_id: None,
    }
}

/// Refuses REST calls on `/api/v1/tenants/{tenant}/…` by a caller of another tenant, before
/// any handler (and so any query) runs: a handler that forgets its check leaks nothing.
/// Routes under `…/datasets/{dataset}/…` are also checked against an API key's dataset scope.
pub(crate) async fn tenant_guard(request: Request, next: Next) -> Response {
    if let Some((tenant, dataset)) = path_tenant(request.uri().path())
        && let Some(principal) = request.extensions().get::<Principal>()
    {
        let allowed = match dataset {
            Some(dataset) => principal.require_dataset_of(tenant, dataset),
            None => principal.require_tenant(tenant),
        };
        if let Err(error) = allowed {
            return Problem::from(&error).into_response();
        }
    }
    next.run(request).await
}

/// The tenant (and dataset) a tenant route names.
fn path_tenant(path: &str) -> Option<(&str, Option<&str>)> {
    let mut segments = path.strip_prefix("/api/v1/tenants/")?.split('/');
    let tenant = segments.next()?;
    let dataset = match (segments.next(), segments.next()) {
        (Some("datasets"), Some(dataset)) if !dataset.is_empty() => Some(dataset),
        _ => None,
    };
    Some((tenant, dataset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_is_read_from_tenant_routes_only() {
        assert_eq!(path_tenant("/api/v1/tenants/t-1/datasets/d/records"), Some(("t-1", Some("d"))));
        assert_eq!(path_tenant("/api/v1/tenants/t-1/datasets"), Some(("t-1", None)));
        assert_eq!(path_tenant("/api/v1/tenants/t-1"), Some(("t-1", None)));
        assert_eq!(path_tenant("/api/v1/grants"), None);
        assert_eq!(path_tenant("/healthz"), None);
    }

    #[test]
    fn an_oidc_provider_is_built_from_the_settings_and_bad_role_names_are_refused() {
        assert!(oidc_provider(&brain_config::OidcSettings::default()).unwrap().is_none(), "off without an issuer");
        let mut settings = brain_config::OidcSettings {
            issuer: "https://idp.zj.gov.cn/realms/brain".into(),
            audiences: vec!["textile-brain".into()],
            jwks_url: "https://idp.zj.gov.cn/realms/brain/protocol/openid-connect/certs".into(),
            ..Default::default()
        };
        settings.role_mapping.insert("qiye_guanliyuan".into(), "enterprise-admin".into());
        let provider = oidc_provider(&settings).unwrap().unwrap();
        assert_eq!(provider.issuer(), "https://idp.zj.gov.cn/realms/brain");
        settings.role_mapping.insert("superuser".into(), "root".into());
        let Err(error) = oidc_provider(&settings) else { panic!("an unknown role was accepted") };
        assert!(error.to_string().contains("role_mapping.superuser"), "{error}");
    }
}
