//! In-process backend for `brain up` and tests: one mutex-guarded map with lazy expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::args::{self, Namespace};
use crate::{Cache, CacheError, Consumption, WindowCount};

/// A sweep runs after at least this many writes, and never more often than once per
/// `entries.len()` writes, so its O(n) scan costs O(1) per write.
const SWEEP_MIN_WRITES: usize = 1024;

/// The in-process cache. Handles made with [`MemoryCache::with_namespace`] share one store,
/// the way several processes share one Redis.
#[derive(Clone, Debug)]
pub struct MemoryCache {
    namespace: Namespace,
    store: Arc<Mutex<Store>>,
}

#[derive(Debug, Default)]
struct Store {
    entries: HashMap<String, Entry>,
    writes_since_sweep: usize,
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires_at: Option<Instant>,
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl MemoryCache {
    /// A cache with a fresh, private store.
    pub fn new(namespace: &str) -> Result<Self, CacheError> {
        Ok(Self {
            namespace: Namespace::new(namespace)?,
            store: Arc::default(),
        })
    }

    /// Another handle on the same store under a different namespace.
    pub fn with_namespace(&self, namespace: &str) -> Result<Self, CacheError> {
        Ok(Self {
            namespace: Namespace::new(namespace)?,
            store: Arc::clone(&self.store),
        })
    }

    /// Locks the store. Every operation leaves the map consistent before it could panic,
    /// so a poisoned lock is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store {
    /// The entry of `key` if it has not expired; an expired one is removed on the way.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self
            .entries
            .get(key)
            .is_some_and(|entry| !entry.is_live(now))
        {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: String, entry: Entry, now: Instant) {
        self.entries.insert(key, entry);
        self.writes_since_sweep += 1;
        if self.writes_since_sweep >= SWEEP_MIN_WRITES.max(self.entries.len()) {
            self.entries.retain(|_, entry| entry.is_live(now));
            self.writes_since_sweep = 0;
        }
    }

    /// The counter of `key` and the end of its window: `(0, now + window)` when absent, and a
    /// window starting now for a value that had no expiry.
    fn counter(
        &mut self,
        key: &str,
        caller_key: &str,
        window: Duration,
        now: Instant,
    ) -> Result<(i64, Instant), CacheError> {
        let Some(entry) = self.live(key, now) else {
            return Ok((0, now + window));
        };
        let value = parse_counter(&entry.value).ok_or_else(|| CacheError::InvalidCounter {
            key: caller_key.to_owned(),
            reason: "value is not an integer or out of range".to_owned(),
        })?;
        Ok((value, *entry.expires_at.get_or_insert(now + window)))
    }

    /// Stores a counter as decimal text, the representation Redis `INCRBY` reads and writes.
    /// An existing entry is rewritten in place (no new key, no new buffer).
    fn put_counter(&mut self, key: String, value: i64, expires_at: Instant, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&key) {
            use std::io::Write as _;
            entry.value.clear();
            // Writing to a Vec cannot fail.
            let _ = write!(entry.value, "{value}");
            entry.expires_at = Some(expires_at);
            return;
        }
        let entry = Entry {
            value: value.to_string().into_bytes(),
            expires_at: Some(expires_at),
        };
        self.insert(key, entry, now);
    }
}

/// Parses a counter the way Redis `INCRBY` does: canonical decimal (no `+`, no leading zeros,
/// no `-0`) that fits in an `i64`.
fn parse_counter(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = match digits.as_bytes() {
        [b'0'] => digits.len() == text.len(),
        [first, rest @ ..] => (b'1'..=b'9').contains(first) && rest.iter().all(u8::is_ascii_digit),
        [] => false,
    };
    canonical.then(|| text.parse().ok()).flatten()
}

#[async_trait::async_trait]
impl Cache for MemoryCache {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let key = self.namespace.key(key);
        Ok(self
            .lock()
            .live(&key, Instant::now())
            .map(|entry| entry.value.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), CacheError> {
        let ttl = ttl.map(|ttl| args::ttl("ttl", ttl)).transpose()?;
        let now = Instant::now();
        let entry = Entry {
            value: value.to_vec(),
            expires_at: ttl.map(|ttl| now + ttl),
        };
        self.lock().insert(self.namespace.key(key), entry, now);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let key = self.namespace.key(key);
        let now = Instant::now();
        Ok(self
            .lock()
            .entries
            .remove(&key)
            .is_some_and(|entry| entry.is_live(now)))
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let ttl = args::ttl("ttl", ttl)?;
        let key = self.namespace.key(key);
        let now = Instant::now();
        let mut store = self.lock();
        if store.live(&key, now).is_some() {
            return Ok(false);
        }
        store.insert(
            key,
            Entry {
                value: value.to_vec(),
                expires_at: Some(now + ttl),
            },
            now,
        );
        Ok(true)
    }

    async fn incr_window(
        &self,
        key: &str,
        delta: i64,
        window: Duration,
    ) -> Result<WindowCount, CacheError> {
        let window = args::ttl("window", window)?;
        let full_key = self.namespace.key(key);
        let now = Instant::now();
        let mut store = self.lock();
        let (used, expires_at) = store.counter(&full_key, key, window, now)?;
        let total = used
            .checked_add(delta)
            .ok_or_else(|| CacheError::InvalidCounter {
                key: key.to_owned(),
                reason: "increment or decrement would overflow".to_owned(),
            })?;
        store.put_counter(full_key, total, expires_at, now);
        Ok(WindowCount {
            total,
            resets_in: expires_at - now,
        })
    }

    async fn try_consume(
        &self,
        key: &str,
        amount: i64,
        limit: i64,
        window: Duration,
    ) -> Result<Consumption, CacheError> {
        args::check_quota(amount, limit)?;
        let window = args::ttl("window", window)?;
        let full_key = self.namespace.key(key);
        let now = Instant::now();
        let mut store = self.lock();
        let (mut used, expires_at) = store.counter(&full_key, key, window, now)?;
        // `used <= limit - amount` rather than `used + amount <= limit`: cannot overflow.
        let granted = used <= limit - amount;
        if granted {
            used += amount;
            store.put_counter(full_key, used, expires_at, now);
        }
        Ok(Consumption {
            granted,
            used,
            resets_in: expires_at - now,
        })
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_like_redis_incrby() {
        assert_eq!(parse_counter(b"0"), Some(0));
        assert_eq!(parse_counter(b"-42"), Some(-42));
        assert_eq!(parse_counter(b"9223372036854775807"), Some(i64::MAX));
        for rejected in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b"1.5",
            b" 1",
            b"abc",
            b"9223372036854775808",
            b"\xff",
        ] {
            assert_eq!(
                parse_counter(rejected),
                None,
                "{:?}",
                String::from_utf8_lossy(rejected)
            );
        }
    }

    #[tokio::test]
    async fn expired_entries_are_swept_by_later_writes() {
        let cache = MemoryCache::new("sweep").unwrap();
        for i in 0..100 {
            cache
                .set(&format!("short:{i}"), b"v", Some(Duration::from_millis(1)))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        for i in 0..SWEEP_MIN_WRITES {
            cache.set(&format!("long:{i}"), b"v", None).await.unwrap();
        }
        let store = cache.lock();
        assert!(
            store
                .entries
                .keys()
                .all(|key| key.starts_with("sweep:long:"))
        );
        assert_eq!(store.entries.len(), SWEEP_MIN_WRITES);
    }

    #[tokio::test]
    async fn reads_drop_expired_entries() {
        let cache = MemoryCache::new("lazy").unwrap();
        cache
            .set("k", b"v", Some(Duration::from_millis(1)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(cache.get("k").await.unwrap(), None);
        assert!(cache.lock().entries.is_empty());
    }

    #[tokio::test]
    async fn a_poisoned_lock_keeps_working() {
        let cache = MemoryCache::new("poison").unwrap();
        cache.set("k", b"v", None).await.unwrap();
        let clone = cache.clone();
        let _ = std::thread::spawn(move || {
            let _guard = clone.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(cache.store.is_poisoned());
        assert_eq!(cache.get("k").await.unwrap(), Some(b"v".to_vec()));
    }

    #[tokio::test]
    async fn handles_with_namespaces_share_one_store() {
        let textile = MemoryCache::new("brain:textile").unwrap();
        let steel = textile.with_namespace("brain:steel").unwrap();
        textile.set("k", b"t", None).await.unwrap();
        steel.set("k", b"s", None).await.unwrap();
        assert_eq!(textile.lock().entries.len(), 2);
        assert_eq!(textile.get("k").await.unwrap(), Some(b"t".to_vec()));
    }

    #[tokio::test]
    async fn memory_passes_the_conformance_suite() {
        let cache = MemoryCache::new("conformance:a").unwrap();
        let other = cache.with_namespace("conformance:b").unwrap();
        crate::conformance::run_all(Arc::new(cache), Arc::new(other)).await;
    }
}
