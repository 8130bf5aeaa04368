#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Tampering with the stored ledger by direct SQL, on both engines: verification names what
//! changed, and checkpoints and proofs refuse to build on it.

mod common;

use brain_ledger::{Ledger, LedgerEntry, LedgerError, VerifyReport};
use brain_store::{Store, Value};
use common::{Db, entries};

on_both_engines!(
    edited_field_is_reported_at_its_seq,
    edited_details_break_the_details_hash,
    rehashed_entry_breaks_the_next_link,
    deleted_row_is_a_gap,
    deleted_tail_after_a_checkpoint_is_truncation,
    edited_checkpoint_is_reported,
    rewritten_checkpointed_history_fails_the_root,
);

async fn sql(store: &Store, statement: &str, binds: &[Value]) {
    let changed = store.unscoped().execute(statement, binds).await.unwrap();
    assert!(changed > 0, "tampering changed nothing: {statement}");
}

/// A ledger of `n` entries.
async fn ledger_of(db: &Db, n: u64) -> (Ledger, Store) {
    let (ledger, store) = db.open().await;
    ledger.append(entries(0..n)).await.unwrap();
    (ledger, store)
}

fn reasons(report: &VerifyReport) -> Vec<&str> {
    report.problems.iter().map(|p| p.reason.as_str()).collect()
}

async fn entry(ledger: &Ledger, seq: u64) -> LedgerEntry {
    ledger.entries(seq - 1, 1).await.unwrap().remove(0)
}

async fn edited_field_is_reported_at_its_seq(db: &Db) {
    let (ledger, store) = ledger_of(db, 10).await;
    sql(
        &store,
        "UPDATE ledger_entries SET subject = 'grant/forged' WHERE seq = 5",
        &[],
    )
    .await;
    let report = ledger.verify().await.unwrap();
    assert!(!report.ok());
    assert_eq!(report.first_broken_seq, Some(5));
    assert_eq!(
        reasons(&report),
        ["seq 5: entry_hash does not match the entry's fields"]
    );
    assert_eq!(report.entries_checked, 10);

    // Never signed over.
    match ledger.checkpoint().await {
        Err(LedgerError::ChainBroken { seq: 5, reason }) => {
            assert_eq!(
                reason,
                "seq 5: entry_hash does not match the entry's fields"
            );
        }
        other => panic!("checkpoint over a broken chain: {other:?}"),
    }
    assert_eq!(ledger.latest_checkpoint().await.unwrap(), None);
}

async fn edited_details_break_the_details_hash(db: &Db) {
    let (ledger, store) = ledger_of(db, 10).await;
    sql(
        &store,
        "UPDATE ledger_entries SET details = $1 WHERE seq = 7",
        &[r#"{"n":7,"reason":"nothing to see"}"#.into()],
    )
    .await;
    let report = ledger.verify().await.unwrap();
    assert_eq!(report.first_broken_seq, Some(7));
    assert_eq!(
        reasons(&report),
        ["seq 7: details do not match details_hash"]
    );
    assert!(matches!(
        ledger.checkpoint().await,
        Err(LedgerError::ChainBroken { seq: 7, .. })
    ));
}

async fn rehashed_entry_breaks_the_next_link(db: &Db) {
    let (ledger, store) = ledger_of(db, 10).await;
    let mut forged = entry(&ledger, 4).await;
    forged.result = "denied".into();
    let rehashed = forged.computed_hash();
    sql(
        &store,
        "UPDATE ledger_entries SET result = $1, entry_hash = $2 WHERE seq = 4",
        &[forged.result.clone().into(), rehashed.into()],
    )
    .await;
    let report = ledger.verify().await.unwrap();
    assert_eq!(report.first_broken_seq, Some(4));
    assert_eq!(
        reasons(&report),
        ["seq 5: prev_hash does not match entry_hash of seq 4"]
    );
    assert!(matches!(
        ledger.checkpoint().await,
        Err(LedgerError::ChainBroken { seq: 4, .. })
    ));
}

async fn deleted_row_is_a_gap(db: &Db) {
    let (ledger, store) = ledger_of(db, 10).await;
    sql(&store, "DELETE FROM ledger_entries WHERE seq = 6", &[]).await;
    let report = ledger.verify().await.unwrap();
    assert_eq!(report.first_broken_seq, Some(6));
    assert_eq!(
        reasons(&report),
        ["seq 6 missing: sequence jumps from 5 to 7"]
    );
    assert_eq!(report.entries_checked, 9);
    assert!(matches!(
        ledger.checkpoint().await,
        Err(LedgerError::ChainBroken { seq: 6, .. })
    ));
}

async fn deleted_tail_after_a_checkpoint_is_truncation(db: &Db) {
    let (ledger, store) = ledger_of(db, 10).await;
    ledger.checkpoint().await.unwrap();
    sql(&store, "DELETE FROM ledger_entries WHERE seq > 7", &[]).await;
    let report = ledger.verify().await.unwrap();
    assert_eq!(report.first_broken_seq, Some(8));
    assert_eq!(
        reasons(&report),
        ["checkpoint at tree size 10 but the ledger has only 7 entries (truncated)"]
    );
    assert!(matches!(
        ledger.checkpoint().await,
        Err(LedgerError::ChainBroken { seq: 8, .. })
    ));
    assert!(matches!(
        ledger.proof(3).await,
        Err(LedgerError::ChainBroken { seq: 8, .. })
    ));
}

async fn edited_checkpoint_is_reported(db: &Db) {
    let (ledger, store) = ledger_of(db, 10).await;
    let checkpoint = ledger.checkpoint().await.unwrap().unwrap();
    assert!(ledger.verify().await.unwrap().ok());

    let forged_root = "ab".repeat(32);
    sql(
        &store,
        "UPDATE ledger_checkpoints SET root_hash = $1 WHERE tree_size = 10",
        &[forged_root.into()],
    )
    .await;
    let report = ledger.verify().await.unwrap();
    assert_eq!(
        reasons(&report),
        [
            "checkpoint at tree size 10: root does not match the entries",
            "checkpoint at tree size 10: bad signature"
        ]
    );
    assert_eq!(
        report.first_broken_seq, None,
        "the entries themselves are intact"
    );
    assert!(matches!(
        ledger.proof(2).await,
        Err(LedgerError::BadCheckpoint { tree_size: 10, .. })
    ));
    ledger.append(entries(10..11)).await.unwrap();
    assert!(matches!(
        ledger.checkpoint().await,
        Err(LedgerError::BadCheckpoint { tree_size: 10, .. })
    ));

    // Root restored, signature forged.
    let mut signature = hex::decode(&checkpoint.signature).unwrap();
    signature[0] ^= 1;
    sql(
        &store,
        "UPDATE ledger_checkpoints SET root_hash = $1, signature = $2 WHERE tree_size = 10",
        &[
            checkpoint.root_hash.clone().into(),
            hex::encode(signature).into(),
        ],
    )
    .await;
    let report = ledger.verify().await.unwrap();
    assert_eq!(
        reasons(&report),
        ["checkpoint at tree size 10: bad signature"]
    );
    let proof = ledger.proof(2).await;
    assert!(
        matches!(proof, Err(LedgerError::BadCheckpoint { tree_size: 10, ref reason }) if reason == "bad signature"),
        "{proof:?}"
    );
}

async fn rewritten_checkpointed_history_fails_the_root(db: &Db) {
    let (ledger, store) = ledger_of(db, 8).await;
    ledger.checkpoint().await.unwrap();
    // Rewrite seq 3 and re-link every later entry: the chain itself is consistent again.
    let mut prev_hash = entry(&ledger, 2).await.entry_hash;
    for seq in 3..=8 {
        let mut e = entry(&ledger, seq).await;
        if seq == 3 {
            e.actor = "user:nobody".into();
        }
        e.prev_hash = prev_hash;
        e.entry_hash = e.computed_hash();
        sql(
            &store,
            "UPDATE ledger_entries SET actor = $1, prev_hash = $2, entry_hash = $3 WHERE seq = $4",
            &[
                e.actor.clone().into(),
                e.prev_hash.clone().into(),
                e.entry_hash.clone().into(),
                Value::Int(seq as i64),
            ],
        )
        .await;
        prev_hash = e.entry_hash;
    }
    let report = ledger.verify().await.unwrap();
    assert_eq!(
        reasons(&report),
        ["checkpoint at tree size 8: root does not match the entries"]
    );
    ledger.append(entries(8..9)).await.unwrap();
    assert!(matches!(
        ledger.checkpoint().await,
        Err(LedgerError::BadCheckpoint { tree_size: 8, .. })
    ));
}
