//! Argument rules shared by every backend, so a call that Redis would reject is rejected
//! by the memory backend too, and TTLs are rounded the same way everywhere.

use std::time::Duration;

use crate::CacheError;

/// Longest TTL or window accepted: ten years. Bounded so `Instant + ttl` cannot overflow in
/// memory and Redis never refuses the expiry time.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Largest quota amount or limit: 2^53. Redis scripts compare in Lua numbers (doubles),
/// which are exact only up to here.
pub(crate) const MAX_QUOTA: i64 = 1 << 53;

/// The key prefix that keeps brains sharing one Redis apart, always ending in `:`.
#[derive(Clone, Debug)]
pub(crate) struct Namespace(String);

impl Namespace {
    pub(crate) fn new(namespace: &str) -> Result<Self, CacheError> {
        if namespace.is_empty() {
            return Err(CacheError::invalid_argument(
                "namespace must not be empty: brains sharing a backend would overwrite each other's keys",
            ));
        }
        let mut prefix = namespace.to_owned();
        if !prefix.ends_with(':') {
            prefix.push(':');
        }
        Ok(Self(prefix))
    }

    /// The backend key for the caller's `key`.
    pub(crate) fn key(&self, key: &str) -> String {
        // Not `format!`: this runs for every cache operation (several per gateway request).
        let mut full = String::with_capacity(self.0.len() + key.len());
        full.push_str(&self.0);
        full.push_str(key);
        full
    }
}

/// `ttl` in whole milliseconds, the resolution of Redis `PX`/`PEXPIRE`, rounded up so a
/// sub-millisecond TTL still lives at least 1 ms instead of expiring at once.
pub(crate) fn ttl_millis(what: &str, ttl: Duration) -> Result<u64, CacheError> {
    if ttl.is_zero() || ttl > MAX_TTL {
        return Err(CacheError::invalid_argument(format!(
            "{what} must be between 1 ms and {} days, got {ttl:?}",
            MAX_TTL.as_secs() / 86_400
        )));
    }
    let millis = ttl.as_millis() + u128::from(!ttl.subsec_nanos().is_multiple_of(1_000_000));
    // Cannot fail: MAX_TTL in ms fits in u64.
    u64::try_from(millis).map_err(|_| CacheError::invalid_argument(format!("{what} is too long")))
}

/// `ttl` rounded up to whole milliseconds, see [`ttl_millis`].
pub(crate) fn ttl(what: &str, ttl: Duration) -> Result<Duration, CacheError> {
    ttl_millis(what, ttl).map(Duration::from_millis)
}

/// Checks the arguments of `try_consume`: a positive amount and a non-negative limit, both
/// small enough to be compared exactly by every backend.
pub(crate) fn check_quota(amount: i64, limit: i64) -> Result<(), CacheError> {
    if !(1..=MAX_QUOTA).contains(&amount) {
        return Err(CacheError::invalid_argument(format!(
            "quota amount must be between 1 and 2^53, got {amount}"
        )));
    }
    if !(0..=MAX_QUOTA).contains(&limit) {
        return Err(CacheError::invalid_argument(format!(
            "quota limit must be between 0 and 2^53, got {limit}"
        )));
    }
    Ok(())
}

/// Time left as reported to callers: never zero, so `resets_in` is always within (0, window].
pub(crate) fn resets_in_millis(millis: i64) -> Duration {
    Duration::from_millis(u64::try_from(millis).unwrap_or(0).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_end_with_a_separator() {
        assert_eq!(
            Namespace::new("brain:textile").unwrap().key("k"),
            "brain:textile:k"
        );
        assert_eq!(
            Namespace::new("brain:textile:").unwrap().key("k"),
            "brain:textile:k"
        );
        assert!(Namespace::new("").is_err());
    }

    #[test]
    fn ttls_round_up_to_whole_milliseconds() {
        assert_eq!(ttl_millis("ttl", Duration::from_micros(1)).unwrap(), 1);
        assert_eq!(ttl_millis("ttl", Duration::from_micros(1500)).unwrap(), 2);
        assert_eq!(ttl_millis("ttl", Duration::from_millis(150)).unwrap(), 150);
        assert!(ttl_millis("ttl", Duration::ZERO).is_err());
        assert!(ttl_millis("ttl", MAX_TTL + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn quotas_must_be_positive_and_exact() {
        assert!(check_quota(1, 0).is_ok());
        assert!(check_quota(0, 10).is_err());
        assert!(check_quota(-1, 10).is_err());
        assert!(check_quota(1, -1).is_err());
        assert!(check_quota(1, MAX_QUOTA + 1).is_err());
    }
}
