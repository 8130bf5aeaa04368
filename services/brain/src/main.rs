//! `brain`: every Industry Brain service in one binary.
//!
//! `brain up` runs all of them in one process on embedded backends; `brain serve
//! --target=<list>` runs chosen services against the engines in the configuration.

// The CLI's job includes printing to stdout (URLs, config, versions).
#![allow(clippy::print_stdout)]

mod evidence;

use anyhow::Context as _;
use brain_config::Config;
use brain_runtime::{Process, ProcessOptions, ServiceSpec};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

// The data chain allocates and frees many small buffers per record across threads (bus
// messages, headers, JSON values); glibc's allocator spent a third of governance's CPU on it
// (perf, `brain-load ingest`), mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "brain", version, about = "Industry Brain (产业大脑): one binary, every service")]
struct Cli {
    /// YAML configuration file; BRAIN_<SECTION>__<KEY> variables override it.
    #[arg(long, short = 'c', global = true, env = "BRAIN_CONFIG")]
    config: Option<PathBuf>,
    /// List the services that can be selected with --target, and exit.
    #[arg(long)]
    list_targets: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process on embedded backends (SQLite, embedded log, memory).
    Up {
        /// Where embedded backends keep their data.
        #[arg(long, default_value = "./.brain")]
        data_dir: String,
        /// HTTP listen address (REST, OpenAPI, metrics, health).
        #[arg(long)]
        http_addr: Option<String>,
        /// gRPC listen address.
        #[arg(long)]
        grpc_addr: Option<String>,
    },
    /// Run chosen services against the backends in the configuration.
    Serve {
        /// `all` or a comma-separated list of services (see --list-targets).
        #[arg(long, default_value = "all", env = "BRAIN_TARGET")]
        target: String,
    },
    /// Check or print the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Apply the database migrations of every service (PostgreSQL or SQLite).
    Migrate,
    /// Verify the tamper-evident ledger, print its public key, check inclusion proofs.
    Ledger {
        #[command(subcommand)]
        action: evidence::LedgerAction,
    },
    /// Verify trusted-status reports offline.
    Report {
        #[command(subcommand)]
        action: evidence::ReportAction,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the configuration; the error names the key and the reason.
    Check,
    /// Print the effective configuration (defaults, file, environment) with secrets hidden.
    Print,
}

fn registry() -> Vec<ServiceSpec> {
    vec![
        brain_ingestion::spec(),
        brain_governance::spec(),
        brain_compute_scheduler::spec(),
        brain_model_gateway::spec(),
        brain_service_opening::spec(),
        brain_portal_api::spec(),
        brain_evaluation::spec(),
        brain_trust::spec(),
    ]
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.list_targets {
        list_targets();
        return Ok(());
    }
    let load = || brain_config::load(cli.config.as_deref());
    match cli.command {
        None => {
            anyhow::bail!("no command given; try `brain up`, `brain serve --target=all` or `brain --help`")
        }
        Some(Command::Version) => {
            println!("brain {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some(Command::Config { action: ConfigAction::Check }) => {
            load()?;
            println!("configuration is valid");
            Ok(())
        }
        Some(Command::Config { action: ConfigAction::Print }) => {
            print!("{}", brain_config::to_redacted_yaml(&load()?)?);
            Ok(())
        }
        Some(Command::Migrate) => migrate(&load()?).await,
        Some(Command::Ledger { action }) => evidence::ledger(action, &load()?).await,
        Some(Command::Report { action }) => evidence::report(action),
        Some(Command::Up { data_dir, http_addr, grpc_addr }) => {
            let mut config = load()?;
            let common = &mut config.common;
            common.data_dir = data_dir;
            common.bus = "embedded".into();
            common.cache = "memory://".into();
            common.database = String::new();
            if let Some(addr) = http_addr {
                common.http_addr = addr;
            }
            if let Some(addr) = grpc_addr {
                common.grpc_addr = addr;
            }
            config.validate()?;
            std::fs::create_dir_all(&config.common.data_dir)
                .with_context(|| format!("cannot create data directory {}", config.common.data_dir))?;
            serve(config, "all".into()).await
        }
        Some(Command::Serve { target }) => serve(load()?, target).await,
    }
}

fn list_targets() {
    println!("all\tevery service below, in one process");
    for spec in registry() {
        let needs: Vec<&str> = spec.needs.iter().map(|b| b.name()).collect();
        println!("{}\t{} (needs: {})", spec.name, spec.description, needs.join(", "));
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let url = config.common.database_url();
    if let Some(path) = url.strip_prefix("sqlite://")
        && let Some(dir) = std::path::Path::new(path).parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
    let store = brain_store::Store::connect(&url).await?;
    store.migrate(&brain_store::PLATFORM).await?;
    for spec in registry() {
        for migrations in spec.migrations {
            store.migrate(migrations).await?;
        }
    }
    store.close().await;
    println!("migrations applied to {}", brain_config::redact_url(&url));
    Ok(())
}

async fn serve(config: Config, targets: String) -> anyhow::Result<()> {
    let telemetry = brain_telemetry::init(&brain_telemetry::TelemetrySettings {
        service_name: "industry-brain".into(),
        attributes: vec![
            ("brain.industry".into(), config.common.industry.code.clone()),
            ("brain.targets".into(), targets.clone()),
        ],
        log_format: config.common.log_format,
        log_level: config.common.log_level.clone(),
    })?;
    // Listen for signals before announcing readiness: a SIGTERM that arrives right after
    // "ready" must shut down gracefully, not kill the process.
    let signals = ShutdownSignals::install()?;
    let started = std::time::Instant::now();
    let process = Process::start(ProcessOptions { config, targets, registry: registry(), telemetry: Arc::new(telemetry) }).await?;
    let ready_ms = started.elapsed().as_millis();
    tracing::info!(services = ?process.services, backends = ?process.backends, ready_ms, "brain is ready");
    println!("Industry Brain is ready in {ready_ms} ms — services: {}", process.services.join(", "));
    println!("  REST API     http://{}/api/v1", process.http_addr);
    println!("  API docs     http://{}/docs  (OpenAPI: http://{}/openapi.json)", process.http_addr, process.http_addr);
    println!("  health       http://{}/healthz  http://{}/readyz", process.http_addr, process.http_addr);
    println!("  metrics      http://{}/metrics", process.http_addr);
    if process.grpc_tls {
        println!("  gRPC         grpcs://{}  (mTLS; health, reflection)", process.grpc_addr);
    } else {
        println!("  gRPC         grpc://{}  (health, reflection)", process.grpc_addr);
    }

    let token = process.shutdown_token();
    tokio::spawn(async move {
        signals.wait().await;
        tracing::info!("signal received; shutting down gracefully");
        token.cancel();
    });
    process.wait().await?;
    Ok(())
}

/// SIGTERM and SIGINT, registered with the OS when installed.
struct ShutdownSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self { term: signal(SignalKind::terminate())?, interrupt: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
