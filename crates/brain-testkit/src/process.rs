//! `brain` processes for end-to-end tests: spawned from the built binary on ports the OS
//! picks, their URLs read from what they print, their logs kept in a file for failures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("the brain binary is not at {0}; build it first (`cargo build -p brain`; infra/test.sh does)")]
    MissingBinary(String),
    #[error("cannot spawn brain: {0}")]
    Spawn(std::io::Error),
    #[error("brain exited before it was ready ({status}); its log:\n{log}")]
    Exited { status: String, log: String },
    #[error("brain was not ready within {0:?}; its log:\n{1}")]
    NotReady(Duration, String),
}

/// The password of the first system administrator (`admin` of tenant `platform`) of every
/// brain a test spawns, unless the test's environment sets another.
pub const TEST_ADMIN_PASSWORD: &str = "Test-Brain-passw0rd";

/// Path of the `brain` binary next to the running test executable (`target/<profile>/brain`).
pub fn brain_binary() -> Result<PathBuf, ProcessError> {
    if let Ok(path) = std::env::var("BRAIN_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(ProcessError::Spawn)?;
    // target/<profile>/deps/<test> → target/<profile>/brain
    let profile_dir = exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let path = profile_dir.join("brain");
    if path.exists() { Ok(path) } else { Err(ProcessError::MissingBinary(path.display().to_string())) }
}

/// A running `brain` process; killed when dropped.
pub struct BrainProcess {
    child: Child,
    pub http: String,
    pub grpc: String,
    /// Milliseconds the process reported from start to ready.
    pub ready_ms: u64,
    /// Wall-clock time from spawn to the ready line.
    pub spawn_to_ready: Duration,
    log_path: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl BrainProcess {
    /// Spawns `brain <args>` with extra environment and waits until it prints its URLs.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Result<Self, ProcessError> {
        let log_dir = tempfile::tempdir().map_err(ProcessError::Spawn)?;
        let log_path = log_dir.path().join("brain.log");
        let log = std::fs::File::create(&log_path).map_err(ProcessError::Spawn)?;
        let mut command = Command::new(brain_binary()?);
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .env("BRAIN_COMMON__LOG_FORMAT", "json")
            .env("BRAIN_TRUST__BOOTSTRAP_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD);
        for (key, value) in env {
            command.env(key, value);
        }
        let started = Instant::now();
        let mut child = command.spawn().map_err(ProcessError::Spawn)?;
        let Some(stdout) = child.stdout.take() else {
            return Err(ProcessError::Spawn(std::io::Error::other("no stdout")));
        };
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Duration::from_secs(30);
        let (mut http, mut grpc, mut ready_ms) = (None, None, None);
        while http.is_none() || grpc.is_none() || ready_ms.is_none() {
            let left = deadline.saturating_sub(started.elapsed());
            match rx.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(line) => {
                    if let Some(rest) = line.split("ready in ").nth(1) {
                        ready_ms = rest.split_whitespace().next().and_then(|ms| ms.parse().ok());
                    }
                    if line.trim_start().starts_with("REST API") {
                        http = url_in(&line, "http://").map(|u| u.trim_end_matches("/api/v1").to_owned());
                    }
                    if line.trim_start().starts_with("gRPC") {
                        grpc = url_in(&line, "grpc://")
                            .map(|u| u.replacen("grpc://", "http://", 1))
                            .or_else(|| url_in(&line, "grpcs://").map(|u| u.replacen("grpcs://", "https://", 1)));
                    }
                }
                Err(_) => {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(ProcessError::Exited { status: status.to_string(), log });
                    }
                    let _ = child.kill();
                    return Err(ProcessError::NotReady(deadline, log));
                }
            }
        }
        let spawn_to_ready = started.elapsed();
        Ok(Self {
            child,
            http: http.unwrap_or_default(),
            grpc: grpc.unwrap_or_default(),
            ready_ms: ready_ms.unwrap_or_default(),
            spawn_to_ready,
            log_path,
            _log_dir: log_dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process logged so far (JSON lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `kill -9`: no chance to flush or clean up.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to `timeout` for a clean exit; returns the exit code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for BrainProcess {
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
