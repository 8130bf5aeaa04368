//! `brain-load`: load generators and benchmarks (not tests). Every figure is reported next
//! to a raw baseline measured in the same run with the same parameters, so a number is
//! read as "how much of what this machine can do" rather than in isolation.

// A benchmark binary's job is to print its figures on stdout (table + JSON line); the
// workspace warns on print_stdout to keep services on structured logging, not this tool.
#![allow(clippy::print_stdout)]

mod bus;
mod drive;
mod report;

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bus(args) => bus::run(args).await,
    }
}
