//! Reading the evidence: the ledger (entries, verification, inclusion proofs, public key) and
//! the trusted-status reports, with who may see what.

use crate::audit::AuditEntry;
use crate::domain::reports::SignedReport;
use crate::operations::Trust;
use crate::{TrustError, authz};
use brain_auth::{Principal, PublicKey};
use brain_ledger::{InclusionProof, LedgerEntry, VerifyReport};
use serde_json::json;

impl Trust {
    /// Entries after `after_seq`: the auditor and the security administrator.
    pub async fn ledger_entries(&self, caller: &Principal, after_seq: u64, limit: u32) -> Result<Vec<LedgerEntry>, TrustError> {
        authz::may_read_ledger(caller)?;
        Ok(self.ledger.entries(after_seq, limit).await?)
    }

    /// Verifies the whole chain and every checkpoint; the verification itself is audited.
    pub async fn verify_ledger(&self, caller: &Principal) -> Result<VerifyReport, TrustError> {
        authz::may_read_ledger(caller)?;
        let report = self.ledger.verify().await?;
        let result = if report.ok() { "ok" } else { "failed" };
        let details = json!({ "entries": report.entries_checked, "checkpoints": report.checkpoints_checked, "first_broken_seq": report.first_broken_seq });
        self.audit.record(AuditEntry::by(caller, "ledger.verify", "ledger", details).result(result)).await?;
        Ok(report)
    }

    /// The inclusion proof of one entry: for ledger readers, and for the tenant the entry
    /// concerns (its reports cite the entry). Anyone else learns nothing, not even existence.
    pub async fn ledger_proof(&self, caller: &Principal, seq: u64) -> Result<InclusionProof, TrustError> {
        let unknown = || TrustError::NotFound { what: "ledger entry", id: seq.to_string() };
        if authz::may_read_ledger(caller).is_err() {
            // Checked before anything else is said about the entry (not even whether it is
            // checkpointed yet).
            let entry = self.ledger.entries(seq.saturating_sub(1), 1).await?.into_iter().next().filter(|e| e.seq == seq);
            if entry.is_none_or(|e| e.tenant != caller.tenant) {
                return Err(unknown());
            }
        }
        match self.ledger.proof(seq).await {
            Err(brain_ledger::LedgerError::NotFound(_)) => Err(unknown()),
            other => Ok(other?),
        }
    }

    /// What reports and checkpoints verify against; public.
    pub fn ledger_public_key(&self) -> PublicKey {
        self.ledger.public_key()
    }

    /// A report the caller's tenant is a party of.
    pub async fn report(&self, caller: &Principal, id: &str) -> Result<SignedReport, TrustError> {
        self.store.report(&caller.tenant, id).await
    }

    pub async fn reports(&self, caller: &Principal, after: &str, limit: i64) -> Result<Vec<SignedReport>, TrustError> {
        self.store.reports(&caller.tenant, after, limit).await
    }
}
