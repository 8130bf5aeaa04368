//! Where the CPU went during a measured phase, from /proc: the whole machine (busy share of
//! all cores), the brain processes, this load generator, and the engines (PostgreSQL
//! backends, the Kafka broker) found by process name. Only read, never signalled.

use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Linux clock ticks per second of /proc times (USER_HZ, 100 on every mainstream kernel).
const TICKS_PER_SECOND: f64 = 100.0;

/// Process names (comm) of engines worth watching: PostgreSQL backends, the tansu broker.
const ENGINES: [(&str, &str); 3] = [("postgres", "postgres"), ("kafka", "tansu"), ("kafka", "kafka")];

fn proc_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let values: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total, idle))
}

/// Ticks of every process whose name matches an engine, summed per engine.
fn engine_ticks() -> Vec<(&'static str, u64)> {
    let mut out: Vec<(&'static str, u64)> = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|p| p.bytes().all(|b| b.is_ascii_digit())) else { continue };
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else { continue };
        let comm = comm.trim();
        if let Some((engine, _)) = ENGINES.iter().find(|(_, prefix)| comm.starts_with(prefix)) {
            let ticks = proc_ticks(pid).unwrap_or(0);
            match out.iter_mut().find(|(e, _)| e == engine) {
                Some((_, t)) => *t += ticks,
                None => out.push((engine, ticks)),
            }
        }
    }
    out
}

/// A reading at the start of a phase.
pub struct Snapshot {
    at: Instant,
    machine: Option<(u64, u64)>,
    own: Option<u64>,
    brains: Vec<(String, u32, Option<u64>)>,
    engines: Vec<(&'static str, u64)>,
}

/// CPU used during a phase, in cores (CPU seconds per wall second).
#[derive(Clone, Debug, Default)]
pub struct Usage {
    /// Busy share of all cores, 0–1.
    pub machine_busy: Option<f64>,
    pub cores: Vec<(String, f64)>,
}

pub fn snapshot(brains: &[(&str, u32)]) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        machine: machine_ticks(),
        own: proc_ticks("self"),
        brains: brains.iter().map(|(n, pid)| ((*n).to_owned(), *pid, proc_ticks(&pid.to_string()))).collect(),
        engines: engine_ticks(),
    }
}

impl Snapshot {
    /// Usage from this snapshot until now.
    pub fn usage(&self) -> Usage {
        let wall = self.at.elapsed().max(Duration::from_millis(1)).as_secs_f64();
        let cores = |before: Option<u64>, after: Option<u64>| match (before, after) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / TICKS_PER_SECOND / wall),
            _ => None,
        };
        let mut out = Vec::new();
        for (name, pid, before) in &self.brains {
            if let Some(c) = cores(*before, proc_ticks(&pid.to_string())) {
                out.push((name.clone(), c));
            }
        }
        if let Some(c) = cores(self.own, proc_ticks("self")) {
            out.push(("brain-load".to_owned(), c));
        }
        for (engine, after) in engine_ticks() {
            let before = self.engines.iter().find(|(e, _)| *e == engine).map(|(_, t)| *t);
            if let Some(c) = cores(before, Some(after)) {
                out.push((engine.to_owned(), c));
            }
        }
        let machine_busy = match (self.machine, machine_ticks()) {
            (Some((t0, i0)), Some((t1, i1))) if t1 > t0 => Some(1.0 - (i1.saturating_sub(i0)) as f64 / (t1 - t0) as f64),
            _ => None,
        };
        Usage { machine_busy, cores: out }
    }
}

impl Usage {
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(busy) = self.machine_busy {
            parts.push(format!("machine {:.0}% busy", busy * 100.0));
        }
        parts.extend(self.cores.iter().filter(|(_, c)| *c >= 0.005).map(|(n, c)| format!("{n} {c:.2}")));
        if parts.len() > 1 {
            format!("{}; cores used: {}", parts[0], parts[1..].join(", "))
        } else {
            parts.join("")
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "machine_busy": self.machine_busy.map(|b| (b * 1000.0).round() / 1000.0),
            "cores": self.cores.iter().map(|(n, c)| (n.clone(), json!((c * 100.0).round() / 100.0))).collect::<serde_json::Map<_, _>>(),
        })
    }
}
