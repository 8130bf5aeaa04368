//! Passwords: argon2id hashes in PHC strings, and the MLPS password policy.
//!
//! Parameters (OWASP Password Storage Cheat Sheet, argon2id minimum): memory 19 MiB
//! (m=19456 KiB), 2 passes (t=2), 1 lane (p=1), 16-byte random salt, 32-byte output. They are
//! written into each PHC string, so raising them later still verifies older hashes;
//! [`PasswordHasher::needs_rehash`] tells the caller to re-hash on the next sign-in.

use crate::error::AuthError;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::{OsRng, RngCore};
use std::fmt;
use std::sync::{Arc, OnceLock};

pub const OWASP_MEMORY_KIB: u32 = 19 * 1024;
pub const OWASP_ITERATIONS: u32 = 2;
pub const OWASP_PARALLELISM: u32 = 1;

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash to verify against when the user does not exist, so that an unknown user name
    /// costs as much time as a wrong password and cannot be told apart.
    dummy: Arc<OnceLock<String>>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PasswordHasher(argon2id m={} t={} p={})",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::owasp()
    }
}

impl PasswordHasher {
    /// m=19 MiB, t=2, p=1.
    pub fn owasp() -> Self {
        // These constants are within argon2's bounds, so `new` cannot fail; fall back anyway.
        Self::new(OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_PARALLELISM).unwrap_or_else(|_| Self {
            params: Params::default(),
            dummy: Arc::default(),
        })
    }

    /// Explicit argon2id parameters: memory in KiB, passes, lanes.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, AuthError> {
        let params = Params::new(memory_kib, iterations, parallelism, Some(32))
            .map_err(|e| AuthError::internal(format!("argon2 parameters: {e}")))?;
        Ok(Self {
            params,
            dummy: Arc::default(),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
    pub fn hash(&self, password: &str) -> Result<String, AuthError> {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| AuthError::internal(format!("salt: {e}")))?;
        let hash = self
            .argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| AuthError::internal(format!("argon2: {e}")))?;
        Ok(hash.to_string())
    }

    /// Whether `password` matches `phc`, with the parameters stored in `phc`. The final
    /// comparison is constant-time (password-hash compares outputs with `subtle`).
    pub fn verify(&self, password: &str, phc: &str) -> Result<bool, AuthError> {
        let parsed = PasswordHash::new(phc).map_err(|e| {
            AuthError::internal(format!("stored password hash is not a PHC string: {e}"))
        })?;
        if parsed.algorithm != Algorithm::Argon2id.ident() {
            return Err(AuthError::internal(format!(
                "stored password hash uses {}, expected argon2id",
                parsed.algorithm
            )));
        }
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(e) => Err(AuthError::internal(format!("argon2: {e}"))),
        }
    }

    /// Spends the time of a verification for a user that does not exist; always false.
    pub fn verify_absent(&self, password: &str) -> bool {
        let dummy = self
            .dummy
            .get_or_init(|| self.hash("no user has this password").unwrap_or_default());
        let _ = self.verify(password, dummy);
        false
    }

    /// Whether `phc` was made with other parameters than this hasher's.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let same = parsed.algorithm == Algorithm::Argon2id.ident()
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() == self.params.m_cost()
                    && p.t_cost() == self.params.t_cost()
                    && p.p_cost() == self.params.p_cost()
            });
        !same
    }

    /// [`Self::hash`] on the blocking pool: argon2 takes tens of milliseconds of CPU.
    pub async fn hash_blocking(&self, password: String) -> Result<String, AuthError> {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(|e| AuthError::internal(format!("hashing task: {e}")))?
    }

    /// [`Self::verify`] on the blocking pool.
    pub async fn verify_blocking(&self, password: String, phc: String) -> Result<bool, AuthError> {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.verify(&password, &phc))
            .await
            .map_err(|e| AuthError::internal(format!("verification task: {e}")))?
    }

    /// [`Self::verify_absent`] on the blocking pool.
    pub async fn verify_absent_blocking(&self, password: String) -> bool {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.verify_absent(&password))
            .await
            .unwrap_or(false)
    }
}

/// One reason a password is refused.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PasswordViolation {
    TooShort { min: usize, actual: usize },
    TooFewClasses { required: usize, present: usize },
    ContainsUserName,
}

impl PasswordViolation {
    /// A stable rule name for problem+json violations.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "min_length",
            Self::TooFewClasses { .. } => "character_classes",
            Self::ContainsUserName => "contains_user_name",
        }
    }
}

impl fmt::Display for PasswordViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min, actual } => {
                write!(f, "must have at least {min} characters, has {actual}")
            }
            Self::TooFewClasses { required, present } => write!(
                f,
                "must mix at least {required} of lower-case letters, upper-case letters, digits and symbols, has {present}"
            ),
            Self::ContainsUserName => write!(f, "must not contain the user name"),
        }
    }
}

/// MLPS level 3 password complexity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// Of four classes: lower-case, upper-case, digit, symbol (anything else).
    pub min_classes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 10,
            min_classes: 3,
        }
    }
}

impl PasswordPolicy {
    /// Every violation at once, so the user fixes them in one go.
    pub fn violations(&self, password: &str, user_name: &str) -> Vec<PasswordViolation> {
        let mut violations = Vec::new();
        let length = password.chars().count();
        if length < self.min_length {
            violations.push(PasswordViolation::TooShort {
                min: self.min_length,
                actual: length,
            });
        }
        let present = character_classes(password);
        if present < self.min_classes {
            violations.push(PasswordViolation::TooFewClasses {
                required: self.min_classes,
                present,
            });
        }
        let user_name = user_name.trim();
        if !user_name.is_empty() && password.to_lowercase().contains(&user_name.to_lowercase()) {
            violations.push(PasswordViolation::ContainsUserName);
        }
        violations
    }

    pub fn check(&self, password: &str, user_name: &str) -> Result<(), AuthError> {
        let violations = self.violations(password, user_name);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(AuthError::WeakPassword { violations })
        }
    }
}

fn character_classes(password: &str) -> usize {
    let (mut lower, mut upper, mut digit, mut symbol) = (false, false, false, false);
    for c in password.chars() {
        if c.is_lowercase() {
            lower = true;
        } else if c.is_uppercase() {
            upper = true;
        } else if c.is_ascii_digit() {
            digit = true;
        } else {
            symbol = true;
        }
    }
    [lower, upper, digit, symbol]
        .into_iter()
        .filter(|&b| b)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: unit tests run unoptimised.
    fn cheap() -> PasswordHasher {
        PasswordHasher::new(256, 1, 1).unwrap()
    }

    #[test]
    fn default_hash_carries_the_owasp_parameters_and_verifies() {
        let hasher = PasswordHasher::owasp();
        let phc = hasher.hash("Correct-horse-7").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify("Correct-horse-7", &phc).unwrap());
        assert!(!hasher.needs_rehash(&phc));
    }

    #[test]
    fn wrong_password_fails_and_salts_differ() {
        let hasher = cheap();
        let a = hasher.hash("Correct-horse-7").unwrap();
        let b = hasher.hash("Correct-horse-7").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!hasher.verify("correct-horse-7", &a).unwrap());
        assert!(!hasher.verify("", &a).unwrap());
        assert!(hasher.verify("Correct-horse-7", &b).unwrap());
    }

    #[test]
    fn verification_uses_the_parameters_of_the_stored_hash() {
        let old = cheap().hash("Correct-horse-7").unwrap();
        let current = PasswordHasher::new(512, 1, 1).unwrap();
        assert!(current.verify("Correct-horse-7", &old).unwrap());
        assert!(current.needs_rehash(&old));
        assert!(current.needs_rehash("not a phc string"));
    }

    #[test]
    fn malformed_or_foreign_hashes_are_errors_not_mismatches() {
        let hasher = cheap();
        assert!(matches!(
            hasher.verify("x", "plaintext"),
            Err(AuthError::Internal { .. })
        ));
        let argon2i = hasher
            .hash("Correct-horse-7")
            .unwrap()
            .replacen("argon2id", "argon2i", 1);
        assert!(matches!(
            hasher.verify("Correct-horse-7", &argon2i),
            Err(AuthError::Internal { .. })
        ));
    }

    #[test]
    fn absent_users_cost_a_verification_and_fail() {
        let hasher = cheap();
        assert!(!hasher.verify_absent("anything"));
        assert!(hasher.dummy.get().is_some());
    }

    #[tokio::test]
    async fn blocking_wrappers_agree_with_the_sync_functions() {
        let hasher = cheap();
        let phc = hasher
            .hash_blocking("Correct-horse-7".into())
            .await
            .unwrap();
        assert!(
            hasher
                .verify_blocking("Correct-horse-7".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify_blocking("Wrong-horse-7".into(), phc)
                .await
                .unwrap()
        );
        assert!(!hasher.verify_absent_blocking("x".into()).await);
    }

    #[test]
    fn policy_boundaries() {
        let policy = PasswordPolicy::default();
        // 10 characters, 3 classes: the minimum that passes.
        assert_eq!(policy.violations("abcdefgH1x", "wang"), vec![]);
        assert_eq!(
            policy.violations("abcdefH1x", "wang"),
            vec![PasswordViolation::TooShort { min: 10, actual: 9 }]
        );
        assert_eq!(
            policy.violations("abcdefghiJ", "wang"),
            vec![PasswordViolation::TooFewClasses {
                required: 3,
                present: 2
            }]
        );
        assert_eq!(policy.violations("abcdefghi1!", "wang"), vec![]);
        assert_eq!(policy.violations("ABCDEF12#$", ""), vec![]);
        // Non-ASCII characters without case count as symbols; length counts characters, not bytes.
        assert_eq!(
            policy.violations("纺织大脑abcD", "wang"),
            vec![PasswordViolation::TooShort { min: 10, actual: 8 }]
        );
    }

    #[test]
    fn policy_reports_every_violation_and_the_user_name_case_insensitively() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            policy.violations("wang", "Wang"),
            vec![
                PasswordViolation::TooShort { min: 10, actual: 4 },
                PasswordViolation::TooFewClasses {
                    required: 3,
                    present: 1
                },
                PasswordViolation::ContainsUserName
            ]
        );
        assert_eq!(
            policy.violations("Xx-WANG.li-2026", "wang.li"),
            vec![PasswordViolation::ContainsUserName]
        );
        match policy.check("short", "u") {
            Err(AuthError::WeakPassword { violations }) => assert_eq!(violations.len(), 2),
            other => panic!("expected a weak password, got {other:?}"),
        }
        assert!(policy.check("Tiangong-2026", "li").is_ok());
    }
}
