//! Circuit breaking per upstream endpoint: after `failures_to_open` failures in a row the
//! endpoint gets no traffic for `open_for`; then one probe request decides whether it closes
//! again or stays open for another period. Pure state; the caller passes the clock.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerPolicy {
    pub failures_to_open: u32,
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self { failures_to_open: 5, open_for: Duration::from_secs(30) }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed { consecutive_failures: u32 },
    Open { until: Instant },
    /// One probe is on its way; everyone else waits for its outcome.
    HalfOpen,
}

#[derive(Clone, Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: BreakerState,
}

impl Breaker {
    pub fn new(policy: BreakerPolicy) -> Self {
        Self { policy, state: BreakerState::Closed { consecutive_failures: 0 } }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a request may go to the endpoint now; an expired open period lets exactly one
    /// probe through.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                true
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen => false,
        }
    }

    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed { consecutive_failures: 0 };
    }

    pub fn on_failure(&mut self, now: Instant) {
        self.state = match self.state {
            BreakerState::Closed { consecutive_failures } if consecutive_failures + 1 < self.policy.failures_to_open => {
                BreakerState::Closed { consecutive_failures: consecutive_failures + 1 }
            }
            _ => BreakerState::Open { until: now + self.policy.open_for },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy { failures_to_open: 3, open_for: Duration::from_secs(10) }
    }

    #[test]
    fn opens_after_the_threshold_in_a_row_and_a_success_resets_the_count() {
        let now = Instant::now();
        let mut breaker = Breaker::new(policy());
        breaker.on_failure(now);
        breaker.on_failure(now);
        breaker.on_success();
        breaker.on_failure(now);
        breaker.on_failure(now);
        assert!(breaker.try_acquire(now), "two in a row after a success: still closed");
        breaker.on_failure(now);
        assert_eq!(breaker.state(), BreakerState::Open { until: now + Duration::from_secs(10) });
        assert!(!breaker.try_acquire(now + Duration::from_secs(9)));
    }

    #[test]
    fn after_the_open_period_one_probe_decides() {
        let now = Instant::now();
        let mut breaker = Breaker::new(policy());
        for _ in 0..3 {
            breaker.on_failure(now);
        }
        let later = now + Duration::from_secs(10);
        assert!(breaker.try_acquire(later), "the probe");
        assert!(!breaker.try_acquire(later), "nobody else while the probe is out");
        breaker.on_failure(later);
        assert_eq!(breaker.state(), BreakerState::Open { until: later + Duration::from_secs(10) }, "a failed probe opens it again");
        let again = later + Duration::from_secs(10);
        assert!(breaker.try_acquire(again));
        breaker.on_success();
        assert!(breaker.try_acquire(again) && breaker.try_acquire(again), "a good probe closes it");
    }
}
