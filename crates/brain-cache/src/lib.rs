//! Cache and counters of the platform: plain values with TTLs, idempotency keys, fixed-window
//! counters for rate limits and exact quotas for token budgets.
//!
//! One trait, [`Cache`], with two backends chosen by URL through [`connect`]:
//! `redis://host:port[/db]` (shared by every process that connects to it) and `memory://`
//! (private to the returned handle; clone the `Arc` to share it). Both keep the same semantics,
//! which the [`conformance`] suite proves. Every key is prefixed with a namespace so several
//! brains can share one Redis.

use std::sync::Arc;
use std::time::Duration;

mod args;
pub mod conformance;
mod error;
mod memory;
mod redis;

pub use error::{BoxError, CacheError, redact_url};
pub use memory::MemoryCache;
pub use redis::RedisCache;

/// URL schemes [`connect`] understands, for error messages.
pub(crate) const SUPPORTED_SCHEMES: &str = "redis://, memory://";

/// A key-value cache with atomic counters, shared by the services of one brain.
///
/// Keys are the caller's; the backend stores them under the namespace given to [`connect`].
/// Counters are stored as decimal text, so [`Cache::get`] on a counter key returns e.g. `b"42"`.
#[async_trait::async_trait]
pub trait Cache: Send + Sync + 'static {
    /// Backend name for logs and /readyz: "redis" or "memory".
    fn backend(&self) -> &'static str;

    /// The value of `key`, or `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;

    /// Stores `value`; `ttl: None` keeps it until deleted and clears any earlier TTL.
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), CacheError>;

    /// Removes `key`: `Ok(true)` when it was present.
    async fn delete(&self, key: &str) -> Result<bool, CacheError>;

    /// Set-if-absent with a TTL (idempotency keys): Ok(true) when this call stored the value.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError>;

    /// Atomically adds `delta` to the counter of the current fixed window (window starts when the
    /// counter is first created; it expires `window` later) and returns the new total and time left.
    async fn incr_window(
        &self,
        key: &str,
        delta: i64,
        window: Duration,
    ) -> Result<WindowCount, CacheError>;

    /// Atomic check-and-add for quotas: adds `amount` only if `used + amount <= limit` within the
    /// current window; never overspends under any concurrency. Returns whether it was granted, the
    /// total used after the call, and time until the window resets (a retry hint).
    ///
    /// `amount` must be in 1..=2^53 and `limit` in 0..=2^53. A refused call on a key with no
    /// window yet does not start one (it reports `used: 0` and `resets_in: window`).
    async fn try_consume(
        &self,
        key: &str,
        amount: i64,
        limit: i64,
        window: Duration,
    ) -> Result<Consumption, CacheError>;

    /// Backend reachable (for /readyz).
    async fn ping(&self) -> Result<(), CacheError>;
}

/// The state of a fixed-window counter after [`Cache::incr_window`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowCount {
    /// Counter total in the current window, including this call's delta.
    pub total: i64,
    /// Time until the window ends and the counter starts again from zero; within (0, window].
    pub resets_in: Duration,
}

/// The outcome of [`Cache::try_consume`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consumption {
    /// Whether `amount` was added.
    pub granted: bool,
    /// Total used in the current window after the call.
    pub used: i64,
    /// Time until the window resets; within (0, window]. When refused, the earliest retry time.
    pub resets_in: Duration,
}

/// Opens the cache named by `url` (`redis://host:port[/db]` or `memory://`), with every key
/// prefixed by `namespace` (e.g. `brain:textile:`; a trailing `:` is added when missing).
///
/// Redis is connected eagerly, so a wrong address fails at startup rather than on first use;
/// later connection losses are retried by the connection manager.
pub async fn connect(url: &str, namespace: &str) -> Result<Arc<dyn Cache>, CacheError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(CacheError::InvalidUrl {
            url: redact_url(url),
            reason: format!("expected `scheme://…`, one of {SUPPORTED_SCHEMES}"),
        });
    };
    let cache: Arc<dyn Cache> = match scheme {
        "memory" if rest.is_empty() => Arc::new(MemoryCache::new(namespace)?),
        "memory" => {
            return Err(CacheError::InvalidUrl {
                url: redact_url(url),
                reason: "`memory://` takes no host, path or options".to_owned(),
            });
        }
        "redis" => Arc::new(RedisCache::connect(url, namespace).await?),
        other => {
            return Err(CacheError::UnsupportedScheme {
                scheme: other.to_owned(),
            });
        }
    };
    tracing::info!(backend = cache.backend(), url = %redact_url(url), namespace, "cache connected");
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_choose_the_backend() {
        assert_eq!(connect("memory://", "t").await.unwrap().backend(), "memory");
        assert!(matches!(
            connect("memory://x", "t").await.err(),
            Some(CacheError::InvalidUrl { .. })
        ));
        assert!(matches!(
            connect("localhost:6379", "t").await.err(),
            Some(CacheError::InvalidUrl { .. })
        ));
        let unsupported = connect("memcached://h", "t").await.err().unwrap();
        assert!(
            unsupported.to_string().contains("redis://, memory://"),
            "{unsupported}"
        );
        assert!(matches!(
            connect("memory://", "").await.err(),
            Some(CacheError::InvalidArgument { .. })
        ));
    }

    #[tokio::test]
    async fn connection_errors_hide_the_password() {
        // Port 1 refuses connections on any sane machine.
        let err = connect("redis://:hunter2@127.0.0.1:1/0", "t")
            .await
            .err()
            .unwrap();
        let text = format!("{err} {err:?}");
        assert!(
            matches!(
                err,
                CacheError::Unreachable {
                    backend: "redis",
                    ..
                }
            ),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(":***@127.0.0.1:1/0"), "{text}");
    }
}
