//! Where registry changes are recorded: the tamper-evident ledger of the trust service
//! ([`Ledger`]) in a brain, a recorder of its own in tests.

use brain_auth::Principal;
use brain_runtime::{AuditError, Auditor, Peers};

/// Appends one entry per change.
#[async_trait::async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Whether entries can be recorded at all, asked before a change is written: a brain
    /// without a ledger refuses changes rather than make ones it cannot record.
    fn ready(&self, _action: &'static str) -> Result<(), AuditError> {
        Ok(())
    }

    /// Records `action` on `subject` by `caller` in `tenant`; answers its sequence number.
    async fn record(&self, caller: &Principal, tenant: &str, action: &'static str, subject: &str, details: serde_json::Value) -> Result<u64, AuditError>;
}

/// The ledger, in this process or at `common.peers.trust`.
pub struct Ledger {
    auditor: Auditor,
    peers: Peers,
}

impl Ledger {
    pub fn new(peers: Peers) -> Self {
        Self { auditor: Auditor::new(peers.clone()), peers }
    }
}

#[async_trait::async_trait]
impl AuditLog for Ledger {
    fn ready(&self, action: &'static str) -> Result<(), AuditError> {
        match self.peers.channel("trust") {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(AuditError { action, reason: "the trust service is not in this process and common.peers.trust is not set".into() }),
            Err(e) => Err(AuditError { action, reason: e.to_string() }),
        }
    }

    async fn record(&self, caller: &Principal, tenant: &str, action: &'static str, subject: &str, details: serde_json::Value) -> Result<u64, AuditError> {
        self.auditor.record(caller, tenant, action, subject, details).await
    }
}
