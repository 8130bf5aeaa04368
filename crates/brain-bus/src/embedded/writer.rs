//! The single writer thread of the embedded log. Appends are grouped: every request waiting
//! when the thread wakes is written, then each touched file is fsynced once, then all of them
//! are acknowledged — many producers share one fsync instead of paying one each.

use super::codec;
use super::partition::Partition;
use super::topic::Topic;
use crate::event::partition_for;
use crate::{BusError, Event, Position};
use brain_config::FsyncPolicy;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Most bytes written in one group before acknowledging, to bound latency and memory.
const MAX_GROUP_BYTES: usize = 8 * 1024 * 1024;

pub(crate) struct AppendRequest {
    pub topic: Arc<Topic>,
    pub events: Vec<Event>,
    pub reply: oneshot::Sender<Result<Vec<Position>, BusError>>,
}

pub(crate) struct WriterSettings {
    pub fsync: FsyncPolicy,
    pub segment_bytes: u64,
}

/// Runs until every sender is dropped; `appended` ticks after each durable group.
pub(crate) fn run(mut requests: mpsc::Receiver<AppendRequest>, settings: WriterSettings, appended: watch::Sender<u64>) {
    while let Some(first) = requests.blocking_recv() {
        let mut group = vec![first];
        let mut bytes: usize = group[0].events.iter().map(Event::size).sum();
        while bytes < MAX_GROUP_BYTES {
            match requests.try_recv() {
                Ok(request) => {
                    bytes += request.events.iter().map(Event::size).sum::<usize>();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        let results = append_group(&group, &settings);
        appended.send_modify(|n| *n = n.wrapping_add(1));
        for (request, result) in group.into_iter().zip(results) {
            let _ = request.reply.send(result);
        }
    }
}

/// Pending bytes of one partition within a group.
struct PartitionBatch {
    bytes: Vec<u8>,
    /// (offset, position in segment) of each record.
    records: Vec<(u64, u64)>,
    next_offset: u64,
    /// Length of the active segment before this batch.
    base_len: u64,
}

fn append_group(group: &[AppendRequest], settings: &WriterSettings) -> Vec<Result<Vec<Position>, BusError>> {
    let now = chrono::Utc::now().timestamp_millis();
    // Partitions touched by this group, keyed by (topic identity, partition): no allocation
    // per event on this hot path.
    let mut batches: BTreeMap<(usize, u32), (Arc<Topic>, PartitionBatch)> = BTreeMap::new();
    let mut positions: Vec<Vec<Position>> = Vec::with_capacity(group.len());
    for request in group {
        let topic_id = Arc::as_ptr(&request.topic) as usize;
        let mut request_positions = Vec::with_capacity(request.events.len());
        for event in &request.events {
            let partition = partition_for(&event.key, request.topic.partition_count());
            let Some(part) = request.topic.partition(partition) else { continue };
            let (_, batch) = batches.entry((topic_id, partition)).or_insert_with(|| {
                let appender = part.appender();
                (request.topic.clone(), PartitionBatch { bytes: Vec::new(), records: Vec::new(), next_offset: appender.next_offset, base_len: appender.len })
            });
            let offset = batch.next_offset;
            let pos = batch.base_len + batch.bytes.len() as u64;
            codec::encode(&mut batch.bytes, offset, now, event);
            batch.records.push((offset, pos));
            request_positions.push(Position { partition, offset });
            batch.next_offset += 1;
        }
        positions.push(request_positions);
    }

    // Write every touched partition, then sync them all at once: the disk overlaps the
    // flushes, so a group costs about one fsync, not one per partition.
    let mut failure: Option<String> = None;
    let mut written = Vec::new();
    for ((_, partition), (topic, batch)) in &batches {
        let Some(part) = topic.partition(*partition) else { continue };
        match write_batch(part, batch, settings) {
            Ok(new_records) => written.push((part, new_records)),
            Err(error) => {
                failure = Some(error.to_string());
                break;
            }
        }
    }
    if failure.is_none() && settings.fsync == FsyncPolicy::Always {
        failure = sync_all(&written);
    }
    if let Some(reason) = failure {
        // Nothing of this group is acknowledged; roll back what was written so offsets stay
        // dense and no reader ever sees an unacknowledged record.
        for (part, _) in written {
            let mut appender = part.appender();
            let durable = part.end_offset();
            let _ = rollback(part, &mut appender, durable);
        }
        tracing::error!(%reason, "embedded log append failed");
        return group.iter().map(|_| Err(BusError::Io { path: "embedded log".into(), source: std::io::Error::other(reason.clone()) })).collect();
    }
    for (part, records) in written {
        let appender = part.appender();
        part.publish_durable(&appender, &records);
    }
    positions.into_iter().map(Ok).collect()
}

/// fsyncs the written partitions in parallel; returns the first failure.
fn sync_all(written: &[(&Partition, Vec<(u64, u64)>)]) -> Option<String> {
    if let [(part, _)] = written {
        return part.appender().file.sync_data().err().map(|e| format!("{}: {e}", part.path().display()));
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = written
            .iter()
            .map(|(part, _)| scope.spawn(move || part.appender().file.sync_data().map_err(|e| format!("{}: {e}", part.path().display()))))
            .collect();
        handles.into_iter().find_map(|h| match h.join() {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(reason),
            Err(_) => Some("fsync thread panicked".to_owned()),
        })
    })
}

/// Writes one partition's batch (rolling the segment first if it is full).
fn write_batch(part: &Partition, batch: &PartitionBatch, settings: &WriterSettings) -> Result<Vec<(u64, u64)>, BusError> {
    use std::io::Write;
    let mut appender = part.appender();
    let mut records = batch.records.clone();
    if appender.len >= settings.segment_bytes {
        let old_len = appender.len;
        part.roll(&mut appender)?;
        // Positions were computed against the old segment; rebase them on the new one.
        for (_, pos) in &mut records {
            *pos -= old_len;
        }
    }
    appender.file.write_all(&batch.bytes).map_err(|e| BusError::io(part.path(), e))?;
    appender.len += batch.bytes.len() as u64;
    appender.next_offset += batch.records.len() as u64;
    Ok(records)
}

fn rollback(part: &Partition, appender: &mut super::partition::Appender, durable_offset: u64) -> Result<(), BusError> {
    let durable_len = part.durable_len();
    appender.file.set_len(durable_len).map_err(|e| BusError::io(part.path(), e))?;
    appender.len = durable_len;
    appender.next_offset = durable_offset;
    Ok(())
}
