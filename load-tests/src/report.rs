//! Figures of one measured phase, comparisons bus/baseline, the table and the JSON line.

use anyhow::anyhow;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::time::Duration;

/// Latencies from 1 µs to 10 min at 3 significant digits.
pub fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| anyhow!("histogram: {e}"))
}

/// One measured phase of one system.
pub struct Sample {
    pub events: u64,
    /// Logical bytes (key + payload) of the events, not counting any framing.
    pub bytes: u64,
    pub elapsed: Duration,
    /// Publish-call latency in microseconds.
    pub latency: Histogram<u64>,
}

impl Sample {
    pub fn new(events: u64, bytes: u64, elapsed: Duration, latency: Histogram<u64>) -> Self {
        Self { events, bytes, elapsed, latency }
    }

    fn seconds(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.seconds()
    }

    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.seconds() / 1e6
    }

    pub fn p50_us(&self) -> u64 {
        self.latency.value_at_quantile(0.50)
    }

    pub fn p99_us(&self) -> u64 {
        self.latency.value_at_quantile(0.99)
    }

    pub fn to_json(&self, system: &str) -> Value {
        json!({
            "system": system,
            "events": self.events,
            "bytes": self.bytes,
            "seconds": round(self.seconds(), 4),
            "events_per_s": round(self.events_per_s(), 1),
            "mb_per_s": round(self.mb_per_s(), 3),
            "calls": self.latency.len(),
            "p50_us": self.p50_us(),
            "p99_us": self.p99_us(),
            "max_us": self.latency.max(),
        })
    }
}

/// The middle value (mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// A bus and its raw baseline, measured in the same run with the same parameters.
pub struct Comparison {
    /// e.g. `embedded fsync=always`
    pub name: String,
    pub baseline_system: &'static str,
    pub baseline: Sample,
    pub bus_system: &'static str,
    pub bus: Sample,
}

impl Comparison {
    /// Throughput of the bus as a fraction of the baseline's (1.0 = no overhead).
    pub fn ratio(&self) -> f64 {
        self.bus.events_per_s() / self.baseline.events_per_s().max(1e-9)
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "baseline": self.baseline.to_json(self.baseline_system),
            "bus": self.bus.to_json(self.bus_system),
            "ratio_throughput": round(self.ratio(), 3),
            "ratio_p50_latency": round(self.bus.p50_us() as f64 / (self.baseline.p50_us().max(1) as f64), 3),
            "ratio_p99_latency": round(self.bus.p99_us() as f64 / (self.baseline.p99_us().max(1) as f64), 3),
        })
    }
}

/// What became of one planned comparison.
pub enum Outcome {
    Done(Box<Comparison>),
    Skipped { name: String, reason: String },
    Failed { name: String, error: String },
}

impl Outcome {
    fn to_json(&self) -> Value {
        match self {
            Outcome::Done(c) => c.to_json(),
            Outcome::Skipped { name, reason } => json!({ "name": name, "skipped": reason }),
            Outcome::Failed { name, error } => json!({ "name": name, "error": error }),
        }
    }
}

/// The aligned table of every outcome.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let header = format!(
        "{:<24} {:<12} {:>11} {:>8} {:>9} {:>9} {:>9}\n",
        "run", "system", "events/s", "MB/s", "p50 us", "p99 us", "bus/base"
    );
    out.push_str(&header);
    out.push_str(&"-".repeat(header.len() - 1));
    out.push('\n');
    for outcome in outcomes {
        match outcome {
            Outcome::Done(c) => {
                out.push_str(&row(&c.name, c.baseline_system, &c.baseline, ""));
                out.push_str(&row("", c.bus_system, &c.bus, &format!("{:.2}", c.ratio())));
            }
            Outcome::Skipped { name, reason } => out.push_str(&format!("{name:<24} skipped: {reason}\n")),
            Outcome::Failed { name, error } => out.push_str(&format!("{name:<24} FAILED: {error}\n")),
        }
    }
    out
}

fn row(name: &str, system: &str, s: &Sample, ratio: &str) -> String {
    let line = format!(
        "{:<24} {:<12} {:>11.0} {:>8.2} {:>9} {:>9} {:>9}",
        name,
        system,
        s.events_per_s(),
        s.mb_per_s(),
        s.p50_us(),
        s.p99_us(),
        ratio
    );
    format!("{}\n", line.trim_end())
}

/// The machine-readable line: parameters, environment notes and every outcome.
pub fn json_line(params: Value, environment: Value, outcomes: &[Outcome]) -> String {
    json!({
        "benchmark": "bus",
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "params": params,
        "environment": environment,
        "runs": outcomes.iter().map(Outcome::to_json).collect::<Vec<_>>(),
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------
// Groups: one baseline and several systems (the `ingest` benchmark)

/// One measured system of a group.
pub struct Row {
    pub system: String,
    /// Send phase: records acknowledged, wall time of sending, per-batch ack latency.
    pub sample: Sample,
    /// End to end: time from the first send until the warehouse held every record.
    pub landed: Option<std::time::Duration>,
    /// CPU used from the start of the phase until it ended (landed, for end-to-end rows).
    pub cpu: Option<crate::cpu::Usage>,
    /// What the brains' own metrics say about the phase (one line per brain).
    pub metrics: Vec<String>,
}

impl Row {
    /// The figure compared with the baseline: records landed per second end to end, or
    /// records acknowledged per second when nothing is waited for downstream.
    pub fn rate(&self) -> f64 {
        match self.landed {
            Some(d) => self.sample.events as f64 / d.as_secs_f64().max(1e-9),
            None => self.sample.events_per_s(),
        }
    }

    fn to_json(&self, baseline: Option<f64>) -> Value {
        let mut v = self.sample.to_json(&self.system);
        if let Value::Object(map) = &mut v {
            map.insert("records_per_s".into(), json!(round(self.rate(), 1)));
            if let Some(d) = self.landed {
                map.insert("landed_seconds".into(), json!(round(d.as_secs_f64(), 4)));
                map.insert("acked_per_s".into(), json!(round(self.sample.events_per_s(), 1)));
            }
            if let Some(base) = baseline {
                map.insert("ratio".into(), json!(round(self.rate() / base.max(1e-9), 3)));
            }
            if let Some(cpu) = &self.cpu {
                map.insert("cpu".into(), cpu.to_json());
            }
            if !self.metrics.is_empty() {
                map.insert("brain_metrics".into(), json!(self.metrics));
            }
        }
        v
    }
}

/// A baseline and the systems measured against it, with the goal for their ratio.
pub struct Group {
    /// e.g. `(a) ingestion-only`
    pub name: String,
    /// e.g. `kafka 127.0.0.1:19092`
    pub detail: String,
    pub goal: Option<f64>,
    pub baseline: Option<Row>,
    pub rows: Vec<Row>,
}

impl Group {
    pub fn ratio(&self, row: &Row) -> Option<f64> {
        self.baseline.as_ref().map(|b| row.rate() / b.rate().max(1e-9))
    }

    fn to_json(&self) -> Value {
        let base = self.baseline.as_ref().map(Row::rate);
        json!({
            "name": self.name,
            "detail": self.detail,
            "goal_ratio": self.goal,
            "baseline": self.baseline.as_ref().map(|b| b.to_json(None)),
            "systems": self.rows.iter().map(|r| r.to_json(base)).collect::<Vec<_>>(),
        })
    }
}

pub enum GroupOutcome {
    Done(Box<Group>),
    Skipped { name: String, reason: String },
    Failed { name: String, error: String },
}

impl GroupOutcome {
    pub fn to_json(&self) -> Value {
        match self {
            GroupOutcome::Done(g) => g.to_json(),
            GroupOutcome::Skipped { name, reason } => json!({ "name": name, "skipped": reason }),
            GroupOutcome::Failed { name, error } => json!({ "name": name, "error": error }),
        }
    }
}

/// The aligned table of the groups: records/s (landed end to end where it applies), MB/s,
/// acknowledged records/s of the send phase, p50/p99 per-batch latency, ratio and goal.
pub fn group_table(groups: &[GroupOutcome]) -> String {
    let mut out = String::new();
    let header = format!(
        "{:<22} {:<26} {:>10} {:>7} {:>10} {:>8} {:>8} {:>6}  {}\n",
        "run", "system", "records/s", "MB/s", "acked/s", "p50 ms", "p99 ms", "ratio", "goal"
    );
    out.push_str(&header);
    out.push_str(&"-".repeat(header.chars().count() + 8));
    out.push('\n');
    for group in groups {
        match group {
            GroupOutcome::Done(g) => {
                let mut first = [g.name.as_str(), g.detail.as_str()].into_iter();
                let mut label = || first.next().unwrap_or("").to_owned();
                if let Some(b) = &g.baseline {
                    out.push_str(&group_row(&label(), b, "", ""));
                }
                for r in &g.rows {
                    let (ratio, verdict) = match (g.ratio(r), g.goal) {
                        (Some(ratio), Some(goal)) if ratio >= goal => (format!("{ratio:.2}"), format!(">={goal:.2} met")),
                        (Some(ratio), Some(goal)) => (format!("{ratio:.2}"), format!(">={goal:.2} MISSED by {:.2}", goal - ratio)),
                        (Some(ratio), None) => (format!("{ratio:.2}"), String::new()),
                        (None, _) => (String::new(), String::new()),
                    };
                    out.push_str(&group_row(&label(), r, &ratio, &verdict));
                }
                for rest in first {
                    out.push_str(&format!("{rest}\n"));
                }
            }
            GroupOutcome::Skipped { name, reason } => out.push_str(&format!("{name:<22} skipped: {reason}\n")),
            GroupOutcome::Failed { name, error } => out.push_str(&format!("{name:<22} FAILED: {error}\n")),
        }
    }
    out
}

fn group_row(label: &str, r: &Row, ratio: &str, verdict: &str) -> String {
    let ms = |us: u64| format!("{:.1}", us as f64 / 1000.0);
    let acked = if r.landed.is_some() { format!("{:.0}", r.sample.events_per_s()) } else { String::new() };
    let mb = r.sample.bytes as f64 / r.landed.unwrap_or(r.sample.elapsed).as_secs_f64().max(1e-9) / 1e6;
    let line = format!(
        "{:<22} {:<26} {:>10.0} {:>7.2} {:>10} {:>8} {:>8} {:>6}  {}",
        label,
        r.system,
        r.rate(),
        mb,
        acked,
        ms(r.sample.p50_us()),
        ms(r.sample.p99_us()),
        ratio,
        verdict
    );
    format!("{}\n", line.trim_end())
}

/// Lines per measured row: where the CPU went during its phase, what the brains measured.
pub fn cpu_notes(groups: &[GroupOutcome]) -> Vec<String> {
    let mut out = Vec::new();
    for group in groups {
        if let GroupOutcome::Done(g) = group {
            for r in g.baseline.iter().chain(&g.rows) {
                let short = g.name.split_whitespace().next().unwrap_or("");
                if let Some(cpu) = &r.cpu {
                    out.push(format!("cpu {short} {}: {}", r.system, cpu.text()));
                }
                for line in &r.metrics {
                    out.push(format!("metrics {short} {}: {line}", r.system));
                }
            }
        }
    }
    out
}

/// The machine-readable line of the `ingest` benchmark.
pub fn group_json_line(benchmark: &str, params: Value, environment: Value, groups: &[GroupOutcome]) -> String {
    json!({
        "benchmark": benchmark,
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "params": params,
        "environment": environment,
        "runs": groups.iter().map(GroupOutcome::to_json).collect::<Vec<_>>(),
    })
    .to_string()
}
