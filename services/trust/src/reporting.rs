//! Issues trusted-status reports: signs them with the ledger key and stores them for every
//! party of the exchange. The report rules themselves are in [`crate::domain::reports`].

use crate::TrustError;
use crate::domain::reports::{self, Check, ReportBody, ReportKind, ReportSigner, ReportVerifier, SignedReport};
use crate::store::TrustStore;
use brain_auth::{PublicKey, SigningKey};
use chrono::{SecondsFormat, Utc};
use std::sync::Arc;

/// The ledger's Ed25519 key, signing reports.
pub struct LedgerKey(pub Arc<SigningKey>);

impl ReportSigner for LedgerKey {
    fn key_id(&self) -> String {
        self.0.kid().to_owned()
    }
    fn algorithm(&self) -> &'static str {
        "ed25519"
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_vec()
    }
}

/// The ledger's public key, verifying reports anywhere (the CLI uses it offline).
pub struct LedgerPublicKey(pub PublicKey);

impl ReportVerifier for LedgerPublicKey {
    fn key_id(&self) -> String {
        self.0.kid.clone()
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify(message, signature).is_ok()
    }
}

/// What happened, before it is numbered, dated and signed.
pub struct Exchange {
    pub kind: ReportKind,
    pub actor: String,
    pub tenant: String,
    pub subject: String,
    pub checks: Vec<Check>,
    pub content_sha256: String,
    pub records: u64,
    pub ledger_seqs: Vec<u64>,
}

#[derive(Clone)]
pub struct Reporter {
    key: Arc<SigningKey>,
    brain: String,
    store: TrustStore,
}

impl Reporter {
    pub fn new(key: Arc<SigningKey>, brain: impl Into<String>, store: TrustStore) -> Self {
        Self { key, brain: brain.into(), store }
    }

    /// Signs a report of `exchange` and stores it for each of `parties`.
    pub async fn issue(&self, exchange: Exchange, parties: &[&str]) -> Result<SignedReport, TrustError> {
        let body = ReportBody {
            id: format!("TR-{}", uuid::Uuid::now_v7().simple()),
            kind: exchange.kind,
            brain: self.brain.clone(),
            actor: exchange.actor,
            tenant: exchange.tenant,
            subject: exchange.subject,
            checks: exchange.checks,
            content_hash: exchange.content_sha256,
            hash_algorithm: "sha256".into(),
            records: exchange.records,
            ledger_seqs: exchange.ledger_seqs,
            issued_at: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
        };
        let report = reports::sign(body, &LedgerKey(self.key.clone())).map_err(|e| TrustError::Corrupt { what: "report", id: String::new(), reason: e.to_string() })?;
        let mut tx = self.store.begin().await?;
        self.store.save_report(&mut tx, parties, &report).await?;
        tx.commit().await?;
        Ok(report)
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }
}
