//! Signed trusted-status reports, one row per party of the exchange.

use super::{TrustStore, decode, encode, tenant};
use crate::TrustError;
use crate::domain::reports::SignedReport;
use brain_store::{StoreTx, Value};

impl TrustStore {
    /// Stores `report` for each of `parties` (in the caller's transaction).
    pub async fn save_report(&self, tx: &mut StoreTx, parties: &[&str], report: &SignedReport) -> Result<(), TrustError> {
        let kind = serde_json::to_value(report.body.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let issued_at = chrono::DateTime::parse_from_rfc3339(&report.body.issued_at)
            .map_err(|e| TrustError::Corrupt { what: "report", id: report.body.id.clone(), reason: format!("issued_at: {e}") })?
            .to_utc();
        let mut seen: Vec<&str> = Vec::new();
        for party in parties.iter().copied().filter(|p| !p.is_empty()) {
            if seen.contains(&party) {
                continue;
            }
            seen.push(party);
            tx.scoped(&tenant(party)?)
                .execute(
                    "INSERT INTO trust_reports (tenant_id, id, kind, issued_at, report) VALUES ($1, $2, $3, $4, $5)",
                    &[Value::from(report.body.id.as_str()), Value::from(kind.as_str()), Value::Timestamp(issued_at), encode(report)],
                )
                .await?;
        }
        Ok(())
    }

    /// A report as one of its parties sees it; anyone else gets NotFound.
    pub async fn report(&self, party: &str, id: &str) -> Result<SignedReport, TrustError> {
        let row = self
            .store
            .scoped(&tenant(party)?)
            .fetch_optional("SELECT id, report FROM trust_reports WHERE tenant_id = $1 AND id = $2", &[Value::from(id)])
            .await?
            .ok_or_else(|| TrustError::NotFound { what: "report", id: id.to_owned() })?;
        decode(&row, "report", "report")
    }

    /// A party's reports by id after `after`.
    pub async fn reports(&self, party: &str, after: &str, limit: i64) -> Result<Vec<SignedReport>, TrustError> {
        let rows = self
            .store
            .scoped(&tenant(party)?)
            .fetch_all("SELECT id, report FROM trust_reports WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3", &[Value::from(after), Value::Int(limit)])
            .await?;
        rows.iter().map(|row| decode(row, "report", "report")).collect()
    }
}
