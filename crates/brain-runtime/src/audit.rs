//! Key operations of any service go to the tamper-evident ledger, which the trust service
//! keeps: in this process or at `common.peers.trust`. An operation is reported successful
//! only once its entry is durable, so an unreachable ledger fails the operation.

use crate::Peers;
use brain_auth::Principal;
use brain_core::{ErrorCode, ServiceError};
use brain_proto::trust::v1::ledger_service_client::LedgerServiceClient;
use brain_proto::trust::v1::{NewLedgerEntry, RecordEntriesRequest};

#[derive(Debug, thiserror::Error)]
#[error("the audit ledger did not record `{action}`: {reason}")]
pub struct AuditError {
    pub action: &'static str,
    pub reason: String,
}

impl ServiceError for AuditError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Unavailable
    }
}

/// Records one service's key operations in the ledger.
#[derive(Clone)]
pub struct Auditor {
    peers: Peers,
}

impl Auditor {
    pub fn new(peers: Peers) -> Self {
        Self { peers }
    }

    /// Appends `action` on `subject` by `caller` in `tenant`; the entry's sequence number.
    pub async fn record(&self, caller: &Principal, tenant: &str, action: &'static str, subject: &str, details: serde_json::Value) -> Result<u64, AuditError> {
        let failed = |reason: String| AuditError { action, reason };
        let channel = self
            .peers
            .channel("trust")
            .map_err(|e| failed(e.to_string()))?
            .ok_or_else(|| failed("the trust service is not in this process and common.peers.trust is not set".into()))?;
        let entry = NewLedgerEntry {
            actor: caller.subject.actor(),
            tenant_id: tenant.to_owned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            result: "ok".into(),
            details_json: serde_json::to_vec(&details).unwrap_or_default(),
        };
        let response = LedgerServiceClient::new(channel)
            .record_entries(RecordEntriesRequest { entries: vec![entry] })
            .await
            .map_err(|status| failed(status.message().to_owned()))?;
        response.into_inner().seqs.first().copied().ok_or_else(|| failed("no sequence number returned".into()))
    }
}
