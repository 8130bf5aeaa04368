//! A consumer-group member of the embedded log.

use super::{Inner, read_partition, topic::Topic};
use crate::{BusError, Delivered, Subscription, metrics};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Events fetched from one partition at a time.
const FETCH_MAX: usize = 256;
/// How often an idle member re-checks membership changes.
const IDLE_RECHECK: Duration = Duration::from_millis(100);

pub(crate) struct EmbeddedSubscription {
    inner: Arc<Inner>,
    group: String,
    member: u64,
    topics: Vec<Arc<Topic>>,
    generation: u64,
    /// (topic, partition) → next offset to fetch, for the partitions this member owns.
    positions: HashMap<(String, u32), u64>,
    owned: Vec<(Arc<Topic>, u32)>,
    buffer: VecDeque<Delivered>,
    cursor: usize,
    appended: tokio::sync::watch::Receiver<u64>,
}

impl EmbeddedSubscription {
    pub fn join(inner: Arc<Inner>, group: &str, topics: Vec<Arc<Topic>>) -> Result<Self, BusError> {
        let member = inner.groups.join(group)?;
        let appended = inner.appended.clone();
        Ok(Self {
            inner,
            group: group.to_owned(),
            member,
            topics,
            generation: 0,
            positions: HashMap::new(),
            owned: Vec::new(),
            buffer: VecDeque::new(),
            cursor: 0,
            appended,
        })
    }

    /// Takes this member's share of partitions after a membership change: partition i of the
    /// sorted list goes to member i mod n. Newly owned partitions resume from the committed
    /// offset, so whatever the previous owner did not commit is delivered again.
    fn rebalance(&mut self) -> Result<(), BusError> {
        if self.inner.groups.generation(&self.group)? == self.generation {
            return Ok(());
        }
        let assignment = self.inner.groups.assignment(&self.group, self.member)?;
        let mut all: Vec<(Arc<Topic>, u32)> =
            self.topics.iter().flat_map(|t| (0..t.partition_count()).map(move |p| (t.clone(), p))).collect();
        all.sort_by(|a, b| (&a.0.name, a.1).cmp(&(&b.0.name, b.1)));
        let owned: Vec<(Arc<Topic>, u32)> =
            all.into_iter().enumerate().filter(|(i, _)| i % assignment.members == assignment.rank).map(|(_, tp)| tp).collect();
        let mut positions = HashMap::new();
        for (topic, partition) in &owned {
            let key = (topic.name.clone(), *partition);
            let position = match self.positions.get(&key) {
                Some(kept) => *kept,
                None => self.inner.groups.committed(&self.group, &topic.name, *partition)?,
            };
            positions.insert(key, position);
        }
        self.buffer.retain(|d| positions.contains_key(&(d.topic.clone(), d.position.partition)));
        self.positions = positions;
        self.owned = owned;
        self.generation = assignment.generation;
        Ok(())
    }

    async fn fill(&mut self) -> Result<bool, BusError> {
        let count = self.owned.len();
        for step in 0..count {
            let index = (self.cursor + step) % count;
            let (topic, partition) = self.owned[index].clone();
            let key = (topic.name.clone(), partition);
            let from = self.positions.get(&key).copied().unwrap_or(0);
            // Any append wakes every member: skip the trip to a blocking thread when this
            // partition has nothing new.
            if topic.partition(partition).is_some_and(|p| p.end_offset() <= from) {
                continue;
            }
            let events = read_partition(topic, partition, from, FETCH_MAX).await?;
            if let Some(last) = events.last() {
                self.positions.insert(key, last.position.offset + 1);
                self.buffer.extend(events);
                self.cursor = index + 1;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[async_trait]
impl Subscription for EmbeddedSubscription {
    async fn next(&mut self) -> Result<Delivered, BusError> {
        loop {
            self.rebalance()?;
            if let Some(delivered) = self.buffer.pop_front() {
                metrics::get().consumed.add(1, &metrics::labels("embedded", &delivered.topic));
                return Ok(delivered);
            }
            // Mark the current append count as seen before reading, so an append that lands
            // between the read and the wait still wakes us.
            self.appended.borrow_and_update();
            if self.fill().await? {
                continue;
            }
            let _ = tokio::time::timeout(IDLE_RECHECK, self.appended.changed()).await;
        }
    }

    async fn commit(&mut self, delivered: &Delivered) -> Result<(), BusError> {
        self.rebalance()?;
        let key = (delivered.topic.clone(), delivered.position.partition);
        if !self.positions.contains_key(&key) {
            return Err(BusError::NotAssigned { topic: delivered.topic.clone(), partition: delivered.position.partition });
        }
        let inner = self.inner.clone();
        let group = self.group.clone();
        let (topic, partition, next) = (delivered.topic.clone(), delivered.position.partition, delivered.position.offset + 1);
        tokio::task::spawn_blocking(move || inner.groups.commit(&group, &topic, partition, next))
            .await
            .map_err(|_| BusError::Closed)??;
        metrics::get().committed.add(1, &metrics::labels("embedded", &delivered.topic));
        Ok(())
    }
}

impl Drop for EmbeddedSubscription {
    fn drop(&mut self) {
        self.inner.groups.leave(&self.group, self.member);
    }
}
