//! Account lockout after repeated failed sign-ins (MLPS: 登录失败处理). Pure decisions: the
//! caller keeps the failures (since the last success) and asks before checking a password.

use crate::error::AuthError;
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that lock the account (`trust.lockout_threshold`).
    pub threshold: u32,
    /// The failures must fall within this window of each other to count together.
    pub window: Duration,
    /// How long the account stays locked (`trust.lockout_seconds`).
    pub lock: Duration,
}

impl LockoutPolicy {
    pub fn new(threshold: u32, window: Duration, lock: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            window,
            lock,
        }
    }

    /// From `trust.lockout_threshold` and `trust.lockout_seconds`; failures count together
    /// when they happen within one lock duration of each other.
    pub fn from_config(threshold: u32, lockout_seconds: u64) -> Self {
        let lock = Duration::seconds(i64::try_from(lockout_seconds).unwrap_or(i64::MAX / 1000));
        Self::new(threshold, lock, lock)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockoutDecision {
    Allowed,
    Locked { until: DateTime<Utc> },
}

impl LockoutDecision {
    pub fn into_result(self) -> Result<(), AuthError> {
        match self {
            Self::Allowed => Ok(()),
            Self::Locked { until } => Err(AuthError::Locked { until }),
        }
    }
}

/// Decides from the timestamps of failed sign-ins since the last successful one.
///
/// Failures accumulate in a sliding window: when `threshold` of them fall within `window`,
/// the account locks for `lock` from the last of them. A lock consumes the failures that
/// caused it, so once it has expired the user gets `threshold` fresh attempts. Failures
/// recorded while locked are ignored (a locked account's password is not checked).
pub fn decide(
    policy: &LockoutPolicy,
    failures: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> LockoutDecision {
    let mut sorted: Vec<DateTime<Utc>> = failures.iter().copied().filter(|t| *t <= now).collect();
    sorted.sort_unstable();
    let threshold = usize::try_from(policy.threshold).unwrap_or(usize::MAX);
    let mut run: Vec<DateTime<Utc>> = Vec::new();
    let mut locked_until: Option<DateTime<Utc>> = None;
    for failure in sorted {
        if locked_until.is_some_and(|until| failure < until) {
            continue;
        }
        run.retain(|earlier| failure - *earlier < policy.window);
        run.push(failure);
        if run.len() >= threshold {
            locked_until = Some(failure + policy.lock);
            run.clear();
        }
    }
    match locked_until {
        Some(until) if now < until => LockoutDecision::Locked { until },
        _ => LockoutDecision::Allowed,
    }
}

/// The same decision for a store that keeps only a counter of failures in a row and the time
/// of the last one (reset to zero on success).
pub fn decide_by_count(
    policy: &LockoutPolicy,
    failures_in_a_row: u32,
    last_failure: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> LockoutDecision {
    match last_failure {
        Some(last) if failures_in_a_row >= policy.threshold && now < last + policy.lock => {
            LockoutDecision::Locked {
                until: last + policy.lock,
            }
        }
        _ => LockoutDecision::Allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn policy() -> LockoutPolicy {
        LockoutPolicy::new(3, Duration::seconds(600), Duration::seconds(900))
    }

    #[test]
    fn below_the_threshold_is_allowed() {
        assert_eq!(decide(&policy(), &[], t(0)), LockoutDecision::Allowed);
        assert_eq!(
            decide(&policy(), &[t(0), t(10)], t(11)),
            LockoutDecision::Allowed
        );
    }

    #[test]
    fn reaching_the_threshold_locks_from_the_last_failure() {
        let failures = [t(0), t(10), t(20)];
        assert_eq!(
            decide(&policy(), &failures, t(20)),
            LockoutDecision::Locked { until: t(920) }
        );
        // Order of the input does not matter.
        assert_eq!(
            decide(&policy(), &[t(20), t(0), t(10)], t(919)),
            LockoutDecision::Locked { until: t(920) }
        );
        // The lock ends exactly at `until`.
        assert_eq!(
            decide(&policy(), &failures, t(920)),
            LockoutDecision::Allowed
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_count_together() {
        // First and third are exactly one window apart: the first has left the window.
        assert_eq!(
            decide(&policy(), &[t(0), t(300), t(600)], t(601)),
            LockoutDecision::Allowed
        );
        assert_eq!(
            decide(&policy(), &[t(0), t(300), t(599)], t(600)),
            LockoutDecision::Locked { until: t(1499) }
        );
    }

    #[test]
    fn an_expired_lock_gives_fresh_attempts() {
        let mut failures = vec![t(0), t(1), t(2)];
        failures.push(t(1000));
        failures.push(t(1001));
        assert_eq!(
            decide(&policy(), &failures, t(1002)),
            LockoutDecision::Allowed
        );
        failures.push(t(1002));
        assert_eq!(
            decide(&policy(), &failures, t(1002)),
            LockoutDecision::Locked { until: t(1902) }
        );
    }

    #[test]
    fn failures_during_a_lock_do_not_extend_it() {
        assert_eq!(
            decide(&policy(), &[t(0), t(1), t(2), t(500), t(600)], t(700)),
            LockoutDecision::Locked { until: t(902) }
        );
    }

    #[test]
    fn future_timestamps_are_ignored() {
        assert_eq!(
            decide(&policy(), &[t(0), t(1), t(5000)], t(2)),
            LockoutDecision::Allowed
        );
    }

    #[test]
    fn counter_variant_boundaries() {
        let p = policy();
        assert_eq!(
            decide_by_count(&p, 2, Some(t(0)), t(1)),
            LockoutDecision::Allowed
        );
        assert_eq!(
            decide_by_count(&p, 3, Some(t(0)), t(899)),
            LockoutDecision::Locked { until: t(900) }
        );
        assert_eq!(
            decide_by_count(&p, 3, Some(t(0)), t(900)),
            LockoutDecision::Allowed
        );
        assert_eq!(decide_by_count(&p, 9, None, t(0)), LockoutDecision::Allowed);
    }

    #[test]
    fn config_policy_and_error() {
        let p = LockoutPolicy::from_config(5, 900);
        assert_eq!(p.window, Duration::seconds(900));
        assert_eq!(p.lock, Duration::seconds(900));
        assert!(matches!(
            LockoutDecision::Locked { until: t(0) }.into_result(),
            Err(AuthError::Locked { .. })
        ));
        assert!(LockoutDecision::Allowed.into_result().is_ok());
    }
}
