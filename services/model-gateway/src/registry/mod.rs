//! The model registry (M2, M3): foundation → industry → scenario models, their versions and
//! stages, and the OpenAI-compatible endpoints each version is served from.
//!
//! - [`domain`] / [`endpoint`]: the rules, pure (names, the tree, stage transitions, endpoint
//!   checks, grades along the tree);
//! - [`store`]: the platform tables (one catalog per brain, no tenant scope);
//! - [`lineage`]: models loaded with the grade they inherit from their ancestors;
//! - [`changes`]: register, add a version, promote, retire — authorized ([`authz`]) and
//!   recorded in the ledger ([`audit`]) before they answer;
//! - [`catalog`]: reading and listing, endpoint addresses shown to the owner and the platform;
//! - [`routing`]: what the gateway serves ([`Registry::route`], [`Registry::serving_models`]);
//! - `rest` / `grpc`: `/api/v1/models` and `brain.gateway.v1.ModelRegistryService`.
//!
//! The grade a version carries is the highest of the grade it was trained on and every
//! version of every ancestor (which parent version a child was fine-tuned from is not
//! recorded, so every one counts). Weights trained on high-graded data are served only from
//! on-premise endpoints, on medium-graded data not from external ones: refused when a version
//! is added or promoted, and withheld by [`Registry::route`] whatever happened since.

pub mod audit;
pub mod authz;
pub mod catalog;
pub mod changes;
mod convert;
pub mod domain;
pub mod endpoint;
mod error;
pub(crate) mod grpc;
pub mod lineage;
pub(crate) mod rest;
pub mod routing;
pub mod store;

pub use audit::AuditLog;
pub use domain::{Endpoint, Level, Location, Model, NewModel, NewVersion, Stage, Version};
pub use error::RegistryError;
pub use routing::ModelRoute;
pub use store::{ListFilter, MIGRATIONS, RegistryStore};

use std::sync::Arc;
use std::time::Duration;

/// How long [`Registry::route`] and [`Registry::serving_models`] answers are reused: a change
/// made through another process shows within this time (changes through this one at once).
pub const ROUTE_TTL: Duration = Duration::from_secs(1);

/// The registry of one brain: its operations (REST and gRPC translate onto them) and the
/// routes the gateway asks for.
#[derive(Clone)]
pub struct Registry {
    store: RegistryStore,
    audit: Arc<dyn AuditLog>,
    routes: Arc<routing::RouteCache>,
}

impl Registry {
    pub fn new(store: RegistryStore, audit: Arc<dyn AuditLog>) -> Self {
        Self::with_route_ttl(store, audit, ROUTE_TTL)
    }

    /// With routes reused for `ttl` (zero: never reused).
    pub fn with_route_ttl(store: RegistryStore, audit: Arc<dyn AuditLog>, ttl: Duration) -> Self {
        Self { store, audit, routes: Arc::new(routing::RouteCache::new(ttl)) }
    }
}
