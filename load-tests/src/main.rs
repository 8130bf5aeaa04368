//! `brain-load`: load generators and benchmarks (not tests). Every figure is reported next
//! to a raw baseline measured in the same run with the same parameters, so a number is
//! read as "how much of what this machine can do" rather than in isolation.

// A benchmark binary's job is to print its figures on stdout (table + JSON line); the
// workspace warns on print_stdout to keep services on structured logging, not this tool.
#![allow(clippy::print_stdout)]

mod brainproc;
mod bus;
mod clients;
mod cpu;
mod demo;
mod drive;
mod gateway;
mod ingest;
mod metrics;
mod report;
mod textile;
mod tls;
mod trust;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "brain-load", about = "Load generators and benchmarks of the Industry Brain (figures against same-run baselines)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Event-bus publish throughput: embedded log vs raw file append, KafkaBus vs raw rdkafka.
    Bus(bus::BusArgs),
    /// Ingestion load over gRPC and REST: (a) ingestion-only vs raw rdkafka, (b) end to end
    /// into PostgreSQL vs COPY, (c) end to end embedded vs raw SQLite inserts.
    Ingest(ingest::IngestArgs),
    /// Demo data of a textile and apparel cluster, pushed through a running brain's APIs.
    Demo(demo::DemoArgs),
    /// Cost of the trust layer on reads: the same REST and gRPC reads against a brain with
    /// `trust.enforce` false (baseline) and true (JWT, API key), plus a read under a grant.
    Trust(trust::TrustArgs),
    /// Added latency of the model gateway (auth, quota, metering, guardrail) over calling a
    /// mock OpenAI upstream directly, open-loop at fixed rates; a bare pass-through for throughput.
    Gateway(gateway::GatewayArgs),
    /// Cost of mTLS between services on the gRPC listener: the same health-check load against a
    /// plaintext brain (baseline) and an mTLS one, on kept-alive connections and one per call.
    Tls(tls::TlsArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bus(args) => bus::run(args).await,
        Command::Ingest(args) => ingest::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Trust(args) => trust::run(args).await,
        Command::Gateway(args) => gateway::run(args).await,
        Command::Tls(args) => tls::run(args).await,
    }
}
