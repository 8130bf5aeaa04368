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

    fn to_json(&self, system: &str) -> Value {
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

fn round(x: f64, digits: i32) -> f64 {
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
