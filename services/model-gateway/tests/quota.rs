//! Rate limits and token budgets of the gateway, on the in-process memory cache and on Redis
//! (`BRAIN_TEST_REDIS`, required under `CI=true`): exact under concurrency, refunds and excess
//! settled exactly, tenant and key limits both enforced, retry hints to the end of the China
//! Standard Time minute, day and month, periods rolling over at midnight in Beijing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brain_cache::{Cache, CacheError, Consumption, MemoryCache, WindowCount};
use brain_model_gateway::gateway::quota::{Limits, Period, Quota, QuotaError, Reservation, Scope, Usage};
use chrono::{DateTime, Utc};

/// 18:00 in Beijing on 2026-11-21.
const NOW: &str = "2026-11-21T10:00:00Z";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn limits(requests_per_minute: u32, tokens_per_day: u64, tokens_per_month: u64) -> Limits {
    Limits { requests_per_minute, tokens_per_day, tokens_per_month }
}

/// A namespace no other test or run uses, so tests can share one Redis.
fn unique_namespace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("brain-test:quota:{}:{nanos}:{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn memory_cache() -> Option<Arc<dyn Cache>> {
    Some(Arc::new(MemoryCache::new(&unique_namespace()).expect("valid namespace")))
}

/// `None` (skip) when no Redis is configured outside CI.
async fn redis_cache() -> Option<Arc<dyn Cache>> {
    let url = brain_testkit::engines::redis()?;
    let cache = brain_cache::connect(&url, &unique_namespace()).await.expect("connect to BRAIN_TEST_REDIS");
    assert_eq!(cache.backend(), "redis", "BRAIN_TEST_REDIS must be a redis:// URL");
    Some(cache)
}

/// One test per case and backend, so a failure names both.
macro_rules! on_both_caches {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(cache) = super::memory_cache().await {
                        super::$case(cache).await;
                    }
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some(cache) = super::redis_cache().await {
                        super::$case(cache).await;
                    }
                }
            )*
        }
    };
}

on_both_caches!(
    concurrent_admissions_never_overspend_a_daily_budget,
    settling_refunds_unused_tokens_so_more_requests_fit,
    usage_beyond_the_reservation_is_charged,
    tenant_and_key_budgets_are_both_enforced,
    tenant_and_key_budgets_add_up_under_concurrency,
    request_rates_are_exact_under_concurrency,
    refused_requests_give_back_what_they_took,
    requests_larger_than_a_budget_are_refused_without_counting,
    retry_hints_point_to_the_end_of_the_cst_minute_day_and_month,
    days_and_months_roll_over_at_midnight_in_beijing,
);

/// Runs `n` admissions at once on separate tasks.
async fn race<F, Fut, T>(n: usize, admit: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(admit(i))).collect();
    let mut outcomes = Vec::with_capacity(n);
    for task in tasks {
        outcomes.push(task.await.expect("admission task"));
    }
    outcomes
}

/// `n` concurrent admissions of `reserve` tokens for `tenant` (and `key`), at `now`.
async fn admit_many(quota: &Quota, tenant: &str, key: Option<&str>, pair: (Limits, Limits), n: usize, reserve: u64, now: DateTime<Utc>) -> Vec<Result<Reservation, QuotaError>> {
    race(n, |_| {
        let (quota, tenant, key) = (quota.clone(), tenant.to_owned(), key.map(str::to_owned));
        async move { quota.admit(&tenant, key.as_deref(), (&pair.0, &pair.1), reserve, now).await }
    })
    .await
}

fn split(outcomes: Vec<Result<Reservation, QuotaError>>) -> (Vec<Reservation>, Vec<QuotaError>) {
    let mut admitted = Vec::new();
    let mut refused = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(reservation) => admitted.push(reservation),
            Err(error) => refused.push(error),
        }
    }
    (admitted, refused)
}

async fn usage(quota: &Quota, tenant: &str, key: Option<&str>, now: DateTime<Utc>) -> Usage {
    quota.usage(tenant, key, now).await.unwrap()
}

async fn settle_all(quota: &Quota, reservations: Vec<Reservation>, actual: u64) {
    let tasks: Vec<_> = reservations
        .into_iter()
        .map(|reservation| {
            let quota = quota.clone();
            tokio::spawn(async move { quota.settle(reservation, actual).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
}

async fn concurrent_admissions_never_overspend_a_daily_budget(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let now = at(NOW);
    let pair = (limits(0, 5000, 0), Limits::UNLIMITED);
    let (admitted, refused) = split(admit_many(&quota, "acme", None, pair, 200, 100, now).await);
    assert_eq!(admitted.len(), 50, "5,000 tokens hold exactly 50 reservations of 100");
    assert_eq!(refused.len(), 150);
    for error in &refused {
        match error {
            QuotaError::BudgetExhausted { scope: Scope::Tenant, period: Period::Day, limit: 5000, used, requested: 100, .. } => {
                assert!(*used + 100 > 5000, "refused with {used} used: it would have fitted");
            }
            other => panic!("expected the daily budget to refuse, got {other:?}"),
        }
    }
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 5000);
    assert_eq!(usage(&quota, "other", None, now).await.tokens_today, 0, "tenants are counted apart");
}

async fn settling_refunds_unused_tokens_so_more_requests_fit(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let now = at(NOW);
    let pair = (limits(0, 5000, 0), Limits::UNLIMITED);
    let (first, _) = split(admit_many(&quota, "acme", None, pair, 200, 100, now).await);
    assert_eq!(first.len(), 50);
    assert!(first.iter().all(|r| r.reserved() == 100 && r.is_counted()));

    // Each used 40 of its 100: 60 × 50 = 3,000 tokens come back.
    settle_all(&quota, first, 40).await;
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 2000);

    let (second, _) = split(admit_many(&quota, "acme", None, pair, 200, 100, now).await);
    assert_eq!(second.len(), 30, "the 3,000 refunded tokens hold exactly 30 more reservations");
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 5000);

    // Used exactly what they reserved: nothing moves. A request that failed before the upstream
    // worked on it gives everything back.
    let mut second = second.into_iter();
    let failed = second.next().unwrap();
    settle_all(&quota, second.collect(), 100).await;
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 5000);
    quota.settle(failed, 0).await.unwrap();
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 4900);
}

async fn usage_beyond_the_reservation_is_charged(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let now = at(NOW);
    let (tenant, key) = (limits(0, 1000, 0), limits(0, 0, 2000));
    let pair = (&tenant, &key);

    let reservation = quota.admit("acme", Some("k1"), pair, 100, now).await.unwrap();
    quota.settle(reservation, 250).await.unwrap();
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 250, "the tenant's day is charged the excess");
    assert_eq!(usage(&quota, "acme", Some("k1"), now).await.tokens_this_month, 250, "and so is the key's month");

    let reservation = quota.admit("acme", Some("k1"), pair, 700, now).await.unwrap();
    quota.settle(reservation, 700).await.unwrap();
    match quota.admit("acme", Some("k1"), pair, 100, now).await {
        Err(QuotaError::BudgetExhausted { used: 950, requested: 100, .. }) => {}
        other => panic!("expected a refusal with 950 used, got {other:?}"),
    }
    let last = quota.admit("acme", Some("k1"), pair, 50, now).await.unwrap();
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 1000);

    // The one way past a limit: an admitted request that used more than it reserved. The
    // overspend is that request's excess, and nothing more is admitted.
    quota.settle(last, 110).await.unwrap();
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 1060);
    let (admitted, _) = split(admit_many(&quota, "acme", Some("k1"), (tenant, key), 20, 1, now).await);
    assert!(admitted.is_empty(), "an overspent budget admits nothing");
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 1060);
}

async fn tenant_and_key_budgets_are_both_enforced(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let now = at(NOW);
    let (tenant, key) = (limits(0, 500, 0), limits(0, 300, 0));
    let pair = (&tenant, &key);

    for _ in 0..3 {
        let _kept = quota.admit("acme", Some("k1"), pair, 100, now).await.unwrap();
    }
    match quota.admit("acme", Some("k1"), pair, 100, now).await {
        Err(QuotaError::BudgetExhausted { scope: Scope::ApiKey, period: Period::Day, limit: 300, used: 300, .. }) => {}
        other => panic!("expected k1's daily budget to refuse, got {other:?}"),
    }
    assert_eq!(usage(&quota, "acme", None, now).await.tokens_today, 300, "the key's refusal gave the tenant's tokens back");

    for _ in 0..2 {
        let _kept = quota.admit("acme", Some("k2"), pair, 100, now).await.unwrap();
    }
    match quota.admit("acme", Some("k2"), pair, 100, now).await {
        Err(QuotaError::BudgetExhausted { scope: Scope::Tenant, limit: 500, used: 500, .. }) => {}
        other => panic!("expected the tenant's daily budget to refuse, got {other:?}"),
    }
    assert_eq!(usage(&quota, "acme", Some("k2"), now).await.tokens_today, 200, "the tenant's refusal gave k2's tokens back");
    assert!(matches!(quota.admit("acme", None, pair, 1, now).await, Err(QuotaError::BudgetExhausted { scope: Scope::Tenant, .. })), "session tokens count for the tenant");
    let _other = quota.admit("globex", Some("k1"), pair, 300, now).await.expect("another tenant (with a key of the same id) has its own budgets");

    // Monthly budgets of keys too.
    let key_month = limits(0, 0, 150);
    let _kept = quota.admit("initech", Some("k1"), (&Limits::UNLIMITED, &key_month), 100, now).await.unwrap();
    assert!(matches!(
        quota.admit("initech", Some("k1"), (&Limits::UNLIMITED, &key_month), 100, now).await,
        Err(QuotaError::BudgetExhausted { scope: Scope::ApiKey, period: Period::Month, limit: 150, used: 100, .. })
    ));
    let _kept = quota.admit("initech", Some("k2"), (&Limits::UNLIMITED, &key_month), 100, now).await.unwrap();
}

async fn tenant_and_key_budgets_add_up_under_concurrency(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let now = at(NOW);
    let pair = (limits(0, 5000, 20_000), limits(0, 3000, 0));
    let (a, b) = tokio::join!(
        admit_many(&quota, "acme", Some("a"), pair, 100, 100, now),
        admit_many(&quota, "acme", Some("b"), pair, 100, 100, now),
    );
    let (mut a, _) = split(a);
    let (mut b, _) = split(b);
    assert!(a.len() <= 30 && b.len() <= 30 && a.len() + b.len() <= 50, "admitted a {}, b {}", a.len(), b.len());
    // Between scopes a request may be refused while another's tokens are briefly held; topping
    // up one by one fills every budget exactly.
    while a.len() + b.len() < 50 {
        let (key, admitted) = if a.len() < 30 { ("a", &mut a) } else { ("b", &mut b) };
        admitted.push(quota.admit("acme", Some(key), (&pair.0, &pair.1), 100, now).await.unwrap());
    }
    assert!(quota.admit("acme", Some("b"), (&pair.0, &pair.1), 100, now).await.is_err());
    let tenant = usage(&quota, "acme", None, now).await;
    assert_eq!((tenant.tokens_today, tenant.tokens_this_month), (5000, 5000));
    assert_eq!(usage(&quota, "acme", Some("a"), now).await.tokens_today, 100 * a.len() as u64);
    assert_eq!(usage(&quota, "acme", Some("b"), now).await.tokens_today, 100 * b.len() as u64);
}

async fn request_rates_are_exact_under_concurrency(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let now = at(NOW);
    let pair = (limits(20, 0, 0), Limits::UNLIMITED);
    let (admitted, refused) = split(admit_many(&quota, "acme", None, pair, 100, 10, now).await);
    assert_eq!(admitted.len(), 20);
    assert!(admitted.iter().all(|r| !r.is_counted()), "no budget is limited: no tokens are counted");
    for error in &refused {
        assert!(matches!(error, QuotaError::RateLimited { scope: Scope::Tenant, limit: 20, .. }), "{error:?}");
    }
    assert_eq!(usage(&quota, "acme", None, now).await.requests_this_minute, 20, "refused requests are not counted");
    let next_minute = now + chrono::TimeDelta::seconds(60);
    let (admitted, _) = split(admit_many(&quota, "acme", None, pair, 30, 10, next_minute).await);
    assert_eq!(admitted.len(), 20, "a new minute, a new count");

    // Keys limited to 5 a minute each, their tenant to 8.
    let pair = (limits(8, 0, 0), limits(5, 0, 0));
    let (a, b) = tokio::join!(admit_many(&quota, "globex", Some("a"), pair, 40, 1, now), admit_many(&quota, "globex", Some("b"), pair, 40, 1, now));
    let (a, b) = (split(a).0.len(), split(b).0.len());
    assert!(a <= 5 && b <= 5 && a + b <= 8, "admitted a {a}, b {b}");
    let mut admitted = a + b;
    loop {
        let mut more = 0;
        for key in ["a", "b"] {
            if quota.admit("globex", Some(key), (&pair.0, &pair.1), 1, now).await.is_ok() {
                more += 1;
            }
        }
        if more == 0 {
            break;
        }
        admitted += more;
    }
    assert_eq!(admitted, 8);
    assert_eq!(usage(&quota, "globex", None, now).await.requests_this_minute, 8);
    let per_key = usage(&quota, "globex", Some("a"), now).await.requests_this_minute + usage(&quota, "globex", Some("b"), now).await.requests_this_minute;
    assert_eq!(per_key, 8);
}

async fn refused_requests_give_back_what_they_took(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let now = at(NOW);
    let tenant = limits(3, 100, 0);
    let _kept = quota.admit("acme", None, (&tenant, &Limits::UNLIMITED), 100, now).await.unwrap();
    for _ in 0..5 {
        assert!(matches!(quota.admit("acme", None, (&tenant, &Limits::UNLIMITED), 1, now).await, Err(QuotaError::BudgetExhausted { .. })));
    }
    assert_eq!(usage(&quota, "acme", None, now).await.requests_this_minute, 1, "requests refused by a budget do not count as requests");

    // Refused by the rate: no tokens are taken.
    let tenant = limits(1, 1000, 1000);
    let _kept = quota.admit("globex", None, (&tenant, &Limits::UNLIMITED), 100, now).await.unwrap();
    assert!(matches!(quota.admit("globex", None, (&tenant, &Limits::UNLIMITED), 100, now).await, Err(QuotaError::RateLimited { .. })));
    assert_eq!(usage(&quota, "globex", None, now).await, Usage { requests_this_minute: 1, tokens_today: 100, tokens_this_month: 100 });

    // The key's rate refuses: the tenant's count is given back.
    let key = limits(1, 0, 0);
    let tenant = limits(10, 0, 0);
    let _kept = quota.admit("initech", Some("k"), (&tenant, &key), 1, now).await.unwrap();
    assert!(matches!(quota.admit("initech", Some("k"), (&tenant, &key), 1, now).await, Err(QuotaError::RateLimited { scope: Scope::ApiKey, .. })));
    assert_eq!(usage(&quota, "initech", None, now).await.requests_this_minute, 1);
}

async fn requests_larger_than_a_budget_are_refused_without_counting(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let now = at(NOW);
    let tenant = limits(10, 5000, 100_000);
    match quota.admit("acme", None, (&tenant, &Limits::UNLIMITED), 6000, now).await {
        Err(error @ QuotaError::ExceedsBudget { scope: Scope::Tenant, period: Period::Day, limit: 5000, requested: 6000 }) => {
            assert_eq!(error.retry_after(), None, "retrying the same request cannot help");
        }
        other => panic!("expected ExceedsBudget, got {other:?}"),
    }
    assert_eq!(usage(&quota, "acme", None, now).await, Usage::default());

    // A request reserving nothing still needs a token left.
    let tenant = limits(0, 10, 0);
    let reservation = quota.admit("globex", None, (&tenant, &Limits::UNLIMITED), 0, now).await.unwrap();
    assert_eq!(reservation.reserved(), 1);
    quota.settle(reservation, 10).await.unwrap();
    assert!(matches!(quota.admit("globex", None, (&tenant, &Limits::UNLIMITED), 0, now).await, Err(QuotaError::BudgetExhausted { used: 10, .. })));
}

async fn retry_hints_point_to_the_end_of_the_cst_minute_day_and_month(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    // 23:59:30.250 on 2026-11-21 in Beijing; the month ends 2026-12-01 00:00 Beijing time.
    let now = at("2026-11-21T15:59:30.250Z");
    let midnight = at("2026-11-21T16:00:00Z");
    let month_end = at("2026-11-30T16:00:00Z");
    let left = Duration::from_millis(29_750);

    let rate = limits(1, 0, 0);
    let _kept = quota.admit("rate", None, (&rate, &Limits::UNLIMITED), 1, now).await.unwrap();
    let error = quota.admit("rate", None, (&rate, &Limits::UNLIMITED), 1, now).await.unwrap_err();
    match &error {
        QuotaError::RateLimited { retry_after, resets_at, .. } => assert_eq!((*retry_after, *resets_at), (left, midnight)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    let (status, headers, body) = error.openai_error();
    assert_eq!(status, http::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(body["error"]["type"], "rate_limit_exceeded");
    assert_eq!(body["error"]["code"], "tenant_requests_per_minute");

    let day = limits(0, 100, 0);
    let _kept = quota.admit("day", None, (&day, &Limits::UNLIMITED), 100, now).await.unwrap();
    let error = quota.admit("day", None, (&day, &Limits::UNLIMITED), 1, now).await.unwrap_err();
    match &error {
        QuotaError::BudgetExhausted { period: Period::Day, retry_after, resets_at, .. } => assert_eq!((*retry_after, *resets_at), (left, midnight)),
        other => panic!("expected the day to refuse, got {other:?}"),
    }
    let (_, headers, body) = error.openai_error();
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(body["error"]["type"], "insufficient_quota");
    assert!(body["error"]["message"].as_str().unwrap().contains("2026-11-22T00:00:00+08:00"), "{body}");

    // Day and month both exhausted: the month is the hint that works.
    let both = limits(0, 100, 100);
    let _kept = quota.admit("both", None, (&both, &Limits::UNLIMITED), 100, now).await.unwrap();
    let error = quota.admit("both", None, (&both, &Limits::UNLIMITED), 1, now).await.unwrap_err();
    let nine_days = Duration::from_secs(9 * 86_400);
    match &error {
        QuotaError::BudgetExhausted { period: Period::Month, retry_after, resets_at, .. } => assert_eq!((*retry_after, *resets_at), (nine_days + left, month_end)),
        other => panic!("expected the month to refuse, got {other:?}"),
    }
    assert_eq!(error.headers()["retry-after"], (9 * 86_400 + 30).to_string().as_str());
    assert_eq!(error.grpc_status().code(), tonic::Code::ResourceExhausted);
}

async fn days_and_months_roll_over_at_midnight_in_beijing(cache: Arc<dyn Cache>) {
    let quota = Quota::new(cache);
    let day = limits(0, 100, 0);
    let admit = |now: &str| quota.admit("acme", None, (&day, &Limits::UNLIMITED), 100, at(now));
    // 23:59:59 on the 21st in Beijing.
    let late = admit("2026-11-21T15:59:59Z").await.unwrap();
    assert!(admit("2026-11-21T15:59:59.999Z").await.is_err());
    // Midnight in Beijing: a new day, while UTC is still on the 21st.
    let _kept = admit("2026-11-21T16:00:00Z").await.expect("a new day in China Standard Time");
    // Midnight UTC is 08:00 in Beijing: the same day.
    assert!(matches!(admit("2026-11-22T00:00:00Z").await, Err(QuotaError::BudgetExhausted { period: Period::Day, .. })));
    // Settled after midnight, the late request refunds the day it was admitted in.
    quota.settle(late, 40).await.unwrap();
    assert_eq!(usage(&quota, "acme", None, at("2026-11-21T15:00:00Z")).await.tokens_today, 40);
    assert_eq!(usage(&quota, "acme", None, at("2026-11-22T00:00:00Z")).await.tokens_today, 100);

    let month = limits(0, 0, 100);
    let admit = |now: &str| quota.admit("globex", None, (&month, &Limits::UNLIMITED), 100, at(now));
    let _kept = admit("2026-11-30T15:59:59Z").await.unwrap();
    assert!(admit("2026-11-30T15:59:59.999Z").await.is_err());
    let _kept = admit("2026-11-30T16:00:00Z").await.expect("December in China Standard Time");
    assert!(matches!(admit("2026-12-01T00:00:00Z").await, Err(QuotaError::BudgetExhausted { period: Period::Month, .. })));
}

/// A cache that fails every call on keys containing `failing` (every key when empty), and
/// otherwise serves from memory.
struct FailingCache {
    inner: MemoryCache,
    failing: &'static str,
}

impl FailingCache {
    fn check(&self, key: &str) -> Result<(), CacheError> {
        if key.contains(self.failing) {
            return Err(CacheError::Backend { backend: "memory", source: "connection reset".into() });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Cache for FailingCache {
    fn backend(&self) -> &'static str {
        "memory"
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.check(key)?;
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), CacheError> {
        self.check(key)?;
        self.inner.set(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        self.check(key)?;
        self.inner.delete(key).await
    }
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, CacheError> {
        self.check(key)?;
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn incr_window(&self, key: &str, delta: i64, window: Duration) -> Result<WindowCount, CacheError> {
        self.check(key)?;
        self.inner.incr_window(key, delta, window).await
    }
    async fn try_consume(&self, key: &str, amount: i64, limit: i64, window: Duration) -> Result<Consumption, CacheError> {
        self.check(key)?;
        self.inner.try_consume(key, amount, limit, window).await
    }
    async fn ping(&self) -> Result<(), CacheError> {
        self.check("")
    }
}

fn failing(on: &'static str) -> (Quota, Quota) {
    let inner = MemoryCache::new(&unique_namespace()).unwrap();
    let healthy = Quota::new(Arc::new(inner.clone()));
    (Quota::new(Arc::new(FailingCache { inner, failing: on })), healthy)
}

#[tokio::test]
async fn an_unreachable_cache_refuses_limited_requests() {
    let (quota, _) = failing("");
    let now = at(NOW);
    let error = quota.admit("acme", None, (&limits(0, 1000, 0), &Limits::UNLIMITED), 10, now).await.unwrap_err();
    assert!(matches!(error, QuotaError::Unavailable { .. }), "{error:?}");
    let (status, headers, body) = error.openai_error();
    assert_eq!(status, http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["error"]["code"], "quota_unavailable");
    assert_eq!(error.grpc_status().code(), tonic::Code::Unavailable);

    // Unlimited scopes touch no counter, so they pass even now; so do key limits without a key.
    let reservation = quota.admit("acme", None, (&Limits::UNLIMITED, &limits(1, 1, 1)), 10, now).await.unwrap();
    assert!(!reservation.is_counted());
    quota.settle(reservation, 500).await.unwrap();
}

#[tokio::test]
async fn a_failure_halfway_gives_back_what_was_taken() {
    let now = at(NOW);
    let both = limits(5, 1000, 1000);
    // The monthly counter fails after the rate and the day took their share.
    let (quota, healthy) = failing(":month:");
    for _ in 0..3 {
        assert!(matches!(quota.admit("acme", Some("k"), (&both, &both), 100, now).await, Err(QuotaError::Unavailable { .. })));
    }
    for key in [None, Some("k")] {
        let usage = healthy.usage("acme", key, now).await.unwrap();
        assert_eq!((usage.requests_this_minute, usage.tokens_today), (0, 0), "{key:?}");
    }

    // A settlement that cannot reach the counters reports it; the reservation stays charged.
    let (quota, healthy) = failing("never");
    let reservation = quota.admit("acme", None, (&both, &Limits::UNLIMITED), 100, now).await.unwrap();
    let (broken, _) = failing("");
    assert!(matches!(broken.settle(reservation, 10).await, Err(QuotaError::Unavailable { .. })));
    assert_eq!(healthy.usage("acme", None, now).await.unwrap().tokens_today, 100);
}

#[tokio::test]
async fn a_lost_counter_is_never_refunded_below_zero() {
    let now = at(NOW);
    let inner = MemoryCache::new(&unique_namespace()).unwrap();
    let quota = Quota::new(Arc::new(inner.clone()));
    let day = limits(0, 1000, 0);
    let reservation = quota.admit("acme", None, (&day, &Limits::UNLIMITED), 600, now).await.unwrap();
    // The counter is evicted before the request settles.
    assert!(inner.delete("quota:tokens:day:acme:2026-11-21").await.unwrap());
    quota.settle(reservation, 100).await.unwrap();
    assert_eq!(quota.usage("acme", None, now).await.unwrap().tokens_today, 0);
    let (admitted, _) = split(admit_many(&quota, "acme", None, (day, Limits::UNLIMITED), 20, 100, now).await);
    assert_eq!(admitted.len(), 10, "a refund into a lost counter does not raise the budget");
}
