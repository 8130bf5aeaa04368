//! The conformance suite every [`Cache`] backend must pass, so memory and Redis keep the same
//! semantics. Each case uses its own key prefix, so runs may share a backend and run in parallel.
//!
//! Cases panic on failure, like test assertions; call them from `#[tokio::test]`s, preferably
//! on a multi-threaded runtime so the concurrency cases race for real.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Cache, CacheError};

/// Short enough to keep the suite fast, long enough that a loaded machine reads a key
/// before it expires.
const SHORT_TTL: Duration = Duration::from_millis(150);
/// Margin past a TTL before checking that a key is gone.
const EXPIRY_MARGIN: Duration = Duration::from_millis(150);
/// Number of tasks racing in the concurrency cases.
const RACERS: i64 = 50;

/// Runs every case. `other_namespace` must be the same backend as `cache` (same Redis, or a
/// [`crate::MemoryCache::with_namespace`] sibling) under a different namespace.
pub async fn run_all(cache: Arc<dyn Cache>, other_namespace: Arc<dyn Cache>) {
    backend_is_named_and_reachable(cache.clone()).await;
    values_round_trip(cache.clone()).await;
    values_expire_after_their_ttl(cache.clone()).await;
    set_if_absent_only_first_wins(cache.clone()).await;
    incr_window_accumulates_and_resets(cache.clone()).await;
    incr_window_is_atomic_under_concurrency(cache.clone()).await;
    try_consume_stops_at_the_limit_and_resets(cache.clone()).await;
    try_consume_never_overspends_under_concurrency(cache.clone()).await;
    counters_reject_values_that_are_not_integers(cache.clone()).await;
    invalid_arguments_are_rejected(cache.clone()).await;
    namespaces_isolate(cache, other_namespace).await;
}

/// A key prefix unique to this call: case name, process id, start time and a counter.
fn unique(case: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("conformance:{case}:{}:{nanos}:{n}", std::process::id())
}

fn assert_resets_in(resets_in: Duration, window: Duration) {
    assert!(
        !resets_in.is_zero() && resets_in <= window,
        "resets_in {resets_in:?} must be within (0, {window:?}]"
    );
}

pub async fn backend_is_named_and_reachable(cache: Arc<dyn Cache>) {
    assert!(
        ["redis", "memory"].contains(&cache.backend()),
        "backend {}",
        cache.backend()
    );
    cache.ping().await.unwrap();
}

pub async fn values_round_trip(cache: Arc<dyn Cache>) {
    let key = unique("round-trip");
    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert!(
        !cache.delete(&key).await.unwrap(),
        "deleting an absent key reports false"
    );

    let binary = [0u8, 255, 10, 13, b':', 0];
    cache.set(&key, &binary, None).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&binary[..]));

    cache.set(&key, b"", None).await.unwrap();
    assert_eq!(
        cache.get(&key).await.unwrap(),
        Some(Vec::new()),
        "empty values are values"
    );

    assert!(cache.delete(&key).await.unwrap());
    assert_eq!(cache.get(&key).await.unwrap(), None);
    assert!(!cache.delete(&key).await.unwrap());
}

pub async fn values_expire_after_their_ttl(cache: Arc<dyn Cache>) {
    let key = unique("ttl");
    cache.set(&key, b"short", Some(SHORT_TTL)).await.unwrap();
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"short"[..])
    );
    tokio::time::sleep(SHORT_TTL + EXPIRY_MARGIN).await;
    assert_eq!(
        cache.get(&key).await.unwrap(),
        None,
        "expired after its TTL"
    );
    assert!(
        !cache.delete(&key).await.unwrap(),
        "an expired key is absent"
    );

    // A later set without TTL keeps the value for good, as Redis SET does.
    let kept = unique("ttl-cleared");
    cache.set(&kept, b"v1", Some(SHORT_TTL)).await.unwrap();
    cache.set(&kept, b"v2", None).await.unwrap();
    tokio::time::sleep(SHORT_TTL + EXPIRY_MARGIN).await;
    assert_eq!(cache.get(&kept).await.unwrap().as_deref(), Some(&b"v2"[..]));
    cache.delete(&kept).await.unwrap();
}

pub async fn set_if_absent_only_first_wins(cache: Arc<dyn Cache>) {
    let key = unique("set-if-absent");
    assert!(
        cache
            .set_if_absent(&key, b"first", SHORT_TTL)
            .await
            .unwrap()
    );
    assert!(
        !cache
            .set_if_absent(&key, b"second", SHORT_TTL)
            .await
            .unwrap()
    );
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"first"[..])
    );

    tokio::time::sleep(SHORT_TTL + EXPIRY_MARGIN).await;
    assert!(
        cache
            .set_if_absent(&key, b"after", SHORT_TTL)
            .await
            .unwrap(),
        "wins again after expiry"
    );
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"after"[..])
    );

    let plain = unique("set-if-absent-plain");
    cache.set(&plain, b"plain", None).await.unwrap();
    assert!(
        !cache
            .set_if_absent(&plain, b"other", SHORT_TTL)
            .await
            .unwrap()
    );
    cache.delete(&plain).await.unwrap();

    // Only one of many racing callers wins an idempotency key.
    let raced = unique("set-if-absent-race");
    let wins = race(&cache, |cache, i| {
        let raced = raced.clone();
        async move {
            cache
                .set_if_absent(&raced, i.to_string().as_bytes(), Duration::from_secs(10))
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(
        wins.iter().filter(|won| **won).count(),
        1,
        "exactly one racer stores the key"
    );
    cache.delete(&raced).await.unwrap();
}

pub async fn incr_window_accumulates_and_resets(cache: Arc<dyn Cache>) {
    let key = unique("incr-window");
    let window = Duration::from_millis(300);
    let first = cache.incr_window(&key, 1, window).await.unwrap();
    assert_eq!(first.total, 1);
    assert_resets_in(first.resets_in, window);
    let second = cache.incr_window(&key, 2, window).await.unwrap();
    assert_eq!(second.total, 3);
    assert_resets_in(second.resets_in, window);
    assert!(
        second.resets_in <= first.resets_in,
        "the window does not restart on each increment"
    );
    assert_eq!(
        cache.incr_window(&key, -1, window).await.unwrap().total,
        2,
        "negative deltas subtract"
    );
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"2"[..]),
        "counters read as decimal text"
    );

    tokio::time::sleep(window + EXPIRY_MARGIN).await;
    let next = cache.incr_window(&key, 5, window).await.unwrap();
    assert_eq!(next.total, 5, "a new window starts from zero");
    assert_resets_in(next.resets_in, window);

    // A value stored without TTL becomes a windowed counter rather than living forever.
    let plain = unique("incr-window-plain");
    cache.set(&plain, b"10", None).await.unwrap();
    let count = cache.incr_window(&plain, 1, window).await.unwrap();
    assert_eq!(count.total, 11);
    assert_resets_in(count.resets_in, window);
    tokio::time::sleep(window + EXPIRY_MARGIN).await;
    assert_eq!(cache.get(&plain).await.unwrap(), None);
    cache.delete(&key).await.unwrap();
}

pub async fn incr_window_is_atomic_under_concurrency(cache: Arc<dyn Cache>) {
    let key = unique("incr-window-race");
    let window = Duration::from_secs(10);
    let mut totals = race(&cache, |cache, _| {
        let key = key.clone();
        async move { cache.incr_window(&key, 1, window).await.unwrap().total }
    })
    .await;
    totals.sort_unstable();
    assert_eq!(
        totals,
        (1..=RACERS).collect::<Vec<_>>(),
        "every increment sees its own total"
    );
    cache.delete(&key).await.unwrap();
}

pub async fn try_consume_stops_at_the_limit_and_resets(cache: Arc<dyn Cache>) {
    let key = unique("try-consume");
    let window = Duration::from_millis(300);

    let refused = cache.try_consume(&key, 150, 100, window).await.unwrap();
    assert_eq!(
        (refused.granted, refused.used),
        (false, 0),
        "more than the limit is never granted"
    );
    assert_resets_in(refused.resets_in, window);
    assert_eq!(
        cache.get(&key).await.unwrap(),
        None,
        "a refusal on an empty window does not start one"
    );

    let granted = cache.try_consume(&key, 60, 100, window).await.unwrap();
    assert_eq!((granted.granted, granted.used), (true, 60));
    assert_resets_in(granted.resets_in, window);
    let refused = cache.try_consume(&key, 50, 100, window).await.unwrap();
    assert_eq!(
        (refused.granted, refused.used),
        (false, 60),
        "a refusal adds nothing"
    );
    assert_resets_in(refused.resets_in, granted.resets_in);
    let exact = cache.try_consume(&key, 40, 100, window).await.unwrap();
    assert_eq!(
        (exact.granted, exact.used),
        (true, 100),
        "the limit itself may be reached"
    );
    let over = cache.try_consume(&key, 1, 100, window).await.unwrap();
    assert_eq!((over.granted, over.used), (false, 100));

    tokio::time::sleep(window + EXPIRY_MARGIN).await;
    let renewed = cache.try_consume(&key, 1, 100, window).await.unwrap();
    assert_eq!(
        (renewed.granted, renewed.used),
        (true, 1),
        "a new window starts from zero"
    );
    assert_resets_in(renewed.resets_in, window);

    let zero = cache
        .try_consume(&unique("try-consume-zero"), 1, 0, window)
        .await
        .unwrap();
    assert!(!zero.granted, "a zero limit grants nothing");
    cache.delete(&key).await.unwrap();
}

pub async fn try_consume_never_overspends_under_concurrency(cache: Arc<dyn Cache>) {
    let window = Duration::from_secs(10);
    let (amount, limit) = (3, 100);

    // Demand (50 × 3) exceeds the limit: exactly floor(100 / 3) = 33 grants, 99 used.
    let key = unique("try-consume-race");
    let outcomes = race(&cache, |cache, _| {
        let key = key.clone();
        async move {
            cache
                .try_consume(&key, amount, limit, window)
                .await
                .unwrap()
        }
    })
    .await;
    let mut granted: Vec<i64> = outcomes
        .iter()
        .filter(|c| c.granted)
        .map(|c| c.used)
        .collect();
    granted.sort_unstable();
    let grants = limit / amount;
    assert_eq!(
        granted,
        (1..=grants).map(|i| i * amount).collect::<Vec<_>>(),
        "each grant sees its own total"
    );
    for outcome in &outcomes {
        assert_resets_in(outcome.resets_in, window);
        if !outcome.granted {
            assert_eq!(
                outcome.used,
                grants * amount,
                "refused only once the budget is spent"
            );
        }
    }
    let total = cache.get(&key).await.unwrap().expect("counter exists");
    assert_eq!(
        total,
        (grants * amount).to_string().into_bytes(),
        "final total == grants × amount"
    );
    cache.delete(&key).await.unwrap();

    // Demand (50 × 2) fits the limit exactly: everyone is granted.
    let key = unique("try-consume-fits");
    let outcomes = race(&cache, |cache, _| {
        let key = key.clone();
        async move { cache.try_consume(&key, 2, limit, window).await.unwrap() }
    })
    .await;
    assert!(
        outcomes.iter().all(|c| c.granted),
        "demand within the limit is all granted"
    );
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&b"100"[..]));
    cache.delete(&key).await.unwrap();
}

pub async fn counters_reject_values_that_are_not_integers(cache: Arc<dyn Cache>) {
    let key = unique("not-a-counter");
    let window = Duration::from_secs(10);
    for value in [&b"abc"[..], b"1.5", b"+1", b""] {
        cache.set(&key, value, None).await.unwrap();
        let err = cache.incr_window(&key, 1, window).await.unwrap_err();
        assert!(
            matches!(&err, CacheError::InvalidCounter { key: k, .. } if *k == key),
            "{err}"
        );
        let err = cache.try_consume(&key, 1, 10, window).await.unwrap_err();
        assert!(matches!(err, CacheError::InvalidCounter { .. }), "{err}");
        assert_eq!(
            cache.get(&key).await.unwrap().as_deref(),
            Some(value),
            "left untouched"
        );
    }

    cache
        .set(&key, i64::MAX.to_string().as_bytes(), None)
        .await
        .unwrap();
    let err = cache.incr_window(&key, 1, window).await.unwrap_err();
    assert!(
        matches!(err, CacheError::InvalidCounter { .. }),
        "overflow: {err}"
    );
    cache.delete(&key).await.unwrap();
}

pub async fn invalid_arguments_are_rejected(cache: Arc<dyn Cache>) {
    let key = unique("invalid-arguments");
    let second = Duration::from_secs(1);
    let invalid = |result: Result<(), CacheError>| {
        assert!(
            matches!(result, Err(CacheError::InvalidArgument { .. })),
            "{result:?}"
        );
    };
    invalid(cache.set(&key, b"v", Some(Duration::ZERO)).await);
    invalid(
        cache
            .set_if_absent(&key, b"v", Duration::ZERO)
            .await
            .map(drop),
    );
    invalid(cache.incr_window(&key, 1, Duration::ZERO).await.map(drop));
    invalid(
        cache
            .try_consume(&key, 1, 10, Duration::ZERO)
            .await
            .map(drop),
    );
    invalid(cache.try_consume(&key, 0, 10, second).await.map(drop));
    invalid(cache.try_consume(&key, -1, 10, second).await.map(drop));
    invalid(cache.try_consume(&key, 1, -1, second).await.map(drop));
    assert_eq!(
        cache.get(&key).await.unwrap(),
        None,
        "rejected calls store nothing"
    );

    // Sub-millisecond TTLs round up to 1 ms instead of failing or never expiring.
    cache
        .set(&key, b"v", Some(Duration::from_micros(10)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(cache.get(&key).await.unwrap(), None);
}

pub async fn namespaces_isolate(cache: Arc<dyn Cache>, other_namespace: Arc<dyn Cache>) {
    let key = unique("namespaces");
    cache.set(&key, b"mine", None).await.unwrap();
    assert_eq!(other_namespace.get(&key).await.unwrap(), None);
    other_namespace.set(&key, b"theirs", None).await.unwrap();
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"mine"[..])
    );
    assert!(other_namespace.delete(&key).await.unwrap());
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"mine"[..])
    );

    let window = Duration::from_secs(10);
    let counter = unique("namespaces-counter");
    cache.incr_window(&counter, 5, window).await.unwrap();
    assert_eq!(
        other_namespace
            .incr_window(&counter, 1, window)
            .await
            .unwrap()
            .total,
        1
    );
    assert!(
        cache
            .try_consume(&counter, 5, 10, window)
            .await
            .unwrap()
            .granted
    );
    assert_eq!(
        other_namespace
            .try_consume(&counter, 9, 10, window)
            .await
            .unwrap()
            .used,
        10
    );
    assert!(
        other_namespace
            .set_if_absent(&key, b"x", window)
            .await
            .unwrap()
    );

    for (cache, key) in [
        (&cache, &key),
        (&cache, &counter),
        (&other_namespace, &key),
        (&other_namespace, &counter),
    ] {
        cache.delete(key).await.unwrap();
    }
}

/// Runs `RACERS` copies of `call` at once on tokio tasks and collects their results.
async fn race<T, F, Fut>(cache: &Arc<dyn Cache>, call: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Cache>, i64) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(usize::try_from(RACERS).unwrap()));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (start, call) = (start.clone(), call(cache.clone(), i));
            tokio::spawn(async move {
                start.wait().await;
                call.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("racer panicked"));
    }
    results
}
