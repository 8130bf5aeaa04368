#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The event-bus conformance suite against the embedded log and a real Kafka broker.

use brain_bus::{BusSettings, EmbeddedLog, EventBus, KafkaBus, conformance};
use brain_config::FsyncPolicy;
use std::path::PathBuf;
use std::sync::Arc;

fn settings() -> BusSettings {
    BusSettings {
        partitions: 4,
        replication_factor: 1,
        // The test broker joins groups in about half the session timeout.
        session_timeout_ms: 1000,
        heartbeat_interval_ms: 100,
        linger_ms: 5,
        segment_bytes: 1024 * 1024,
        fsync: FsyncPolicy::Always,
    }
}

async fn open_embedded(dir: PathBuf) -> Arc<dyn EventBus> {
    // A previous instance in the same test may still be shutting down its writer thread.
    for _ in 0..50 {
        match EmbeddedLog::open(&dir, settings()) {
            Ok(log) => return Arc::new(log),
            Err(brain_bus::BusError::Locked { .. }) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            Err(e) => panic!("open embedded log: {e}"),
        }
    }
    panic!("embedded log stayed locked")
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().to_owned();
                    conformance::$case(|| open_embedded(path.clone())).await;
                }
            )*
        }
        mod kafka {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(servers) = brain_testkit::engines::kafka() else { return };
                    conformance::$case(|| {
                        let servers = servers.clone();
                        async move { Arc::new(KafkaBus::new(&servers, settings()).unwrap()) as Arc<dyn EventBus> }
                    })
                    .await;
                }
            )*
        }
    };
}

suite!(
    ordering_per_key,
    redelivery_after_consumer_dies,
    resume_from_committed_offset_after_restart,
    headers_round_trip,
    concurrent_producers,
    replay_from_offset,
    group_members_share_partitions,
);
