//! gRPC of the evidence: LedgerService (entries, verification, inclusion proofs, public key)
//! and ReportService (signed trusted-status reports).

use super::grpc::{next_page, page_of, status};
use crate::TrustError;
use crate::domain::reports::SignedReport;
use crate::operations::Trust;
use brain_auth::grpc_principal;
use brain_auth::proto::timestamp;
use brain_core::grpc_status;
use brain_proto::trust::v1::ledger_service_server::{LedgerService, LedgerServiceServer};
use brain_proto::trust::v1::report_service_server::{ReportService, ReportServiceServer};
use brain_proto::trust::v1::*;
use tonic::{Request, Response, Status};

pub(crate) fn add(routes: &mut tonic::service::RoutesBuilder, trust: &Trust) {
    routes.add_service(LedgerServiceServer::new(trust.clone())).add_service(ReportServiceServer::new(trust.clone()));
}

fn entry_to(entry: brain_ledger::LedgerEntry) -> LedgerEntry {
    LedgerEntry {
        seq: entry.seq,
        time: Some(timestamp(entry.at)),
        actor: entry.actor,
        tenant_id: entry.tenant,
        action: entry.action,
        subject: entry.subject,
        result: entry.result,
        details_hash_hex: entry.details_hash,
        prev_hash_hex: entry.prev_hash,
        hash_hex: entry.entry_hash,
    }
}

fn report_to(report: SignedReport) -> TrustedReport {
    let body = report.body;
    let kind = serde_json::to_value(body.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let issued_at = chrono::DateTime::parse_from_rfc3339(&body.issued_at).ok().map(|t| timestamp(t.to_utc()));
    TrustedReport {
        id: body.id,
        kind,
        actor: body.actor,
        tenant_id: body.tenant,
        subject: body.subject,
        checks: body.checks.into_iter().map(|c| Check { name: c.name, passed: c.passed, detail: c.detail }).collect(),
        content_hash_hex: body.content_hash,
        records: body.records,
        ledger_seqs: body.ledger_seqs,
        issued_at,
        signed_json: report.signed_json,
        key_id: report.key_id,
        signature_hex: report.signature_hex,
    }
}

#[tonic::async_trait]
impl LedgerService for Trust {
    async fn list_entries(&self, request: Request<ListEntriesRequest>) -> Result<Response<ListEntriesResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        // `from_seq` is inclusive; the ledger pages by the last sequence number seen.
        let entries = self.ledger_entries(&caller, r.from_seq.saturating_sub(1), if r.limit == 0 { 100 } else { r.limit }).await.map_err(status)?;
        Ok(Response::new(ListEntriesResponse { entries: entries.into_iter().map(entry_to).collect() }))
    }

    async fn verify_ledger(&self, request: Request<VerifyLedgerRequest>) -> Result<Response<LedgerVerification>, Status> {
        let caller = grpc_principal(&request)?;
        let report = Trust::verify_ledger(self, &caller).await.map_err(status)?;
        let reason = report.problems.first().map(|p| p.to_string()).unwrap_or_default();
        Ok(Response::new(LedgerVerification {
            ok: report.ok(),
            entries: report.entries_checked,
            checkpoints: report.checkpoints_checked,
            first_broken_seq: report.first_broken_seq.unwrap_or_default(),
            reason,
        }))
    }

    async fn get_inclusion_proof(&self, request: Request<GetInclusionProofRequest>) -> Result<Response<InclusionProof>, Status> {
        let caller = grpc_principal(&request)?;
        let proof = self.ledger_proof(&caller, request.get_ref().seq).await.map_err(status)?;
        // Leaves are the raw 32-byte entry hashes (RFC 6962 leaf hash over them).
        let leaf = hex::decode(&proof.entry.entry_hash).map(|bytes| brain_ledger::merkle::leaf_hash(&bytes)).map_err(|_| status(TrustError::Corrupt { what: "ledger entry", id: proof.seq.to_string(), reason: "entry_hash is not hex".into() }))?;
        Ok(Response::new(InclusionProof {
            seq: proof.seq,
            tree_size: proof.checkpoint.tree_size,
            leaf_hash_hex: hex::encode(leaf),
            path_hex: proof.audit_path,
            root_hex: proof.checkpoint.root_hash,
            checkpoint_time: Some(timestamp(proof.checkpoint.at)),
            suite: "ed25519".into(),
            key_id: proof.checkpoint.key_id,
            signature_hex: proof.checkpoint.signature,
        }))
    }

    async fn record_entries(&self, request: Request<RecordEntriesRequest>) -> Result<Response<RecordEntriesResponse>, Status> {
        let caller = grpc_principal(&request)?;
        if !caller.is_service() {
            return Err(grpc_status(brain_auth::AuthError::denied("only the platform's services record ledger entries")));
        }
        let entries = request.into_inner().entries.into_iter().map(recorded_entry).collect::<Result<Vec<_>, _>>()?;
        let seqs = self.recorder.append_entries(entries).await.map_err(status)?;
        Ok(Response::new(RecordEntriesResponse { seqs }))
    }

    async fn get_ledger_public_key(&self, _request: Request<GetLedgerPublicKeyRequest>) -> Result<Response<LedgerPublicKey>, Status> {
        let key = self.ledger_public_key();
        let pem = key.to_pem().map_err(grpc_status)?;
        Ok(Response::new(LedgerPublicKey { key_id: key.kid, suite: "ed25519".into(), public_key_pem: pem }))
    }
}

/// What another service may write to the ledger: its own key operations, well named.
fn recorded_entry(entry: NewLedgerEntry) -> Result<brain_ledger::NewEntry, Status> {
    let invalid = |reason: String| grpc_status(brain_auth::AuthError::bad_input(reason));
    let well_named = !entry.action.is_empty() && entry.action.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_');
    if !well_named {
        return Err(invalid(format!("action {:?} must be a dotted lower-case name", entry.action)));
    }
    if !["ok", "denied", "failed"].contains(&entry.result.as_str()) {
        return Err(invalid(format!("result {:?} must be ok, denied or failed", entry.result)));
    }
    let details: serde_json::Value = if entry.details_json.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(&entry.details_json).map_err(|e| invalid(format!("details_json: {e}")))?
    };
    if !details.is_object() {
        return Err(invalid("details_json must be a JSON object".into()));
    }
    Ok(brain_ledger::NewEntry { actor: entry.actor, tenant: entry.tenant_id, action: entry.action, subject: entry.subject, result: entry.result, details })
}

#[tonic::async_trait]
impl ReportService for Trust {
    async fn get_report(&self, request: Request<GetReportRequest>) -> Result<Response<TrustedReport>, Status> {
        let caller = grpc_principal(&request)?;
        Ok(Response::new(report_to(self.report(&caller, &request.get_ref().report_id).await.map_err(status)?)))
    }

    async fn report_onboarding(&self, request: Request<ReportOnboardingRequest>) -> Result<Response<TrustedReport>, Status> {
        let caller = grpc_principal(&request)?;
        let reference = request.into_inner().r#ref.unwrap_or_default();
        let report = self.sharing.report_onboarding(&caller, &reference.tenant_id, &reference.dataset).await.map_err(status)?;
        Ok(Response::new(report_to(report)))
    }

    async fn list_reports(&self, request: Request<ListReportsRequest>) -> Result<Response<ListReportsResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let (after, limit) = page_of(request.get_ref().page.as_ref());
        let reports = self.reports(&caller, &after, limit).await.map_err(|e: TrustError| status(e))?;
        let ids = reports.iter().map(|r| r.body.id.clone()).collect();
        Ok(Response::new(ListReportsResponse { reports: reports.into_iter().map(report_to).collect(), page: next_page(ids, limit) }))
    }
}
