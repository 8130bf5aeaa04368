//! One usage event per request on the bus — tenant, key, model, endpoint, prompt and
//! completion tokens as the upstream reported them, latency, status — for evaluation and
//! billing. A bus that is down loses the event (logged), never the answer already sent.

use brain_auth::{Principal, Subject};
use brain_bus::{CloudEvent, Event, EventBus};
use brain_proto::events::v1::{UsageEvent, UsageKind};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;

/// What one request consumed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metered {
    pub model: String,
    pub version: String,
    /// `on_premise`, `in_province`, `external`; empty when no endpoint answered.
    pub location: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Whether the upstream reported its usage (a stream without a usage chunk does not).
    pub usage_reported: bool,
    pub status: u16,
    pub latency: Duration,
    pub guardrail: &'static str,
}

#[derive(Clone)]
pub struct Meter {
    pub bus: Arc<dyn EventBus>,
    pub topic: String,
}

impl Meter {
    pub fn event(caller: &Principal, metered: &Metered) -> UsageEvent {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let mut attributes: std::collections::HashMap<String, String> = [
            ("model", metered.model.clone()),
            ("version", metered.version.clone()),
            ("endpoint_location", metered.location.clone()),
            ("prompt_tokens", metered.prompt_tokens.to_string()),
            ("completion_tokens", metered.completion_tokens.to_string()),
            ("usage_reported", metered.usage_reported.to_string()),
            ("status", metered.status.to_string()),
            ("latency_ms", format!("{:.3}", metered.latency.as_secs_f64() * 1000.0)),
            ("guardrail", metered.guardrail.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Subject::ApiKey { id, .. } = &caller.subject {
            attributes.insert("api_key".into(), id.clone());
        }
        UsageEvent {
            id,
            tenant_id: caller.tenant.clone(),
            kind: UsageKind::ModelTokens as i32,
            service: "model-gateway".into(),
            subject: metered.model.clone(),
            quantity: (metered.prompt_tokens + metered.completion_tokens) as f64,
            unit: "tokens".into(),
            time: Some(brain_auth::proto::timestamp(chrono::Utc::now())),
            attributes,
        }
    }

    pub async fn record(&self, caller: &Principal, metered: &Metered) {
        let usage = Self::event(caller, metered);
        let ce = CloudEvent { id: &usage.id, kind: "brain.usage.event.v1", source: "/brain/model-gateway", subject: &metered.model, tenant: &caller.tenant };
        let event = Event::cloud(&ce, caller.tenant.clone(), usage.encode_to_vec());
        if let Err(error) = self.bus.publish(&self.topic, vec![event]).await {
            tracing::error!(%error, model = %metered.model, "usage event not published");
        }
    }
}
