//! Which endpoint serves a request: smooth weighted round-robin (nginx's algorithm: every
//! pick adds each candidate's weight to its score, takes the highest, subtracts the total),
//! which spreads picks evenly in proportion to the weights, over the endpoints that can take
//! a request now; then the others by weight, as the order of retries.

#[derive(Clone, Debug, Default)]
pub struct SmoothWeighted {
    scores: Vec<i64>,
}

impl SmoothWeighted {
    /// The order to try endpoints in: the pick first, then the other available ones by
    /// descending weight. `available[i]` says whether endpoint `i` may take a request now
    /// (breaker closed, below its concurrency limit).
    pub fn order(&mut self, weights: &[u32], available: &[bool]) -> Vec<usize> {
        if self.scores.len() != weights.len() {
            self.scores = vec![0; weights.len()];
        }
        let candidates: Vec<usize> = (0..weights.len()).filter(|i| available.get(*i).copied().unwrap_or(false) && weights[*i] > 0).collect();
        let Some(first) = self.pick(weights, &candidates) else { return Vec::new() };
        let mut rest: Vec<usize> = candidates.into_iter().filter(|i| *i != first).collect();
        rest.sort_by_key(|i| std::cmp::Reverse(weights[*i]));
        std::iter::once(first).chain(rest).collect()
    }

    fn pick(&mut self, weights: &[u32], candidates: &[usize]) -> Option<usize> {
        let total: i64 = candidates.iter().map(|i| i64::from(weights[*i])).sum();
        for i in candidates {
            self.scores[*i] += i64::from(weights[*i]);
        }
        let best = candidates.iter().copied().max_by_key(|i| (self.scores[*i], std::cmp::Reverse(*i)))?;
        self.scores[best] -= total;
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_follow_the_weights_evenly() {
        let mut balancer = SmoothWeighted::default();
        let picks: Vec<usize> = (0..7).map(|_| balancer.order(&[5, 1, 1], &[true, true, true])[0]).collect();
        assert_eq!(picks.iter().filter(|p| **p == 0).count(), 5);
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0], "interleaved, not five in a row");
    }

    #[test]
    fn unavailable_endpoints_are_skipped_and_the_rest_follow_as_retries() {
        let mut balancer = SmoothWeighted::default();
        let order = balancer.order(&[1, 3, 2], &[true, false, true]);
        assert_eq!(order, [2, 0], "the pick, then the others by weight; the unavailable one never");
        assert!(balancer.order(&[1, 1], &[false, false]).is_empty());
        assert!(balancer.order(&[0, 0], &[true, true]).is_empty(), "weight 0 takes no traffic");
    }
}
