//! Short-lived access tokens: JWTs signed with Ed25519 (`alg: EdDSA`).
//!
//! The signing key lives in a PKCS#8 PEM file (`trust.jwt_signing_key_file`), created with
//! mode 0600 on first start. Its key id is the first 16 hex characters of the SHA-256 of the
//! public key, so verifiers can hold several keys during a rotation.

use crate::error::AuthError;
use crate::principal::{AuthMethod, Principal, Subject};
use crate::roles::Role;
use chrono::{DateTime, Duration, Utc};
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::Signer;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// `sub` of the tokens services of one brain call each other with.
pub const SERVICE_SUBJECT_PREFIX: &str = "service:";

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 30;

/// The Ed25519 private key that signs access tokens (and, through [`SigningKey::sign`], any
/// other message such as ledger checkpoints).
pub struct SigningKey {
    kid: String,
    public: [u8; 32],
    encoding: EncodingKey,
    pem: String,
    dalek: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(kid={})", self.kid)
    }
}

impl SigningKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, AuthError> {
        Self::from_dalek(&ed25519_dalek::SigningKey::from_bytes(
            &crate::random::bytes::<32>(),
        ))
    }

    /// From a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, AuthError> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| AuthError::invalid(format!("not a PKCS#8 Ed25519 private key: {e}")))?;
        Self::from_dalek(&key)
    }

    fn from_dalek(key: &ed25519_dalek::SigningKey) -> Result<Self, AuthError> {
        let der = key
            .to_pkcs8_der()
            .map_err(|e| AuthError::internal(format!("encoding the key: {e}")))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| AuthError::internal(format!("encoding the key: {e}")))?;
        let public = key.verifying_key().to_bytes();
        Ok(Self {
            kid: key_id(&public),
            public,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            pem: pem.to_string(),
            dalek: key.clone(),
        })
    }

    /// Reads the key file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        let key_error = |reason: String| AuthError::Key {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read_to_string(path).map_err(|e| key_error(e.to_string()))?;
        warn_if_readable_by_others(path);
        Self::from_pkcs8_pem(&pem).map_err(|e| key_error(e.to_string()))
    }

    /// Reads the key file, or creates it (mode 0600, parent directories included) with a new
    /// key when it does not exist. Two processes racing here end up with the same key.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        if path.exists() {
            return Self::load(path);
        }
        let key_error = |reason: String| AuthError::Key {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| key_error(format!("creating its directory: {e}")))?;
        }
        let key = Self::generate()?;
        // Written to a private temporary file, then linked into place: a process starting at
        // the same moment sees either no key or a complete one, and the first link wins.
        let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options
            .open(&temporary)
            .and_then(|mut file| file.write_all(key.pem.as_bytes()).and_then(|()| file.sync_all()))
            .map_err(|e| key_error(format!("writing: {e}")));
        let linked = written.and_then(|()| match std::fs::hard_link(&temporary, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(key_error(format!("creating: {e}"))),
        });
        let _ = std::fs::remove_file(&temporary);
        if linked? {
            tracing::info!(path = %path.display(), kid = %key.kid, "generated a new signing key");
            Ok(key)
        } else {
            Self::load(path)
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            kid: self.kid.clone(),
            bytes: self.public,
        }
    }

    /// A raw Ed25519 signature (RFC 8032) over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.dalek.sign(message).to_bytes()
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o007 != 0
        {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777), "signing key file is readable by others; chmod 600 it (or 640 for a Kubernetes Secret mount)");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// First 16 hex characters of SHA-256 over the raw 32-byte public key.
pub fn key_id(public: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

/// The public half of a signing key, as verifiers hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub bytes: [u8; 32],
}

impl PublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            kid: key_id(&bytes),
            bytes,
        }
    }

    /// As a JWK (RFC 8037), for a JWKS document other brains can verify our tokens with.
    pub fn to_jwk(&self) -> serde_json::Value {
        serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": BASE64URL_NOPAD.encode(&self.bytes), "kid": self.kid, "alg": "EdDSA", "use": "sig" })
    }

    /// Checks a raw Ed25519 signature made by [`SigningKey::sign`]. Strict (RFC 8032 §5.1.7
    /// plus the dalek `verify_strict` rules): weak public keys and non-canonical or malleable
    /// signatures are refused too.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), AuthError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.bytes)
            .map_err(|_| AuthError::invalid("public key is not a valid Ed25519 point"))?;
        let signature = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|_| AuthError::invalid("signature is not 64 bytes"))?;
        key.verify_strict(message, &signature)
            .map_err(|_| AuthError::invalid("signature does not verify"))
    }

    /// As an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form auditors and `openssl` take.
    pub fn to_pem(&self) -> Result<String, AuthError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.bytes)
            .map_err(|_| AuthError::internal("public key is not a valid Ed25519 point"))?;
        key.to_public_key_pem(LineEnding::LF)
            .map_err(|e| AuthError::internal(format!("encoding the public key: {e}")))
    }

    /// From an SPKI PEM (`-----BEGIN PUBLIC KEY-----`) holding an Ed25519 key; the key id is
    /// derived from the key as for [`SigningKey::kid`].
    pub fn from_pem(pem: &str) -> Result<Self, AuthError> {
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
            AuthError::invalid(format!("not an Ed25519 public key (SPKI PEM): {e}"))
        })?;
        Ok(Self::from_bytes(key.to_bytes()))
    }
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The user's display name.
    #[serde(default)]
    pub name: String,
    pub tenant: String,
    pub roles: BTreeSet<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub amr: Vec<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

impl AccessClaims {
    pub fn into_principal(self) -> Principal {
        // Service tokens name the service as `service:<name>`; user ids never contain `:`.
        let subject = match self.sub.strip_prefix(SERVICE_SUBJECT_PREFIX) {
            Some(name) => Subject::Service { name: name.to_owned() },
            None => Subject::User { id: self.sub, name: self.name },
        };
        Principal {
            tenant: self.tenant,
            subject,
            roles: self.roles,
            scope: None,
            method: AuthMethod::from_amr(&self.amr).unwrap_or(AuthMethod::Password),
            session_id: self.sid,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs access tokens for signed-in users.
pub struct JwtIssuer {
    key: std::sync::Arc<SigningKey>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl JwtIssuer {
    /// `issuer` is `trust.token_issuer` (used as `iss` and `aud`), `ttl_seconds`
    /// `trust.access_token_ttl_seconds`.
    pub fn new(
        key: std::sync::Arc<SigningKey>,
        issuer: impl Into<String>,
        ttl_seconds: u64,
    ) -> Self {
        let issuer = issuer.into();
        Self {
            key,
            audience: issuer.clone(),
            issuer,
            ttl: Duration::seconds(i64::try_from(ttl_seconds).unwrap_or(3600)),
        }
    }

    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    pub fn issue(&self, principal: &Principal) -> Result<IssuedToken, AuthError> {
        self.issue_at(principal, Utc::now())
    }

    pub fn issue_at(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, AuthError> {
        let (sub, name) = match &principal.subject {
            Subject::User { id, name } => (id.clone(), name.clone()),
            Subject::Service { name } => (format!("{SERVICE_SUBJECT_PREFIX}{name}"), name.clone()),
            Subject::ApiKey { .. } => {
                return Err(AuthError::internal("access tokens are not issued to API keys"));
            }
        };
        let expires_at = now + self.ttl;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub,
            name,
            tenant: principal.tenant.clone(),
            roles: principal.roles.clone(),
            sid: principal.session_id.clone(),
            amr: principal.method.amr(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: crate::random::base64url::<16>(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key.encoding)
            .map_err(|e| AuthError::internal(format!("signing an access token: {e}")))?;
        Ok(IssuedToken {
            token,
            jti: claims.jti,
            expires_at,
        })
    }
}

/// Verifies access tokens against one or more public keys (several during a rotation).
#[derive(Clone)]
pub struct JwtVerifier {
    issuer: String,
    audience: String,
    keys: HashMap<String, DecodingKey>,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JwtVerifier {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            keys: HashMap::new(),
        }
    }

    pub fn with_key(mut self, key: &PublicKey) -> Self {
        self.add_key(key);
        self
    }

    pub fn add_key(&mut self, key: &PublicKey) {
        self.keys
            .insert(key.kid.clone(), DecodingKey::from_ed_der(&key.bytes));
    }

    pub fn remove_key(&mut self, kid: &str) {
        self.keys.remove(kid);
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, AuthError> {
        self.verify_at(token, Utc::now())
    }

    pub fn verify_at(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AuthError> {
        let header = peek_header(token)?;
        if header.alg != "EdDSA" {
            return Err(AuthError::invalid(format!(
                "token algorithm {:?} is not accepted (EdDSA only)",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::invalid("token has no key id (kid)"))?;
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| AuthError::invalid("token is signed with an unknown key"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // Times are checked below against `now`, which tests can set.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, key, &validation).map_err(decode_error)?;
        check_times(
            Some(data.claims.exp),
            Some(data.claims.nbf),
            now,
            "access token",
        )?;
        Ok(data.claims)
    }
}

/// The parts of a JOSE header we look at before trusting anything.
#[derive(Debug, Deserialize)]
pub(crate) struct PeekedHeader {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
}

/// Decodes the header of a compact JWS without verifying it, to pick the key and refuse
/// unwanted algorithms (`none`, HS*) with a precise reason.
pub(crate) fn peek_header(token: &str) -> Result<PeekedHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::invalid(
            "token is not a compact JWS (three base64url parts)",
        ));
    };
    let bytes = BASE64URL_NOPAD
        .decode(header.as_bytes())
        .map_err(|_| AuthError::invalid("token header is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::invalid("token header is not a JOSE header"))
}

/// The unverified claims of a token, only to route it to the right verifier.
pub(crate) fn peek_claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&BASE64URL_NOPAD.decode(payload.as_bytes()).ok()?).ok()
}

/// `exp` and `nbf` with [`LEEWAY_SECONDS`]: valid while `now < exp + leeway` and from
/// `nbf - leeway`.
pub(crate) fn check_times(
    exp: Option<i64>,
    nbf: Option<i64>,
    now: DateTime<Utc>,
    what: &'static str,
) -> Result<(), AuthError> {
    let now = now.timestamp();
    if let Some(exp) = exp
        && now >= exp.saturating_add(LEEWAY_SECONDS)
    {
        return Err(AuthError::Expired { what });
    }
    if let Some(nbf) = nbf
        && now < nbf.saturating_sub(LEEWAY_SECONDS)
    {
        return Err(AuthError::invalid(format!("{what} is not valid yet")));
    }
    Ok(())
}

pub(crate) fn decode_error(error: jsonwebtoken::errors::Error) -> AuthError {
    let reason = match error.kind() {
        ErrorKind::InvalidSignature => "signature does not verify".to_owned(),
        ErrorKind::InvalidIssuer => "token issuer is not trusted".to_owned(),
        ErrorKind::InvalidAudience => "token is meant for another audience".to_owned(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "token algorithm is not accepted".to_owned()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("token has no {claim:?} claim"),
        ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_) => "key does not fit the token algorithm".to_owned(),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => "token claims are malformed".to_owned(),
        ErrorKind::Base64(_) | ErrorKind::InvalidToken => "token is malformed".to_owned(),
        ErrorKind::ExpiredSignature => return AuthError::Expired { what: "token" },
        ErrorKind::ImmatureSignature => "token is not valid yet".to_owned(),
        other => format!("token refused ({other:?})"),
    };
    AuthError::invalid(reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn user() -> Principal {
        Principal {
            tenant: "91350100M000100Y43".into(),
            subject: Subject::User {
                id: "u-42".into(),
                name: "Li Na".into(),
            },
            roles: [Role::EnterpriseAdmin].into(),
            scope: None,
            method: AuthMethod::PasswordOtp,
            session_id: Some("s-1".into()),
        }
    }

    fn setup() -> (Arc<SigningKey>, JwtIssuer, JwtVerifier) {
        let key = Arc::new(SigningKey::generate().unwrap());
        let issuer = JwtIssuer::new(key.clone(), "industry-brain", 900);
        let verifier =
            JwtVerifier::new("industry-brain", "industry-brain").with_key(&key.public_key());
        (key, issuer, verifier)
    }

    fn encode_part(value: &serde_json::Value) -> String {
        BASE64URL_NOPAD.encode(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn issued_token_verifies_and_round_trips_the_principal() {
        let (key, issuer, verifier) = setup();
        let issued = issuer.issue_at(&user(), now()).unwrap();
        assert_eq!(issued.expires_at, now() + Duration::seconds(900));
        let header = peek_header(&issued.token).unwrap();
        assert_eq!(
            (header.alg.as_str(), header.kid.as_deref()),
            ("EdDSA", Some(key.kid()))
        );
        let claims = verifier.verify_at(&issued.token, now()).unwrap();
        assert_eq!(claims.amr, vec!["pwd", "otp"]);
        assert_eq!(
            (claims.iat, claims.nbf, claims.exp),
            (
                now().timestamp(),
                now().timestamp(),
                now().timestamp() + 900
            )
        );
        assert_eq!(claims.jti, issued.jti);
        assert_eq!(claims.into_principal(), user());
    }

    #[test]
    fn expiry_and_not_before_honour_the_leeway_exactly() {
        let (_, issuer, verifier) = setup();
        let token = issuer.issue_at(&user(), now()).unwrap().token;
        let exp = now() + Duration::seconds(900);
        assert!(
            verifier
                .verify_at(&token, exp + Duration::seconds(LEEWAY_SECONDS - 1))
                .is_ok()
        );
        assert!(matches!(
            verifier.verify_at(&token, exp + Duration::seconds(LEEWAY_SECONDS)),
            Err(AuthError::Expired {
                what: "access token"
            })
        ));
        assert!(
            verifier
                .verify_at(&token, now() - Duration::seconds(LEEWAY_SECONDS))
                .is_ok()
        );
        let early = verifier
            .verify_at(&token, now() - Duration::seconds(LEEWAY_SECONDS + 1))
            .unwrap_err();
        assert!(early.to_string().contains("not valid yet"), "{early}");
    }

    #[test]
    fn a_changed_payload_breaks_the_signature() {
        let (_, issuer, verifier) = setup();
        let token = issuer.issue_at(&user(), now()).unwrap().token;
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&BASE64URL_NOPAD.decode(parts[1].as_bytes()).unwrap()).unwrap();
        claims["roles"] = serde_json::json!(["system-admin"]);
        let forged = format!("{}.{}.{}", parts[0], encode_part(&claims), parts[2]);
        let error = verifier.verify_at(&forged, now()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid credential: signature does not verify"
        );
    }

    #[test]
    fn unknown_or_missing_kid_and_foreign_keys_are_refused() {
        let (_, issuer, _) = setup();
        let token = issuer.issue_at(&user(), now()).unwrap().token;
        let other = SigningKey::generate().unwrap();
        let verifier =
            JwtVerifier::new("industry-brain", "industry-brain").with_key(&other.public_key());
        assert!(
            verifier
                .verify_at(&token, now())
                .unwrap_err()
                .to_string()
                .contains("unknown key")
        );
        // The right kid with another key's bytes: the signature check catches it.
        let mut impostor = other.public_key();
        impostor.kid = peek_header(&token).unwrap().kid.unwrap();
        let verifier = JwtVerifier::new("industry-brain", "industry-brain").with_key(&impostor);
        assert!(
            verifier
                .verify_at(&token, now())
                .unwrap_err()
                .to_string()
                .contains("signature")
        );
        let parts: Vec<&str> = token.split('.').collect();
        let no_kid = format!(
            "{}.{}.{}",
            encode_part(&serde_json::json!({"alg": "EdDSA"})),
            parts[1],
            parts[2]
        );
        assert!(
            verifier
                .verify_at(&no_kid, now())
                .unwrap_err()
                .to_string()
                .contains("no key id")
        );
    }

    #[test]
    fn rotation_accepts_tokens_of_every_configured_key() {
        let (old_key, old_issuer, _) = setup();
        let new_key = Arc::new(SigningKey::generate().unwrap());
        let new_issuer = JwtIssuer::new(new_key.clone(), "industry-brain", 900);
        let mut verifier = JwtVerifier::new("industry-brain", "industry-brain")
            .with_key(&old_key.public_key())
            .with_key(&new_key.public_key());
        assert!(
            verifier
                .verify_at(&old_issuer.issue_at(&user(), now()).unwrap().token, now())
                .is_ok()
        );
        assert!(
            verifier
                .verify_at(&new_issuer.issue_at(&user(), now()).unwrap().token, now())
                .is_ok()
        );
        verifier.remove_key(old_key.kid());
        assert!(
            verifier
                .verify_at(&old_issuer.issue_at(&user(), now()).unwrap().token, now())
                .is_err()
        );
    }

    #[test]
    fn wrong_audience_or_issuer_is_refused() {
        let (key, issuer, _) = setup();
        let token = issuer.issue_at(&user(), now()).unwrap().token;
        let other_audience =
            JwtVerifier::new("industry-brain", "provincial-center").with_key(&key.public_key());
        assert_eq!(
            other_audience
                .verify_at(&token, now())
                .unwrap_err()
                .to_string(),
            "invalid credential: token is meant for another audience"
        );
        let other_issuer =
            JwtVerifier::new("another-brain", "industry-brain").with_key(&key.public_key());
        assert!(
            other_issuer
                .verify_at(&token, now())
                .unwrap_err()
                .to_string()
                .contains("issuer")
        );
    }

    #[test]
    fn alg_none_and_hmac_tokens_are_refused() {
        let (key, issuer, verifier) = setup();
        let token = issuer.issue_at(&user(), now()).unwrap().token;
        let payload = token.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{payload}.",
            encode_part(&serde_json::json!({"alg": "none", "kid": key.kid()}))
        );
        assert!(
            verifier
                .verify_at(&none, now())
                .unwrap_err()
                .to_string()
                .contains("\"none\" is not accepted")
        );
        // HS256 signed with the public key as the secret: the classic key-confusion attack.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid().to_owned());
        let claims = verifier.verify_at(&token, now()).unwrap();
        let hs = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(&key.public_key().bytes),
        )
        .unwrap();
        assert!(
            verifier
                .verify_at(&hs, now())
                .unwrap_err()
                .to_string()
                .contains("\"HS256\" is not accepted")
        );
        for garbage in ["", "a.b", "a.b.c.d", "!!.e30.x", "e30.e30.x"] {
            assert!(
                matches!(
                    verifier.verify_at(garbage, now()),
                    Err(AuthError::InvalidCredential { .. })
                ),
                "{garbage}"
            );
        }
    }

    #[test]
    fn api_keys_get_no_tokens_and_service_tokens_name_the_service() {
        let (_, issuer, verifier) = setup();
        let mut key = user();
        key.subject = Subject::ApiKey {
            id: "k1".into(),
            name: "erp".into(),
        };
        assert!(issuer.issue_at(&key, now()).is_err());
        let mut service = user();
        service.subject = Subject::Service {
            name: "governance".into(),
        };
        let token = issuer.issue_at(&service, now()).unwrap().token;
        let claims = verifier.verify_at(&token, now()).unwrap();
        assert_eq!(claims.sub, "service:governance");
        assert_eq!(claims.into_principal().subject, service.subject);
    }

    #[test]
    fn key_file_is_generated_once_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/jwt-signing.pem");
        let first = SigningKey::load_or_generate(&path).unwrap();
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let second = SigningKey::load_or_generate(&path).unwrap();
        assert_eq!(first.kid(), second.kid());
        assert_eq!(first.public_key(), second.public_key());
        // A token signed by the first verifies with the reloaded public key.
        let token = JwtIssuer::new(Arc::new(first), "b", 60)
            .issue_at(&user(), now())
            .unwrap()
            .token;
        assert!(
            JwtVerifier::new("b", "b")
                .with_key(&second.public_key())
                .verify_at(&token, now())
                .is_ok()
        );
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.pem");
        std::fs::write(&path, "not a key").unwrap();
        let error = SigningKey::load_or_generate(&path).unwrap_err();
        assert!(
            matches!(&error, AuthError::Key { path: p, .. } if p.ends_with("jwt.pem")),
            "{error}"
        );
    }

    #[test]
    fn kid_is_sha256_prefix_of_the_public_key_and_jwk_carries_it() {
        let key = SigningKey::generate().unwrap();
        let public = key.public_key();
        assert_eq!(public.kid.len(), 16);
        assert_eq!(public.kid, hex::encode(Sha256::digest(public.bytes))[..16]);
        let jwk = public.to_jwk();
        assert_eq!(jwk["kid"], public.kid);
        assert_eq!(
            BASE64URL_NOPAD
                .decode(jwk["x"].as_str().unwrap().as_bytes())
                .unwrap(),
            public.bytes
        );
        assert_eq!(format!("{key:?}"), format!("SigningKey(kid={})", key.kid()));
    }

    #[test]
    fn raw_signatures_verify_strictly_and_only_for_their_message_and_key() {
        let key = SigningKey::generate().unwrap();
        let public = key.public_key();
        let signature = key.sign(b"tree 12 root abc");
        public.verify(b"tree 12 root abc", &signature).unwrap();
        let error = public.verify(b"tree 13 root abc", &signature).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid credential: signature does not verify"
        );
        let mut flipped = signature;
        flipped[10] ^= 1;
        assert!(public.verify(b"tree 12 root abc", &flipped).is_err());
        assert!(
            public
                .verify(b"tree 12 root abc", &signature[..63])
                .unwrap_err()
                .to_string()
                .contains("64 bytes")
        );
        let other = SigningKey::generate().unwrap().public_key();
        assert!(other.verify(b"tree 12 root abc", &signature).is_err());
        // s + L (the group order) is the classic malleated signature: strict verification refuses it.
        let order: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleated = signature;
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(malleated[32 + i]) + u16::from(order[i]) + carry;
            malleated[32 + i] = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        assert!(public.verify(b"tree 12 root abc", &malleated).is_err());
        // Deterministic (RFC 8032): the same key signs the same message the same way.
        assert_eq!(key.sign(b"x"), key.sign(b"x"));
    }

    #[test]
    fn public_keys_round_trip_through_spki_pem() {
        let key = SigningKey::generate().unwrap();
        let pem = key.public_key().to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        assert!(
            pem.trim_end().ends_with("-----END PUBLIC KEY-----"),
            "{pem}"
        );
        let parsed = PublicKey::from_pem(&pem).unwrap();
        assert_eq!(parsed, key.public_key());
        parsed.verify(b"m", &key.sign(b"m")).unwrap();
        // RFC 8410 §10.1 example key.
        let rfc = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        assert_eq!(
            PublicKey::from_pem(rfc).unwrap().bytes[..4],
            [0x19, 0xbf, 0x44, 0x09]
        );
        assert_eq!(PublicKey::from_pem(rfc).unwrap().to_pem().unwrap(), rfc);
        for bad in ["", "not a key", key.pem.as_str()] {
            assert!(
                matches!(
                    PublicKey::from_pem(bad),
                    Err(AuthError::InvalidCredential { .. })
                ),
                "{bad}"
            );
        }
    }
}
