//! The brain-cache conformance suite against each backend: the in-process memory cache always,
//! and Redis when `BRAIN_TEST_REDIS` is set (required under `CI=true`). One test per case so a
//! failure names both the case and the backend.

// Setup failures should abort the test with a message, like the suite's own assertions.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use brain_cache::{Cache, conformance};

/// Two handles on one backend under different namespaces: the cache under test, and the
/// neighbour that `namespaces_isolate` checks it cannot see.
type Caches = Option<(Arc<dyn Cache>, Arc<dyn Cache>)>;

/// Expands to one `#[tokio::test]` per conformance case, each getting its caches from the
/// `caches()` function of the module it is expanded in.
macro_rules! conformance_cases {
    () => {
        conformance_cases!(@one_cache
            backend_is_named_and_reachable,
            values_round_trip,
            values_expire_after_their_ttl,
            set_if_absent_only_first_wins,
            incr_window_accumulates_and_resets,
            incr_window_is_atomic_under_concurrency,
            try_consume_stops_at_the_limit_and_resets,
            try_consume_never_overspends_under_concurrency,
            counters_reject_values_that_are_not_integers,
            invalid_arguments_are_rejected,
        );

        #[tokio::test(flavor = "multi_thread")]
        async fn namespaces_isolate() {
            if let Some((cache, other_namespace)) = caches().await {
                conformance::namespaces_isolate(cache, other_namespace).await;
            }
        }
    };
    (@one_cache $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $case() {
                if let Some((cache, _)) = caches().await {
                    conformance::$case(cache).await;
                }
            }
        )*
    };
}

mod memory {
    use super::*;
    use brain_cache::MemoryCache;

    async fn caches() -> Caches {
        let cache = MemoryCache::new("brain-test:conformance:a").expect("valid namespace");
        let other_namespace = cache
            .with_namespace("brain-test:conformance:b")
            .expect("valid namespace");
        Some((Arc::new(cache), Arc::new(other_namespace)))
    }

    conformance_cases!();
}

mod redis {
    use super::*;

    /// `None` (skip) when no Redis is configured outside CI.
    async fn caches() -> Caches {
        let url = brain_testkit::engines::redis()?;
        let cache = brain_cache::connect(&url, "brain-test:conformance:a")
            .await
            .expect("connect to BRAIN_TEST_REDIS");
        let other_namespace = brain_cache::connect(&url, "brain-test:conformance:b")
            .await
            .expect("connect to BRAIN_TEST_REDIS");
        assert_eq!(
            cache.backend(),
            "redis",
            "BRAIN_TEST_REDIS must be a redis:// URL"
        );
        Some((cache, other_namespace))
    }

    conformance_cases!();
}
