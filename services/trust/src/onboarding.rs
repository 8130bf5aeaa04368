//! A factory's data onboarding, reported: once a dataset's first data is in the warehouse,
//! its owner asks for a signed trusted-status report of what arrived — which checks it passed
//! (identity, schema, grading, quality, masking), a hash of every accepted record, and the
//! ledger entry that records the onboarding.

use crate::audit::AuditEntry;
use crate::domain::reports::{Check, ReportKind, SignedReport};
use crate::reporting::Exchange;
use crate::sharing::{Sharing, governance_unavailable};
use crate::{TrustError, authz};
use brain_auth::Principal;
use brain_governance::domain::Grade;
use brain_proto::common::v1::{DatasetRef, PageRequest};
use brain_proto::governance::v1::quality_service_client::QualityServiceClient;
use brain_proto::governance::v1::warehouse_service_client::WarehouseServiceClient;
use brain_proto::governance::v1::{GetQualityScoreRequest, QueryRecordsRequest};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Records hashed into one report at most; a larger dataset is reported by its first ones.
pub const MAX_ONBOARDING_RECORDS: u64 = 100_000;
const PAGE: u32 = 1_000;

impl Sharing {
    /// Signs and stores (for the owner) the onboarding report of `tenant`'s `dataset`.
    pub async fn report_onboarding(&self, caller: &Principal, tenant: &str, dataset: &str) -> Result<SignedReport, TrustError> {
        caller.require_tenant(tenant)?;
        caller.require_any(&authz::TENANT_ADMINS)?;
        let view = self.dataset(tenant, dataset).await?;
        let reference = DatasetRef { tenant_id: tenant.to_owned(), dataset: dataset.to_owned() };
        let (records, content_sha256) = self.accepted_records_hash(&reference).await?;
        let (accepted, rejected, score) = self.quality(&reference).await?;

        let check = |name: &str, passed: bool, detail: String| Check { name: name.into(), passed, detail };
        let ungraded: Vec<&str> = view.fields.iter().filter(|f| !view.grades.contains_key(f.as_str())).map(String::as_str).collect();
        let highest = view.grades.values().max().copied().unwrap_or(Grade::Low);
        let masked: Vec<String> = [Grade::Medium, Grade::High].iter().map(|g| format!("{g:?}: {:?}", self.masking.policy_for(*g))).collect();
        let checks = vec![
            check("identity", true, format!("{} of tenant {tenant} ({:?})", caller.subject.actor(), caller.method)),
            check("schema", !view.fields.is_empty(), format!("registered in the catalog with {} fields", view.fields.len())),
            check(
                "grade",
                ungraded.is_empty(),
                if ungraded.is_empty() { format!("every field graded; highest {highest:?}") } else { format!("not graded: {}", ungraded.join(", ")) },
            ),
            check("quality", accepted > 0, format!("{accepted} records accepted, {rejected} rejected with reasons kept; score {score:.1}")),
            check("masking", true, format!("where data leaves: {}", masked.join("; "))),
        ];
        let details = json!({ "records": records, "content_sha256": content_sha256, "accepted": accepted, "rejected": rejected });
        let seq = self.audit.record(AuditEntry::by(caller, "dataset.onboarded", format!("{tenant}/{dataset}"), details)).await?;
        let exchange = Exchange {
            kind: ReportKind::Onboarding,
            actor: caller.subject.actor(),
            tenant: tenant.to_owned(),
            subject: format!("dataset {tenant}/{dataset}"),
            checks,
            content_sha256,
            records,
            ledger_seqs: vec![seq],
        };
        self.reporter.issue(exchange, &[tenant]).await
    }

    /// SHA-256 over the accepted records' canonical JSON (id, event time, payload; one per
    /// line, in the warehouse's order), and how many were hashed.
    async fn accepted_records_hash(&self, reference: &DatasetRef) -> Result<(u64, String), TrustError> {
        let channel = self.peers.channel("governance").map_err(governance_unavailable)?.ok_or_else(|| governance_unavailable("not reachable"))?;
        let mut warehouse = WarehouseServiceClient::new(channel);
        let mut hasher = Sha256::new();
        let (mut count, mut token) = (0u64, String::new());
        loop {
            let request = QueryRecordsRequest { r#ref: Some(reference.clone()), range: None, page: Some(PageRequest { page_size: PAGE, page_token: token }) };
            let page = warehouse.query_records(request).await.map_err(|s| governance_unavailable(s.message()))?.into_inner();
            for record in &page.records {
                let payload: Value = serde_json::from_slice(&record.payload_json).map_err(|e| governance_unavailable(format!("record {}: {e}", record.id)))?;
                let time = brain_auth::proto::time(record.event_time.as_ref()).map(|t| t.to_rfc3339());
                let line = json!({ "id": record.id, "event_time": time, "payload": payload });
                hasher.update(crate::domain::reports::canonical_json(&line).as_bytes());
                hasher.update(b"\n");
                count += 1;
            }
            token = page.page.map(|p| p.next_page_token).unwrap_or_default();
            if token.is_empty() || count >= MAX_ONBOARDING_RECORDS {
                return Ok((count, hex::encode(hasher.finalize())));
            }
        }
    }

    /// Accepted and rejected records so far, and the quality score.
    async fn quality(&self, reference: &DatasetRef) -> Result<(u64, u64, f64), TrustError> {
        let channel = self.peers.channel("governance").map_err(governance_unavailable)?.ok_or_else(|| governance_unavailable("not reachable"))?;
        let request = GetQualityScoreRequest { r#ref: Some(reference.clone()), range: None };
        let score = QualityServiceClient::new(channel).get_quality_score(request).await.map_err(|s| governance_unavailable(s.message()))?.into_inner();
        let accepted = score.days.iter().map(|d| d.accepted).sum();
        let rejected = score.days.iter().map(|d| d.rejected).sum();
        Ok((accepted, rejected, score.score))
    }
}
