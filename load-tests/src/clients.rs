//! Clients of a running brain: the ingestion channels (REST JSON, gRPC `IngestStream`, gRPC
//! unary `Ingest`) as [`Session`]s over pre-built records, and the catalog / quality calls.

use crate::drive::Session;
use crate::textile::{Cluster, DemoRecord};
use anyhow::{Context, anyhow, bail, ensure};
use brain_proto::common::v1::DatasetRef;
use brain_proto::events::v1::{Source, SourceKind};
use brain_proto::ingestion::v1::ingestion_service_client::IngestionServiceClient;
use brain_proto::ingestion::v1::{BatchAck, IngestBatch, InputRecord};
use serde::Deserialize;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tonic::transport::Channel;

/// One record of the load, in the forms each channel sends.
pub struct LoadRecord {
    pub id: String,
    pub event_time_ms: i64,
    /// The fields as canonical JSON (keys sorted), as ingestion publishes and the warehouse stores them.
    pub payload: Vec<u8>,
    /// The JSON object a REST client sends: `_id`, `_event_time` and the fields.
    pub rest: Vec<u8>,
}

/// Pre-built records, indexed by sequence number: every system sends the same ones.
pub struct LoadData {
    pub tenant: String,
    pub records: Vec<LoadRecord>,
}

impl LoadData {
    /// `count` daily-output records of a textile cluster (dataset `production-output`), ids
    /// `po-000000000` …: lines × days going back from `end`, ten years at most, then again.
    pub fn production_output(count: u64, seed: u64, tenant: &str, end: chrono::NaiveDate) -> anyhow::Result<Self> {
        let cluster = Cluster::generate(seed, 40);
        let lines: Vec<_> = cluster.enterprises.iter().flat_map(|e| e.lines.iter().map(move |l| (e, l))).collect();
        ensure!(!lines.is_empty(), "the cluster has no production lines");
        let mut records = Vec::with_capacity(usize::try_from(count)?);
        for seq in 0..count {
            let (e, l) = lines[(seq % lines.len() as u64) as usize];
            let day = end - chrono::Days::new((seq / lines.len() as u64) % 3650);
            let mut record: DemoRecord = cluster.output_record(e, l, day);
            record.id = format!("po-{seq:09}");
            let event_time_ms = chrono::DateTime::parse_from_rfc3339(&record.event_time)?.timestamp_millis();
            // serde_json's map sorts keys (no `preserve_order`): what ingestion re-serializes.
            let payload = serde_json::to_vec(&Value::Object(record.fields.clone()))?;
            let rest = serde_json::to_vec(&record.to_json())?;
            records.push(LoadRecord { id: record.id, event_time_ms, payload, rest });
        }
        Ok(Self { tenant: tenant.to_owned(), records })
    }

    /// Mean bytes of the payloads (the fields as JSON) of the records.
    pub fn bytes_per_record(&self) -> u64 {
        let total: usize = self.records.iter().map(|r| r.payload.len()).sum();
        (total / self.records.len().max(1)) as u64
    }

    fn range(&self, seq: u64, n: usize) -> &[LoadRecord] {
        let start = usize::try_from(seq).unwrap_or(usize::MAX).min(self.records.len());
        &self.records[start..(start + n).min(self.records.len())]
    }

    /// A REST body: the JSON array of records `seq .. seq + n`.
    pub fn rest_body(&self, seq: u64, n: usize) -> Vec<u8> {
        let records = self.range(seq, n);
        let mut body = Vec::with_capacity(records.iter().map(|r| r.rest.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&r.rest);
        }
        body.push(b']');
        body
    }

    /// A gRPC batch of records `seq .. seq + n` for `dataset`.
    pub fn grpc_batch(&self, dataset: &str, seq: u64, n: usize) -> IngestBatch {
        IngestBatch {
            batch_id: format!("{dataset}-{seq}"),
            dataset: Some(DatasetRef { tenant_id: self.tenant.clone(), dataset: dataset.to_owned() }),
            source: Some(Source { kind: SourceKind::Grpc as i32, name: "brain-load".into(), attributes: Default::default() }),
            records: self
                .range(seq, n)
                .iter()
                .map(|r| InputRecord { id: r.id.clone(), event_time: Some(brain_proto::time::from_millis(r.event_time_ms)), payload_json: r.payload.clone() })
                .collect(),
        }
    }
}

/// The ingestion channels the load generator drives.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// gRPC `IngestStream` (bidirectional; falls back to unary `Ingest` when UNIMPLEMENTED).
    Grpc,
    /// REST `POST …/records` with a JSON array.
    Rest,
    /// gRPC unary `Ingest`, one call per batch.
    GrpcUnary,
}

impl ChannelKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Rest => "rest",
            Self::GrpcUnary => "grpc-unary",
        }
    }
}

// ---------------------------------------------------------------------------------------
// REST

#[derive(Deserialize)]
struct AckCounts {
    accepted: u64,
    rejected: u64,
}

pub struct RestSession {
    client: reqwest::Client,
    url: String,
    data: Arc<LoadData>,
}

impl RestSession {
    pub fn new(http: &str, dataset: &str, data: Arc<LoadData>) -> anyhow::Result<Self> {
        // One client (one connection pool, one keep-alive connection) per session, like
        // independent clients.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).pool_max_idle_per_host(1).build()?;
        Ok(Self { client, url: format!("{http}/api/v1/tenants/{}/datasets/{dataset}/records", data.tenant), data })
    }
}

impl Session for RestSession {
    fn call(&mut self, seq: u64, n: usize) -> impl Future<Output = anyhow::Result<Duration>> + Send {
        let body = self.data.rest_body(seq, n);
        let request = self.client.post(&self.url).header("content-type", "application/json").body(body);
        async move {
            let started = Instant::now();
            let response = request.send().await.context("POST records")?;
            let status = response.status();
            let bytes = response.bytes().await?;
            let took = started.elapsed();
            if !status.is_success() {
                bail!("POST records answered {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(500)]));
            }
            let ack: AckCounts = serde_json::from_slice(&bytes).context("reading the REST acknowledgement")?;
            ensure!(ack.accepted == n as u64 && ack.rejected == 0, "REST acknowledged {} accepted, {} rejected of {n}", ack.accepted, ack.rejected);
            Ok(took)
        }
    }
}

// ---------------------------------------------------------------------------------------
// gRPC

pub async fn grpc_channel(grpc: &str) -> anyhow::Result<Channel> {
    tonic::transport::Endpoint::from_shared(grpc.to_owned())?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("connect to gRPC at {grpc}"))
}

fn client(channel: Channel) -> IngestionServiceClient<Channel> {
    IngestionServiceClient::new(channel).max_decoding_message_size(64 << 20).max_encoding_message_size(64 << 20)
}

fn check_ack(ack: &BatchAck, n: usize) -> anyhow::Result<()> {
    if ack.accepted != n as u32 || ack.rejected != 0 {
        let first = ack.results.iter().find_map(|r| r.violation.as_ref()).map(|v| format!(" (first: {} {}: {})", v.field, v.rule, v.reason)).unwrap_or_default();
        bail!("gRPC acknowledged {} accepted, {} rejected of {n}{first}", ack.accepted, ack.rejected);
    }
    Ok(())
}

/// One `IngestStream`: batches go out one at a time, each waits for its acknowledgement.
pub struct StreamSession {
    outbound: mpsc::Sender<IngestBatch>,
    acks: tonic::Streaming<BatchAck>,
    data: Arc<LoadData>,
    dataset: String,
}

impl StreamSession {
    /// Opens a stream and checks it with an empty batch (the server acknowledges it at once);
    /// `None` when the server answers UNIMPLEMENTED.
    pub async fn open(grpc: &str, dataset: &str, data: Arc<LoadData>) -> anyhow::Result<Option<Self>> {
        let (outbound, rx) = mpsc::channel::<IngestBatch>(2);
        let requests = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
        let mut acks = match client(grpc_channel(grpc).await?).ingest_stream(requests).await {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(None),
            Err(status) => return Err(anyhow!("IngestStream: {status}")),
        };
        outbound.send(IngestBatch { batch_id: "probe".into(), ..IngestBatch::default() }).await.map_err(|_| anyhow!("IngestStream closed at once"))?;
        match acks.message().await {
            Ok(Some(ack)) if ack.batch_id == "probe" => {}
            Ok(Some(ack)) => bail!("IngestStream answered the probe with batch {:?}", ack.batch_id),
            Ok(None) => bail!("IngestStream ended without acknowledging the probe"),
            Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(None),
            Err(status) => bail!("IngestStream probe: {status}"),
        }
        Ok(Some(Self { outbound, acks, data, dataset: dataset.to_owned() }))
    }
}

impl Session for StreamSession {
    fn call(&mut self, seq: u64, n: usize) -> impl Future<Output = anyhow::Result<Duration>> + Send {
        let batch = self.data.grpc_batch(&self.dataset, seq, n);
        async move {
            let started = Instant::now();
            self.outbound.send(batch).await.map_err(|_| anyhow!("IngestStream closed"))?;
            let ack = self.acks.message().await.map_err(|s| anyhow!("IngestStream: {s}"))?.ok_or_else(|| anyhow!("IngestStream ended"))?;
            let took = started.elapsed();
            check_ack(&ack, n)?;
            Ok(took)
        }
    }
}

/// Unary `Ingest`: one call per batch.
pub struct UnarySession {
    client: IngestionServiceClient<Channel>,
    data: Arc<LoadData>,
    dataset: String,
}

impl UnarySession {
    pub async fn open(grpc: &str, dataset: &str, data: Arc<LoadData>) -> anyhow::Result<Self> {
        Ok(Self { client: client(grpc_channel(grpc).await?), data, dataset: dataset.to_owned() })
    }
}

impl Session for UnarySession {
    fn call(&mut self, seq: u64, n: usize) -> impl Future<Output = anyhow::Result<Duration>> + Send {
        let batch = self.data.grpc_batch(&self.dataset, seq, n);
        async move {
            let started = Instant::now();
            let ack = self.client.ingest(batch).await.map_err(|s| anyhow!("Ingest: {s}"))?.into_inner();
            let took = started.elapsed();
            check_ack(&ack, n)?;
            Ok(took)
        }
    }
}

/// The sessions of one channel: REST, gRPC streams, or unary gRPC when the stream is not
/// built on this brain.
pub enum Sessions {
    Rest(Vec<RestSession>),
    Stream(Vec<StreamSession>),
    Unary(Vec<UnarySession>),
}

impl Sessions {
    pub async fn open(kind: ChannelKind, http: &str, grpc: &str, dataset: &str, data: &Arc<LoadData>, producers: usize) -> anyhow::Result<Self> {
        match kind {
            ChannelKind::Rest => Ok(Sessions::Rest((0..producers).map(|_| RestSession::new(http, dataset, data.clone())).collect::<Result<_, _>>()?)),
            ChannelKind::GrpcUnary => {
                let mut unary = Vec::with_capacity(producers);
                for _ in 0..producers {
                    unary.push(UnarySession::open(grpc, dataset, data.clone()).await?);
                }
                Ok(Sessions::Unary(unary))
            }
            ChannelKind::Grpc => {
                let mut streams = Vec::with_capacity(producers);
                for _ in 0..producers {
                    match StreamSession::open(grpc, dataset, data.clone()).await? {
                        Some(s) => streams.push(s),
                        None => {
                            let mut unary = Vec::with_capacity(producers);
                            for _ in 0..producers {
                                unary.push(UnarySession::open(grpc, dataset, data.clone()).await?);
                            }
                            return Ok(Sessions::Unary(unary));
                        }
                    }
                }
                Ok(Sessions::Stream(streams))
            }
        }
    }

    /// The system's name in the tables.
    pub fn system(&self) -> &'static str {
        match self {
            Sessions::Rest(_) => "REST JSON",
            Sessions::Stream(_) => "gRPC stream",
            Sessions::Unary(_) => "gRPC unary",
        }
    }

    /// Sends records `first_seq .. first_seq + events` in batches over every session.
    pub async fn run(self, events: u64, first_seq: u64, batch: usize, bytes_per_record: u64) -> anyhow::Result<(crate::report::Sample, Self)> {
        use crate::drive::run_sessions;
        Ok(match self {
            Sessions::Rest(s) => {
                let (sample, s) = run_sessions(events, first_seq, batch, bytes_per_record, s).await?;
                (sample, Sessions::Rest(s))
            }
            Sessions::Stream(s) => {
                let (sample, s) = run_sessions(events, first_seq, batch, bytes_per_record, s).await?;
                (sample, Sessions::Stream(s))
            }
            Sessions::Unary(s) => {
                let (sample, s) = run_sessions(events, first_seq, batch, bytes_per_record, s).await?;
                (sample, Sessions::Unary(s))
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// Catalog and quality

/// POSTs a JSON body; a 503 (the problem says "retry", e.g. a busy SQLite) is retried up to
/// five times with a growing pause. Other answers are returned as they are.
pub async fn post_retrying(client: &reqwest::Client, url: &str, body: &[u8]) -> anyhow::Result<reqwest::Response> {
    let mut pause = Duration::from_millis(200);
    for attempt in 1.. {
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        if response.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE || attempt >= 5 {
            return Ok(response);
        }
        eprintln!("brain-load: POST {url} answered 503 ({}); retrying in {pause:?}", response.text().await.unwrap_or_default());
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
    bail!("unreachable: retry loop ended")
}

/// Registers a dataset: `Ok(true)` when created, `Ok(false)` when the name was taken.
pub async fn register_dataset(client: &reqwest::Client, governance: &str, tenant: &str, spec: &Value) -> anyhow::Result<bool> {
    let url = format!("{governance}/api/v1/tenants/{tenant}/datasets");
    let response = post_retrying(client, &url, &serde_json::to_vec(spec)?).await?;
    match response.status().as_u16() {
        201 => Ok(true),
        409 => Ok(false),
        status => bail!("registering dataset {} answered {status}: {}", spec["name"], response.text().await.unwrap_or_default()),
    }
}

/// Accepted and rejected records of a dataset so far (`GET …/quality`, all days). The
/// accepted count is written in the same transaction as the warehouse rows.
pub async fn quality_counts(client: &reqwest::Client, governance: &str, tenant: &str, dataset: &str) -> anyhow::Result<(u64, u64, f64)> {
    #[derive(Deserialize)]
    struct Quality {
        accepted: i64,
        rejected: i64,
        score: f64,
    }
    let url = format!("{governance}/api/v1/tenants/{tenant}/datasets/{dataset}/quality");
    let response = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("GET {url} answered {status}: {}", response.text().await.unwrap_or_default());
    }
    let q: Quality = response.json().await?;
    Ok((u64::try_from(q.accepted).unwrap_or(0), u64::try_from(q.rejected).unwrap_or(0), q.score))
}

/// Polls the quality counts every 50 ms until `accepted` reaches `target`; returns when it
/// did. Fails after `timeout` with what had landed.
pub async fn wait_landed(client: &reqwest::Client, governance: &str, tenant: &str, dataset: &str, target: u64, timeout: Duration) -> anyhow::Result<Instant> {
    let started = Instant::now();
    loop {
        let (accepted, rejected, _) = quality_counts(client, governance, tenant, dataset).await?;
        if accepted >= target {
            return Ok(Instant::now());
        }
        ensure!(rejected == 0, "governance rejected {rejected} records of {dataset} (see GET …/datasets/{dataset}/rejected)");
        if started.elapsed() > timeout {
            bail!("only {accepted} of {target} records of {dataset} reached the warehouse within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
