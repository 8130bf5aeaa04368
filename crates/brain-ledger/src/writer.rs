//! Group commit: one writer task per `Ledger` turns every append waiting at that moment into a
//! single transaction, and answers each caller only after the commit.
//!
//! Several writers (other `Ledger` instances, other processes) may share the database: on
//! PostgreSQL a transaction-scoped advisory lock serializes them before the head is read; on
//! SQLite the transaction begins with `BEGIN IMMEDIATE`, which takes the database's write lock
//! up front. Either way the head read inside the transaction is the true head, so the chain has
//! no gaps and no forks.

use crate::db;
use crate::entry::{NewEntry, chain};
use crate::error::LedgerError;
use crate::metrics::LedgerMetrics;
use brain_store::{Engine, Store, Value};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;

/// Entries per transaction, at most (a single larger append still commits alone and whole).
pub(crate) const MAX_BATCH_ENTRIES: usize = 512;

/// Queued appends before callers wait to enqueue (back-pressure when the database is slow).
const QUEUE_DEPTH: usize = 1024;

/// Key of the PostgreSQL advisory lock that serializes ledger appends of every process.
const PG_APPEND_LOCK: i64 = 0x6272_6169_6e5f_6c67; // "brain_lg"

pub(crate) struct AppendRequest {
    pub entries: Vec<NewEntry>,
    pub reply: oneshot::Sender<Result<Vec<u64>, LedgerError>>,
}

/// Starts the writer; it ends when every sender is dropped and the queue is drained.
pub(crate) fn spawn(store: Store, metrics: &'static LedgerMetrics) -> mpsc::Sender<AppendRequest> {
    let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
    tokio::spawn(run(store, metrics, receiver));
    sender
}

async fn run(
    store: Store,
    metrics: &'static LedgerMetrics,
    mut receiver: mpsc::Receiver<AppendRequest>,
) {
    while let Some(first) = receiver.recv().await {
        let mut count = first.entries.len();
        let mut batch = vec![first];
        while count < MAX_BATCH_ENTRIES {
            match receiver.try_recv() {
                Ok(request) => {
                    count += request.entries.len();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let sizes: Vec<usize> = batch.iter().map(|r| r.entries.len()).collect();
        let entries: Vec<NewEntry> = batch
            .iter_mut()
            .flat_map(|r| std::mem::take(&mut r.entries))
            .collect();
        let outcome = commit(&store, entries)
            .instrument(tracing::info_span!(
                "ledger.append",
                entries = count,
                requests = batch.len()
            ))
            .await;
        metrics
            .append_seconds
            .record(started.elapsed().as_secs_f64(), &[]);
        match outcome {
            Ok(first_seq) => {
                metrics.appended.add(count as u64, &[]);
                let mut next = first_seq;
                for (request, size) in batch.into_iter().zip(sizes) {
                    let seqs: Vec<u64> = (next..next + size as u64).collect();
                    next += size as u64;
                    // A caller that stopped waiting still had its entries committed.
                    let _ = request.reply.send(Ok(seqs));
                }
            }
            Err(error) => {
                tracing::error!(%error, entries = count, "ledger append failed; nothing of the batch was committed");
                for request in batch {
                    let _ = request.reply.send(Err(error.clone()));
                }
            }
        }
    }
    tracing::debug!("ledger writer stopped");
}

/// Appends `entries` after the current head in one transaction; the first new seq.
async fn commit(store: &Store, entries: Vec<NewEntry>) -> Result<u64, LedgerError> {
    let mut tx = store.begin().await?;
    if store.engine() == Engine::Postgres {
        tx.unscoped()
            .execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[Value::Int(PG_APPEND_LOCK)],
            )
            .await?;
    }
    let (head_seq, head_hash) = db::head(&mut tx.unscoped()).await?;
    let linked = chain(head_seq, &head_hash, crate::time::now(), entries);
    db::insert_entries(&mut tx.unscoped(), &linked).await?;
    tx.commit().await?;
    Ok(head_seq + 1)
}
