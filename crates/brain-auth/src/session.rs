//! Sessions and refresh tokens (pure).
//!
//! A refresh token is 32 random bytes, base64url, prefixed `brt_`; only its SHA-256 is
//! stored. Each refresh rotates it: the session keeps the hash of the one current token, and
//! the store remembers the hashes it replaced (so it can find the session of an old token).
//! Presenting a replaced token means two parties hold the session's tokens — one of them
//! stole it — so the whole session (the token family) is revoked.

use crate::error::AuthError;
use chrono::{DateTime, Duration, Utc};
use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

pub const REFRESH_TOKEN_PREFIX: &str = "brt_";

/// A refresh token in clear: given to the client once, never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshToken {
    pub fn generate() -> Self {
        Self(format!(
            "{REFRESH_TOKEN_PREFIX}{}",
            crate::random::base64url::<32>()
        ))
    }

    /// Checks the shape of a token a client sent.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let body = text
            .strip_prefix(REFRESH_TOKEN_PREFIX)
            .ok_or_else(|| AuthError::invalid("refresh token must start with `brt_`"))?;
        match BASE64URL_NOPAD.decode(body.as_bytes()) {
            Ok(bytes) if bytes.len() == 32 => Ok(Self(text.to_owned())),
            _ => Err(AuthError::invalid(
                "refresh token must carry 32 base64url-encoded bytes",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store keeps: hex SHA-256 of the whole token. A fast hash suffices because
    /// the token has 256 bits of entropy; nobody can guess it from the hash.
    pub fn hash(&self) -> String {
        hash_refresh_token(&self.0)
    }
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new session id (UUID v7: time-ordered, good for an index).
pub fn new_session_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `trust.session_idle_timeout_seconds` and `trust.session_max_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
}

impl SessionPolicy {
    pub fn from_config(idle_timeout_seconds: u64, max_seconds: u64) -> Self {
        let seconds = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Self {
            idle_timeout: seconds(idle_timeout_seconds),
            max_lifetime: seconds(max_seconds),
        }
    }
}

/// What the store keeps about a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionState {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// Sign-in or the last refresh.
    pub last_used_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Hash of the one refresh token that may be used next.
    pub current_token_hash: String,
}

impl SessionState {
    /// A session for a successful sign-in, and its first refresh token.
    pub fn start(now: DateTime<Utc>) -> (Self, RefreshToken) {
        let token = RefreshToken::generate();
        let state = Self {
            id: new_session_id(),
            created_at: now,
            last_used_at: now,
            revoked_at: None,
            current_token_hash: token.hash(),
        };
        (state, token)
    }

    /// Whether the session may still be used at `now`: not revoked, not idle for
    /// `idle_timeout`, not older than `max_lifetime` (each limit is exclusive).
    pub fn check_active(
        &self,
        policy: &SessionPolicy,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        if self.revoked_at.is_some_and(|at| at <= now) {
            return Err(AuthError::Revoked { what: "session" });
        }
        if now >= self.created_at + policy.max_lifetime {
            return Err(AuthError::Expired { what: "session" });
        }
        if now >= self.last_used_at + policy.idle_timeout {
            return Err(AuthError::Expired {
                what: "session (idle)",
            });
        }
        Ok(())
    }
}

/// What to do with a refresh request.
#[derive(Debug)]
pub enum RefreshDecision {
    /// Issue a new refresh token and access token; store the returned state.
    Rotate {
        session: SessionState,
        token: RefreshToken,
    },
    /// A replaced token came back: revoke the whole session, then refuse.
    RevokeFamily {
        session_id: String,
        revoked_at: DateTime<Utc>,
    },
    /// Refuse without changing anything.
    Reject(AuthError),
}

/// Decides a refresh. `session` is the session the store found for the presented token's
/// hash, among current and replaced hashes.
pub fn decide_refresh(
    policy: &SessionPolicy,
    session: &SessionState,
    presented: &RefreshToken,
    now: DateTime<Utc>,
) -> RefreshDecision {
    if session.revoked_at.is_some_and(|at| at <= now) {
        return RefreshDecision::Reject(AuthError::Revoked { what: "session" });
    }
    let is_current: bool = presented
        .hash()
        .as_bytes()
        .ct_eq(session.current_token_hash.as_bytes())
        .into();
    if !is_current {
        tracing::warn!(session = %session.id, "a replaced refresh token was presented again; revoking the session");
        return RefreshDecision::RevokeFamily {
            session_id: session.id.clone(),
            revoked_at: now,
        };
    }
    if let Err(error) = session.check_active(policy, now) {
        return RefreshDecision::Reject(error);
    }
    let token = RefreshToken::generate();
    let next = SessionState {
        last_used_at: now,
        current_token_hash: token.hash(),
        ..session.clone()
    };
    RefreshDecision::Rotate {
        session: next,
        token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn policy() -> SessionPolicy {
        SessionPolicy::from_config(1800, 12 * 3600)
    }

    #[test]
    fn tokens_have_the_prefix_32_bytes_and_parse_back() {
        let token = RefreshToken::generate();
        assert!(token.as_str().starts_with("brt_"));
        assert_eq!(token.as_str().len(), 4 + 43);
        assert_eq!(RefreshToken::parse(token.as_str()).unwrap(), token);
        assert_ne!(RefreshToken::generate(), token);
        assert_eq!(token.hash().len(), 64);
        assert_eq!(format!("{token:?}"), "RefreshToken(<redacted>)");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!(
            RefreshToken::parse("bk_abc")
                .unwrap_err()
                .to_string()
                .contains("brt_")
        );
        assert!(
            RefreshToken::parse("brt_short")
                .unwrap_err()
                .to_string()
                .contains("32")
        );
        let too_long = format!("brt_{}", BASE64URL_NOPAD.encode(&[0u8; 33]));
        assert!(RefreshToken::parse(&too_long).is_err());
        assert!(RefreshToken::parse(&format!("brt_{}", "!".repeat(43))).is_err());
    }

    #[test]
    fn refresh_rotates_and_the_old_token_then_revokes_the_family() {
        let (session, first) = SessionState::start(t(0));
        let RefreshDecision::Rotate {
            session: after,
            token: second,
        } = decide_refresh(&policy(), &session, &first, t(60))
        else {
            panic!("expected a rotation")
        };
        assert_eq!(after.id, session.id);
        assert_eq!(after.last_used_at, t(60));
        assert_eq!(after.current_token_hash, second.hash());
        assert_ne!(second, first);
        // The thief (or the user) replays the first token: the session is revoked.
        match decide_refresh(&policy(), &after, &first, t(61)) {
            RefreshDecision::RevokeFamily {
                session_id,
                revoked_at,
            } => assert_eq!((session_id, revoked_at), (session.id.clone(), t(61))),
            other => panic!("expected revocation, got {other:?}"),
        }
        // Once revoked, even the current token is refused.
        let revoked = SessionState {
            revoked_at: Some(t(61)),
            ..after
        };
        assert!(matches!(
            decide_refresh(&policy(), &revoked, &second, t(62)),
            RefreshDecision::Reject(AuthError::Revoked { .. })
        ));
    }

    #[test]
    fn idle_timeout_boundary() {
        let (session, token) = SessionState::start(t(0));
        assert!(matches!(
            decide_refresh(&policy(), &session, &token, t(1799)),
            RefreshDecision::Rotate { .. }
        ));
        assert!(matches!(
            decide_refresh(&policy(), &session, &token, t(1800)),
            RefreshDecision::Reject(AuthError::Expired {
                what: "session (idle)"
            })
        ));
    }

    #[test]
    fn absolute_lifetime_boundary_even_when_active() {
        let (mut session, token) = SessionState::start(t(0));
        session.last_used_at = t(12 * 3600 - 10);
        assert!(session.check_active(&policy(), t(12 * 3600 - 1)).is_ok());
        assert!(matches!(
            decide_refresh(&policy(), &session, &token, t(12 * 3600)),
            RefreshDecision::Reject(AuthError::Expired { what: "session" })
        ));
    }

    #[test]
    fn a_future_revocation_is_not_yet_effective() {
        let (mut session, _) = SessionState::start(t(0));
        session.revoked_at = Some(t(100));
        assert!(session.check_active(&policy(), t(99)).is_ok());
        assert!(session.check_active(&policy(), t(100)).is_err());
    }
}
