//! An external OpenID Connect identity provider: its tokens are checked against its JWKS
//! (RS256, ES256, EdDSA), and its claims mapped to a [`Principal`] by configuration.

use crate::error::AuthError;
use crate::jwt::{check_times, decode_error, peek_header};
use crate::principal::{AuthMethod, Principal, Subject};
use crate::roles::{Role, check_role_separation};
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Algorithms accepted from an identity provider. Symmetric ones never: the JWKS is public.
pub const OIDC_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Exact `iss` of the provider's tokens.
    pub issuer: String,
    /// `aud` values accepted (the client id of the brain at the provider).
    pub audiences: Vec<String>,
    /// Where the provider publishes its keys (`jwks_uri` of its discovery document).
    pub jwks_url: String,
    /// Claim naming the tenant; a dotted path reaches into objects.
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// Tenant of users whose token has no tenant claim; none = such tokens are refused.
    #[serde(default)]
    pub default_tenant: Option<String>,
    /// Claim listing the roles (array, or space-separated string), e.g. `realm_access.roles`.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Provider role name → our role. Names not listed give no role.
    #[serde(default)]
    pub role_mapping: BTreeMap<String, Role>,
    /// Claim with the display name; falls back to `name`, then `sub`.
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
}

fn default_tenant_claim() -> String {
    "tenant".into()
}
fn default_roles_claim() -> String {
    "roles".into()
}
fn default_name_claim() -> String {
    "preferred_username".into()
}

impl OidcConfig {
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks_url: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            jwks_url: jwks_url.into(),
            tenant_claim: default_tenant_claim(),
            default_tenant: None,
            roles_claim: default_roles_claim(),
            role_mapping: BTreeMap::new(),
            name_claim: default_name_claim(),
        }
    }
}

/// Checks tokens against a given key set; holds no state.
#[derive(Clone, Debug)]
pub struct OidcValidator {
    config: OidcConfig,
}

impl OidcValidator {
    pub fn new(config: OidcConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Verifies `token` with the key of `jwks` its `kid` names and maps its claims.
    pub fn validate_at(
        &self,
        token: &str,
        jwks: &JwkSet,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let header = peek_header(token)?;
        let jwk = select_key(jwks, header.kid.as_deref()).ok_or_else(|| {
            AuthError::invalid("token is signed with a key the identity provider does not publish")
        })?;
        self.validate_with_key(token, jwk, now)
    }

    pub fn validate_with_key(
        &self,
        token: &str,
        jwk: &Jwk,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let header = peek_header(token)?;
        let algorithm = OIDC_ALGORITHMS
            .into_iter()
            .find(|a| algorithm_name(*a) == header.alg)
            .ok_or_else(|| {
                AuthError::invalid(format!(
                    "token algorithm {:?} is not accepted (RS256, ES256 or EdDSA)",
                    header.alg
                ))
            })?;
        if let Some(declared) = jwk.common.key_algorithm
            && declared.to_string() != header.alg
        {
            return Err(AuthError::invalid(format!(
                "token algorithm {} does not match its key's {declared}",
                header.alg
            )));
        }
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
            return Err(AuthError::invalid("identity provider key is symmetric"));
        }
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|_| AuthError::invalid("identity provider key is malformed"))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(decode_error)?;
        let claims = data.claims;
        check_times(
            claims.get("exp").and_then(Value::as_i64),
            claims.get("nbf").and_then(Value::as_i64),
            now,
            "identity token",
        )?;
        self.map_claims(&claims)
    }

    /// Maps verified claims to a principal.
    pub fn map_claims(&self, claims: &Value) -> Result<Principal, AuthError> {
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AuthError::invalid("token has no \"sub\" claim"))?;
        let tenant = match claim(claims, &self.config.tenant_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(tenant) => tenant.to_owned(),
            None => self.config.default_tenant.clone().ok_or_else(|| {
                AuthError::invalid(format!(
                    "token has no {:?} claim naming the tenant",
                    self.config.tenant_claim
                ))
            })?,
        };
        let external: Vec<&str> = match claim(claims, &self.config.roles_claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(text)) => text.split_whitespace().collect(),
            _ => Vec::new(),
        };
        let roles: BTreeSet<Role> = external
            .iter()
            .filter_map(|name| self.config.role_mapping.get(*name).copied())
            .collect();
        check_role_separation(&roles.iter().copied().collect::<Vec<_>>())?;
        let name = [self.config.name_claim.as_str(), "name"]
            .into_iter()
            .find_map(|c| claim(claims, c).and_then(Value::as_str))
            .unwrap_or(sub)
            .to_owned();
        Ok(Principal {
            tenant,
            subject: Subject::User {
                id: sub.to_owned(),
                name,
            },
            roles,
            scope: None,
            method: AuthMethod::Oidc,
            session_id: claims.get("sid").and_then(Value::as_str).map(str::to_owned),
        })
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "",
    }
}

/// The key a token's `kid` names; a token without `kid` may use a set's only key.
fn select_key<'a>(jwks: &'a JwkSet, kid: Option<&str>) -> Option<&'a Jwk> {
    match kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
}

/// A claim by name, or by dotted path into nested objects (`realm_access.roles`). The whole
/// name is tried first: claim names may be URLs containing dots.
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    claims.get(path).or_else(|| {
        path.split('.')
            .try_fold(claims, |value, part| value.get(part))
    })
}

/// Parses a JWKS document, skipping keys of types we cannot use (one odd key must not
/// make the provider's other keys unusable).
pub fn parse_jwks(document: &Value) -> Result<JwkSet, AuthError> {
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| AuthError::ProviderUnavailable {
            reason: "JWKS document has no \"keys\" array".into(),
        })?;
    Ok(JwkSet {
        keys: keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect(),
    })
}

/// The provider's keys, fetched over HTTPS and refreshed when a token names an unknown key
/// (at most once per `min_refresh_interval`, one minute by default) or when they are older
/// than `max_age` (one hour).
pub struct JwksCache {
    url: reqwest::Url,
    client: reqwest::Client,
    min_refresh_interval: Duration,
    max_age: Duration,
    state: tokio::sync::Mutex<CacheState>,
}

struct CacheState {
    jwks: Arc<JwkSet>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

impl JwksCache {
    /// Refuses plain HTTP except to a loopback address (a provider on the same host, tests).
    pub fn new(url: &str) -> Result<Self, AuthError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| AuthError::internal(format!("JWKS URL {url:?}: {e}")))?;
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(AuthError::internal(format!(
                "JWKS URL {url:?} must use https"
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AuthError::internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            url: parsed,
            client,
            min_refresh_interval: Duration::from_secs(60),
            max_age: Duration::from_secs(3600),
            state: tokio::sync::Mutex::new(CacheState {
                jwks: Arc::new(JwkSet { keys: Vec::new() }),
                fetched_at: None,
                last_attempt: None,
            }),
        })
    }

    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The current key set, after refreshing it when `kid` is unknown or the set is stale
    /// (within the rate limit). A failed refresh keeps the keys we have.
    pub async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<JwkSet>, AuthError> {
        let mut state = self.state.lock().await;
        let known = select_key(&state.jwks, kid).is_some();
        let stale = state
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.max_age);
        let may_fetch = state
            .last_attempt
            .is_none_or(|at| at.elapsed() >= self.min_refresh_interval);
        if (!known || stale) && may_fetch {
            state.last_attempt = Some(Instant::now());
            match self.fetch().await {
                Ok(jwks) => {
                    state.jwks = Arc::new(jwks);
                    state.fetched_at = Some(Instant::now());
                }
                Err(error) if state.fetched_at.is_some() => {
                    tracing::warn!(url = %self.url, %error, "JWKS refresh failed; keeping the keys we have")
                }
                Err(error) => return Err(error),
            }
        }
        Ok(state.jwks.clone())
    }

    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let unavailable = |reason: String| AuthError::ProviderUnavailable { reason };
        let response = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .map_err(|e| unavailable(format!("fetching {}: {e}", self.url)))?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "fetching {}: HTTP {}",
                self.url,
                response.status()
            )));
        }
        let document: Value = response
            .json()
            .await
            .map_err(|e| unavailable(format!("JWKS at {} is not JSON: {e}", self.url)))?;
        parse_jwks(&document)
    }
}

/// Validator plus cache: what [`crate::layer::JwtAuthenticator`] uses for provider tokens.
pub struct OidcAuthenticator {
    validator: OidcValidator,
    jwks: JwksCache,
}

impl OidcAuthenticator {
    pub fn new(config: OidcConfig) -> Result<Self, AuthError> {
        let jwks = JwksCache::new(&config.jwks_url)?;
        Ok(Self {
            validator: OidcValidator::new(config),
            jwks,
        })
    }

    pub fn with_cache(validator: OidcValidator, jwks: JwksCache) -> Self {
        Self { validator, jwks }
    }

    pub fn issuer(&self) -> &str {
        &self.validator.config.issuer
    }

    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let header = peek_header(token)?;
        let jwks = self.jwks.keys_for(header.kid.as_deref()).await?;
        self.validator.validate_at(token, &jwks, Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use data_encoding::BASE64URL_NOPAD;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ISSUER: &str = "https://idp.zj.gov.cn/realms/brain";

    struct TestKeys {
        rsa_private_der: Vec<u8>,
        rsa_jwk: Value,
        ec_private_der: Vec<u8>,
        ec_jwk: Value,
    }

    /// Generated once per test binary: RSA key generation is slow without optimisation.
    fn keys() -> &'static TestKeys {
        static KEYS: OnceLock<TestKeys> = OnceLock::new();
        KEYS.get_or_init(|| {
            use p256::pkcs8::EncodePrivateKey as _;
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            use rsa::traits::PublicKeyParts as _;
            let rsa = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
            let rsa_jwk = json!({
                "kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
                "n": BASE64URL_NOPAD.encode(&rsa.n().to_bytes_be()),
                "e": BASE64URL_NOPAD.encode(&rsa.e().to_bytes_be()),
            });
            let ec = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
            let point = ec.verifying_key().to_encoded_point(false);
            let ec_jwk = json!({
                "kty": "EC", "kid": "ec-1", "crv": "P-256", "use": "sig",
                "x": BASE64URL_NOPAD.encode(point.x().unwrap()),
                "y": BASE64URL_NOPAD.encode(point.y().unwrap()),
            });
            TestKeys {
                rsa_private_der: rsa.to_pkcs1_der().unwrap().as_bytes().to_vec(),
                rsa_jwk,
                ec_private_der: ec.to_pkcs8_der().unwrap().as_bytes().to_vec(),
                ec_jwk,
            }
        })
    }

    fn jwks() -> JwkSet {
        parse_jwks(&json!({ "keys": [keys().rsa_jwk, keys().ec_jwk, { "kty": "unknown-kind", "kid": "odd" }] })).unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "aud": ["brain-portal", "account"], "sub": "f3a1", "exp": now().timestamp() + 300,
            "nbf": now().timestamp() - 5, "preferred_username": "zhang.wei", "org": { "uscc": "91350100M000100Y43" },
            "realm_access": { "roles": ["brain-enterprise-admin", "offline_access"] }, "sid": "idp-session-9",
        })
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_der(&keys().rsa_private_der),
            Algorithm::ES256 => EncodingKey::from_ec_der(&keys().ec_private_der),
            _ => EncodingKey::from_secret(b"secret"),
        };
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    fn validator() -> OidcValidator {
        let mut config = OidcConfig::new(ISSUER, "brain-portal", "https://idp.zj.gov.cn/jwks");
        config.tenant_claim = "org.uscc".into();
        config.roles_claim = "realm_access.roles".into();
        config.role_mapping = [
            ("brain-enterprise-admin".to_owned(), Role::EnterpriseAdmin),
            ("brain-auditor".to_owned(), Role::Auditor),
            ("brain-sysadmin".to_owned(), Role::SystemAdmin),
        ]
        .into();
        OidcValidator::new(config)
    }

    #[test]
    fn rs256_and_es256_tokens_map_to_a_principal() {
        for (alg, kid) in [(Algorithm::RS256, "rsa-1"), (Algorithm::ES256, "ec-1")] {
            let principal = validator()
                .validate_at(&sign(alg, Some(kid), &claims()), &jwks(), now())
                .unwrap();
            assert_eq!(principal.tenant, "91350100M000100Y43");
            assert_eq!(
                principal.subject,
                Subject::User {
                    id: "f3a1".into(),
                    name: "zhang.wei".into()
                }
            );
            assert_eq!(principal.roles, [Role::EnterpriseAdmin].into());
            assert_eq!(principal.method, AuthMethod::Oidc);
            assert_eq!(principal.session_id.as_deref(), Some("idp-session-9"));
        }
    }

    #[test]
    fn eddsa_provider_keys_work_too() {
        let key = crate::jwt::SigningKey::generate().unwrap();
        let set = parse_jwks(&json!({ "keys": [key.public_key().to_jwk()] })).unwrap();
        let issuer =
            crate::jwt::JwtIssuer::new(Arc::new(key), ISSUER, 300).with_audience("brain-portal");
        let user = Principal {
            tenant: "91350100M000100Y43".into(),
            subject: Subject::User {
                id: "u".into(),
                name: "n".into(),
            },
            roles: BTreeSet::new(),
            scope: None,
            method: AuthMethod::Password,
            session_id: None,
        };
        let token = issuer.issue_at(&user, now()).unwrap().token;
        let mut config = validator().config().clone();
        config.tenant_claim = "tenant".into();
        let principal = OidcValidator::new(config)
            .validate_at(&token, &set, now())
            .unwrap();
        assert_eq!(
            (principal.tenant.as_str(), principal.method),
            ("91350100M000100Y43", AuthMethod::Oidc)
        );
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_refused() {
        let v = validator();
        let good = sign(Algorithm::RS256, Some("rsa-1"), &claims());
        let parts: Vec<&str> = good.split('.').collect();
        let mut changed = claims();
        changed["org"]["uscc"] = json!("91110000802100433B");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            BASE64URL_NOPAD.encode(&serde_json::to_vec(&changed).unwrap()),
            parts[2]
        );
        assert!(
            v.validate_at(&forged, &jwks(), now())
                .unwrap_err()
                .to_string()
                .contains("signature")
        );

        let mut expired = claims();
        expired["exp"] = json!(now().timestamp() - 31);
        assert!(matches!(
            v.validate_at(
                &sign(Algorithm::RS256, Some("rsa-1"), &expired),
                &jwks(),
                now()
            ),
            Err(AuthError::Expired {
                what: "identity token"
            })
        ));

        let mut other_audience = claims();
        other_audience["aud"] = json!("another-client");
        assert!(
            v.validate_at(
                &sign(Algorithm::ES256, Some("ec-1"), &other_audience),
                &jwks(),
                now()
            )
            .unwrap_err()
            .to_string()
            .contains("audience")
        );

        let mut other_issuer = claims();
        other_issuer["iss"] = json!("https://evil.example/realms/brain");
        assert!(
            v.validate_at(
                &sign(Algorithm::RS256, Some("rsa-1"), &other_issuer),
                &jwks(),
                now()
            )
            .unwrap_err()
            .to_string()
            .contains("issuer")
        );

        assert!(
            v.validate_at(
                &sign(Algorithm::RS256, Some("rsa-9"), &claims()),
                &jwks(),
                now()
            )
            .unwrap_err()
            .to_string()
            .contains("does not publish")
        );
    }

    #[test]
    fn algorithm_confusion_is_refused() {
        let v = validator();
        // ES256 signature presented under the RSA key's kid.
        let error = v
            .validate_at(
                &sign(Algorithm::ES256, Some("rsa-1"), &claims()),
                &jwks(),
                now(),
            )
            .unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
        // ES256 under the EC key without `alg` in the JWK but claiming RS256: key family mismatch.
        let error = v
            .validate_at(
                &sign(Algorithm::RS256, Some("ec-1"), &claims()),
                &jwks(),
                now(),
            )
            .unwrap_err();
        assert!(error.to_string().contains("key does not fit"), "{error}");
        // HS256 with a guessable secret, and alg none.
        let error = v
            .validate_at(
                &sign(Algorithm::HS256, Some("rsa-1"), &claims()),
                &jwks(),
                now(),
            )
            .unwrap_err();
        assert!(
            error.to_string().contains("\"HS256\" is not accepted"),
            "{error}"
        );
        let payload = BASE64URL_NOPAD.encode(&serde_json::to_vec(&claims()).unwrap());
        let none = format!(
            "{}.{payload}.",
            BASE64URL_NOPAD.encode(br#"{"alg":"none","kid":"rsa-1"}"#)
        );
        assert!(
            v.validate_at(&none, &jwks(), now())
                .unwrap_err()
                .to_string()
                .contains("\"none\" is not accepted")
        );
    }

    #[test]
    fn claim_mapping_rules() {
        let v = validator();
        let mut c = claims();
        c["realm_access"]["roles"] = json!("offline_access brain-auditor");
        assert_eq!(v.map_claims(&c).unwrap().roles, [Role::Auditor].into());
        c["realm_access"]["roles"] = json!(["brain-auditor", "brain-sysadmin"]);
        assert!(matches!(
            v.map_claims(&c),
            Err(AuthError::RoleConflict { .. })
        ));
        c.as_object_mut().unwrap().remove("realm_access");
        assert!(v.map_claims(&c).unwrap().roles.is_empty());
        c.as_object_mut().unwrap().remove("org");
        assert!(
            v.map_claims(&c)
                .unwrap_err()
                .to_string()
                .contains("\"org.uscc\" claim naming the tenant")
        );
        let mut config = v.config().clone();
        config.default_tenant = Some("zj-gov".into());
        c.as_object_mut().unwrap().remove("preferred_username");
        c["name"] = json!("张伟");
        let principal = OidcValidator::new(config).map_claims(&c).unwrap();
        assert_eq!(
            (principal.tenant.as_str(), &principal.subject),
            (
                "zj-gov",
                &Subject::User {
                    id: "f3a1".into(),
                    name: "张伟".into()
                }
            )
        );
        // A claim whose name is a URL with dots is found by its whole name.
        let url_claim = json!({ "https://brain.zj.cn/tenant": "t1" });
        assert_eq!(
            claim(&url_claim, "https://brain.zj.cn/tenant"),
            Some(&json!("t1"))
        );
    }

    #[test]
    fn jwks_urls_must_be_https_except_loopback() {
        assert!(JwksCache::new("https://idp.example/jwks").is_ok());
        assert!(JwksCache::new("http://127.0.0.1:8080/jwks").is_ok());
        assert!(JwksCache::new("http://idp.example/jwks").is_err());
        assert!(JwksCache::new("not a url").is_err());
    }

    /// Serves a JWKS whose keys the test can swap, counting fetches.
    async fn jwks_server(
        document: Arc<std::sync::Mutex<Value>>,
        fetches: Arc<AtomicUsize>,
    ) -> String {
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (document, fetches) = (document.clone(), fetches.clone());
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(document.lock().unwrap().clone())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://127.0.0.1:{}/jwks", addr.port())
    }

    #[tokio::test]
    async fn cache_fetches_once_and_refreshes_on_unknown_kid_at_most_once_per_interval() {
        let document = Arc::new(std::sync::Mutex::new(json!({ "keys": [keys().rsa_jwk] })));
        let fetches = Arc::new(AtomicUsize::new(0));
        let url = jwks_server(document.clone(), fetches.clone()).await;
        let mut config = validator().config().clone();
        config.jwks_url = url.clone();
        let auth = OidcAuthenticator::new(config.clone()).unwrap();

        let mut live = claims();
        live["exp"] = json!(Utc::now().timestamp() + 300);
        live["nbf"] = json!(Utc::now().timestamp() - 5);
        assert_eq!(
            auth.authenticate(&sign(Algorithm::RS256, Some("rsa-1"), &live))
                .await
                .unwrap()
                .tenant,
            "91350100M000100Y43"
        );
        assert_eq!(
            auth.authenticate(&sign(Algorithm::RS256, Some("rsa-1"), &live))
                .await
                .unwrap()
                .subject
                .actor(),
            "user:f3a1"
        );
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "a known kid is served from the cache"
        );

        // The provider rotates in the EC key: the unknown kid triggers one refresh.
        *document.lock().unwrap() = json!({ "keys": [keys().rsa_jwk, keys().ec_jwk] });
        // Within the minute since the last fetch, an unknown kid does not refetch.
        assert!(
            auth.authenticate(&sign(Algorithm::ES256, Some("ec-1"), &live))
                .await
                .is_err()
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        let eager = OidcAuthenticator::with_cache(
            OidcValidator::new(config),
            JwksCache::new(&url)
                .unwrap()
                .with_min_refresh_interval(Duration::ZERO),
        );
        assert!(
            eager
                .authenticate(&sign(Algorithm::RS256, Some("rsa-1"), &live))
                .await
                .is_ok()
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        assert!(
            eager
                .authenticate(&sign(Algorithm::ES256, Some("ec-1"), &live))
                .await
                .is_ok()
        );
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "the new key was already in the fetched set"
        );
        assert!(
            eager
                .authenticate(&sign(Algorithm::ES256, Some("ec-9"), &live))
                .await
                .is_err()
        );
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            3,
            "an unknown kid refreshes once the interval allows"
        );
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_unavailable_not_unauthenticated() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let cache = JwksCache::new(&format!("http://127.0.0.1:{port}/jwks")).unwrap();
        assert!(matches!(
            cache.keys_for(Some("k")).await,
            Err(AuthError::ProviderUnavailable { .. })
        ));
    }
}
