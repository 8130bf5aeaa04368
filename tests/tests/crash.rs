#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! `kill -9` of `brain up` while records are being published loses no acknowledged record.

mod common;

use brain_bus::{BusSettings, EmbeddedLog, EventBus};
use common::*;
use prost::Message;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_record() {
    let data = tempfile::tempdir().unwrap();
    let mut brain = brain_up(data.path());
    let session = enterprise(&brain.http).await;
    register_dataset(&session.http, &brain.http, TENANT, &textile_dataset()).await;
    let url = format!("{}/api/v1/tenants/91330100MA27XKQ717/datasets/production-output/records", brain.http);
    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();

    // Four clients publish batches as fast as they can until the process dies under them.
    let mut clients = Vec::new();
    for client_no in 0..4 {
        let url = url.clone();
        let acknowledged = acknowledged.clone();
        let client = session.http.clone();
        clients.push(tokio::spawn(async move {
            for batch in 0.. {
                let body = textile_batch(client_no * 1_000_000 + batch, 50);
                let Ok(response) = client.post(&url).json(&body).send().await else { return };
                let Ok(ack) = response.json::<serde_json::Value>().await else { return };
                let ids = ack["results"].as_array().unwrap().iter().filter(|r| r["status"] == "accepted");
                acknowledged.lock().unwrap().extend(ids.map(|r| r["record_id"].as_str().unwrap().to_owned()));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    brain.kill_hard();
    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 100, "only {} records were acknowledged before the kill", acknowledged.len());

    // Read the log the dead process left behind, as the next start would.
    let settings = BusSettings::from(&brain_config::BusConfig::default());
    let log = EmbeddedLog::open(&data.path().join("bus"), settings).unwrap();
    let topic = "brain.ingest.records.v1";
    let mut stored = HashSet::new();
    for partition in 0..brain_config::BusConfig::default().partitions {
        let mut offset = 0;
        loop {
            let events = log.read(topic, partition, offset, 10_000).await.unwrap();
            let Some(last) = events.last() else { break };
            offset = last.position.offset + 1;
            for event in events {
                let ingested = brain_proto::events::v1::RecordIngested::decode(event.payload.as_slice()).unwrap();
                stored.insert(ingested.record.unwrap().id);
            }
        }
    }
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged records lost, e.g. {:?}", lost.len(), lost.iter().take(5).collect::<Vec<_>>());
    eprintln!("{} records acknowledged before kill -9, all {} found in the log ({} stored)", acknowledged.len(), acknowledged.len(), stored.len());
    drop(log);

    // And the brain starts again on the same data.
    let restarted = brain_up(data.path());
    let ready = http().get(format!("{}/readyz", restarted.http)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
