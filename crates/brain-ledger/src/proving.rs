//! Building inclusion proofs from the stored leaves.

use crate::checkpointer::LEAF_PAGE;
use crate::db;
use crate::error::LedgerError;
use crate::merkle::{TreeBuilder, path_ranges};
use crate::proof::{InclusionProof, verify_inclusion};
use crate::verify::{gap_reason, leaf_bytes};
use brain_auth::PublicKey;
use brain_store::Store;

/// The proof of `seq` against the latest checkpoint. One pass over the covered leaves (O(n)
/// reads), holding only the O(log n) subtree builders of the audit path.
pub(crate) async fn build(
    store: &Store,
    key: &PublicKey,
    seq: u64,
) -> Result<InclusionProof, LedgerError> {
    let entry = db::entry(&mut store.unscoped(), seq)
        .await?
        .ok_or(LedgerError::NotFound(seq))?
        .into_entry()?;
    let latest = db::latest_checkpoint(&mut store.unscoped()).await?;
    let covered = latest.as_ref().map_or(0, |c| c.tree_size);
    let Some(checkpoint) = latest.filter(|c| c.tree_size >= seq) else {
        return Err(LedgerError::NotCheckpointedYet { seq, covered });
    };
    let size = checkpoint.tree_size;
    let index = seq - 1;

    // The audit path's subtrees are disjoint leaf ranges; visit them in leaf order.
    let ranges = path_ranges(index, size);
    let mut by_start: Vec<usize> = (0..ranges.len()).collect();
    by_start.sort_by_key(|&i| ranges.get(i).map_or(0, |r| r.start));
    let mut subtrees = vec![TreeBuilder::default(); ranges.len()];
    let mut current = 0;
    let mut whole = TreeBuilder::default();

    let mut after = 0;
    while after < size {
        let page = db::leaf_page(&mut store.unscoped(), after, size, LEAF_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for (leaf_seq, hash) in page {
            if leaf_seq != after + 1 {
                return Err(LedgerError::ChainBroken {
                    seq: after + 1,
                    reason: gap_reason(after, leaf_seq),
                });
            }
            after = leaf_seq;
            let leaf = leaf_bytes(&hash);
            whole.push(&leaf);
            let position = leaf_seq - 1;
            if position == index {
                continue;
            }
            while by_start
                .get(current)
                .and_then(|&i| ranges.get(i))
                .is_some_and(|r| r.end <= position)
            {
                current += 1;
            }
            if let Some(subtree) = by_start.get(current).and_then(|&i| subtrees.get_mut(i)) {
                subtree.push(&leaf);
            }
        }
    }
    if after != size {
        return Err(LedgerError::ChainBroken {
            seq: after + 1,
            reason: format!(
                "checkpoint at tree size {size} but the ledger has only {after} entries (truncated)"
            ),
        });
    }
    if whole.root().map(hex::encode).as_deref() != Some(checkpoint.root_hash.as_str()) {
        return Err(LedgerError::BadCheckpoint {
            tree_size: size,
            reason: "root does not match the entries".to_owned(),
        });
    }
    let audit_path = subtrees
        .iter()
        .map(|t| t.root().map(hex::encode))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| LedgerError::Corrupt {
            seq,
            reason: "an audit path subtree received no leaves".to_owned(),
        })?;
    checkpoint
        .verify_signature(key)
        .map_err(|reason| LedgerError::BadCheckpoint {
            tree_size: size,
            reason,
        })?;
    let proof = InclusionProof {
        seq,
        leaf_index: index,
        entry,
        audit_path,
        checkpoint,
    };
    // Never hand out a proof that does not verify (e.g. the entry's own fields were edited).
    verify_inclusion(&proof, key).map_err(|e| LedgerError::ChainBroken {
        seq,
        reason: e.to_string(),
    })?;
    Ok(proof)
}
