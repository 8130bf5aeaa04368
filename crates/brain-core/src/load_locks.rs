//! One load at a time per cache key. Requests that find an entry missing or expired wait for
//! the load already in flight instead of each asking the store: at a few thousand requests a
//! second, a busy entry expiring otherwise sends hundreds of identical queries at once and
//! exhausts the store's connection pool.

use std::hash::{BuildHasher, RandomState};
use tokio::sync::{Mutex, MutexGuard};

/// Keys hash onto a fixed set of locks: memory stays constant however many keys there are,
/// and loads of unrelated keys seldom wait for each other.
pub struct LoadLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

/// Stripes of [`LoadLocks::default`].
pub const DEFAULT_STRIPES: usize = 16;

impl LoadLocks {
    pub fn new(stripes: usize) -> Self {
        Self { stripes: (0..stripes.max(1)).map(|_| Mutex::new(())).collect(), hasher: RandomState::new() }
    }

    /// Held while `key` is loaded. Check the cache again once it is granted: the holder
    /// before may have filled it.
    pub async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one(key) as usize % self.stripes.len();
        self.stripes[stripe].lock().await
    }
}

impl Default for LoadLocks {
    fn default() -> Self {
        Self::new(DEFAULT_STRIPES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn one_key_loads_one_at_a_time_other_keys_do_not_wait() {
        let locks = Arc::new(LoadLocks::new(64));
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let load = |key: &'static str| {
            let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
            tokio::spawn(async move {
                let _held = locks.lock(key).await;
                most.fetch_max(inside.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            })
        };
        let started = tokio::time::Instant::now();
        let same: Vec<_> = (0..5).map(|_| load("hot")).collect();
        for task in same {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "loads of one key never overlap");
        assert_eq!(started.elapsed(), Duration::from_millis(50));

        // Two keys on different stripes load side by side.
        let stripe = |key: &str| locks.hasher.hash_one(key) as usize % locks.stripes.len();
        let other = ["a", "b", "c", "d", "e", "f", "g", "h"].into_iter().find(|k| stripe(k) != stripe("hot")).unwrap();
        let started = tokio::time::Instant::now();
        let (a, b) = (load("hot"), load(other));
        a.await.unwrap();
        b.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(10));
    }
}
