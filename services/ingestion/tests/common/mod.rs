//! The ingestion service in this test process: `brain_ingestion::spec()` run by the real
//! runtime (gRPC and HTTP listeners on OS-chosen ports) on an embedded bus in a temp dir,
//! with the trust layer switched off.

#![allow(dead_code)]

use brain_bus::{BusSettings, Delivered, EmbeddedLog, EventBus};
use brain_config::{Config, FsyncPolicy};
use brain_runtime::{Process, ProcessOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct Ingestion {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub config: Config,
    stop: tokio_util::sync::CancellationToken,
    running: tokio::task::JoinHandle<()>,
    pub dir: tempfile::TempDir,
}

/// A configuration for tests: one partition, no fsync, small limits (changed by `tune`).
pub async fn start(tune: impl FnOnce(&mut Config)) -> Ingestion {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.common.data_dir = dir.path().display().to_string();
    config.common.http_addr = "127.0.0.1:0".into();
    config.common.grpc_addr = "127.0.0.1:0".into();
    config.common.log_level = "warn".into();
    config.common.shutdown_grace_seconds = 5;
    config.bus.partitions = 1;
    config.bus.embedded_fsync = FsyncPolicy::Never;
    config.ingestion.max_batch_records = 100;
    // These tests are about bodies, streams and sources; authentication and tenant checks on
    // ingestion are tested end to end (tests/tests/*.rs, tests/tests/trust.rs).
    config.trust.enforce = false;
    tune(&mut config);
    let telemetry = brain_telemetry::init(&brain_telemetry::TelemetrySettings {
        service_name: "ingestion-test".into(),
        attributes: Vec::new(),
        log_format: config.common.log_format,
        log_level: config.common.log_level.clone(),
    })
    .unwrap();
    let process = Process::start(ProcessOptions {
        config: config.clone(),
        targets: "ingestion".into(),
        registry: vec![brain_ingestion::spec()],
        telemetry: Arc::new(telemetry),
    })
    .await
    .unwrap();
    let (grpc, http, stop) = (process.grpc_addr, process.http_addr, process.shutdown_token());
    let running = tokio::spawn(async move { process.wait().await.unwrap() });
    Ingestion { grpc, http, config, stop, running, dir }
}

impl Ingestion {
    pub fn records_url(&self, tenant: &str, dataset: &str) -> String {
        format!("http://{}/api/v1/tenants/{tenant}/datasets/{dataset}/records", self.http)
    }

    /// Stops the process gracefully and opens its bus: what was acknowledged must be there.
    pub async fn stop_and_open_bus(self) -> (EmbeddedLog, tempfile::TempDir) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.running).await.unwrap().unwrap();
        let settings = BusSettings::from(&self.config.bus);
        let root = self.dir.path().join("bus");
        // The last handles on the log are dropped as the process's tasks finish.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match EmbeddedLog::open(&root, settings.clone()) {
                Ok(log) => return (log, self.dir),
                Err(e) if tokio::time::Instant::now() < deadline => {
                    eprintln!("bus not released yet: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot open the bus after shutdown: {e}"),
            }
        }
    }
}

/// Every event of a topic of the brain (one partition in these tests).
pub async fn read_topic(log: &EmbeddedLog, topic: &str) -> Vec<Delivered> {
    let name = brain_bus::topics::name("brain", topic);
    log.read(&name, 0, 0, usize::MAX).await.unwrap()
}
