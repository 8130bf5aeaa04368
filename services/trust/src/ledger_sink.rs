//! The audit trail's home: entries go to the tamper-evident ledger (brain-ledger), which
//! commits them before `append` returns; then each committed entry is announced on
//! `audit.events.v1` (grant lifecycle, sign-ins, key operations…) for whoever subscribes.

use crate::TrustError;
use crate::audit::{AuditEntry, AuditSink};
use brain_bus::{CloudEvent, Event, EventBus};
use brain_ledger::{Ledger, NewEntry};
use brain_proto::events::v1::AuditEvent;
use prost::Message;
use std::sync::Arc;

pub struct LedgerSink {
    pub ledger: Ledger,
    pub bus: Arc<dyn EventBus>,
    pub topic: String,
}

impl LedgerSink {
    /// Appends durably, then publishes. The operation stands once committed: a bus that is
    /// down loses the announcement (logged), never the evidence.
    pub async fn append_entries(&self, entries: Vec<NewEntry>) -> Result<Vec<u64>, TrustError> {
        let events: Vec<AuditEvent> = entries
            .iter()
            .map(|e| AuditEvent {
                actor: e.actor.clone(),
                tenant_id: e.tenant.clone(),
                action: e.action.clone(),
                subject: e.subject.clone(),
                result: e.result.clone(),
                details_json: serde_json::to_vec(&e.details).unwrap_or_default(),
                time: Some(brain_auth::proto::timestamp(chrono::Utc::now())),
                ledger_seq: 0,
            })
            .collect();
        let seqs = self.ledger.append(entries).await?;
        let published: Vec<Event> = events
            .into_iter()
            .zip(&seqs)
            .map(|(mut event, seq)| {
                event.ledger_seq = *seq;
                let id = format!("ledger-{seq}");
                let ce = CloudEvent { id: &id, kind: "brain.audit.event.v1", source: "/brain/trust", subject: &event.subject, tenant: &event.tenant_id };
                Event::cloud(&ce, event.tenant_id.clone(), event.encode_to_vec())
            })
            .collect();
        if let Err(error) = self.bus.publish(&self.topic, published).await {
            tracing::error!(%error, first_seq = seqs.first().copied().unwrap_or_default(), "audit events not published; the ledger has the entries");
        }
        Ok(seqs)
    }
}

#[async_trait::async_trait]
impl AuditSink for LedgerSink {
    async fn append(&self, entries: Vec<AuditEntry>) -> Result<Vec<u64>, TrustError> {
        let entries = entries
            .into_iter()
            .map(|e| NewEntry { actor: e.actor, tenant: e.tenant, action: e.action.to_owned(), subject: e.subject, result: e.result.to_owned(), details: e.details })
            .collect();
        self.append_entries(entries).await
    }
}
