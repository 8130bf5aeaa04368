//! Making checkpoints: verify what is new, compute the root over everything, sign, store.
//!
//! The root is recomputed over all entries each time: O(n) hash reads per checkpoint, streamed
//! in pages so memory stays O(page + log n). Fine for millions of entries at one checkpoint a
//! minute; beyond that, store the perfect-subtree hashes of the last checkpoint and extend them.

use crate::checkpoint::Checkpoint;
use crate::db;
use crate::entry::GENESIS_HASH;
use crate::error::LedgerError;
use crate::merkle::{Hash, TreeBuilder};
use crate::metrics::LedgerMetrics;
use crate::verify::{ChainChecker, ENTRY_PAGE, gap_reason, leaf_bytes};
use brain_auth::SigningKey;
use brain_store::Store;

/// (seq, hash) pairs read per query.
pub(crate) const LEAF_PAGE: u32 = 10_000;

/// Signs the current head if entries were appended since the latest checkpoint.
pub(crate) async fn checkpoint(
    store: &Store,
    key: &SigningKey,
    metrics: &LedgerMetrics,
) -> Result<Option<Checkpoint>, LedgerError> {
    let latest = db::latest_checkpoint(&mut store.unscoped()).await?;
    let covered = latest.as_ref().map_or(0, |c| c.tree_size);
    let (head, _) = db::head(&mut store.unscoped()).await?;
    if head == covered {
        return Ok(None);
    }
    let root = if head < covered {
        Err(LedgerError::ChainBroken {
            seq: head + 1,
            reason: format!(
                "checkpoint at tree size {covered} but the ledger has only {head} entries (truncated)"
            ),
        })
    } else {
        verified_root(store, latest.as_ref(), head).await
    };
    let root = match root {
        Ok(root) => root,
        Err(error) => {
            if matches!(
                error,
                LedgerError::ChainBroken { .. } | LedgerError::BadCheckpoint { .. }
            ) {
                metrics.verification_failures.add(1, &[]);
                tracing::error!(%error, "ledger checkpoint refused: the chain does not verify");
            }
            return Err(error);
        }
    };

    let signed = Checkpoint::sign(key, head, &root, crate::time::now());
    if db::insert_checkpoint(&mut store.unscoped(), &signed).await? {
        metrics.checkpoints.add(1, &[]);
        tracing::info!(tree_size = head, root = %signed.root_hash, "ledger checkpoint signed");
        return Ok(Some(signed));
    }
    // Another process signed this size first; its checkpoint covers the same entries.
    db::checkpoint_at(&mut store.unscoped(), head)
        .await?
        .map(Some)
        .ok_or_else(|| LedgerError::Corrupt {
            seq: head,
            reason: "the checkpoint for this tree size conflicted on insert but cannot be read"
                .to_owned(),
        })
}

/// The root over entries `1..=head`, after checking that the entries the latest checkpoint
/// covers still give its root and that every later entry verifies.
async fn verified_root(
    store: &Store,
    latest: Option<&Checkpoint>,
    head: u64,
) -> Result<Hash, LedgerError> {
    let covered = latest.map_or(0, |c| c.tree_size);
    let mut tree = TreeBuilder::default();

    // Entries under the latest checkpoint: only their hashes matter, and the root proves them.
    let (mut after, mut anchor) = (0, GENESIS_HASH.to_owned());
    while after < covered {
        let page = db::leaf_page(&mut store.unscoped(), after, covered, LEAF_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for (seq, hash) in page {
            if seq != after + 1 {
                return Err(LedgerError::ChainBroken {
                    seq: after + 1,
                    reason: gap_reason(after, seq),
                });
            }
            tree.push(&leaf_bytes(&hash));
            (after, anchor) = (seq, hash);
        }
    }
    if let Some(checkpoint) = latest {
        if after != covered {
            return Err(LedgerError::ChainBroken {
                seq: after + 1,
                reason: format!(
                    "seqs {} to {covered} missing: the checkpoint at tree size {covered} covers them",
                    after + 1
                ),
            });
        }
        if tree.root().map(hex::encode).as_deref() != Some(checkpoint.root_hash.as_str()) {
            return Err(LedgerError::BadCheckpoint {
                tree_size: covered,
                reason: "root does not match the entries".to_owned(),
            });
        }
    }

    // Entries after it: fully verified before anything is signed over them.
    let mut checker = ChainChecker::after_trusted(covered, anchor);
    while after < head {
        let page = db::entry_page(&mut store.unscoped(), after, head, ENTRY_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            checker.check(row);
            if let Some(problem) = checker.problems.first() {
                return Err(LedgerError::ChainBroken {
                    seq: problem.seq.unwrap_or(row.seq),
                    reason: problem.reason.clone(),
                });
            }
            tree.push(&leaf_bytes(&row.entry_hash));
            after = row.seq;
        }
    }
    if after != head {
        return Err(LedgerError::ChainBroken {
            seq: after + 1,
            reason: format!("the ledger ends at seq {after}, before its head {head}"),
        });
    }
    tree.root().ok_or_else(|| LedgerError::Corrupt {
        seq: head,
        reason: "no entries to sign".to_owned(),
    })
}
