//! The audit trail's home: entries go to the tamper-evident ledger (brain-ledger), which
//! commits them before `append` returns.

use crate::TrustError;
use crate::audit::{AuditEntry, AuditSink};
use brain_ledger::{Ledger, NewEntry};

pub struct LedgerSink(pub Ledger);

#[async_trait::async_trait]
impl AuditSink for LedgerSink {
    async fn append(&self, entries: Vec<AuditEntry>) -> Result<Vec<u64>, TrustError> {
        let entries = entries
            .into_iter()
            .map(|e| NewEntry { actor: e.actor, tenant: e.tenant, action: e.action.to_owned(), subject: e.subject, result: e.result.to_owned(), details: e.details })
            .collect();
        Ok(self.0.append(entries).await?)
    }
}
