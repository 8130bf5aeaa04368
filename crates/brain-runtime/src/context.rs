//! What a service receives at construction: configuration, backends, shutdown signal.

use crate::RuntimeError;
use brain_bus::EventBus;
use brain_cache::Cache;
use brain_config::Config;
use brain_store::Store;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Full topic names under this brain's prefix.
#[derive(Clone, Debug)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
    }

    /// e.g. `topics.name(brain_bus::topics::USAGE_EVENTS)` → `brain.usage.events.v1`.
    pub fn name(&self, topic: &str) -> String {
        brain_bus::topics::name(&self.prefix, topic)
    }
}

#[derive(Clone)]
pub struct ServiceContext {
    pub service: &'static str,
    pub config: Arc<Config>,
    pub topics: Topics,
    pub shutdown: CancellationToken,
    /// Cancelled once the listeners have stopped and every in-flight request has finished (or
    /// the grace period ran out): work that requests feed, like buffered events, flushes then.
    pub requests_done: CancellationToken,
    /// Other services' gRPC, in this process or configured.
    pub peers: crate::Peers,
    pub(crate) store: Option<Store>,
    pub(crate) bus: Option<Arc<dyn EventBus>>,
    pub(crate) cache: Option<Arc<dyn Cache>>,
}

impl ServiceContext {
    pub fn store(&self) -> Result<&Store, RuntimeError> {
        self.store.as_ref().ok_or(RuntimeError::UndeclaredBackend { service: self.service, backend: "store" })
    }

    pub fn bus(&self) -> Result<&Arc<dyn EventBus>, RuntimeError> {
        self.bus.as_ref().ok_or(RuntimeError::UndeclaredBackend { service: self.service, backend: "bus" })
    }

    pub fn cache(&self) -> Result<&Arc<dyn Cache>, RuntimeError> {
        self.cache.as_ref().ok_or(RuntimeError::UndeclaredBackend { service: self.service, backend: "cache" })
    }
}
