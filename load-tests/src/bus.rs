//! `brain-load bus`: publish throughput of the event bus, each figure next to a raw baseline
//! doing the same durable work without the bus, measured in the same process:
//!
//! - `EmbeddedLog` vs raw file append: the same bytes the log writes (its framing included)
//!   appended to one file with `write_all`, one `fdatasync` per batch under `always` (what the
//!   log does at best), none under `never`; same producers, batch size and event count.
//! - `KafkaBus` vs a raw rdkafka `FutureProducer` with the bus's producer settings, same topic
//!   partitions, message size, count and in-flight batches (one per producer).

use crate::drive::{self, Shape};
use crate::report::{self, Comparison, Outcome, Sample};
use anyhow::{Context, anyhow, bail, ensure};
use brain_bus::{BusSettings, EmbeddedLog, Event, EventBus, KafkaBus};
use brain_config::{BusConfig, FsyncPolicy};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes the embedded log adds around key and payload of an event without headers
/// (brain-bus `embedded/codec.rs`): u32 length, u32 CRC, u64 offset, i64 timestamp,
/// u32 key length, u16 header count, u32 payload length. Checked after each run against
/// the bytes actually on disk, so a format change cannot go unnoticed.
const EMBEDDED_FRAMING: u64 = 4 + 4 + 8 + 8 + 4 + 2 + 4;
const EMBEDDED_TOPIC: &str = "brain-load.bus.v1";
const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Clone, Debug)]
pub struct BusArgs {
    /// Events measured per system (after the warm-up).
    #[arg(long, default_value_t = 200_000)]
    events: u64,
    /// Payload bytes per event: a JSON industrial measurement padded to this size.
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// Events per publish call.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent publishers (each keeps one batch in flight).
    #[arg(long, default_value_t = 4)]
    producers: usize,
    /// Kafka bootstrap servers (`host:port[,…]`, a `kafka://` prefix is accepted);
    /// without it (nor BRAIN_TEST_KAFKA) the Kafka comparison is skipped.
    #[arg(long, env = "BRAIN_TEST_KAFKA")]
    kafka: Option<String>,
    /// Partitions of the topics (embedded and Kafka).
    #[arg(long, default_value_t = 6)]
    partitions: u32,
    /// Run only one of the two comparisons.
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Distinct keys, used round-robin so that every partition gets events.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Kafka producer linger.ms, for the bus and the baseline alike (default: the bus's).
    #[arg(long, default_value_t = BusConfig::default().kafka_linger_ms)]
    linger_ms: u32,
    /// Events per system published before measuring (default: max(5 % of --events, 4 batches per producer)).
    #[arg(long)]
    warmup: Option<u64>,
    /// Directory for the embedded log and the raw file (must be on the disk you care about:
    /// fsync on tmpfs costs nothing). Default: the system temp directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Only {
    Embedded,
    Kafka,
}

/// The events every system publishes: key `seq % keys`, the payload of that key.
struct Dataset {
    keys: Vec<Vec<u8>>,
    payloads: Vec<Vec<u8>>,
    /// Payloads were cut to `--size` and are no longer valid JSON.
    truncated: bool,
}

impl Dataset {
    fn new(keys: usize, size: usize) -> Self {
        let width = (keys.saturating_sub(1).max(1).ilog10() as usize + 1).max(4);
        let mut truncated = false;
        let (mut keys_out, mut payloads) = (Vec::with_capacity(keys), Vec::with_capacity(keys));
        for k in 0..keys {
            let key = format!("asset-{k:0width$}");
            let (payload, cut) = json_record(k, &key, size);
            truncated |= cut;
            payloads.push(payload);
            keys_out.push(key.into_bytes());
        }
        Self { keys: keys_out, payloads, truncated }
    }

    fn index(&self, seq: u64) -> usize {
        (seq % self.keys.len() as u64) as usize
    }

    fn event(&self, seq: u64) -> Event {
        let i = self.index(seq);
        Event::new(self.keys[i].clone(), self.payloads[i].clone())
    }

    /// Key + payload bytes of every event (all keys have the same length).
    fn bytes_per_event(&self) -> u64 {
        self.keys.first().map_or(0, Vec::len) as u64 + self.payloads.first().map_or(0, Vec::len) as u64
    }

    /// `n` events laid out as the embedded log writes them (contents of the framing do not
    /// matter to the file system), for the raw append baseline.
    fn framed(&self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n * (EMBEDDED_FRAMING + self.bytes_per_event()) as usize);
        for seq in 0..n as u64 {
            let i = self.index(seq);
            out.extend_from_slice(&[0u8; EMBEDDED_FRAMING as usize]);
            out.extend_from_slice(&self.keys[i]);
            out.extend_from_slice(&self.payloads[i]);
        }
        out
    }
}

/// A measurement of a plant sensor as ingestion would publish it, exactly `size` bytes
/// (padded with a `note` field); cut to `size` when even the bare record is longer.
fn json_record(k: usize, asset: &str, size: usize) -> (Vec<u8>, bool) {
    const SIGNALS: [(&str, &str); 5] =
        [("temperature", "degC"), ("vibration_rms", "mm/s"), ("pressure", "bar"), ("flow", "m3/h"), ("power", "kW")];
    let (signal, unit) = SIGNALS[k % SIGNALS.len()];
    let value = (k * 7919 % 100_000) as f64 / 100.0;
    let record = format!(
        r#"{{"tenant":"acme-steel","site":"plant-{:02}","line":"hot-strip-{}","asset":"{asset}","signal":"{signal}","unit":"{unit}","ts":"2025-06-01T08:{:02}:{:02}.{:03}Z","value":{value:.3},"quality":"good""#,
        k % 12,
        k % 4 + 1,
        k / 60 % 60,
        k % 60,
        k % 1000,
    );
    const NOTE: &str = r#","note":""}"#;
    if record.len() + NOTE.len() <= size {
        let filler: String = "calibrated 2025-05-30, sensor nominal; ".chars().cycle().take(size - record.len() - NOTE.len()).collect();
        (format!(r#"{record},"note":"{filler}"}}"#).into_bytes(), false)
    } else {
        let mut bytes = format!("{record}}}").into_bytes();
        let cut = bytes.len() > size;
        bytes.resize(size, b' ');
        (bytes, cut)
    }
}

struct Plan {
    shape: Shape,
    events: u64,
    warmup: u64,
    data: Arc<Dataset>,
}

pub async fn run(args: BusArgs) -> anyhow::Result<()> {
    ensure!(args.events > 0 && args.batch > 0 && args.producers > 0, "--events, --batch and --producers must be positive");
    ensure!(args.keys > 0 && args.partitions > 0, "--keys and --partitions must be positive");
    let shape = Shape { producers: args.producers, batch: args.batch };
    let plan = Plan {
        shape,
        events: args.events,
        warmup: args.warmup.unwrap_or_else(|| drive::warmup_events(args.events, shape)),
        data: Arc::new(Dataset::new(args.keys, args.size)),
    };
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let filesystem = filesystem_of(&dir);
    let kafka = args.kafka.as_deref().map(|s| s.strip_prefix("kafka://").unwrap_or(s).to_owned()).filter(|s| !s.is_empty());

    let mut notes: Vec<String> = Vec::new();
    let mut outcomes = Vec::new();
    if args.only != Some(Only::Kafka) {
        if filesystem.as_ref().is_some_and(|f| f.fstype == "tmpfs") {
            notes.push(format!("{} is on tmpfs: fsync costs nothing there, pass --dir on a disk", dir.display()));
        }
        for policy in [FsyncPolicy::Always, FsyncPolicy::Never] {
            let name = format!("embedded fsync={}", policy_name(policy));
            eprintln!("brain-load: {name} …");
            outcomes.push(match embedded(&args, &plan, policy, &dir, &mut notes).await {
                Ok(c) => Outcome::Done(Box::new(c)),
                Err(e) => Outcome::Failed { name, error: format!("{e:#}") },
            });
        }
    }
    if args.only != Some(Only::Embedded) {
        let name = "kafka".to_owned();
        match &kafka {
            None => outcomes.push(Outcome::Skipped {
                name,
                reason: "no --kafka and no BRAIN_TEST_KAFKA (infra/engines.sh up; eval \"$(infra/engines.sh env)\")".into(),
            }),
            Some(servers) => {
                eprintln!("brain-load: kafka at {servers} …");
                outcomes.push(match kafka_comparison(&args, &plan, servers, &mut notes).await {
                    Ok(c) => Outcome::Done(Box::new(c)),
                    Err(e) => Outcome::Failed { name, error: format!("{e:#}") },
                });
            }
        }
    }

    let framing = plan.data.bytes_per_event() + EMBEDDED_FRAMING;
    notes.insert(0, format!("MB/s counts key+payload ({} B/event); the embedded log and the raw file write {framing} B/event (framing included)", plan.data.bytes_per_event()));
    if plan.data.truncated {
        notes.push(format!("--size {} is below the bare JSON record: payloads are cut and are not valid JSON", args.size));
    }

    let fs_text = filesystem.as_ref().map_or_else(|| "unknown fs".to_owned(), |f| format!("{} on {}", f.fstype, f.device));
    println!(
        "brain-load bus: events={} size={} B batch={} producers={} partitions={} keys={} linger.ms={} warmup={} cpus={}",
        args.events,
        args.size,
        args.batch,
        args.producers,
        args.partitions,
        args.keys,
        args.linger_ms,
        plan.warmup,
        cpus()
    );
    println!("embedded dir: {} ({fs_text}); kafka: {}", dir.display(), kafka.as_deref().unwrap_or("-"));
    println!();
    print!("{}", report::table(&outcomes));
    println!();
    for note in &notes {
        println!("note: {note}");
    }
    let params = json!({
        "events": args.events, "size": args.size, "batch": args.batch, "producers": args.producers,
        "partitions": args.partitions, "keys": args.keys, "linger_ms": args.linger_ms, "warmup": plan.warmup,
        "only": args.only.map(|o| format!("{o:?}").to_lowercase()),
    });
    let environment = json!({
        "dir": dir.display().to_string(),
        "fstype": filesystem.as_ref().map(|f| f.fstype.clone()),
        "device": filesystem.as_ref().map(|f| f.device.clone()),
        "cpus": cpus(),
        "kafka": kafka,
        "notes": notes,
    });
    println!("{}", report::json_line(params, environment, &outcomes));

    let failed = outcomes.iter().filter(|o| matches!(o, Outcome::Failed { .. })).count();
    if failed > 0 {
        bail!("{failed} comparison(s) failed (see the table)");
    }
    Ok(())
}

fn policy_name(policy: FsyncPolicy) -> &'static str {
    match policy {
        FsyncPolicy::Always => "always",
        FsyncPolicy::Never => "never",
    }
}

pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

// ---------------------------------------------------------------------------------------
// Embedded log vs raw file append

async fn embedded(args: &BusArgs, plan: &Plan, policy: FsyncPolicy, dir: &Path, notes: &mut Vec<String>) -> anyhow::Result<Comparison> {
    let framed_per_event = EMBEDDED_FRAMING + plan.data.bytes_per_event();
    let total_events = plan.warmup + plan.events;

    // Baseline: the same bytes, one append + one fdatasync per batch, same producers.
    let raw_dir = tempfile::Builder::new().prefix("brain-load-raw-").tempdir_in(dir).with_context(|| format!("temp dir in {}", dir.display()))?;
    let raw_path = raw_dir.path().join("raw.log");
    let (shape, events, warmup, data) = (plan.shape, plan.events, plan.warmup, plan.data.clone());
    let path = raw_path.clone();
    let baseline = tokio::task::spawn_blocking(move || raw_file(&path, &data, shape, warmup, events, policy == FsyncPolicy::Always))
        .await
        .map_err(|e| anyhow!("raw file baseline died: {e}"))??;
    let raw_len = std::fs::metadata(&raw_path)?.len();
    ensure!(raw_len == total_events * framed_per_event, "raw file holds {raw_len} bytes, expected {}", total_events * framed_per_event);
    drop(raw_dir);

    // The bus, through the trait as services use it.
    let bus_dir = tempfile::Builder::new().prefix("brain-load-embedded-").tempdir_in(dir)?;
    let defaults = BusConfig::default();
    let settings = BusSettings {
        fsync: policy,
        partitions: args.partitions,
        linger_ms: args.linger_ms,
        ..BusSettings::from(&defaults)
    };
    let log: Arc<dyn EventBus> = Arc::new(EmbeddedLog::open(bus_dir.path(), settings)?);
    log.ensure_topic(EMBEDDED_TOPIC).await?;
    let topic: Arc<str> = Arc::from(EMBEDDED_TOPIC);
    let bpe = plan.data.bytes_per_event();
    let call = {
        let (log, data, topic) = (log.clone(), plan.data.clone(), topic.clone());
        move |seq, n| publish_batch(log.clone(), data.clone(), topic.clone(), seq, n)
    };
    drive::run_async(plan.warmup, 0, plan.shape, bpe, call.clone()).await.context("embedded warm-up")?;
    let bus = drive::run_async(plan.events, plan.warmup, plan.shape, bpe, call).await?;
    drop(log);

    // Same bytes on disk as the baseline wrote, spread over the partitions.
    let (on_disk, used) = log_bytes(&bus_dir.path().join("topics").join(EMBEDDED_TOPIC))?;
    ensure!(
        on_disk == total_events * framed_per_event,
        "embedded log holds {on_disk} bytes, expected {} — did the record format change? (EMBEDDED_FRAMING)",
        total_events * framed_per_event
    );
    if policy == FsyncPolicy::Always {
        notes.push(format!("embedded: {on_disk} bytes on disk in {used}/{} partitions, same byte count as the raw file", args.partitions));
    }
    Ok(Comparison { name: format!("embedded fsync={}", policy_name(policy)), baseline_system: "raw file", baseline, bus_system: "EmbeddedLog", bus })
}

/// The raw baseline: `producers` threads append to one shared file (O_APPEND), each batch
/// with one `write_all` and, when `sync`, one `fdatasync` — as the log syncs with `sync_data`.
fn raw_file(path: &Path, data: &Dataset, shape: Shape, warmup: u64, events: u64, sync: bool) -> anyhow::Result<Sample> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("open {}", path.display()))?;
    let framed = data.framed(shape.batch);
    let per_event = framed.len() / shape.batch;
    let call = |_seq: u64, n: usize| -> anyhow::Result<Duration> {
        let started = Instant::now();
        (&file).write_all(&framed[..n * per_event])?;
        if sync {
            file.sync_data()?;
        }
        Ok(started.elapsed())
    };
    drive::run_threads(warmup, 0, shape, data.bytes_per_event(), call)?;
    drive::run_threads(events, warmup, shape, data.bytes_per_event(), call)
}

async fn publish_batch(bus: Arc<dyn EventBus>, data: Arc<Dataset>, topic: Arc<str>, seq: u64, n: usize) -> anyhow::Result<Duration> {
    let events: Vec<Event> = (0..n as u64).map(|i| data.event(seq + i)).collect();
    let started = Instant::now();
    let positions = bus.publish(&topic, events).await?;
    let took = started.elapsed();
    ensure!(positions.len() == n, "publish acknowledged {} of {n} events", positions.len());
    Ok(took)
}

/// Bytes of all segment files of a topic, and how many partitions hold any.
fn log_bytes(topic_dir: &Path) -> anyhow::Result<(u64, usize)> {
    let mut total = 0;
    let mut used = 0;
    for partition in std::fs::read_dir(topic_dir).with_context(|| format!("read {}", topic_dir.display()))? {
        let partition = partition?.path();
        if !partition.is_dir() {
            continue;
        }
        let mut bytes = 0;
        for segment in std::fs::read_dir(&partition)? {
            let segment = segment?.path();
            if segment.extension().is_some_and(|e| e == "log") {
                bytes += std::fs::metadata(&segment)?.len();
            }
        }
        total += bytes;
        used += usize::from(bytes > 0);
    }
    Ok((total, used))
}

// ---------------------------------------------------------------------------------------
// KafkaBus vs raw rdkafka

/// The producer settings `KafkaBus::new` uses (brain-bus `kafka.rs`), for the baseline.
pub(crate) fn raw_producer_config(servers: &str, linger_ms: u32) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", servers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", linger_ms.to_string())
        .set("message.timeout.ms", "30000")
        .set("partitioner", "consistent");
    config
}

async fn kafka_comparison(args: &BusArgs, plan: &Plan, servers: &str, notes: &mut Vec<String>) -> anyhow::Result<Comparison> {
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
    );
    let raw_topic = format!("brain-load.bus-raw.{run_id}");
    let bus_topic = format!("brain-load.bus-kafkabus.{run_id}");

    let producer: FutureProducer = raw_producer_config(servers, args.linger_ms).create()?;
    let probe = producer.clone();
    drive::within("Kafka metadata", KAFKA_TIMEOUT, async move {
        tokio::task::spawn_blocking(move || probe.client().fetch_metadata(None, Duration::from_secs(5)).map(|_| ()))
            .await
            .map_err(|e| anyhow!("{e}"))?
            .with_context(|| format!("Kafka at {servers} is not reachable (infra/engines.sh up)"))
    })
    .await?;

    // Both topics created the same way, with the same partitions.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", servers).create()?;
    let partitions = i32::try_from(args.partitions)?;
    let new_topics = [NewTopic::new(&raw_topic, partitions, TopicReplication::Fixed(1)), NewTopic::new(&bus_topic, partitions, TopicReplication::Fixed(1))];
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5))).request_timeout(Some(Duration::from_secs(5)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("cannot create topic {topic}: {code:?}"),
        }
    }
    for topic in [&raw_topic, &bus_topic] {
        let found = topic_partitions(&producer, topic).await?;
        ensure!(found == args.partitions as usize, "topic {topic} has {found} partitions, expected {}", args.partitions);
    }
    notes.push(format!("kafka topics {raw_topic} (raw) and {bus_topic} (bus), {} partitions each", args.partitions));

    // Baseline: the raw producer, one batch in flight per producer task.
    let bpe = plan.data.bytes_per_event();
    let call = {
        let (producer, data, topic) = (producer.clone(), plan.data.clone(), Arc::<str>::from(raw_topic.as_str()));
        move |seq, n| raw_kafka_batch(producer.clone(), data.clone(), topic.clone(), seq, n)
    };
    drive::run_async(plan.warmup, 0, plan.shape, bpe, call.clone()).await.context("raw rdkafka warm-up")?;
    let baseline = drive::run_async(plan.events, plan.warmup, plan.shape, bpe, call).await?;
    tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(30))).await.map_err(|e| anyhow!("{e}"))??;

    // The bus, through the trait.
    let settings = BusSettings { partitions: args.partitions, linger_ms: args.linger_ms, ..BusSettings::from(&BusConfig::default()) };
    let bus: Arc<dyn EventBus> = Arc::new(KafkaBus::new(servers, settings)?);
    bus.ensure_topic(&bus_topic).await?;
    let topic: Arc<str> = Arc::from(bus_topic.as_str());
    let call = {
        let (bus, data, topic) = (bus.clone(), plan.data.clone(), topic.clone());
        move |seq, n| publish_batch(bus.clone(), data.clone(), topic.clone(), seq, n)
    };
    drive::run_async(plan.warmup, 0, plan.shape, bpe, call.clone()).await.context("KafkaBus warm-up")?;
    let measured = drive::run_async(plan.events, plan.warmup, plan.shape, bpe, call).await?;
    bus.flush().await?;
    Ok(Comparison { name: "kafka".into(), baseline_system: "raw rdkafka", baseline, bus_system: "KafkaBus", bus: measured })
}

/// What `KafkaBus::publish` does, minus the bus: queue every record, then await every ack.
async fn raw_kafka_batch(producer: FutureProducer, data: Arc<Dataset>, topic: Arc<str>, seq: u64, n: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut pending = Vec::with_capacity(n);
    for s in seq..seq + n as u64 {
        let i = data.index(s);
        let mut record = FutureRecord::to(&topic).key(&data.keys[i]).payload(&data.payloads[i]);
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

async fn topic_partitions(producer: &FutureProducer, topic: &str) -> anyhow::Result<usize> {
    let (probe, name) = (producer.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let metadata = probe.client().fetch_metadata(Some(&name), Duration::from_secs(5))?;
        Ok(metadata.topics().iter().find(|t| t.name() == name).map_or(0, |t| t.partitions().len()))
    })
    .await
    .map_err(|e| anyhow!("{e}"))?
}

// ---------------------------------------------------------------------------------------

pub(crate) struct Filesystem {
    pub fstype: String,
    pub device: String,
}

/// The mount holding `path` (longest mount point that is a prefix), from /proc/self/mounts.
pub(crate) fn filesystem_of(path: &Path) -> Option<Filesystem> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (device, mount, fstype) = (fields.next()?, fields.next()?, fields.next()?);
            Some((device.to_owned(), mount.replace("\\040", " "), fstype.to_owned()))
        })
        .filter(|(_, mount, _)| path.starts_with(mount))
        .max_by_key(|(_, mount, _)| mount.len())
        .map(|(device, _, fstype)| Filesystem { fstype, device })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_requested_size_and_are_json() {
        for size in [200, 512, 4096] {
            let (bytes, cut) = json_record(42, "asset-0042", size);
            assert_eq!(bytes.len(), size);
            assert!(!cut);
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(value["asset"], "asset-0042");
        }
        let (bytes, cut) = json_record(7, "asset-0007", 50);
        assert_eq!(bytes.len(), 50);
        assert!(cut);
    }

    #[test]
    fn keys_have_one_length() {
        let data = Dataset::new(1000, 200);
        assert!(data.keys.iter().all(|k| k.len() == data.keys[0].len()));
        assert_eq!(data.framed(3).len() as u64, 3 * (EMBEDDED_FRAMING + data.bytes_per_event()));
    }
}
