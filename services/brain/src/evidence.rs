//! `brain ledger …` and `brain report …`: check the platform's evidence. The offline checks
//! (`report verify`, `ledger check-proof`) need nothing but the file and the ledger's public
//! key, so an auditor can run them away from the brain.

use anyhow::Context as _;
use brain_auth::PublicKey;
use brain_config::Config;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum LedgerAction {
    /// Verify the whole hash chain and every signed checkpoint in the configured database;
    /// exits non-zero and names the first broken sequence number if anything was altered.
    Verify,
    /// Print the ledger's public key (SPKI PEM): what reports and checkpoints verify against.
    PublicKey,
    /// Check an inclusion proof (JSON from `/api/v1/ledger/proof/{seq}`) offline.
    CheckProof {
        proof: PathBuf,
        /// The ledger's public key (SPKI PEM file).
        #[arg(long)]
        public_key: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ReportAction {
    /// Verify a trusted-status report (JSON from `/api/v1/reports/{id}`) offline.
    Verify {
        report: PathBuf,
        /// The ledger's public key (SPKI PEM file).
        #[arg(long)]
        public_key: PathBuf,
    },
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn public_key(path: &Path) -> anyhow::Result<PublicKey> {
    PublicKey::from_pem(&read(path)?).with_context(|| format!("{} is not the ledger's public key", path.display()))
}

pub fn report(action: ReportAction) -> anyhow::Result<()> {
    let ReportAction::Verify { report, public_key: key } = action;
    let signed: brain_trust::domain::reports::SignedReport =
        serde_json::from_str(&read(&report)?).with_context(|| format!("{} is not a trusted-status report", report.display()))?;
    let verifier = brain_trust::reporting::LedgerPublicKey(public_key(&key)?);
    brain_trust::domain::reports::verify(&signed, &verifier).with_context(|| format!("report {} does NOT verify", signed.body.id))?;
    let body = &signed.body;
    println!("report {} verifies: signed by ledger key {}", body.id, signed.key_id);
    println!("  {:?} by {} of {} — {}", body.kind, body.actor, body.tenant, body.subject);
    for check in &body.checks {
        println!("  [{}] {}: {}", if check.passed { "pass" } else { "FAIL" }, check.name, check.detail);
    }
    println!("  {} records, {} {}, ledger entries {:?}, issued {}", body.records, body.hash_algorithm, body.content_hash, body.ledger_seqs, body.issued_at);
    Ok(())
}

pub async fn ledger(action: LedgerAction, config: &Config) -> anyhow::Result<()> {
    match action {
        LedgerAction::CheckProof { proof, public_key: key } => {
            let proof: brain_ledger::InclusionProof =
                serde_json::from_str(&read(&proof)?).with_context(|| format!("{} is not an inclusion proof", proof.display()))?;
            brain_ledger::verify_inclusion(&proof, &public_key(&key)?).with_context(|| format!("the proof of entry {} does NOT verify", proof.seq))?;
            println!("entry {} is in the ledger: included in the checkpoint of tree size {} signed by key {}", proof.seq, proof.checkpoint.tree_size, proof.checkpoint.key_id);
            Ok(())
        }
        LedgerAction::PublicKey => {
            let key = brain_auth::SigningKey::load(config.trust.ledger_key_path(&config.common)).context("cannot read the ledger key")?;
            print!("{}", key.public_key().to_pem()?);
            Ok(())
        }
        LedgerAction::Verify => {
            let store = brain_store::Store::connect(&config.common.database_url()).await?;
            let key = brain_auth::SigningKey::load(config.trust.ledger_key_path(&config.common)).context("cannot read the ledger key")?;
            let ledger = brain_ledger::Ledger::open(store.clone(), std::sync::Arc::new(key)).await?;
            let report = ledger.verify().await?;
            store.close().await;
            println!("{} entries and {} checkpoints checked", report.entries_checked, report.checkpoints_checked);
            if report.ok() {
                println!("the ledger verifies");
                return Ok(());
            }
            for problem in &report.problems {
                println!("  {problem}");
            }
            anyhow::bail!("the ledger does NOT verify: first broken sequence number {}", report.first_broken_seq.unwrap_or_default())
        }
    }
}
