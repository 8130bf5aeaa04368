//! What the trust service writes to the tamper-evident ledger: one entry per key operation,
//! appended (durably) before the operation is reported successful.

use crate::TrustError;
use async_trait::async_trait;
use brain_auth::Principal;
use std::sync::Arc;

/// One key operation.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// `user:<id>`, `api-key:<id>`, `service:<name>`, or for failed sign-ins `anonymous`.
    pub actor: String,
    pub tenant: String,
    /// e.g. `auth.sign_in`, `grant.approve`, `data.read_granted`.
    pub action: &'static str,
    pub subject: String,
    /// `ok`, `denied` or `failed`.
    pub result: &'static str,
    pub details: serde_json::Value,
}

impl AuditEntry {
    pub fn by(caller: &Principal, action: &'static str, subject: impl Into<String>, details: serde_json::Value) -> Self {
        Self { actor: caller.subject.actor(), tenant: caller.tenant.clone(), action, subject: subject.into(), result: "ok", details }
    }

    pub fn result(mut self, result: &'static str) -> Self {
        self.result = result;
        self
    }
}

/// Where entries go: the ledger (brain-ledger), appended durably; returns the sequence number.
#[async_trait]
pub trait AuditSink: Send + Sync + 'static {
    async fn append(&self, entries: Vec<AuditEntry>) -> Result<Vec<u64>, TrustError>;
}

#[derive(Clone)]
pub struct Audit {
    sink: Arc<dyn AuditSink>,
}

impl Audit {
    pub fn new(sink: Arc<dyn AuditSink>) -> Self {
        Self { sink }
    }

    /// Appends one entry; its ledger sequence number.
    pub async fn record(&self, entry: AuditEntry) -> Result<u64, TrustError> {
        let seqs = self.sink.append(vec![entry]).await?;
        seqs.first().copied().ok_or_else(|| TrustError::Corrupt { what: "ledger receipt", id: String::new(), reason: "no sequence number returned".into() })
    }
}
