//! Is a dataset in the catalog? Asked of governance over gRPC and cached, so that records for
//! a dataset nobody registered are refused at the API with a clear error.
//!
//! The check is advisory. Governance, which owns the catalog, checks every record again, so
//! when governance cannot be asked (down, or not reachable from this process) records are
//! taken, and governance keeps those of unknown datasets as rejected records with the reason.

use brain_proto::common::v1::DatasetRef;
use brain_proto::governance::v1::GetDatasetRequest;
use brain_proto::governance::v1::catalog_service_client::CatalogServiceClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use brain_runtime::PeerChannel;

/// Datasets are never deleted, so a known dataset stays known for a while.
const KNOWN_FOR: Duration = Duration::from_secs(300);
/// An unknown dataset may be registered any moment: ask again soon.
const UNKNOWN_FOR: Duration = Duration::from_secs(2);
/// Bound on cached answers; the cache is emptied when it is full.
const MAX_CACHED: usize = 10_000;

/// (tenant, dataset) → (in the catalog?, when governance said so).
type Answers = HashMap<(String, String), (bool, Instant)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presence {
    Known,
    Unknown,
    /// Governance could not be asked; governance checks the records later.
    Unchecked,
}

#[derive(Clone, Default)]
pub(crate) struct CatalogCheck {
    client: Option<CatalogServiceClient<PeerChannel>>,
    answers: Arc<Mutex<Answers>>,
}

impl CatalogCheck {
    pub fn new(governance: Option<PeerChannel>) -> Self {
        Self { client: governance.map(CatalogServiceClient::new), answers: Arc::default() }
    }

    pub fn is_enabled(&self) -> bool {
        self.client.is_some()
    }

    pub async fn presence(&self, tenant: &str, dataset: &str) -> Presence {
        let Some(client) = &self.client else { return Presence::Unchecked };
        let key = (tenant.to_owned(), dataset.to_owned());
        if let Some(known) = self.cached(&key) {
            return if known { Presence::Known } else { Presence::Unknown };
        }
        let mut request = tonic::Request::new(GetDatasetRequest { r#ref: Some(DatasetRef { tenant_id: key.0.clone(), dataset: key.1.clone() }) });
        brain_telemetry::propagation::inject_grpc(&mut request);
        let known = match client.clone().get_dataset(request).await {
            Ok(_) => true,
            Err(status) if status.code() == tonic::Code::NotFound => false,
            Err(status) => {
                tracing::warn!(tenant, dataset, code = ?status.code(), message = status.message(), "cannot ask governance whether the dataset exists; taking the records unchecked");
                return Presence::Unchecked;
            }
        };
        self.remember(key, known);
        if known { Presence::Known } else { Presence::Unknown }
    }

    fn cached(&self, key: &(String, String)) -> Option<bool> {
        let answers = self.answers.lock().ok()?;
        let (known, at) = answers.get(key)?;
        let ttl = if *known { KNOWN_FOR } else { UNKNOWN_FOR };
        (at.elapsed() < ttl).then_some(*known)
    }

    fn remember(&self, key: (String, String), known: bool) {
        if let Ok(mut answers) = self.answers.lock() {
            if answers.len() >= MAX_CACHED {
                answers.clear();
            }
            answers.insert(key, (known, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_governance_nothing_is_checked() {
        assert_eq!(CatalogCheck::new(None).presence("t", "d").await, Presence::Unchecked);
    }

    #[tokio::test]
    async fn an_unreachable_governance_leaves_records_unchecked() {
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        let check = CatalogCheck::new(Some(PeerChannel::remote(channel)));
        assert_eq!(check.presence("t", "d").await, Presence::Unchecked);
        assert_eq!(check.cached(&("t".into(), "d".into())), None, "failures are not cached");
    }

    #[test]
    fn answers_expire() {
        let check = CatalogCheck::default();
        check.remember(("t".into(), "known".into()), true);
        check.answers.lock().unwrap().insert(("t".into(), "gone".into()), (false, Instant::now() - UNKNOWN_FOR));
        assert_eq!(check.cached(&("t".into(), "known".into())), Some(true));
        assert_eq!(check.cached(&("t".into(), "gone".into())), None);
    }
}
