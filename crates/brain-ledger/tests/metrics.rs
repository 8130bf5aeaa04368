#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The ledger's metrics are exported under their exact names, counters from the moment a
//! ledger is opened.

mod common;

use brain_config::LogFormat;
use brain_telemetry::TelemetrySettings;
use common::{Db, entries};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_exist_from_open_and_count() {
    let telemetry = brain_telemetry::init(&TelemetrySettings {
        service_name: "brain-ledger-test".into(),
        attributes: Vec::new(),
        log_format: LogFormat::Pretty,
        log_level: "warn".into(),
    })
    .unwrap();
    let db = Db::sqlite().await;
    let (ledger, store) = db.open().await;

    let text = telemetry.render_prometheus();
    for name in [
        "brain_ledger_appended_entries_total 0",
        "brain_ledger_checkpoints_total 0",
        "brain_ledger_verification_failures_total 0",
    ] {
        assert!(text.contains(name), "missing `{name}` in:\n{text}");
    }

    ledger.append(entries(0..3)).await.unwrap();
    ledger.checkpoint().await.unwrap();
    store
        .unscoped()
        .execute("UPDATE ledger_entries SET subject = 'x' WHERE seq = 2", &[])
        .await
        .unwrap();
    assert!(!ledger.verify().await.unwrap().ok());

    let text = telemetry.render_prometheus();
    for name in [
        "brain_ledger_appended_entries_total 3",
        "brain_ledger_checkpoints_total 1",
        "brain_ledger_verification_failures_total 1",
        "brain_ledger_append_duration_seconds_count 1",
    ] {
        assert!(text.contains(name), "missing `{name}` in:\n{text}");
    }
    db.finish().await;
}
