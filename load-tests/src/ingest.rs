//! `brain-load ingest`: drives ingestion over gRPC (`IngestStream`, or unary `Ingest` when the
//! stream is not built) and REST with textile daily-output records, and compares, each in
//! the same run against a raw baseline doing the same work without the platform:
//!
//! - **(a) ingestion-only** — `brain serve --target ingestion` on Kafka, records/s
//!   acknowledged (durably on the bus), vs a raw rdkafka producer sending the same serialized
//!   `RecordIngested` events (key, headers, payload) to the same broker. Goal ≥ 0.5×.
//! - **(b) end-to-end into PostgreSQL** — ingestion and governance as two `brain serve`
//!   processes on Kafka + PostgreSQL, from the first send until the warehouse holds every
//!   record, vs a binary `COPY` of the same rows into a table shaped like `warehouse_records`.
//!   Goal ≥ 0.25×.
//! - **(c) end-to-end embedded** — `brain up` (embedded log, SQLite) vs a raw SQLite bulk
//!   insert of the same rows (one transaction per batch, prepared multi-row inserts) into an
//!   identically shaped table with the same pragmas. Goal ≥ 0.25× (as (b)).

use crate::brainproc::{self, Brain};
use crate::bus::{cpus, filesystem_of, raw_producer_config};
use crate::clients::{self, ChannelKind, LoadData, LoadRecord, Sessions};
use crate::cpu;
use crate::metrics;
use crate::drive::{self, Shape};
use crate::report::{self, Group, GroupOutcome, Row};
use anyhow::{Context, anyhow, bail, ensure};
use brain_config::BusConfig;
use brain_proto::common::v1::DatasetRef;
use brain_proto::events::v1::{Record, RecordIngested, Source, SourceKind};
use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::json;
use sqlx::Connection as _;
use sqlx::postgres::PgPoolCopyExt as _;
use sqlx::AssertSqlSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GOAL_INGESTION: f64 = 0.5;
const GOAL_END_TO_END: f64 = 0.25;
const COPY_TABLE: &str = "brain_load_copy";
const COPY_DATASET: &str = "load-copy";

#[derive(clap::Args, Clone, Debug)]
pub struct IngestArgs {
    /// Records measured per system (after the warm-up).
    #[arg(long, default_value_t = 200_000)]
    records: u64,
    /// Records per batch (REST request, gRPC message, COPY, transaction).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent clients, each with one batch in flight (SQLite baseline: one writer).
    #[arg(long, default_value_t = 4)]
    producers: usize,
    /// Records sent before measuring, per system (default: max(5 % of --records, 2 batches per producer)).
    #[arg(long)]
    warmup: Option<u64>,
    /// Channels to drive.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ChannelKind::Grpc, ChannelKind::Rest])]
    channels: Vec<ChannelKind>,
    /// Run only these comparisons (default: all three).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Run>,
    /// Kafka bootstrap servers for (a) and (b); without it (nor BRAIN_TEST_KAFKA) they are skipped.
    #[arg(long, env = "BRAIN_TEST_KAFKA")]
    kafka: Option<String>,
    /// A PostgreSQL server URL for (b) (`postgres://postgres@127.0.0.1:5432/postgres`); a
    /// database `brain_load_<id>` is created on it and dropped afterwards.
    #[arg(long, env = "BRAIN_TEST_POSTGRES")]
    postgres: Option<String>,
    #[command(flatten)]
    run: brainproc::BrainRun,
    /// Tenant of the records (default: the demo's operating centre).
    #[arg(long)]
    tenant: Option<String>,
    /// Seed of the generated cluster.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Seconds to wait for the warehouse to hold every record.
    #[arg(long, default_value_t = 600)]
    landing_timeout: u64,
    /// Rows per prepared INSERT statement of the SQLite baseline.
    #[arg(long, default_value_t = 250)]
    sqlite_rows: usize,
    /// SQLite baseline with numbered `$N` placeholders (as brain-store writes SQL) instead of `?`.
    #[arg(long)]
    sqlite_numbered: bool,
    /// Drive an already running brain's REST API at this URL instead (no baselines).
    #[arg(long)]
    url: Option<String>,
    /// Drive an already running brain's gRPC at this URL instead (no baselines).
    #[arg(long)]
    grpc: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// (a) ingestion alone on Kafka vs raw rdkafka
    Ingestion,
    /// (b) ingestion + governance on Kafka + PostgreSQL vs COPY
    Postgres,
    /// (c) `brain up` vs raw SQLite inserts
    Embedded,
}

/// What every comparison shares.
struct Plan {
    records: u64,
    warmup: u64,
    batch: usize,
    producers: usize,
    channels: Vec<ChannelKind>,
    data: Arc<LoadData>,
    brain: Option<PathBuf>,
    dir: PathBuf,
    keep: bool,
    run_id: String,
    landing_timeout: Duration,
    http: reqwest::Client,
    sqlite_rows: usize,
    sqlite_numbered: bool,
}

impl Plan {
    fn shape(&self) -> Shape {
        Shape { producers: self.producers, batch: self.batch }
    }

    fn bpr(&self) -> u64 {
        self.data.bytes_per_record()
    }

    fn brain(&self) -> anyhow::Result<PathBuf> {
        self.brain.clone().ok_or_else(|| anyhow!("no brain binary (cargo build --release -p brain, or --brain-bin)"))
    }

    /// A directory for one comparison, removed at the end unless --keep.
    fn workdir(&self, what: &str) -> anyhow::Result<tempfile::TempDir> {
        tempfile::Builder::new().prefix(&format!("brain-load-{what}-")).tempdir_in(&self.dir).with_context(|| format!("temp dir in {}", self.dir.display()))
    }

    fn finish_workdir(&self, dir: tempfile::TempDir, notes: &mut Vec<String>) {
        if self.keep {
            let path = dir.keep();
            notes.push(format!("kept {}", path.display()));
        }
    }
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    ensure!(args.records > 0 && args.batch > 0 && args.producers > 0, "--records, --batch and --producers must be positive");
    ensure!(!args.channels.is_empty(), "--channels needs at least one channel");
    let warmup = args.warmup.unwrap_or_else(|| (args.records / 20).max((args.producers * args.batch * 2) as u64));
    let end = chrono::Utc::now().date_naive();
    eprintln!("brain-load: generating {} records …", warmup + args.records);
    let tenant = args.tenant.clone().unwrap_or_else(crate::textile::operator_tenant);
    let data = Arc::new(LoadData::production_output(warmup + args.records, args.seed, &tenant, end)?);
    let dir = args.run.dir();
    let filesystem = filesystem_of(&dir);
    let external = args.url.is_some() || args.grpc.is_some();
    let brain = if external { None } else { args.run.binary().map_err(|e| eprintln!("brain-load: {e:#}")).ok() };
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let plan = Plan {
        records: args.records,
        warmup,
        batch: args.batch,
        producers: args.producers,
        channels: args.channels.clone(),
        data,
        brain: brain.clone(),
        dir: dir.clone(),
        keep: args.run.keep,
        run_id: format!("{}x{:x}", std::process::id(), millis % 0xffff_ffff),
        landing_timeout: Duration::from_secs(args.landing_timeout),
        http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?,
        sqlite_rows: args.sqlite_rows.max(1),
        sqlite_numbered: args.sqlite_numbered,
    };
    let kafka = args.kafka.as_deref().map(|s| s.strip_prefix("kafka://").unwrap_or(s).to_owned()).filter(|s| !s.is_empty());
    let postgres = args.postgres.clone().filter(|s| !s.is_empty());
    let wanted = |run: Run| args.only.is_empty() || args.only.contains(&run);

    let mut notes: Vec<String> = Vec::new();
    let mut groups = Vec::new();
    if external {
        groups.push(outcome("external brain", external_brain(&plan, args.url.as_deref(), args.grpc.as_deref(), &mut notes).await));
    } else {
        if filesystem.as_ref().is_some_and(|f| f.fstype == "tmpfs") {
            notes.push(format!("{} is on tmpfs: fsync costs nothing there, pass --dir on a disk", dir.display()));
        }
        if wanted(Run::Ingestion) {
            let name = "(a) ingestion-only";
            groups.push(match &kafka {
                None => skipped(name, "no --kafka and no BRAIN_TEST_KAFKA (infra/engines.sh up; eval \"$(infra/engines.sh env)\")"),
                Some(k) => {
                    eprintln!("brain-load: {name} on kafka {k} …");
                    outcome(name, ingestion_only(&plan, k, &mut notes).await)
                }
            });
        }
        if wanted(Run::Postgres) {
            let name = "(b) end-to-end";
            groups.push(match (&kafka, &postgres) {
                (Some(k), Some(p)) => {
                    eprintln!("brain-load: {name} on kafka {k} + postgres …");
                    outcome(name, end_to_end_postgres(&plan, k, p, &mut notes).await)
                }
                _ => skipped(name, "needs --kafka and --postgres (or BRAIN_TEST_KAFKA and BRAIN_TEST_POSTGRES)"),
            });
        }
        if wanted(Run::Embedded) {
            let name = "(c) end-to-end";
            eprintln!("brain-load: {name} embedded …");
            groups.push(outcome(name, end_to_end_embedded(&plan, &mut notes).await));
        }
    }

    let fs_text = filesystem.as_ref().map_or_else(|| "unknown fs".to_owned(), |f| format!("{} on {}", f.fstype, f.device));
    let channels: Vec<&str> = plan.channels.iter().map(|c| c.name()).collect();
    println!(
        "brain-load ingest: records={} batch={} producers={} warmup={} channels={} record≈{} B cpus={}",
        plan.records,
        plan.batch,
        plan.producers,
        plan.warmup,
        channels.join(","),
        plan.bpr(),
        cpus()
    );
    println!(
        "dir: {} ({fs_text}); kafka: {}; postgres: {}; brain: {}",
        dir.display(),
        kafka.as_deref().unwrap_or("-"),
        postgres.as_deref().map(brain_config::redact_url).unwrap_or_else(|| "-".into()),
        brain.as_ref().map_or_else(|| "-".to_owned(), |b| b.display().to_string())
    );
    println!();
    print!("{}", report::group_table(&groups));
    println!();
    for note in report::cpu_notes(&groups).iter().chain(&notes) {
        println!("note: {note}");
    }
    let params = json!({
        "records": plan.records, "batch": plan.batch, "producers": plan.producers, "warmup": plan.warmup,
        "channels": channels, "seed": args.seed, "tenant": tenant, "bytes_per_record": plan.bpr(),
        "only": args.only.iter().map(|o| format!("{o:?}").to_lowercase()).collect::<Vec<_>>(),
    });
    let environment = json!({
        "dir": dir.display().to_string(),
        "fstype": filesystem.as_ref().map(|f| f.fstype.clone()),
        "device": filesystem.as_ref().map(|f| f.device.clone()),
        "cpus": cpus(),
        "kafka": kafka,
        "postgres": postgres.as_deref().map(brain_config::redact_url),
        "brain": brain.map(|b| b.display().to_string()),
        "notes": notes,
    });
    println!("{}", report::group_json_line("ingest", params, environment, &groups));
    let failed = groups.iter().filter(|g| matches!(g, GroupOutcome::Failed { .. })).count();
    if failed > 0 {
        bail!("{failed} comparison(s) failed (see the table)");
    }
    Ok(())
}

fn outcome(name: &str, result: anyhow::Result<Group>) -> GroupOutcome {
    match result {
        Ok(group) => GroupOutcome::Done(Box::new(group)),
        Err(e) => GroupOutcome::Failed { name: name.to_owned(), error: format!("{e:#}") },
    }
}

fn skipped(name: &str, reason: &str) -> GroupOutcome {
    GroupOutcome::Skipped { name: name.to_owned(), reason: reason.to_owned() }
}

fn dataset_of(channel: ChannelKind) -> String {
    format!("load-{}", channel.name())
}

fn note_fallback(sessions: &Sessions, notes: &mut Vec<String>) {
    if matches!(sessions, Sessions::Unary(_)) {
        let text = "gRPC IngestStream answered UNIMPLEMENTED on this brain: the gRPC rows use unary Ingest".to_owned();
        if !notes.contains(&text) {
            notes.push(text);
        }
    }
}

/// Sends the warm-up, then the measured records, over one channel; ingestion acks only.
/// A brain process whose CPU and metrics are read around a phase.
struct Watched<'a> {
    name: &'a str,
    pid: u32,
    http: &'a str,
}

/// Readings at the start of a phase.
struct Readings {
    cpu: cpu::Snapshot,
    scrapes: Vec<metrics::Scrape>,
}

async fn start_readings(plan: &Plan, watched: &[Watched<'_>]) -> Readings {
    let mut scrapes = Vec::with_capacity(watched.len());
    for w in watched {
        scrapes.push(metrics::scrape(&plan.http, w.http).await);
    }
    let pids: Vec<(&str, u32)> = watched.iter().map(|w| (w.name, w.pid)).collect();
    Readings { cpu: cpu::snapshot(&pids), scrapes }
}

async fn end_readings(plan: &Plan, watched: &[Watched<'_>], readings: Readings) -> (cpu::Usage, Vec<String>) {
    let usage = readings.cpu.usage();
    let mut lines = Vec::new();
    for (w, before) in watched.iter().zip(&readings.scrapes) {
        let after = metrics::scrape(&plan.http, w.http).await;
        lines.extend(metrics::summary(w.name, before, &after));
    }
    (usage, lines)
}

async fn acked_only(plan: &Plan, channel: ChannelKind, http: &str, grpc: &str, watched: &[Watched<'_>], notes: &mut Vec<String>) -> anyhow::Result<Row> {
    let dataset = dataset_of(channel);
    let sessions = Sessions::open(channel, http, grpc, &dataset, &plan.data, plan.producers).await?;
    note_fallback(&sessions, notes);
    let system = format!("brain {}", sessions.system());
    let (_, sessions) = sessions.run(plan.warmup, 0, plan.batch, plan.bpr()).await.with_context(|| format!("{system} warm-up"))?;
    let readings = start_readings(plan, watched).await;
    let (sample, _) = sessions.run(plan.records, plan.warmup, plan.batch, plan.bpr()).await.with_context(|| system.clone())?;
    let (usage, metrics) = end_readings(plan, watched, readings).await;
    Ok(Row { system, sample, landed: None, cpu: Some(usage), metrics })
}

async fn external_brain(plan: &Plan, url: Option<&str>, grpc: Option<&str>, notes: &mut Vec<String>) -> anyhow::Result<Group> {
    let mut rows = Vec::new();
    for &channel in &plan.channels {
        let (http, grpc) = match channel {
            ChannelKind::Rest => (url.ok_or_else(|| anyhow!("--channels rest needs --url"))?, ""),
            ChannelKind::Grpc | ChannelKind::GrpcUnary => ("", grpc.ok_or_else(|| anyhow!("--channels grpc needs --grpc"))?),
        };
        eprintln!("brain-load: {} …", channel.name());
        rows.push(acked_only(plan, channel, http.trim_end_matches('/'), grpc, &[], notes).await?);
    }
    notes.push(format!("external brain at {}", [url, grpc].into_iter().flatten().collect::<Vec<_>>().join(" ")));
    Ok(Group { name: "external brain".into(), detail: "(no baseline)".into(), goal: None, baseline: None, rows })
}

// ---------------------------------------------------------------------------------------
// (a) ingestion-only vs raw rdkafka

async fn ingestion_only(plan: &Plan, kafka: &str, notes: &mut Vec<String>) -> anyhow::Result<Group> {
    let binary = plan.brain()?;
    let raw_topic = format!("brain-load.ingest-raw.{}", plan.run_id);
    let prefix = format!("bla{}", plan.run_id);
    let baseline = raw_kafka(plan, kafka, &raw_topic).await.context("raw rdkafka baseline")?;

    let work = plan.workdir("ingestion")?;
    let env = brainproc::serve_env(kafka, None, &prefix, work.path());
    let brain = Brain::spawn(&binary, "ingestion", &["serve", "--target", "ingestion"], &env, work.path()).await?;
    let mut rows = Vec::new();
    let mut result = Ok(());
    for &channel in &plan.channels {
        eprintln!("brain-load:   ingestion via {} …", channel.name());
        let watched = [Watched { name: "brain-ingestion", pid: brain.pid(), http: &brain.http }];
        match acked_only(plan, channel, &brain.http, &brain.grpc, &watched, notes).await {
            Ok(row) => rows.push(row),
            Err(e) => {
                result = Err(e.context(format!("ingestion log ends:\n{}", brain.log_tail(15))));
                break;
            }
        }
    }
    let stopped = brain.stop().await;
    delete_topics(kafka, &raw_topic, &prefix).await;
    plan.finish_workdir(work, notes);
    result?;
    stopped?;
    notes.push(format!(
        "(a) baseline: raw rdkafka FutureProducer with KafkaBus's settings sends the RecordIngested events ingestion would publish (same key `tenant/dataset`, CloudEvents headers, payload) to {raw_topic} ({} partitions); ingestion also publishes one usage event per batch, not in the baseline",
        BusConfig::default().partitions
    ));
    Ok(Group { name: "(a) ingestion-only".into(), detail: format!("kafka {kafka}"), goal: Some(GOAL_INGESTION), baseline: Some(baseline), rows })
}

/// The events ingestion publishes for the records (dataset `load-raw`), serialized once.
fn ingested_events(data: &LoadData, dataset: &str) -> Vec<Vec<u8>> {
    let now = brain_proto::time::from_millis(chrono::Utc::now().timestamp_millis());
    let source = Source { kind: SourceKind::Grpc as i32, name: "brain-load".into(), attributes: Default::default() };
    let dataset_ref = DatasetRef { tenant_id: data.tenant.clone(), dataset: dataset.to_owned() };
    data.records
        .iter()
        .map(|r| {
            RecordIngested {
                record: Some(Record {
                    id: r.id.clone(),
                    dataset: Some(dataset_ref.clone()),
                    source: Some(source.clone()),
                    event_time: Some(brain_proto::time::from_millis(r.event_time_ms)),
                    ingest_time: Some(now),
                    payload_json: r.payload.clone(),
                }),
            }
            .encode_to_vec()
        })
        .collect()
}

async fn raw_kafka(plan: &Plan, servers: &str, topic: &str) -> anyhow::Result<Row> {
    let producer: FutureProducer = raw_producer_config(servers, BusConfig::default().kafka_linger_ms).create()?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", servers).create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5))).request_timeout(Some(Duration::from_secs(5)));
    let partitions = i32::try_from(BusConfig::default().partitions)?;
    let created = drive::within("Kafka create topic", Duration::from_secs(15), async {
        Ok(admin.create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &options).await?)
    })
    .await?;
    for result in created {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("cannot create topic {topic}: {code:?}"),
        }
    }
    let dataset = "load-raw";
    let key: Arc<str> = Arc::from(format!("{}/{dataset}", plan.data.tenant));
    let events = Arc::new(ingested_events(&plan.data, dataset));
    let ids: Arc<Vec<String>> = Arc::new(plan.data.records.iter().map(|r| r.id.clone()).collect());
    let tenant: Arc<str> = Arc::from(plan.data.tenant.as_str());
    let topic: Arc<str> = Arc::from(topic);
    let call = {
        let producer = producer.clone();
        move |seq: u64, n: usize| {
            let (producer, events, ids, key, tenant, topic) = (producer.clone(), events.clone(), ids.clone(), key.clone(), tenant.clone(), topic.clone());
            async move {
                let started = Instant::now();
                let mut pending = Vec::with_capacity(n);
                let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                for s in seq..seq + n as u64 {
                    let i = usize::try_from(s)?;
                    let headers = [
                        ("ce_specversion", "1.0"),
                        ("ce_id", ids[i].as_str()),
                        ("ce_type", "brain.ingest.record.v1"),
                        ("ce_source", "/brain/ingestion"),
                        ("ce_subject", &key),
                        ("ce_time", &time),
                        ("content-type", "application/protobuf"),
                        ("tenant", &tenant),
                        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                    ]
                    .iter()
                    .fold(OwnedHeaders::new_with_capacity(9), |acc, (k, v)| acc.insert(Header { key: k, value: Some(v.as_bytes()) }));
                    let mut record = FutureRecord::to(&topic).key(key.as_bytes()).payload(&events[i]).headers(headers);
                    let delivery = loop {
                        match producer.send_result(record) {
                            Ok(delivery) => break delivery,
                            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                                record = returned;
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            Err((error, _)) => return Err(error.into()),
                        }
                    };
                    pending.push(delivery);
                }
                for delivery in pending {
                    match delivery.await {
                        Ok(Ok(_)) => {}
                        Ok(Err((error, _))) => return Err(error.into()),
                        Err(_) => bail!("the producer dropped a delivery"),
                    }
                }
                Ok(started.elapsed())
            }
        }
    };
    let bpr = plan.bpr();
    drive::run_async(plan.warmup, 0, plan.shape(), bpr, call.clone()).await.context("warm-up")?;
    let snap = cpu::snapshot(&[]);
    let sample = drive::run_async(plan.records, plan.warmup, plan.shape(), bpr, call).await?;
    let usage = snap.usage();
    tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(30))).await.map_err(|e| anyhow!("{e}"))??;
    Ok(Row { system: "raw rdkafka".into(), sample, landed: None, cpu: Some(usage), metrics: Vec::new() })
}

/// Deletes the baseline topic and every topic of the brain's prefix (best effort).
async fn delete_topics(servers: &str, raw_topic: &str, prefix: &str) {
    let servers = servers.to_owned();
    let servers_copy = servers.clone();
    let (raw_topic, prefix) = (raw_topic.to_owned(), format!("{prefix}."));
    let names = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let consumer: rdkafka::consumer::BaseConsumer = ClientConfig::new().set("bootstrap.servers", &servers).create()?;
        let metadata = rdkafka::consumer::Consumer::fetch_metadata(&consumer, None, Duration::from_secs(5))?;
        Ok(metadata.topics().iter().map(|t| t.name().to_owned()).filter(|n| *n == raw_topic || n.starts_with(&prefix)).collect())
    })
    .await;
    let Ok(Ok(names)) = names else { return };
    if names.is_empty() {
        return;
    }
    let Ok(admin) = ClientConfig::new().set("bootstrap.servers", &servers_copy).create::<AdminClient<DefaultClientContext>>() else { return };
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5))).request_timeout(Some(Duration::from_secs(5)));
    let _ = tokio::time::timeout(Duration::from_secs(15), admin.delete_topics(&refs, &options)).await;
}

// ---------------------------------------------------------------------------------------
// End to end: shared

/// Where the warehouse rows are counted to confirm that exactly every record landed.
enum Warehouse {
    Postgres(sqlx::PgPool),
    Sqlite(PathBuf),
}

impl Warehouse {
    async fn count(&self, tenant: &str, dataset: &str) -> anyhow::Result<u64> {
        const SQL: &str = "SELECT COUNT(*) FROM warehouse_records WHERE tenant_id = $1 AND dataset = $2";
        let n: i64 = match self {
            Warehouse::Postgres(pool) => sqlx::query_scalar(SQL).bind(tenant).bind(dataset).fetch_one(pool).await?,
            Warehouse::Sqlite(path) => {
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
                let n = sqlx::query_scalar(SQL).bind(tenant).bind(dataset).fetch_one(&mut conn).await?;
                conn.close().await?;
                n
            }
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Registers the channels' datasets with the `production-output` schema.
async fn register_load_datasets(plan: &Plan, governance: &str) -> anyhow::Result<()> {
    for &channel in &plan.channels {
        let name = dataset_of(channel);
        let spec = crate::textile::dataset_spec(crate::textile::PRODUCTION_OUTPUT, &name, &plan.data.tenant).ok_or_else(|| anyhow!("no spec"))?;
        clients::register_dataset(&plan.http, governance, &plan.data.tenant, &spec).await?;
    }
    Ok(())
}

/// One channel end to end: warm-up until landed, then the clock runs from the first
/// measured send until the quality counts (same transaction as the rows) reach every record;
/// the rows are then counted in the warehouse itself.
async fn landed(plan: &Plan, channel: ChannelKind, ingest: &Brain, governance: &str, warehouse: &Warehouse, watched: &[Watched<'_>], notes: &mut Vec<String>) -> anyhow::Result<Row> {
    let dataset = dataset_of(channel);
    let tenant = plan.data.tenant.as_str();
    let sessions = Sessions::open(channel, &ingest.http, &ingest.grpc, &dataset, &plan.data, plan.producers).await?;
    note_fallback(&sessions, notes);
    let system = format!("brain {}", sessions.system());
    let (_, sessions) = sessions.run(plan.warmup, 0, plan.batch, plan.bpr()).await.with_context(|| format!("{system} warm-up"))?;
    clients::wait_landed(&plan.http, governance, tenant, &dataset, plan.warmup, plan.landing_timeout).await.context("warm-up landing")?;

    let readings = start_readings(plan, watched).await;
    let started = Instant::now();
    let (sample, _) = sessions.run(plan.records, plan.warmup, plan.batch, plan.bpr()).await.with_context(|| system.clone())?;
    let total = plan.warmup + plan.records;
    let at = clients::wait_landed(&plan.http, governance, tenant, &dataset, total, plan.landing_timeout).await?;
    let (usage, metrics) = end_readings(plan, watched, readings).await;
    let landed = at.duration_since(started);
    let rows = warehouse.count(tenant, &dataset).await.context("counting warehouse rows")?;
    ensure!(rows == total, "the warehouse holds {rows} rows of {dataset}, expected exactly {total}");
    Ok(Row { system, sample, landed: Some(landed), cpu: Some(usage), metrics })
}

/// The columns of `warehouse_records` for one record.
struct WarehouseRow<'a> {
    record: &'a LoadRecord,
    ingest_us: i64,
}

fn rows_of(data: &LoadData, seq: u64, n: usize, ingest_us: i64) -> anyhow::Result<Vec<WarehouseRow<'_>>> {
    let start = usize::try_from(seq)?;
    Ok(data.records.get(start..start + n).ok_or_else(|| anyhow!("records {start}..{} out of range", start + n))?.iter().map(|record| WarehouseRow { record, ingest_us }).collect())
}

// ---------------------------------------------------------------------------------------
// (b) PostgreSQL

/// `server_url` with its database replaced by `name`.
fn database_url(server_url: &str, name: &str) -> anyhow::Result<String> {
    let scheme_end = server_url.find("://").ok_or_else(|| anyhow!("not a URL: {server_url}"))? + 3;
    let (head, rest) = server_url.split_at(scheme_end);
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    Ok(format!("{head}{authority}/{name}{query}"))
}

/// DDL of a table shaped exactly like governance's PostgreSQL `warehouse_records`.
fn pg_table_ddl(table: &str) -> String {
    let mut sql = format!(
        "CREATE TABLE {table} (tenant_id TEXT NOT NULL, dataset TEXT NOT NULL, record_id TEXT NOT NULL, event_time TIMESTAMPTZ NOT NULL, \
         ingest_time TIMESTAMPTZ NOT NULL, schema_version BIGINT NOT NULL, payload JSONB NOT NULL, PRIMARY KEY (tenant_id, dataset, record_id)) \
         PARTITION BY HASH (tenant_id, dataset);"
    );
    for p in 0..8 {
        sql.push_str(&format!("CREATE TABLE {table}_p{p} PARTITION OF {table} FOR VALUES WITH (MODULUS 8, REMAINDER {p});"));
    }
    sql.push_str(&format!("CREATE INDEX {table}_by_time ON {table} (tenant_id, dataset, event_time, record_id);"));
    sql
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// A `COPY … (FORMAT binary)` stream of rows.
fn copy_binary(tenant: &str, dataset: &str, rows: &[WarehouseRow<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + rows.iter().map(|r| r.record.payload.len() + 120).sum::<usize>() + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    let field = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    for row in rows {
        out.extend_from_slice(&7i16.to_be_bytes());
        field(&mut out, tenant.as_bytes());
        field(&mut out, dataset.as_bytes());
        field(&mut out, row.record.id.as_bytes());
        field(&mut out, &(row.record.event_time_ms * 1000 - PG_EPOCH_US).to_be_bytes());
        field(&mut out, &(row.ingest_us - PG_EPOCH_US).to_be_bytes());
        field(&mut out, &1i64.to_be_bytes());
        // jsonb binary: a version byte, then the JSON text.
        out.extend_from_slice(&(row.record.payload.len() as i32 + 1).to_be_bytes());
        out.push(1);
        out.extend_from_slice(&row.record.payload);
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

async fn pg_copy(plan: &Plan, db_url: &str) -> anyhow::Result<Row> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(plan.producers as u32).connect(db_url).await?;
    sqlx::raw_sql(AssertSqlSafe(pg_table_ddl(COPY_TABLE))).execute(&pool).await.context("creating the COPY table")?;
    let data = plan.data.clone();
    let call = {
        let pool = pool.clone();
        move |seq: u64, n: usize| {
            let (pool, data) = (pool.clone(), data.clone());
            async move {
                let now_us = chrono::Utc::now().timestamp_micros();
                let buffer = copy_binary(&data.tenant, COPY_DATASET, &rows_of(&data, seq, n, now_us)?);
                let started = Instant::now();
                let mut copy = pool
                    .copy_in_raw(&format!(
                        "COPY {COPY_TABLE} (tenant_id, dataset, record_id, event_time, ingest_time, schema_version, payload) FROM STDIN (FORMAT binary)"
                    ))
                    .await?;
                copy.send(buffer).await?;
                let rows = copy.finish().await?;
                let took = started.elapsed();
                ensure!(rows == n as u64, "COPY wrote {rows} rows of {n}");
                Ok(took)
            }
        }
    };
    let bpr = plan.bpr();
    drive::run_async(plan.warmup, 0, plan.shape(), bpr, call.clone()).await.context("warm-up")?;
    let snap = cpu::snapshot(&[]);
    let sample = drive::run_async(plan.records, plan.warmup, plan.shape(), bpr, call).await?;
    let usage = snap.usage();
    let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {COPY_TABLE} WHERE tenant_id = $1 AND dataset = $2")))
        .bind(&plan.data.tenant)
        .bind(COPY_DATASET)
        .fetch_one(&pool)
        .await?;
    ensure!(count as u64 == plan.warmup + plan.records, "the COPY table holds {count} rows");
    pool.close().await;
    Ok(Row { system: "raw COPY (binary)".into(), sample, landed: None, cpu: Some(usage), metrics: Vec::new() })
}

async fn end_to_end_postgres(plan: &Plan, kafka: &str, server: &str, notes: &mut Vec<String>) -> anyhow::Result<Group> {
    let binary = plan.brain()?;
    let name = format!("brain_load_{}", plan.run_id.to_lowercase());
    let db_url = database_url(server, &name)?;
    let mut admin = sqlx::PgConnection::connect(server).await.with_context(|| format!("connect to {}", brain_config::redact_url(server)))?;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut admin).await.with_context(|| format!("create database {name}"))?;
    let work = plan.workdir("postgres")?;
    let prefix = format!("blb{}", plan.run_id);
    let result = postgres_inner(plan, &binary, kafka, &db_url, &prefix, work.path(), notes).await;
    delete_topics(kafka, "", &prefix).await;
    let dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).execute(&mut admin).await;
    admin.close().await.ok();
    plan.finish_workdir(work, notes);
    let (baseline, rows) = result?;
    dropped.with_context(|| format!("drop database {name}"))?;
    notes.push(format!(
        "(b) baseline: binary COPY (FORMAT binary, sqlx copy_in_raw) of the same rows into {COPY_TABLE}, shaped like warehouse_records (hash-partitioned ×8, primary key, time index), one COPY per batch on --producers connections; database {name} created and dropped"
    ));
    Ok(Group { name: "(b) end-to-end".into(), detail: "kafka + postgres".into(), goal: Some(GOAL_END_TO_END), baseline: Some(baseline), rows })
}

async fn postgres_inner(plan: &Plan, binary: &Path, kafka: &str, db_url: &str, prefix: &str, work: &Path, notes: &mut Vec<String>) -> anyhow::Result<(Row, Vec<Row>)> {
    let baseline = pg_copy(plan, db_url).await.context("COPY baseline")?;
    let ingestion_dir = work.join("ingestion");
    let governance_dir = work.join("governance");
    std::fs::create_dir_all(&ingestion_dir)?;
    std::fs::create_dir_all(&governance_dir)?;
    let ingestion = Brain::spawn(binary, "ingestion", &["serve", "--target", "ingestion"], &brainproc::serve_env(kafka, Some(db_url), prefix, &ingestion_dir), work).await?;
    let governance = Brain::spawn(binary, "governance", &["serve", "--target", "governance"], &brainproc::serve_env(kafka, Some(db_url), prefix, &governance_dir), work).await?;
    let warehouse = Warehouse::Postgres(sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(db_url).await?);
    let pids = [
        Watched { name: "brain-ingestion", pid: ingestion.pid(), http: &ingestion.http },
        Watched { name: "brain-governance", pid: governance.pid(), http: &governance.http },
    ];
    let mut rows = Vec::new();
    let mut result = register_load_datasets(plan, &governance.http).await;
    if result.is_ok() {
        for &channel in &plan.channels {
            eprintln!("brain-load:   end to end via {} …", channel.name());
            match landed(plan, channel, &ingestion, &governance.http, &warehouse, &pids, notes).await {
                Ok(row) => rows.push(row),
                Err(e) => {
                    result = Err(e.context(format!("governance log ends:\n{}", governance.log_tail(15))));
                    break;
                }
            }
        }
    }
    if let Warehouse::Postgres(pool) = warehouse {
        pool.close().await;
    }
    let stopped = (ingestion.stop().await, governance.stop().await);
    result?;
    stopped.0?;
    stopped.1?;
    Ok((baseline, rows))
}

// ---------------------------------------------------------------------------------------
// (c) embedded

fn sqlite_table_ddl(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (tenant_id TEXT NOT NULL, dataset TEXT NOT NULL, record_id TEXT NOT NULL, event_time TEXT NOT NULL, \
         ingest_time TEXT NOT NULL, schema_version INTEGER NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (tenant_id, dataset, record_id)) WITHOUT ROWID;\
         CREATE INDEX {table}_by_time ON {table} (tenant_id, dataset, event_time, record_id);"
    )
}

/// brain-store's SQLite timestamp text: fixed width, microseconds, UTC.
fn sqlite_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

async fn sqlite_insert(plan: &Plan, dir: &Path) -> anyhow::Result<Row> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
    // The pragmas brain-store opens its SQLite file with: WAL, synchronous FULL.
    let options = SqliteConnectOptions::new()
        .filename(dir.join("raw.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
    sqlx::raw_sql(AssertSqlSafe(sqlite_table_ddl(COPY_TABLE))).execute(&pool).await?;
    let data = plan.data.clone();
    let (per_statement, numbered) = (plan.sqlite_rows, plan.sqlite_numbered);
    let call = {
        let pool = pool.clone();
        move |seq: u64, n: usize| {
            let (pool, data) = (pool.clone(), data.clone());
            async move {
                let now = sqlite_time(chrono::Utc::now().timestamp_micros());
                let rows = rows_of(&data, seq, n, 0)?;
                let times: Vec<String> = rows.iter().map(|r| sqlite_time(r.record.event_time_ms * 1000)).collect();
                let started = Instant::now();
                let mut tx = pool.begin().await?;
                for (chunk, times) in rows.chunks(per_statement).zip(times.chunks(per_statement)) {
                    let mut sql = format!("INSERT INTO {COPY_TABLE} (tenant_id, dataset, record_id, event_time, ingest_time, schema_version, payload) VALUES ");
                    for i in 0..chunk.len() {
                        if i > 0 {
                            sql.push_str(", ");
                        }
                        if numbered {
                            let b = i * 7;
                            sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7));
                        } else {
                            sql.push_str("(?, ?, ?, ?, ?, ?, ?)");
                        }
                    }
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for (row, time) in chunk.iter().zip(times) {
                        query = query
                            .bind(data.tenant.as_str())
                            .bind(COPY_DATASET)
                            .bind(row.record.id.as_str())
                            .bind(time.as_str())
                            .bind(now.as_str())
                            .bind(1i64)
                            .bind(std::str::from_utf8(&row.record.payload)?);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(started.elapsed())
            }
        }
    };
    // SQLite has one writer: the baseline writes its batches one after another.
    let shape = Shape { producers: 1, batch: plan.batch };
    let bpr = plan.bpr();
    drive::run_async(plan.warmup, 0, shape, bpr, call.clone()).await.context("warm-up")?;
    let snap = cpu::snapshot(&[]);
    let sample = drive::run_async(plan.records, plan.warmup, shape, bpr, call).await?;
    let usage = snap.usage();
    let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {COPY_TABLE} WHERE dataset = ?"))).bind(COPY_DATASET).fetch_one(&pool).await?;
    ensure!(count as u64 == plan.warmup + plan.records, "the SQLite table holds {count} rows");
    pool.close().await;
    Ok(Row { system: "raw SQLite insert".into(), sample, landed: None, cpu: Some(usage), metrics: Vec::new() })
}

async fn end_to_end_embedded(plan: &Plan, notes: &mut Vec<String>) -> anyhow::Result<Group> {
    let binary = plan.brain()?;
    let work = plan.workdir("embedded")?;
    let result = embedded_inner(plan, &binary, work.path(), notes).await;
    plan.finish_workdir(work, notes);
    let (baseline, rows) = result?;
    notes.push(format!(
        "(c) baseline: one SQLite connection (WAL, synchronous=FULL, as brain-store) inserts the same rows into a WITHOUT ROWID table shaped like warehouse_records, one transaction per batch of {} with prepared INSERTs of {} rows ({} placeholders); brain up runs the embedded log with fsync=always (its default)",
        plan.batch,
        plan.sqlite_rows,
        if plan.sqlite_numbered { "$N" } else { "?" }
    ));
    Ok(Group { name: "(c) end-to-end".into(), detail: "embedded (brain up)".into(), goal: Some(GOAL_END_TO_END), baseline: Some(baseline), rows })
}

async fn embedded_inner(plan: &Plan, binary: &Path, work: &Path, notes: &mut Vec<String>) -> anyhow::Result<(Row, Vec<Row>)> {
    let baseline = sqlite_insert(plan, work).await.context("SQLite baseline")?;
    let data_dir = work.join("brain");
    let data_text = data_dir.display().to_string();
    let trust_off = [(brainproc::TRUST_OFF.0.to_owned(), brainproc::TRUST_OFF.1.to_owned())];
    let brain = Brain::spawn(binary, "brain-up", &["up", "--data-dir", &data_text, "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"], &trust_off, work).await?;
    let warehouse = Warehouse::Sqlite(data_dir.join("brain.db"));
    let pids = [Watched { name: "brain-up", pid: brain.pid(), http: &brain.http }];
    let mut rows = Vec::new();
    let mut result = register_load_datasets(plan, &brain.http).await;
    if result.is_ok() {
        for &channel in &plan.channels {
            eprintln!("brain-load:   embedded via {} …", channel.name());
            match landed(plan, channel, &brain, &brain.http.clone(), &warehouse, &pids, notes).await {
                Ok(row) => rows.push(row),
                Err(e) => {
                    result = Err(e.context(format!("brain log ends:\n{}", brain.log_tail(15))));
                    break;
                }
            }
        }
    }
    let stopped = brain.stop().await;
    result?;
    stopped?;
    Ok((baseline, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_keep_credentials_and_options() {
        assert_eq!(database_url("postgres://postgres@127.0.0.1:5432/postgres", "x").unwrap(), "postgres://postgres@127.0.0.1:5432/x");
        assert_eq!(database_url("postgres://u:p@h/db?sslmode=disable", "x").unwrap(), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(database_url("postgres://h:5432", "x").unwrap(), "postgres://h:5432/x");
    }

    #[test]
    fn copy_stream_is_framed() {
        let record = LoadRecord { id: "r1".into(), event_time_ms: 946_684_800_000, payload: b"{}".to_vec(), rest: Vec::new() };
        let out = copy_binary("t", "d", &[WarehouseRow { record: &record, ingest_us: PG_EPOCH_US }]);
        assert!(out.starts_with(b"PGCOPY\n\xff\r\n\0"));
        assert!(out.ends_with(&[0xff, 0xff]));
        // header 19, field count 2, 7 length words 28, bytes 1+1+2+8+8+8+3
        assert_eq!(out.len(), 19 + 2 + 28 + 31 + 2);
    }

    #[test]
    fn sqlite_times_match_brain_store() {
        assert_eq!(sqlite_time(1_795_305_600_000_000), "2026-11-22T00:00:00.000000Z");
    }
}
