//! The embedded durable log: Kafka's model (topics, partitions, offsets, consumer groups)
//! on local files, for `brain up` on one machine.
//!
//! Layout under the root: `LOCK`, `topics/<topic>/meta.json`, `topics/<topic>/<partition>/
//! <base-offset>.log`, `groups/<group>.json`. One process owns a root at a time.

mod codec;
mod group;
mod partition;
mod subscription;
mod topic;
mod writer;

use crate::{BusError, BusSettings, Delivered, Event, EventBus, Position, Subscription, metrics, topics};
use async_trait::async_trait;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};
use topic::Topic;

/// How many append requests may wait for the writer before producers are slowed down.
const WRITER_QUEUE: usize = 4096;

pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    root: PathBuf,
    settings: BusSettings,
    topics: Mutex<HashMap<String, Arc<Topic>>>,
    groups: group::Groups,
    writer: mpsc::Sender<AppendRequest>,
    appended: watch::Receiver<u64>,
    _lock: File,
}

use writer::AppendRequest;

impl EmbeddedLog {
    /// Opens the log under `root`, recovering from any crash, and starts its writer thread.
    pub fn open(root: &Path, settings: BusSettings) -> Result<Self, BusError> {
        std::fs::create_dir_all(root.join("topics")).map_err(|e| BusError::io(root, e))?;
        let lock_path = root.join("LOCK");
        let lock = File::create(&lock_path).map_err(|e| BusError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Err(BusError::Locked { path: root.display().to_string() });
        }
        let groups = group::Groups::new(&root.join("groups"))?;
        let (tx, rx) = mpsc::channel(WRITER_QUEUE);
        let (appended_tx, appended_rx) = watch::channel(0u64);
        let writer_settings = writer::WriterSettings { fsync: settings.fsync, segment_bytes: settings.segment_bytes };
        std::thread::Builder::new()
            .name("brain-bus-writer".into())
            .spawn(move || writer::run(rx, writer_settings, appended_tx))
            .map_err(|e| BusError::io(root, e))?;
        let log = Self {
            inner: Arc::new(Inner {
                root: root.to_owned(),
                settings,
                topics: Mutex::new(HashMap::new()),
                groups,
                writer: tx,
                appended: appended_rx,
                _lock: lock,
            }),
        };
        // Open existing topics now so that recovery happens at startup, not on first use.
        let existing: Vec<String> = std::fs::read_dir(root.join("topics"))
            .map_err(|e| BusError::io(root, e))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        for name in existing {
            log.inner.topic(&name)?;
        }
        Ok(log)
    }
}

impl Inner {
    fn topic(&self, name: &str) -> Result<Arc<Topic>, BusError> {
        topics::validate(name)?;
        let mut topics = self.topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(topic) = topics.get(name) {
            return Ok(topic.clone());
        }
        let topic = Arc::new(Topic::open(&self.root.join("topics"), name, self.settings.partitions)?);
        topics.insert(name.to_owned(), topic.clone());
        Ok(topic)
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new content, never a mix.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BusError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|e| BusError::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| BusError::io(&tmp, e))?;
    file.sync_all().map_err(|e| BusError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| BusError::io(path, e))?;
    if let Some(dir) = path.parent().and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

pub(crate) fn to_delivered(topic: &str, partition: u32, record: codec::StoredRecord) -> Delivered {
    Delivered {
        topic: topic.to_owned(),
        position: Position { partition, offset: record.offset },
        key: record.key,
        payload: record.payload,
        headers: record.headers,
        timestamp_ms: record.timestamp_ms,
    }
}

/// Reads durable records of one partition off the async runtime.
pub(crate) async fn read_partition(topic: Arc<Topic>, partition: u32, offset: u64, max: usize) -> Result<Vec<Delivered>, BusError> {
    tokio::task::spawn_blocking(move || {
        let part = topic
            .partition(partition)
            .ok_or_else(|| BusError::NoSuchPartition { topic: topic.name.clone(), partition })?;
        let records = part.read(offset, max)?;
        Ok(records.into_iter().map(|r| to_delivered(&topic.name, partition, r)).collect())
    })
    .await
    .map_err(|_| BusError::Closed)?
}

#[async_trait]
impl EventBus for EmbeddedLog {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError> {
        self.inner.topic(topic).map(|_| ())
    }

    async fn publish(&self, topic: &str, events: Vec<Event>) -> Result<Vec<Position>, BusError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let count = events.len() as u64;
        let topic_handle = self.inner.topic(topic)?;
        let (reply, response) = oneshot::channel();
        self.inner
            .writer
            .send(AppendRequest { topic: topic_handle, events, reply })
            .await
            .map_err(|_| BusError::Closed)?;
        let positions = response.await.map_err(|_| BusError::Closed)??;
        let m = metrics::get();
        let labels = metrics::labels("embedded", topic);
        m.published.add(count, &labels);
        m.publish_seconds.record(started.elapsed().as_secs_f64(), &labels);
        Ok(positions)
    }

    async fn subscribe(&self, group: &str, topics: &[String]) -> Result<Box<dyn Subscription>, BusError> {
        topics::validate(group).map_err(|_| BusError::InvalidTopic { topic: group.to_owned(), reason: "invalid consumer group name".into() })?;
        let handles = topics.iter().map(|t| self.inner.topic(t)).collect::<Result<Vec<_>, _>>()?;
        let subscription = subscription::EmbeddedSubscription::join(self.inner.clone(), group, handles)?;
        Ok(Box::new(subscription))
    }

    async fn read(&self, topic: &str, partition: u32, offset: u64, max: usize) -> Result<Vec<Delivered>, BusError> {
        let topic = self.inner.topic(topic)?;
        read_partition(topic, partition, offset, max).await
    }

    async fn flush(&self) -> Result<(), BusError> {
        // Every publish returns only once durable: nothing is buffered.
        Ok(())
    }

    async fn ping(&self) -> Result<(), BusError> {
        if self.inner.writer.is_closed() { Err(BusError::Closed) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_config::FsyncPolicy;

    fn settings(segment_bytes: u64) -> BusSettings {
        BusSettings {
            partitions: 1,
            replication_factor: 1,
            session_timeout_ms: 1000,
            heartbeat_interval_ms: 100,
            linger_ms: 0,
            segment_bytes,
            fsync: FsyncPolicy::Always,
        }
    }

    fn events(from: usize, to: usize) -> Vec<Event> {
        (from..to).map(|i| Event::new(b"k".to_vec(), format!("event-{i}").into_bytes())).collect()
    }

    async fn read_all(log: &EmbeddedLog, topic: &str) -> Vec<Delivered> {
        log.read(topic, 0, 0, usize::MAX).await.unwrap()
    }

    #[tokio::test]
    async fn reads_from_any_offset_cross_buffer_boundaries_and_large_records() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path(), settings(1 << 30)).unwrap();
        // Sizes around the reader's 64 KiB buffer: small records, one larger than the buffer,
        // and records that straddle a buffer boundary.
        let sizes: Vec<usize> = (0..300).map(|i| match i % 50 { 7 => 200 * 1024, 13 => 65 * 1024 - 3, _ => 100 + i * 37 % 900 }).collect();
        let sent: Vec<Event> = sizes.iter().enumerate().map(|(i, n)| Event::new(b"k".to_vec(), vec![(i % 251) as u8; *n])).collect();
        log.publish("t", sent.clone()).await.unwrap();
        for from in [0, 1, 7, 8, 13, 14, 57, 150, 299] {
            let read = log.read("t", 0, from, usize::MAX).await.unwrap();
            assert_eq!(read.len(), 300 - from as usize, "from offset {from}");
            for (delivered, expected) in read.iter().zip(&sent[from as usize..]) {
                assert_eq!(delivered.payload, expected.payload, "offset {}", delivered.position.offset);
            }
            let first = log.read("t", 0, from, 3).await.unwrap();
            assert_eq!(first.iter().map(|d| d.position.offset).collect::<Vec<_>>(), (from..(from + 3).min(300)).collect::<Vec<_>>());
        }
        assert!(log.read("t", 0, 300, 10).await.unwrap().is_empty(), "nothing past the end");
    }

    #[tokio::test]
    async fn a_torn_tail_is_truncated_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path(), settings(1 << 20)).unwrap();
            log.publish("t", events(0, 10)).await.unwrap();
        }
        // A crash in the middle of an append leaves half a record behind.
        let segment = dir.path().join("topics/t/0/00000000000000000000.log");
        let clean_len = std::fs::metadata(&segment).unwrap().len();
        let mut file = std::fs::OpenOptions::new().append(true).open(&segment).unwrap();
        std::io::Write::write_all(&mut file, &[42, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(file);

        let log = EmbeddedLog::open(dir.path(), settings(1 << 20)).unwrap();
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), clean_len, "the torn tail is cut off");
        let positions = log.publish("t", events(10, 12)).await.unwrap();
        assert_eq!(positions[0].offset, 10, "offsets stay dense after recovery");
        let all = read_all(&log, "t").await;
        assert_eq!(all.len(), 12);
        assert_eq!(all[11].payload, b"event-11");
    }

    #[tokio::test]
    async fn corruption_before_the_tail_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path(), settings(1 << 20)).unwrap();
            log.publish("t", events(0, 10)).await.unwrap();
            log.publish("t", events(10, 20)).await.unwrap();
        }
        // Flip one payload byte of an acknowledged record in a full (non-last) segment.
        let partition = dir.path().join("topics/t/0");
        let segment = partition.join("00000000000000000000.log");
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes[30] ^= 0xff;
        std::fs::write(&segment, &bytes).unwrap();
        std::fs::write(partition.join("00000000000000000020.log"), b"").unwrap();
        let error = EmbeddedLog::open(dir.path(), settings(1 << 20)).err().unwrap();
        assert!(matches!(error, BusError::Corrupt { .. }), "{error}");
    }

    #[tokio::test]
    async fn segments_roll_and_reads_cross_them_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path(), settings(4096)).unwrap();
            for chunk in 0..50 {
                log.publish("t", events(chunk * 10, chunk * 10 + 10)).await.unwrap();
            }
        }
        let segments = std::fs::read_dir(dir.path().join("topics/t/0")).unwrap().count();
        assert!(segments > 3, "expected several segments, got {segments}");
        let log = EmbeddedLog::open(dir.path(), settings(4096)).unwrap();
        let all = read_all(&log, "t").await;
        assert_eq!(all.len(), 500);
        assert!(all.iter().enumerate().all(|(i, d)| d.position.offset == i as u64 && d.payload == format!("event-{i}").into_bytes()));
        let middle = log.read("t", 0, 333, 3).await.unwrap();
        assert_eq!(middle.iter().map(|d| d.position.offset).collect::<Vec<_>>(), vec![333, 334, 335]);
    }

    #[tokio::test]
    async fn one_process_owns_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let _first = EmbeddedLog::open(dir.path(), settings(1 << 20)).unwrap();
        let second = EmbeddedLog::open(dir.path(), settings(1 << 20));
        assert!(matches!(second, Err(BusError::Locked { .. })));
    }

    #[tokio::test]
    async fn the_partition_count_is_fixed_at_creation() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path(), BusSettings { partitions: 3, ..settings(1 << 20) }).unwrap();
            log.ensure_topic("t").await.unwrap();
        }
        let log = EmbeddedLog::open(dir.path(), BusSettings { partitions: 8, ..settings(1 << 20) }).unwrap();
        assert!(matches!(log.read("t", 5, 0, 1).await, Err(BusError::NoSuchPartition { partition: 5, .. })));
    }
}
