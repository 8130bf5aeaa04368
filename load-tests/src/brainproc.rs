//! `brain` processes the load generator starts and stops itself: each on its own data
//! directory and ports the OS picks, stdout and stderr in files of a log directory, the URLs
//! read from the lines it prints once ready.

use anyhow::{Context, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a benchmark finds the brain and keeps its files (flattened into each benchmark's
/// arguments).
#[derive(clap::Args, Clone, Debug)]
pub struct BrainRun {
    /// The brain binary (default: $CARGO_TARGET_DIR/release/brain, else next to brain-load).
    #[arg(long)]
    pub brain_bin: Option<PathBuf>,
    /// Directory for data directories, SQLite files and logs — on the disk you care about:
    /// what the brain syncs lands there (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep data directories and logs (their path is printed).
    #[arg(long)]
    pub keep: bool,
}

impl BrainRun {
    pub fn binary(&self) -> anyhow::Result<PathBuf> {
        brain_binary(self.brain_bin.as_deref())
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}

/// The `brain` binary: `--brain-bin`, else `$CARGO_TARGET_DIR/release/brain`, else the
/// `brain` next to this executable (`target/release/brain-load` → `target/release/brain`).
pub fn brain_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidate = match explicit {
        Some(path) => path.to_path_buf(),
        None => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => PathBuf::from(dir).join("release").join("brain"),
            None => std::env::current_exe()?.parent().map(|d| d.join("brain")).unwrap_or_else(|| PathBuf::from("brain")),
        },
    };
    if candidate.is_file() {
        Ok(candidate)
    } else {
        bail!("no brain binary at {} (cargo build --release -p brain, or pass --brain-bin)", candidate.display())
    }
}

/// A running `brain`; killed if dropped without [`Brain::stop`].
pub struct Brain {
    pub name: String,
    child: Child,
    /// `http://127.0.0.1:<port>` (no `/api/v1`).
    pub http: String,
    /// `http://127.0.0.1:<port>` for tonic (`https://` when the brain serves mTLS).
    pub grpc: String,
    pub log: PathBuf,
}

impl Brain {
    /// Spawns `brain <args>` with `env` added, logs in `log_dir/<name>.{out,log}`, and waits
    /// until it prints its REST and gRPC addresses.
    pub async fn spawn(binary: &Path, name: &str, args: &[&str], env: &[(String, String)], log_dir: &Path) -> anyhow::Result<Self> {
        let out_path = log_dir.join(format!("{name}.out"));
        let log_path = log_dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&out_path).with_context(|| format!("create {}", out_path.display()))?;
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new(binary);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(log)).env("BRAIN_COMMON__LOG_FORMAT", "json");
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().with_context(|| format!("spawn {}", binary.display()))?;
        let mut brain = Brain { name: name.to_owned(), child, http: String::new(), grpc: String::new(), log: log_path };
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&out_path).unwrap_or_default();
            let http = text.lines().find(|l| l.trim_start().starts_with("REST API")).and_then(|l| url_in(l, "http://"));
            // grpc:// is plaintext, grpcs:// mTLS (`common.tls`): tonic dials http:// and https://.
            let grpc = text.lines().find(|l| l.trim_start().starts_with("gRPC")).and_then(|l| {
                url_in(l, "grpc://").map(|u| u.replacen("grpc://", "http://", 1)).or_else(|| url_in(l, "grpcs://").map(|u| u.replacen("grpcs://", "https://", 1)))
            });
            if let (Some(http), Some(grpc)) = (http, grpc) {
                brain.http = http.trim_end_matches("/api/v1").to_owned();
                brain.grpc = grpc;
                return Ok(brain);
            }
            if let Some(status) = brain.child.try_wait()? {
                bail!("{name} exited before it was ready ({status}); its log ends:\n{}", brain.log_tail(30));
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("{name} was not ready within {READY_TIMEOUT:?}; its log ends:\n{}", brain.log_tail(30));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `n` lines of its log (stderr).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGTERM, then waits for a clean exit (the runtime drains and flushes); kills it when
    /// it takes longer than 30 s. Fails when it did not exit cleanly.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            bail!("{} had already exited; its log ends:\n{}", self.name, self.log_tail(20));
        }
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().context("run kill")?;
        if !status.success() {
            bail!("kill -TERM {pid} failed");
        }
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() { Ok(()) } else { Err(anyhow!("{} exited with {status} on SIGTERM", self.name)) };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("{} did not stop within {STOP_TIMEOUT:?} of SIGTERM and was killed", self.name)
    }
}

impl Drop for Brain {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn url_in(line: &str, scheme: &str) -> Option<String> {
    let start = line.find(scheme)?;
    Some(line[start..].split_whitespace().next()?.to_owned())
}

/// The data-path benchmarks run with the trust layer off: its cost on reads and writes is
/// measured on its own by `brain-load trust`, against the same path with it on.
pub const TRUST_OFF: (&str, &str) = ("BRAIN_TRUST__ENFORCE", "false");

/// Environment of a `brain serve` process on Kafka (and optionally PostgreSQL): its own
/// topic prefix, data directory and OS-chosen ports; the trust layer off ([`TRUST_OFF`]).
pub fn serve_env(kafka: &str, database: Option<&str>, prefix: &str, data_dir: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        (TRUST_OFF.0.to_owned(), TRUST_OFF.1.to_owned()),
        ("BRAIN_COMMON__BUS".to_owned(), format!("kafka://{kafka}")),
        ("BRAIN_COMMON__TOPIC_PREFIX".to_owned(), prefix.to_owned()),
        ("BRAIN_COMMON__DATA_DIR".to_owned(), data_dir.display().to_string()),
        ("BRAIN_COMMON__HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("BRAIN_COMMON__GRPC_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
    ];
    if let Some(url) = database {
        env.push(("BRAIN_COMMON__DATABASE".to_owned(), url.to_owned()));
    }
    env
}
