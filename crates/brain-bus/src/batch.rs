//! Consuming in batches: bulk writes downstream need many events per transaction.

use crate::{BusError, Delivered, Subscription};
use std::collections::BTreeMap;
use std::time::Duration;

/// Waits for one event, then gathers whatever else arrives within `linger`, up to `max`.
///
/// Cancel-safe in the sense that matters: events gathered but not committed when the future is
/// dropped are delivered again (to this member after a restart, or to another member).
pub async fn next_batch(subscription: &mut dyn Subscription, max: usize, linger: Duration) -> Result<Vec<Delivered>, BusError> {
    let first = subscription.next().await?;
    let mut batch = vec![first];
    let deadline = tokio::time::Instant::now() + linger;
    while batch.len() < max {
        match tokio::time::timeout_at(deadline, subscription.next()).await {
            Ok(Ok(delivered)) => batch.push(delivered),
            Ok(Err(error)) => {
                // Keep what we have; the error will show again on the next call.
                tracing::debug!(%error, "stopping a batch early");
                break;
            }
            Err(_) => break,
        }
    }
    Ok(batch)
}

/// Commits a processed batch: the last event of each partition.
pub async fn commit_batch(subscription: &mut dyn Subscription, batch: &[Delivered]) -> Result<(), BusError> {
    let mut last: BTreeMap<(&str, u32), &Delivered> = BTreeMap::new();
    for delivered in batch {
        let key = (delivered.topic.as_str(), delivered.position.partition);
        if last.get(&key).is_none_or(|d| d.position.offset < delivered.position.offset) {
            last.insert(key, delivered);
        }
    }
    for delivered in last.values() {
        subscription.commit(delivered).await?;
    }
    Ok(())
}
