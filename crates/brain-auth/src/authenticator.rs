//! Turning a credential into a principal: the trait the layer calls, a fixed table for
//! tests, and the real one (our JWTs, API keys, optionally an OIDC provider's tokens).

use crate::apikey::{ApiKey, ApiKeyRecord};
use crate::credential::Credential;
use crate::error::AuthError;
use crate::jwt::{JwtVerifier, peek_claims};
use crate::oidc::OidcAuthenticator;
use crate::principal::Principal;
use async_trait::async_trait;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    async fn authenticate(&self, credential: &Credential) -> Result<Principal, AuthError>;
}

/// Finds a stored API key by its key id (the store engineer implements it over the table).
#[async_trait]
pub trait ApiKeyResolver: Send + Sync + 'static {
    async fn resolve(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError>;
}

/// A fixed table credential → principal, for tests and local tools.
#[derive(Clone, Debug, Default)]
pub struct StaticAuthenticator {
    principals: HashMap<Credential, Principal>,
}

impl StaticAuthenticator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, credential: Credential, principal: Principal) -> Self {
        self.principals.insert(credential, principal);
        self
    }
}

#[async_trait]
impl Authenticator for StaticAuthenticator {
    async fn authenticate(&self, credential: &Credential) -> Result<Principal, AuthError> {
        self.principals
            .get(credential)
            .cloned()
            .ok_or_else(|| AuthError::invalid("unknown credential"))
    }
}

/// How long a resolved API key may be reused without asking the store by default.
pub const DEFAULT_API_KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// Upper bound on that, so a revocation always takes effect within a minute.
pub const MAX_API_KEY_CACHE_TTL: Duration = Duration::from_secs(60);
const MAX_CACHED_KEYS: usize = 10_000;

/// Our access tokens, API keys, and optionally an identity provider's tokens.
///
/// Resolved API key records (and "no such key") are cached for `api_key_cache_ttl`: a key
/// revoked in the store is refused by every process within that time. Expiry needs no
/// store round trip and is exact.
pub struct JwtAuthenticator {
    verifier: JwtVerifier,
    api_keys: Arc<dyn ApiKeyResolver>,
    oidc: Option<Arc<OidcAuthenticator>>,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Option<ApiKeyRecord>)>>,
    /// Held while a key is looked up in the store: one lookup per key at a time.
    lookups: brain_core::load_locks::LoadLocks,
}

impl JwtAuthenticator {
    pub fn new(verifier: JwtVerifier, api_keys: Arc<dyn ApiKeyResolver>) -> Self {
        Self {
            verifier,
            api_keys,
            oidc: None,
            cache_ttl: DEFAULT_API_KEY_CACHE_TTL,
            cache: Mutex::default(),
            lookups: Default::default(),
        }
    }

    pub fn with_oidc(mut self, oidc: Arc<OidcAuthenticator>) -> Self {
        self.oidc = Some(oidc);
        self
    }

    /// Clamped to [`MAX_API_KEY_CACHE_TTL`]; zero disables the cache.
    pub fn with_api_key_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl.min(MAX_API_KEY_CACHE_TTL);
        self
    }

    async fn bearer(&self, token: &str) -> Result<Principal, AuthError> {
        // The unverified issuer only chooses the verifier; each verifier checks it again.
        if let Some(oidc) = &self.oidc {
            let issuer = peek_claims(token)
                .and_then(|c| c.get("iss").and_then(|v| v.as_str()).map(str::to_owned));
            if issuer.as_deref() == Some(oidc.issuer()) {
                return oidc.authenticate(token).await;
            }
        }
        Ok(self.verifier.verify(token)?.into_principal())
    }

    async fn api_key(&self, text: &str) -> Result<Principal, AuthError> {
        let key = ApiKey::parse(text)?;
        let record = self
            .record(key.key_id())
            .await?
            .ok_or_else(|| AuthError::invalid("API key is not valid"))?;
        record.authenticate(&key, Utc::now())
    }

    async fn record(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        if self.cache_ttl.is_zero() {
            return self.api_keys.resolve(key_id).await;
        }
        if let Some(record) = self.cached(key_id)? {
            return Ok(record);
        }
        // One store lookup per key at a time: when a busy key's entry expires, the requests
        // that find it expired wait for that lookup instead of each making their own (at a
        // few thousand requests a second that stampede exhausted the store's pool).
        let _looking_up = self.lookups.lock(key_id).await;
        if let Some(record) = self.cached(key_id)? {
            return Ok(record);
        }
        let record = self.api_keys.resolve(key_id).await?;
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| AuthError::internal("API key cache poisoned"))?;
        if cache.len() >= MAX_CACHED_KEYS {
            let ttl = self.cache_ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= MAX_CACHED_KEYS {
                cache.clear();
            }
        }
        cache.insert(key_id.to_owned(), (Instant::now(), record.clone()));
        Ok(record)
    }

    /// The cached record of `key_id` (`Some(None)`: cached as unknown), if still fresh.
    fn cached(&self, key_id: &str) -> Result<Option<Option<ApiKeyRecord>>, AuthError> {
        let cache = self
            .cache
            .lock()
            .map_err(|_| AuthError::internal("API key cache poisoned"))?;
        Ok(cache
            .get(key_id)
            .filter(|(at, _)| at.elapsed() < self.cache_ttl)
            .map(|(_, record)| record.clone()))
    }
}

#[async_trait]
impl Authenticator for JwtAuthenticator {
    async fn authenticate(&self, credential: &Credential) -> Result<Principal, AuthError> {
        match credential {
            Credential::Bearer(token) => self.bearer(token).await,
            Credential::ApiKey(key) => self.api_key(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{JwtIssuer, SigningKey};
    use crate::principal::{AuthMethod, KeyScope, Subject};
    use crate::roles::Role;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Keys {
        records: Mutex<HashMap<String, ApiKeyRecord>>,
        lookups: AtomicUsize,
        /// How long a lookup takes, in milliseconds.
        latency_ms: std::sync::atomic::AtomicU64,
    }

    #[async_trait]
    impl ApiKeyResolver for Keys {
        async fn resolve(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let latency = self.latency_ms.load(Ordering::SeqCst);
            if latency > 0 {
                tokio::time::sleep(Duration::from_millis(latency)).await;
            }
            Ok(self.records.lock().unwrap().get(key_id).cloned())
        }
    }

    fn user() -> Principal {
        Principal {
            tenant: "91350100M000100Y43".into(),
            subject: Subject::User {
                id: "u1".into(),
                name: "wang".into(),
            },
            roles: [Role::EnterpriseUser].into(),
            scope: None,
            method: AuthMethod::Password,
            session_id: Some("s1".into()),
        }
    }

    fn setup(ttl: Duration) -> (JwtAuthenticator, JwtIssuer, Arc<Keys>, ApiKey) {
        let key = Arc::new(SigningKey::generate().unwrap());
        let verifier =
            JwtVerifier::new("industry-brain", "industry-brain").with_key(&key.public_key());
        let keys = Arc::new(Keys::default());
        let api_key = ApiKey::generate();
        keys.records.lock().unwrap().insert(
            api_key.key_id().to_owned(),
            ApiKeyRecord {
                id: api_key.key_id().to_owned(),
                tenant: "91350100M000100Y43".into(),
                name: "erp".into(),
                scope: KeyScope::default(),
                roles: [Role::Provider].into(),
                expires_at: None,
                revoked_at: None,
                hash: api_key.hash(),
            },
        );
        let auth = JwtAuthenticator::new(verifier, keys.clone()).with_api_key_cache_ttl(ttl);
        (
            auth,
            JwtIssuer::new(key, "industry-brain", 900),
            keys,
            api_key,
        )
    }

    #[tokio::test]
    async fn static_table_answers_known_credentials_only() {
        let auth = StaticAuthenticator::new().with(Credential::Bearer("t1".into()), user());
        assert_eq!(
            auth.authenticate(&Credential::Bearer("t1".into()))
                .await
                .unwrap(),
            user()
        );
        assert!(
            auth.authenticate(&Credential::ApiKey("t1".into()))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn bearer_tokens_are_verified_and_mapped() {
        let (auth, issuer, _, _) = setup(DEFAULT_API_KEY_CACHE_TTL);
        let token = issuer.issue(&user()).unwrap().token;
        assert_eq!(
            auth.authenticate(&Credential::Bearer(token.clone()))
                .await
                .unwrap(),
            user()
        );
        let mut tampered = token.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(matches!(
            auth.authenticate(&Credential::Bearer(tampered)).await,
            Err(AuthError::InvalidCredential { .. })
        ));
    }

    #[tokio::test]
    async fn api_keys_are_checked_against_the_stored_hash() {
        let (auth, _, _, api_key) = setup(DEFAULT_API_KEY_CACHE_TTL);
        let principal = auth
            .authenticate(&Credential::ApiKey(api_key.expose().into()))
            .await
            .unwrap();
        assert_eq!(principal.method, AuthMethod::ApiKey);
        assert_eq!(principal.roles, [Role::Provider].into());
        let wrong_secret = format!("bk_{}_{}", api_key.key_id(), "A".repeat(43));
        assert!(
            auth.authenticate(&Credential::ApiKey(wrong_secret))
                .await
                .unwrap_err()
                .to_string()
                .contains("not valid")
        );
        let unknown = ApiKey::generate();
        assert!(
            auth.authenticate(&Credential::ApiKey(unknown.expose().into()))
                .await
                .unwrap_err()
                .to_string()
                .contains("not valid")
        );
        assert!(
            auth.authenticate(&Credential::ApiKey("bk_nope".into()))
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_with_an_expired_key_share_one_lookup() {
        let ttl = Duration::from_secs(5);
        let (auth, _, keys, api_key) = setup(ttl);
        keys.latency_ms.store(20, Ordering::SeqCst);
        let credential = Credential::ApiKey(api_key.expose().into());
        let burst = || futures::future::join_all((0..50).map(|_| auth.authenticate(&credential)));
        assert!(burst().await.iter().all(Result::is_ok));
        assert_eq!(
            keys.lookups.load(Ordering::SeqCst),
            1,
            "a cold key is looked up once"
        );
        tokio::time::advance(ttl).await;
        assert!(burst().await.iter().all(Result::is_ok));
        assert_eq!(
            keys.lookups.load(Ordering::SeqCst),
            2,
            "an expired key is looked up once more"
        );
        // Unknown keys are looked up once too, and refused alike.
        let unknown = Credential::ApiKey(ApiKey::generate().expose().into());
        let refused = futures::future::join_all((0..50).map(|_| auth.authenticate(&unknown))).await;
        assert!(refused.iter().all(Result::is_err));
        assert_eq!(keys.lookups.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn revocation_takes_effect_within_the_cache_ttl() {
        let ttl = Duration::from_secs(5);
        let (auth, _, keys, api_key) = setup(ttl);
        let credential = Credential::ApiKey(api_key.expose().into());
        assert!(auth.authenticate(&credential).await.is_ok());
        assert!(auth.authenticate(&credential).await.is_ok());
        assert_eq!(
            keys.lookups.load(Ordering::SeqCst),
            1,
            "the second request is served from the cache"
        );

        keys.records
            .lock()
            .unwrap()
            .get_mut(api_key.key_id())
            .unwrap()
            .revoked_at = Some(Utc::now());
        tokio::time::advance(ttl - Duration::from_millis(1)).await;
        assert!(
            auth.authenticate(&credential).await.is_ok(),
            "still cached just before the bound"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(matches!(
            auth.authenticate(&credential).await,
            Err(AuthError::Revoked { what: "API key" })
        ));
        assert_eq!(keys.lookups.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_zero_ttl_asks_the_store_every_time_and_the_ttl_is_bounded() {
        let (auth, _, keys, api_key) = setup(Duration::ZERO);
        let credential = Credential::ApiKey(api_key.expose().into());
        assert!(auth.authenticate(&credential).await.is_ok());
        keys.records
            .lock()
            .unwrap()
            .get_mut(api_key.key_id())
            .unwrap()
            .revoked_at = Some(Utc::now());
        assert!(matches!(
            auth.authenticate(&credential).await,
            Err(AuthError::Revoked { .. })
        ));
        let (auth, ..) = setup(Duration::from_secs(3600));
        assert_eq!(auth.cache_ttl, MAX_API_KEY_CACHE_TTL);
    }
}
