#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Appends that wait while a transaction is in flight are committed together.

mod common;

use brain_config::LogFormat;
use brain_telemetry::TelemetrySettings;
use common::{Db, entry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_appends_share_one_transaction() {
    let telemetry = brain_telemetry::init(&TelemetrySettings {
        service_name: "brain-ledger-test".into(),
        attributes: Vec::new(),
        log_format: LogFormat::Pretty,
        log_level: "warn".into(),
    })
    .unwrap();
    let db = Db::sqlite().await;
    let (ledger, store) = db.open().await;

    // Hold SQLite's write lock so the writer's first transaction waits while 50 appends queue.
    let blocker = store.begin().await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.append(vec![entry(i)]).await.unwrap() })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    blocker.rollback().await.unwrap();
    let mut seqs: Vec<u64> = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());

    let text = telemetry.render_prometheus();
    let batches: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("brain_ledger_append_duration_seconds_count "))
        .unwrap_or_else(|| panic!("no append histogram in:\n{text}"))
        .parse()
        .unwrap();
    assert!(
        batches <= 2,
        "50 waiting appends took {batches} transactions"
    );
    assert!(
        text.contains("brain_ledger_appended_entries_total 50"),
        "{text}"
    );
    assert!(ledger.verify().await.unwrap().ok());
    db.finish().await;
}
