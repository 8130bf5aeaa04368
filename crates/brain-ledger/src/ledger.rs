//! The `Ledger` handle: appends through the writer task, reads, checkpoints, proofs and
//! verification on the shared store.

use crate::checkpoint::Checkpoint;
use crate::entry::{LedgerEntry, NewEntry};
use crate::error::LedgerError;
use crate::metrics::{self, LedgerMetrics};
use crate::proof::InclusionProof;
use crate::verify::VerifyReport;
use crate::writer::{self, AppendRequest};
use crate::{checkpointer, db, proving, verify};
use brain_auth::{PublicKey, SigningKey};
use brain_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Most entries [`Ledger::entries`] returns at once.
pub const MAX_PAGE: u32 = 1_000;

/// A tamper-evident audit ledger on a [`Store`]. Cheap to clone; clones share one writer
/// task, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    key: Arc<SigningKey>,
    public: PublicKey,
    writer: mpsc::Sender<AppendRequest>,
    metrics: &'static LedgerMetrics,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("store", &self.inner.store)
            .field("key_id", &self.inner.public.kid)
            .finish()
    }
}

impl Ledger {
    /// Opens the ledger on `store` (its [`crate::MIGRATIONS`] applied by the caller), signing
    /// checkpoints with `key`. Starts the writer task, so it must run inside a Tokio runtime.
    pub async fn open(store: Store, key: Arc<SigningKey>) -> Result<Ledger, LedgerError> {
        // Fail at start rather than at the first append when the tables are missing.
        db::head(&mut store.unscoped()).await?;
        let metrics = metrics::get();
        metrics.touch();
        let writer = writer::spawn(store.clone(), metrics);
        let public = key.public_key();
        tracing::info!(db.system = store.engine().as_str(), key_id = %public.kid, "ledger opened");
        Ok(Ledger {
            inner: Arc::new(Inner {
                store,
                key,
                public,
                writer,
                metrics,
            }),
        })
    }

    /// Appends `entries` atomically and in order; returns their seqs once they are committed.
    /// Concurrent appends are grouped into one transaction (group commit).
    pub async fn append(&self, entries: Vec<NewEntry>) -> Result<Vec<u64>, LedgerError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        for entry in &entries {
            entry.validate()?;
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .send(AppendRequest { entries, reply })
            .await
            .map_err(|_| LedgerError::WriterStopped)?;
        answer.await.map_err(|_| LedgerError::WriterStopped)?
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) entries with seq greater than `after_seq`.
    pub async fn entries(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, LedgerError> {
        let limit = limit.min(MAX_PAGE);
        if limit == 0 {
            return Ok(Vec::new());
        }
        db::entry_page(&mut self.inner.store.unscoped(), after_seq, u64::MAX, limit)
            .await?
            .into_iter()
            .map(db::StoredEntry::into_entry)
            .collect()
    }

    /// The last seq and its entry hash; `(0, GENESIS_HASH)` when empty.
    pub async fn head(&self) -> Result<(u64, String), LedgerError> {
        db::head(&mut self.inner.store.unscoped()).await
    }

    /// The checkpoint covering the most entries.
    pub async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, LedgerError> {
        db::latest_checkpoint(&mut self.inner.store.unscoped()).await
    }

    /// The key checkpoints are verified with.
    pub fn public_key(&self) -> PublicKey {
        self.inner.public.clone()
    }

    /// Signs a checkpoint over all entries if any were appended since the latest one; `None`
    /// when there is nothing new. Refuses (and counts a verification failure) when the new
    /// entries do not verify or the latest checkpoint no longer matches the entries.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, LedgerError> {
        checkpointer::checkpoint(&self.inner.store, &self.inner.key, self.inner.metrics).await
    }

    /// Runs [`Ledger::checkpoint`] every `every`, and once more when `shutdown` is cancelled so
    /// the last appends are covered. Errors are logged, never fatal. The task holds a clone of
    /// this ledger until it ends.
    pub fn spawn_checkpointer(
        &self,
        every: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let ledger = self.clone();
        // A zero period would make the interval panic.
        let every = every.max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = ticks.tick() => ledger.checkpoint_logged().await,
                }
            }
            ledger.checkpoint_logged().await;
        })
    }

    async fn checkpoint_logged(&self) {
        if let Err(error) = self.checkpoint().await {
            tracing::error!(%error, "ledger checkpoint failed");
        }
    }

    /// The inclusion proof of `seq` against the latest checkpoint.
    pub async fn proof(&self, seq: u64) -> Result<InclusionProof, LedgerError> {
        proving::build(&self.inner.store, &self.inner.public, seq).await
    }

    /// Verifies every entry and every checkpoint that exist when it starts; counts a
    /// verification failure when anything is wrong. An `Err` means the check could not run,
    /// not that the ledger is broken.
    pub async fn verify(&self) -> Result<VerifyReport, LedgerError> {
        let report = verify::run(&self.inner.store, &self.inner.public).await?;
        if !report.ok() {
            self.inner.metrics.verification_failures.add(1, &[]);
            tracing::error!(
                problems = report.problems.len(),
                first_broken_seq = ?report.first_broken_seq,
                first_problem = %report.problems.first().map(|p| p.reason.as_str()).unwrap_or_default(),
                "ledger verification found problems"
            );
        }
        Ok(report)
    }
}
