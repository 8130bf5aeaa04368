//! Verification of the stored ledger: every entry against its hashes and its predecessor, and
//! every checkpoint against the entries and the ledger key.

use crate::checkpoint::{Checkpoint, decode_hash};
use crate::db::{self, StoredEntry};
use crate::entry::{EntryFields, GENESIS_HASH, details_hash, entry_hash};
use crate::error::LedgerError;
use crate::merkle::TreeBuilder;
use brain_auth::PublicKey;
use brain_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Full entries read per query (details can be large).
pub(crate) const ENTRY_PAGE: u32 = 1_000;
/// Checkpoints read per query.
const CHECKPOINT_PAGE: u32 = 1_000;

/// What [`crate::Ledger::verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    /// The lowest seq that can no longer be trusted, if any entry problem was found.
    pub first_broken_seq: Option<u64>,
    /// Every problem, entries first in seq order, then checkpoints by tree size.
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    /// No problem found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One thing that does not verify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyProblem {
    /// The first entry this problem makes untrustworthy. For a broken link it is the earlier
    /// entry: its stored content is no longer what its successor committed to. `None` when
    /// only a checkpoint is concerned (a root that does not match, a bad signature).
    pub seq: Option<u64>,
    /// The checkpoint concerned, by tree size.
    pub checkpoint: Option<u64>,
    /// e.g. `seq 18: prev_hash does not match entry_hash of seq 17`.
    pub reason: String,
}

impl std::fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Why `next` does not follow `last` (which is 0 before the first entry).
pub(crate) fn gap_reason(last: u64, next: u64) -> String {
    let missing = if next == last + 2 {
        format!("seq {} missing", last + 1)
    } else {
        format!("seqs {} to {} missing", last + 1, next - 1)
    };
    if last == 0 {
        format!("{missing}: the ledger starts at seq {next}")
    } else {
        format!("{missing}: sequence jumps from {last} to {next}")
    }
}

/// The leaf bytes of a stored entry hash; text that is not a hash is hashed as it is, so the
/// root simply fails to match.
pub(crate) fn leaf_bytes(entry_hash: &str) -> Vec<u8> {
    decode_hash(entry_hash).map_or_else(|| entry_hash.as_bytes().to_vec(), |hash| hash.to_vec())
}

/// Checks entries fed in seq order against their own hashes and the entry before them.
pub(crate) struct ChainChecker {
    last_seq: u64,
    last_hash: String,
    /// Whether the last entry is vouched for independently (genesis, or covered by a checkpoint
    /// whose root matched), so a broken link must be the later entry's fault.
    last_trusted: bool,
    pub problems: Vec<VerifyProblem>,
    pub checked: u64,
}

impl ChainChecker {
    pub fn genesis() -> Self {
        Self::after_trusted(0, GENESIS_HASH.to_owned())
    }

    /// Continues after entry `seq` with hash `hash`, known to be authentic.
    pub fn after_trusted(seq: u64, hash: String) -> Self {
        Self {
            last_seq: seq,
            last_hash: hash,
            last_trusted: true,
            problems: Vec::new(),
            checked: 0,
        }
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn problem(&mut self, seq: u64, reason: String) {
        self.problems.push(VerifyProblem {
            seq: Some(seq),
            checkpoint: None,
            reason,
        });
    }

    pub fn check(&mut self, row: &StoredEntry) {
        let expected = self.last_seq + 1;
        if row.seq != expected {
            self.problem(expected, gap_reason(self.last_seq, row.seq));
        } else if row.prev_hash != self.last_hash {
            let reason = if self.last_seq == 0 {
                format!("seq {}: prev_hash is not the genesis hash", row.seq)
            } else {
                format!(
                    "seq {}: prev_hash does not match entry_hash of seq {}",
                    row.seq, self.last_seq
                )
            };
            let blamed = if self.last_trusted {
                row.seq
            } else {
                self.last_seq
            };
            self.problem(blamed, reason);
        }
        match serde_json::from_str::<serde_json::Value>(&row.details) {
            Err(_) => self.problem(
                row.seq,
                format!("seq {}: details are not valid JSON", row.seq),
            ),
            Ok(details) if details_hash(&details) != row.details_hash => {
                self.problem(
                    row.seq,
                    format!("seq {}: details do not match details_hash", row.seq),
                );
            }
            Ok(_) => {}
        }
        let computed = entry_hash(&EntryFields {
            seq: row.seq,
            at: &row.at,
            actor: &row.actor,
            tenant: &row.tenant,
            action: &row.action,
            subject: &row.subject,
            result: &row.result,
            details_hash: &row.details_hash,
            prev_hash: &row.prev_hash,
        });
        if computed != row.entry_hash {
            self.problem(
                row.seq,
                format!(
                    "seq {}: entry_hash does not match the entry's fields",
                    row.seq
                ),
            );
        }
        self.last_seq = row.seq;
        self.last_hash.clone_from(&row.entry_hash);
        self.last_trusted = false;
        self.checked += 1;
    }
}

/// Checkpoints in tree-size order, read a page at a time.
struct CheckpointCursor {
    pending: VecDeque<Checkpoint>,
    after: u64,
    up_to: u64,
    exhausted: bool,
}

impl CheckpointCursor {
    fn new(up_to: u64) -> Self {
        Self {
            pending: VecDeque::new(),
            after: 0,
            up_to,
            exhausted: up_to == 0,
        }
    }

    async fn peek(&mut self, store: &Store) -> Result<Option<&Checkpoint>, LedgerError> {
        if self.pending.is_empty() && !self.exhausted {
            let page = db::checkpoint_page(
                &mut store.unscoped(),
                self.after,
                self.up_to,
                CHECKPOINT_PAGE,
            )
            .await?;
            self.exhausted = page.len() < CHECKPOINT_PAGE as usize;
            if let Some(last) = page.last() {
                self.after = last.tree_size;
            }
            self.pending.extend(page);
        }
        Ok(self.pending.front())
    }

    /// The next checkpoint if it covers exactly `size` entries.
    async fn next_at(
        &mut self,
        store: &Store,
        size: u64,
    ) -> Result<Option<Checkpoint>, LedgerError> {
        match self.peek(store).await? {
            Some(checkpoint) if checkpoint.tree_size == size => Ok(self.pending.pop_front()),
            _ => Ok(None),
        }
    }

    async fn next(&mut self, store: &Store) -> Result<Option<Checkpoint>, LedgerError> {
        self.peek(store).await?;
        Ok(self.pending.pop_front())
    }
}

fn checkpoint_problem(checkpoint: &Checkpoint, seq: Option<u64>, reason: &str) -> VerifyProblem {
    VerifyProblem {
        seq,
        checkpoint: Some(checkpoint.tree_size),
        reason: format!("checkpoint at tree size {}: {reason}", checkpoint.tree_size),
    }
}

/// Walks every entry and every checkpoint. O(n) reads, O(page + log n) memory.
pub(crate) async fn run(store: &Store, key: &PublicKey) -> Result<VerifyReport, LedgerError> {
    // Bounds first: checkpoints existing now cover only entries committed now, so a later
    // append or checkpoint cannot look like truncation.
    let checkpoint_bound = db::latest_checkpoint(&mut store.unscoped())
        .await?
        .map_or(0, |c| c.tree_size);
    let (head, _) = db::head(&mut store.unscoped()).await?;

    let mut checker = ChainChecker::genesis();
    let mut tree = TreeBuilder::default();
    let mut checkpoints = CheckpointCursor::new(checkpoint_bound);
    let mut checkpoint_problems = Vec::new();
    let mut checkpoints_checked = 0;
    let mut after = 0;
    loop {
        let page = db::entry_page(&mut store.unscoped(), after, head, ENTRY_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in &page {
            checker.check(row);
            tree.push(&leaf_bytes(&row.entry_hash));
            while let Some(checkpoint) = checkpoints.next_at(store, tree.size()).await? {
                checkpoints_checked += 1;
                if tree.root().map(hex::encode).as_deref() != Some(checkpoint.root_hash.as_str()) {
                    checkpoint_problems.push(checkpoint_problem(
                        &checkpoint,
                        None,
                        "root does not match the entries",
                    ));
                }
                if let Err(reason) = checkpoint.verify_signature(key) {
                    checkpoint_problems.push(checkpoint_problem(&checkpoint, None, &reason));
                }
            }
        }
    }
    // Checkpoints over more entries than exist: the tail (or rows in the middle) was deleted.
    while let Some(checkpoint) = checkpoints.next(store).await? {
        checkpoints_checked += 1;
        let reason = format!(
            "but the ledger has only {} entries (truncated)",
            tree.size()
        );
        checkpoint_problems.push(VerifyProblem {
            seq: Some(checker.last_seq() + 1),
            checkpoint: Some(checkpoint.tree_size),
            reason: format!("checkpoint at tree size {} {reason}", checkpoint.tree_size),
        });
        if let Err(reason) = checkpoint.verify_signature(key) {
            checkpoint_problems.push(checkpoint_problem(&checkpoint, None, &reason));
        }
    }

    let mut problems = std::mem::take(&mut checker.problems);
    problems.extend(checkpoint_problems);
    Ok(VerifyReport {
        entries_checked: checker.checked,
        checkpoints_checked,
        first_broken_seq: problems.iter().filter_map(|p| p.seq).min(),
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{NewEntry, chain};

    fn stored(n: u64) -> Vec<StoredEntry> {
        let entries = (0..n)
            .map(|i| NewEntry {
                actor: "user:1".into(),
                tenant: "acme".into(),
                action: "test".into(),
                subject: format!("s{i}"),
                result: "ok".into(),
                details: serde_json::json!({"i": i}),
            })
            .collect();
        chain(0, GENESIS_HASH, crate::time::now(), entries)
            .into_iter()
            .map(|e| StoredEntry {
                seq: e.seq,
                at: e.at,
                actor: e.actor,
                tenant: e.tenant,
                action: e.action,
                subject: e.subject,
                result: e.result,
                details: crate::canonical::canonical_json(&e.details),
                details_hash: e.details_hash,
                prev_hash: e.prev_hash,
                entry_hash: e.entry_hash,
            })
            .collect()
    }

    fn check(rows: &[StoredEntry]) -> Vec<(Option<u64>, String)> {
        let mut checker = ChainChecker::genesis();
        rows.iter().for_each(|r| checker.check(r));
        checker
            .problems
            .into_iter()
            .map(|p| (p.seq, p.reason))
            .collect()
    }

    #[test]
    fn intact_chain_has_no_problems() {
        assert!(check(&stored(10)).is_empty());
    }

    #[test]
    fn problems_name_the_seq_and_reason() {
        let mut rows = stored(6);
        rows[2].subject = "changed".into();
        assert_eq!(
            check(&rows),
            [(
                Some(3),
                "seq 3: entry_hash does not match the entry's fields".to_owned()
            )]
        );

        let mut rows = stored(6);
        rows[2].details = r#"{"i":99}"#.into();
        assert_eq!(
            check(&rows),
            [(
                Some(3),
                "seq 3: details do not match details_hash".to_owned()
            )]
        );

        let mut rows = stored(6);
        rows[2].details = "{not json".into();
        assert_eq!(
            check(&rows),
            [(Some(3), "seq 3: details are not valid JSON".to_owned())]
        );

        let mut rows = stored(6);
        rows.remove(3);
        assert_eq!(
            check(&rows),
            [(
                Some(4),
                "seq 4 missing: sequence jumps from 3 to 5".to_owned()
            )]
        );

        let mut rows = stored(6);
        rows.drain(1..4);
        assert_eq!(
            check(&rows),
            [(
                Some(2),
                "seqs 2 to 4 missing: sequence jumps from 1 to 5".to_owned()
            )]
        );

        let mut rows = stored(3);
        rows.remove(0);
        assert_eq!(
            check(&rows),
            [(
                Some(1),
                "seq 1 missing: the ledger starts at seq 2".to_owned()
            )]
        );
    }

    #[test]
    fn a_rewritten_entry_breaks_the_next_link() {
        let mut rows = stored(6);
        rows[2].subject = "changed".into();
        let row = &rows[2];
        let rewritten = entry_hash(&EntryFields {
            seq: row.seq,
            at: &row.at,
            actor: &row.actor,
            tenant: &row.tenant,
            action: &row.action,
            subject: &row.subject,
            result: &row.result,
            details_hash: &row.details_hash,
            prev_hash: &row.prev_hash,
        });
        rows[2].entry_hash = rewritten;
        assert_eq!(
            check(&rows),
            [(
                Some(3),
                "seq 4: prev_hash does not match entry_hash of seq 3".to_owned()
            )]
        );
    }

    #[test]
    fn first_entry_must_link_to_genesis() {
        let mut rows = stored(2);
        rows[0].prev_hash = "1".repeat(64);
        let problems = check(&rows);
        assert_eq!(
            problems[0],
            (
                Some(1),
                "seq 1: prev_hash is not the genesis hash".to_owned()
            )
        );
    }
}
