#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Appends, group commit under concurrency, reopening, several writers, checkpoints and proofs
//! on both engines.

mod common;

use brain_auth::SigningKey;
use brain_ledger::{GENESIS_HASH, LedgerError, verify_inclusion};
use brain_store::Engine;
use common::{Db, entries, entry};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

on_both_engines!(
    appends_get_consecutive_seqs,
    concurrent_appends_form_one_chain,
    entries_survive_reopening,
    two_ledgers_on_one_database_build_one_chain,
    checkpoints_cover_new_entries_only,
    checkpointer_runs_periodically_and_on_shutdown,
    proofs_verify_for_every_checkpointed_entry,
    failed_commit_fails_every_waiter_of_the_batch,
);

async fn appends_get_consecutive_seqs(db: &Db) {
    let (ledger, _) = db.open().await;
    assert_eq!(ledger.head().await.unwrap(), (0, GENESIS_HASH.to_owned()));
    assert_eq!(ledger.append(vec![entry(0)]).await.unwrap(), [1]);
    assert_eq!(ledger.append(entries(1..4)).await.unwrap(), [2, 3, 4]);
    assert_eq!(ledger.append(Vec::new()).await.unwrap(), Vec::<u64>::new());

    let mut bad = entry(9);
    bad.actor.clear();
    assert!(matches!(
        ledger.append(vec![entry(8), bad]).await,
        Err(LedgerError::InvalidEntry(_))
    ));

    let stored = ledger.entries(0, 10).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(stored[0].prev_hash, GENESIS_HASH);
    for (i, e) in stored.iter().enumerate() {
        let expected = entry(i as u64);
        assert_eq!(
            (&e.actor, &e.subject, &e.details),
            (&expected.actor, &expected.subject, &expected.details)
        );
        assert_eq!(e.computed_hash(), e.entry_hash);
        if i > 0 {
            assert_eq!(e.prev_hash, stored[i - 1].entry_hash);
        }
    }
    assert_eq!(
        ledger.head().await.unwrap(),
        (4, stored[3].entry_hash.clone())
    );
    assert_eq!(ledger.entries(2, 1).await.unwrap()[0].seq, 3);
    assert!(ledger.entries(4, 10).await.unwrap().is_empty());
    assert!(ledger.entries(0, 0).await.unwrap().is_empty());

    let report = ledger.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries_checked, 4);
}

async fn concurrent_appends_form_one_chain(db: &Db) {
    let (ledger, _) = db.open().await;
    let tasks: Vec<_> = (0..50u64)
        .map(|t| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let mut calls = Vec::new();
                // One call of two entries, then two single ones: 4 entries per task.
                calls.push(ledger.append(entries(t * 10..t * 10 + 2)).await.unwrap());
                for i in 2..4 {
                    calls.push(ledger.append(vec![entry(t * 10 + i)]).await.unwrap());
                }
                calls
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for task in tasks {
        for seqs in task.await.unwrap() {
            assert!(
                seqs.windows(2).all(|w| w[1] == w[0] + 1),
                "one call's entries are consecutive: {seqs:?}"
            );
            for seq in seqs {
                assert!(all.insert(seq), "seq {seq} handed out twice");
            }
        }
    }
    assert_eq!(all, (1..=200).collect());
    let report = ledger.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries_checked, 200);
    assert_eq!(ledger.checkpoint().await.unwrap().unwrap().tree_size, 200);
}

async fn entries_survive_reopening(db: &Db) {
    let (ledger, store) = db.open().await;
    ledger.append(entries(0..5)).await.unwrap();
    ledger.checkpoint().await.unwrap();
    let head = ledger.head().await.unwrap();
    drop(ledger);
    store.close().await;

    let (ledger, _) = db.open().await;
    assert_eq!(ledger.head().await.unwrap(), head);
    assert_eq!(ledger.append(vec![entry(5)]).await.unwrap(), [6]);
    assert_eq!(
        ledger.latest_checkpoint().await.unwrap().unwrap().tree_size,
        5
    );
    let proof = ledger.proof(3).await.unwrap();
    verify_inclusion(&proof, &ledger.public_key()).unwrap();
    assert!(ledger.verify().await.unwrap().ok());
}

async fn two_ledgers_on_one_database_build_one_chain(db: &Db) {
    let (first, _) = db.open().await;
    let (second, _) = db.open().await;
    let tasks: Vec<_> = (0..40u64)
        .map(|t| {
            let ledger = if t % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let mut seqs = ledger.append(entries(t * 10..t * 10 + 2)).await.unwrap();
                seqs.extend(ledger.append(vec![entry(t * 10 + 2)]).await.unwrap());
                seqs
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for task in tasks {
        for seq in task.await.unwrap() {
            assert!(all.insert(seq), "seq {seq} handed out twice");
        }
    }
    assert_eq!(all, (1..=120).collect());

    // Both sign the same head: one checkpoint is stored, both report it (or nothing new).
    let (a, b) = tokio::join!(first.checkpoint(), second.checkpoint());
    let signed: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert!(!signed.is_empty());
    assert!(signed.iter().all(|c| c.tree_size == 120), "{signed:?}");
    for ledger in [&first, &second] {
        let report = ledger.verify().await.unwrap();
        assert!(report.ok(), "{report:?}");
        assert_eq!(
            (report.entries_checked, report.checkpoints_checked),
            (120, 1)
        );
    }
}

async fn checkpoints_cover_new_entries_only(db: &Db) {
    let (ledger, _) = db.open().await;
    assert_eq!(
        ledger.checkpoint().await.unwrap(),
        None,
        "nothing to sign on an empty ledger"
    );
    ledger.append(entries(0..7)).await.unwrap();
    let first = ledger.checkpoint().await.unwrap().unwrap();
    assert_eq!(first.tree_size, 7);
    assert_eq!(first.key_id, db.key.kid());
    assert_eq!(first.verify_signature(&ledger.public_key()), Ok(()));
    assert_eq!(
        ledger.checkpoint().await.unwrap(),
        None,
        "nothing new since the last checkpoint"
    );
    assert_eq!(
        ledger.latest_checkpoint().await.unwrap(),
        Some(first.clone())
    );

    ledger.append(entries(7..9)).await.unwrap();
    let second = ledger.checkpoint().await.unwrap().unwrap();
    assert_eq!(second.tree_size, 9);
    assert_ne!(second.root_hash, first.root_hash);
    let report = ledger.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.checkpoints_checked, 2);
}

async fn checkpointer_runs_periodically_and_on_shutdown(db: &Db) {
    let (ledger, _) = db.open().await;
    let shutdown = CancellationToken::new();
    let task = ledger.spawn_checkpointer(Duration::from_millis(50), shutdown.clone());
    ledger.append(entries(0..3)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ledger
        .latest_checkpoint()
        .await
        .unwrap()
        .is_none_or(|c| c.tree_size < 3)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no periodic checkpoint"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Appended just before shutdown: the final checkpoint covers it.
    ledger.append(entries(3..5)).await.unwrap();
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(
        ledger.latest_checkpoint().await.unwrap().unwrap().tree_size,
        5
    );
}

async fn proofs_verify_for_every_checkpointed_entry(db: &Db) {
    let (ledger, _) = db.open().await;
    ledger.append(entries(0..13)).await.unwrap();
    assert!(matches!(
        ledger.proof(1).await,
        Err(LedgerError::NotCheckpointedYet { seq: 1, covered: 0 })
    ));
    ledger.checkpoint().await.unwrap();
    ledger.append(vec![entry(13)]).await.unwrap();

    let key = ledger.public_key();
    for seq in 1..=13 {
        let proof = ledger.proof(seq).await.unwrap();
        assert_eq!(
            (proof.seq, proof.leaf_index, proof.checkpoint.tree_size),
            (seq, seq - 1, 13)
        );
        verify_inclusion(&proof, &key).unwrap();
        // Handed out as JSON, verified elsewhere with the PEM public key only.
        let json = serde_json::to_string(&proof).unwrap();
        let pem_key = brain_auth::PublicKey::from_pem(&key.to_pem().unwrap()).unwrap();
        verify_inclusion(&serde_json::from_str(&json).unwrap(), &pem_key).unwrap();
    }
    assert!(matches!(
        ledger.proof(14).await,
        Err(LedgerError::NotCheckpointedYet {
            seq: 14,
            covered: 13
        })
    ));
    assert!(matches!(
        ledger.proof(99).await,
        Err(LedgerError::NotFound(99))
    ));
    assert!(matches!(
        ledger.proof(0).await,
        Err(LedgerError::NotFound(0))
    ));

    let proof = ledger.proof(5).await.unwrap();
    let mut changed = proof.clone();
    changed.entry.result = "denied".into();
    assert!(verify_inclusion(&changed, &key).is_err());
    let mut changed = proof.clone();
    changed.audit_path[0] = proof.audit_path[1].clone();
    assert!(verify_inclusion(&changed, &key).is_err());
    let other = SigningKey::generate().unwrap().public_key();
    assert!(verify_inclusion(&proof, &other).is_err());
}

async fn failed_commit_fails_every_waiter_of_the_batch(db: &Db) {
    let (ledger, store) = db.open().await;
    // An entry the database refuses, standing in for any failure inside the transaction.
    match store.engine() {
        Engine::Sqlite => {
            store.unscoped().execute(
                "CREATE TRIGGER poison BEFORE INSERT ON ledger_entries WHEN NEW.subject = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned entry'); END",
                &[],
            )
            .await
            .unwrap();
        }
        Engine::Postgres => {
            store.unscoped().execute(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.subject = 'poison' THEN RAISE EXCEPTION 'poisoned entry'; END IF; RETURN NEW; END $$",
                &[],
            )
            .await
            .unwrap();
            store.unscoped().execute(
                "CREATE TRIGGER poison BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION poison()",
                &[],
            )
            .await
            .unwrap();
        }
    }

    // Block inserts so the first append holds the writer while the others queue into one batch.
    let mut blocker = store.begin().await.unwrap();
    if store.engine() == Engine::Postgres {
        blocker
            .unscoped()
            .execute("LOCK TABLE ledger_entries IN EXCLUSIVE MODE", &[])
            .await
            .unwrap();
    }
    let first = tokio::spawn({
        let ledger = ledger.clone();
        async move { ledger.append(vec![entry(0)]).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let batch: Vec<_> = (1..10u64)
        .map(|i| {
            let ledger = ledger.clone();
            let mut e = entry(i);
            if i == 5 {
                e.subject = "poison".into();
            }
            tokio::spawn(async move { ledger.append(vec![e]).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(250)).await;
    blocker.rollback().await.unwrap();

    assert_eq!(first.await.unwrap().unwrap(), [1]);
    for task in batch {
        match task.await.unwrap() {
            Err(LedgerError::Store { message, .. }) => {
                assert!(message.contains("poisoned entry"), "{message}")
            }
            other => panic!("an append of the failed batch was reported as {other:?}"),
        }
    }
    assert_eq!(
        ledger.head().await.unwrap().0,
        1,
        "nothing of the failed batch is stored"
    );
    // The writer carries on after a failed batch.
    assert_eq!(ledger.append(vec![entry(10)]).await.unwrap(), [2]);
    assert!(ledger.verify().await.unwrap().ok());
}
