//! `brain-load tls`: what mTLS between services (`common.tls`) costs on the gRPC listener.
//!
//! Two brains of the same build run `serve --target governance` on embedded backends, one in
//! plaintext (the baseline) and one with a certificate of a test CA, requiring client
//! certificates. The same closed-loop load of `grpc.health.v1.Health/Check` — the cheapest RPC,
//! so the figures are the transport and the server's stack — goes to each in interleaved
//! rounds: (a) many callers on one kept-alive HTTP/2 connection, the way services call their
//! peers; (b) a new connection per call, so every call pays a TCP connect and, with mTLS, a full
//! handshake both ways. Reported: calls/s, p50/p99, the brain's CPU per call, and the ratios.

use crate::brainproc::{Brain, BrainRun};
use crate::report::{median, new_histogram, round};
use anyhow::Context;
use brain_testkit::certs::{TestCa, TlsFiles};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(clap::Args, Debug)]
pub struct TlsArgs {
    #[command(flatten)]
    run: BrainRun,
    /// Callers sharing one kept-alive connection (a).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Callers that each open a new connection per call (b).
    #[arg(long, default_value_t = 4)]
    connect_concurrency: usize,
    /// Seconds of each measured phase.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Interleaved rounds; the median of each figure is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// How a caller reaches one brain: over mTLS with the brain's own peer connector
/// (`brain_runtime::ServiceTls`), as one service dials another.
#[derive(Clone)]
enum Target {
    Plain(String),
    Mtls { url: String, tls: brain_runtime::ServiceTls },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Self::Plain(_) => "plaintext",
            Self::Mtls { .. } => "mTLS",
        }
    }

    /// A new, lazily connecting channel: its first call opens the connection.
    fn channel(&self) -> anyhow::Result<Channel> {
        match self {
            Self::Plain(url) => Ok(tonic::transport::Endpoint::from_shared(url.clone())?.tcp_nodelay(true).connect_lazy()),
            Self::Mtls { url, tls } => Ok(tonic::transport::Endpoint::from_shared(url.clone())?.connect_with_connector_lazy(tls.connector())),
        }
    }
}

/// One measured phase against one brain.
struct Phase {
    calls: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
    brain_cores: f64,
}

impl Phase {
    fn calls_per_s(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Brain CPU per call in microseconds.
    fn cpu_us_per_call(&self) -> f64 {
        self.brain_cores * self.elapsed.as_secs_f64() / self.calls.max(1) as f64 * 1e6
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    KeptAlive,
    ConnectionPerCall,
}

impl Shape {
    fn label(self) -> &'static str {
        match self {
            Self::KeptAlive => "(a) kept-alive connection",
            Self::ConnectionPerCall => "(b) new connection per call",
        }
    }
}

async fn check(channel: Channel) -> anyhow::Result<()> {
    HealthClient::new(channel).check(HealthCheckRequest::default()).await.context("health check")?;
    Ok(())
}

/// Closed-loop calls for `duration`: every caller sends its next call when the last answered.
async fn measure(target: &Target, shape: Shape, callers: usize, duration: Duration, brain_pid: u32) -> anyhow::Result<Phase> {
    let shared = target.channel()?;
    check(shared.clone()).await?; // connected (and handshaken) before the clock starts
    let cpu = crate::cpu::snapshot(&[("brain", brain_pid)]);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (target, shared) = (target.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let mut latency = new_histogram()?;
            let mut calls = 0u64;
            while Instant::now() < deadline {
                let channel = match shape {
                    Shape::KeptAlive => shared.clone(),
                    Shape::ConnectionPerCall => target.channel()?,
                };
                let sent = Instant::now();
                check(channel).await?;
                latency.record(sent.elapsed().as_micros().max(1) as u64)?;
                calls += 1;
            }
            anyhow::Ok((calls, latency))
        }));
    }
    let mut phase = Phase { calls: 0, elapsed: Duration::ZERO, latency: new_histogram()?, brain_cores: 0.0 };
    for task in tasks {
        let (calls, latency) = task.await??;
        phase.calls += calls;
        phase.latency.add(&latency)?;
    }
    phase.elapsed = started.elapsed();
    phase.brain_cores = cpu.usage().cores.iter().find(|(name, _)| name == "brain").map(|(_, c)| *c).unwrap_or(0.0);
    Ok(phase)
}

/// Medians over rounds of one shape against one brain.
struct Figures {
    calls_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_call: f64,
}

fn figures(phases: &[Phase]) -> Figures {
    let med = |f: &dyn Fn(&Phase) -> f64| median(&phases.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0);
    Figures {
        calls_per_s: med(&|p| p.calls_per_s()),
        p50_us: med(&|p| p.latency.value_at_quantile(0.5) as f64),
        p99_us: med(&|p| p.latency.value_at_quantile(0.99) as f64),
        cpu_us_per_call: med(&|p| p.cpu_us_per_call()),
    }
}

fn figures_json(f: &Figures) -> Value {
    json!({"calls_per_s": round(f.calls_per_s, 1), "p50_us": f.p50_us, "p99_us": f.p99_us, "brain_cpu_us_per_call": round(f.cpu_us_per_call, 1)})
}

fn tls_config(files: &TlsFiles) -> brain_config::ServiceTls {
    brain_config::ServiceTls {
        cert_file: files.cert.display().to_string(),
        key_file: files.key.display().to_string(),
        ca_file: files.ca.display().to_string(),
        ..brain_config::ServiceTls::default()
    }
}

async fn start(binary: &std::path::Path, name: &str, dir: &std::path::Path, tls: Option<&TlsFiles>) -> anyhow::Result<Brain> {
    let mut env = vec![
        ("BRAIN_COMMON__DATA_DIR".to_owned(), dir.join(name).display().to_string()),
        ("BRAIN_COMMON__HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("BRAIN_COMMON__GRPC_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("BRAIN_COMMON__LOG_LEVEL".to_owned(), "warn".to_owned()),
    ];
    if let Some(files) = tls {
        env.push(("BRAIN_COMMON__TLS__CERT_FILE".to_owned(), files.cert.display().to_string()));
        env.push(("BRAIN_COMMON__TLS__KEY_FILE".to_owned(), files.key.display().to_string()));
        env.push(("BRAIN_COMMON__TLS__CA_FILE".to_owned(), files.ca.display().to_string()));
    }
    Brain::spawn(binary, name, &["serve", "--target", "governance"], &env, dir).await
}

pub async fn run(args: TlsArgs) -> anyhow::Result<()> {
    let binary = args.run.binary()?;
    let work = tempfile::Builder::new().prefix("brain-load-tls-").tempdir_in(args.run.dir())?;
    let ca = TestCa::new("brain-load services CA").map_err(|e| anyhow::anyhow!("{e}"))?;
    let names = ["localhost", "127.0.0.1"];
    let server = ca.issue(&names).map_err(|e| anyhow::anyhow!("{e}"))?;
    let files = ca.write_secret(&server, &work.path().join("tls"))?;
    let client_files = ca.write_secret(&ca.issue(&["brain-load"]).map_err(|e| anyhow::anyhow!("{e}"))?, &work.path().join("client-tls"))?;
    let client = brain_runtime::ServiceTls::from_config(&tls_config(&client_files))?.context("client TLS")?;

    eprintln!("brain-load: starting two brains (plaintext, mTLS) in {} …", work.path().display());
    let plain_brain = start(&binary, "plaintext", work.path(), None).await?;
    let tls_brain = start(&binary, "mtls", work.path(), Some(&files)).await?;
    let targets = [
        (Target::Plain(plain_brain.grpc.clone()), plain_brain.pid()),
        (Target::Mtls { url: tls_brain.grpc.clone(), tls: client }, tls_brain.pid()),
    ];

    let duration = Duration::from_secs(args.duration);
    let shapes = [(Shape::KeptAlive, args.concurrency), (Shape::ConnectionPerCall, args.connect_concurrency)];
    let mut phases: Vec<Vec<Vec<Phase>>> = shapes.iter().map(|_| targets.iter().map(|_| Vec::new()).collect()).collect();
    for round_no in 1..=args.rounds {
        for (s, (shape, callers)) in shapes.iter().enumerate() {
            // Alternate which brain goes first, so neither always gets the warmer machine.
            let order: Vec<usize> = if round_no % 2 == 1 { vec![0, 1] } else { vec![1, 0] };
            for t in order {
                let (target, pid) = &targets[t];
                eprintln!("brain-load: round {round_no}/{}: {} — {} …", args.rounds, shape.label(), target.name());
                phases[s][t].push(measure(target, *shape, *callers, duration, *pid).await?);
            }
        }
    }
    plain_brain.stop().await?;
    tls_brain.stop().await?;

    println!("gRPC health checks, plaintext vs mTLS (client certificates required); median of {} rounds of {} s", args.rounds, args.duration);
    println!("brain: {}; callers: {} on one connection (a), {} with a connection per call (b)", binary.display(), args.concurrency, args.connect_concurrency);
    println!();
    println!("| shape | system | calls/s | p50 µs | p99 µs | brain CPU µs/call |");
    println!("|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for (s, (shape, callers)) in shapes.iter().enumerate() {
        let plain = figures(&phases[s][0]);
        let tls = figures(&phases[s][1]);
        for (target, f) in [(&targets[0].0, &plain), (&targets[1].0, &tls)] {
            println!("| {} | {} | {:.0} | {:.0} | {:.0} | {:.1} |", shape.label(), target.name(), f.calls_per_s, f.p50_us, f.p99_us, f.cpu_us_per_call);
        }
        let ratio = tls.calls_per_s / plain.calls_per_s.max(1e-9);
        println!(
            "| {} | mTLS / plaintext | {ratio:.2} | +{:.0} | +{:.0} | +{:.1} |",
            shape.label(),
            tls.p50_us - plain.p50_us,
            tls.p99_us - plain.p99_us,
            tls.cpu_us_per_call - plain.cpu_us_per_call
        );
        results.push(json!({
            "shape": shape.label(), "callers": callers,
            "plaintext": figures_json(&plain), "mtls": figures_json(&tls),
            "throughput_ratio": round(ratio, 3),
            "added_p50_us": tls.p50_us - plain.p50_us, "added_p99_us": tls.p99_us - plain.p99_us,
            "added_cpu_us_per_call": round(tls.cpu_us_per_call - plain.cpu_us_per_call, 1),
        }));
    }
    let params = json!({"concurrency": args.concurrency, "connect_concurrency": args.connect_concurrency, "duration_s": args.duration, "rounds": args.rounds});
    println!();
    println!("{}", json!({"benchmark": "tls", "params": params, "results": results}));
    if args.run.keep {
        eprintln!("brain-load: kept {}", work.keep().display());
    }
    Ok(())
}
