//! API keys for systems: `bk_<key id>_<secret>`.
//!
//! The key id (12 characters of lower-case base32) is public and finds the record; the
//! secret is 32 random bytes in base64url. The store keeps only the SHA-256 of the whole key.
//! A fast hash is right here, unlike for passwords: a key has 256 bits of entropy, so no
//! amount of hashing speed lets anyone search for it, and every request can afford to
//! re-hash it.

use crate::error::AuthError;
use crate::principal::{AuthMethod, KeyScope, Principal, Subject};
use crate::roles::Role;
use chrono::{DateTime, Utc};
use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use subtle::ConstantTimeEq;

pub const API_KEY_PREFIX: &str = "bk_";
pub const KEY_ID_LEN: usize = 12;
const KEY_ID_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// 32 bytes in base64url without padding.
const SECRET_LEN: usize = 43;

/// An API key in clear: shown to its owner once, at creation.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key_id: String,
    full: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey(id={}, secret=<redacted>)", self.key_id)
    }
}

impl ApiKey {
    pub fn generate() -> Self {
        // 256 is a multiple of 32: masking each random byte gives uniform characters.
        let key_id: String = crate::random::bytes::<KEY_ID_LEN>()
            .iter()
            .map(|b| char::from(KEY_ID_ALPHABET[usize::from(b & 31)]))
            .collect();
        let full = format!(
            "{API_KEY_PREFIX}{key_id}_{}",
            crate::random::base64url::<32>()
        );
        Self { key_id, full }
    }

    /// Checks the format of a presented key, naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let rest = text
            .strip_prefix(API_KEY_PREFIX)
            .ok_or_else(|| AuthError::invalid("API key must start with `bk_`"))?;
        let (key_id, secret) = rest
            .split_once('_')
            .ok_or_else(|| AuthError::invalid("API key must be `bk_<key id>_<secret>`"))?;
        if key_id.len() != KEY_ID_LEN || !key_id.bytes().all(|b| KEY_ID_ALPHABET.contains(&b)) {
            return Err(AuthError::invalid(format!(
                "API key id must be {KEY_ID_LEN} characters of a-z and 2-7"
            )));
        }
        if secret.len() != SECRET_LEN {
            return Err(AuthError::invalid(format!(
                "API key secret must be {SECRET_LEN} characters, got {}",
                secret.len()
            )));
        }
        if BASE64URL_NOPAD.decode(secret.as_bytes()).is_err() {
            return Err(AuthError::invalid("API key secret is not base64url"));
        }
        Ok(Self {
            key_id: key_id.to_owned(),
            full: text.to_owned(),
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The whole key, to show once.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// Hex SHA-256 of the whole key: what [`ApiKeyRecord::hash`] holds.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.full.as_bytes()))
    }

    /// Constant-time comparison with a stored hash.
    pub fn matches(&self, stored_hash: &str) -> bool {
        let Ok(stored) = hex::decode(stored_hash) else {
            return false;
        };
        Sha256::digest(self.full.as_bytes())[..]
            .ct_eq(&stored)
            .into()
    }
}

/// A stored API key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The key id of `bk_<key id>_…`.
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub scope: KeyScope,
    pub roles: BTreeSet<Role>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Hex SHA-256 of the whole key.
    pub hash: String,
}

impl ApiKeyRecord {
    /// Refuses a revoked or expired key (each effective from its instant on).
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), AuthError> {
        if self.revoked_at.is_some_and(|at| at <= now) {
            return Err(AuthError::Revoked { what: "API key" });
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::Expired { what: "API key" });
        }
        Ok(())
    }

    /// Checks `key` against this record (hash, revocation, expiry) and returns the caller.
    pub fn authenticate(&self, key: &ApiKey, now: DateTime<Utc>) -> Result<Principal, AuthError> {
        if key.key_id() != self.id || !key.matches(&self.hash) {
            return Err(AuthError::invalid("API key is not valid"));
        }
        self.check(now)?;
        Ok(self.principal())
    }

    pub fn principal(&self) -> Principal {
        Principal {
            tenant: self.tenant.clone(),
            subject: Subject::ApiKey {
                id: self.id.clone(),
                name: self.name.clone(),
            },
            roles: self.roles.clone(),
            scope: Some(self.scope.clone()),
            method: AuthMethod::ApiKey,
            session_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn record(key: &ApiKey) -> ApiKeyRecord {
        ApiKeyRecord {
            id: key.key_id().to_owned(),
            tenant: "91350100M000100Y43".into(),
            name: "erp-sync".into(),
            scope: KeyScope {
                services: vec!["ingestion".into()],
                datasets: vec![],
            },
            roles: [Role::EnterpriseUser].into(),
            expires_at: Some(t(1000)),
            revoked_at: None,
            hash: key.hash(),
        }
    }

    #[test]
    fn generated_keys_have_the_documented_format_and_parse_back() {
        let key = ApiKey::generate();
        let text = key.expose();
        assert!(text.starts_with("bk_"));
        assert_eq!(text.len(), 3 + 12 + 1 + 43);
        assert_eq!(&text[15..16], "_");
        assert!(
            key.key_id()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        );
        assert_eq!(ApiKey::parse(text).unwrap(), key);
        assert_ne!(ApiKey::generate().key_id(), key.key_id());
        assert!(!format!("{key:?}").contains(&text[16..]));
    }

    #[test]
    fn a_secret_containing_underscores_still_parses() {
        // 42 underscores and a last character whose two unused bits are zero.
        let text = format!("bk_abcdefgh2345_{}A", "_".repeat(42));
        assert_eq!(ApiKey::parse(&text).unwrap().key_id(), "abcdefgh2345");
    }

    #[test]
    fn parse_errors_are_precise() {
        let secret = "A".repeat(43);
        let cases = [
            ("sk_abcdefgh2345_x".to_owned(), "start with `bk_`"),
            ("bk_abcdefgh2345".to_owned(), "`bk_<key id>_<secret>`"),
            (format!("bk_abcdefgh234_{secret}"), "12 characters"),
            (format!("bk_ABCDEFGH2345_{secret}"), "12 characters"),
            (format!("bk_abcdefgh2341_{secret}"), "12 characters"),
            ("bk_abcdefgh2345_short".to_owned(), "43 characters, got 5"),
            (
                format!("bk_abcdefgh2345_{}", "+".repeat(43)),
                "not base64url",
            ),
        ];
        for (text, expected) in cases {
            let error = ApiKey::parse(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(
                !error.contains(&secret),
                "the message must not echo the secret"
            );
        }
    }

    #[test]
    fn hash_comparison_accepts_only_the_same_key() {
        let key = ApiKey::generate();
        assert_eq!(
            key.hash(),
            hex::encode(Sha256::digest(key.expose().as_bytes()))
        );
        assert!(key.matches(&key.hash()));
        assert!(!ApiKey::generate().matches(&key.hash()));
        assert!(!key.matches("zz"));
        assert!(!key.matches(""));
    }

    #[test]
    fn record_checks_revocation_and_expiry_at_their_instants() {
        let key = ApiKey::generate();
        let mut rec = record(&key);
        assert!(rec.check(t(999)).is_ok());
        assert!(matches!(
            rec.check(t(1000)),
            Err(AuthError::Expired { what: "API key" })
        ));
        rec.expires_at = None;
        rec.revoked_at = Some(t(10));
        assert!(rec.check(t(9)).is_ok());
        assert!(matches!(
            rec.check(t(10)),
            Err(AuthError::Revoked { what: "API key" })
        ));
    }

    #[test]
    fn authenticate_yields_a_scoped_principal_or_refuses() {
        let key = ApiKey::generate();
        let rec = record(&key);
        let principal = rec.authenticate(&key, t(0)).unwrap();
        assert_eq!(
            principal.subject,
            Subject::ApiKey {
                id: key.key_id().into(),
                name: "erp-sync".into()
            }
        );
        assert_eq!(principal.method, AuthMethod::ApiKey);
        assert!(principal.may_use_service("ingestion"));
        assert!(!principal.may_use_service("governance"));
        // Same key id, other secret.
        let forged = ApiKey::parse(&format!("bk_{}_{}", key.key_id(), "A".repeat(43))).unwrap();
        assert!(matches!(
            rec.authenticate(&forged, t(0)),
            Err(AuthError::InvalidCredential { .. })
        ));
        assert!(matches!(
            rec.authenticate(&key, t(2000)),
            Err(AuthError::Expired { .. })
        ));
    }
}
