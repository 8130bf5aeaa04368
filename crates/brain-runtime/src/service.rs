//! What a service crate gives the runtime.

use crate::{RuntimeError, ServiceContext};
use async_trait::async_trait;
use futures::future::BoxFuture;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;

/// Backends a service may need; the runtime starts only those the selected targets declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    Store,
    Bus,
    Cache,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Bus => "bus",
            Self::Cache => "cache",
        }
    }
}

/// Builds a service from its context (an async constructor).
pub type BuildService = fn(ServiceContext) -> BoxFuture<'static, Result<Arc<dyn Service>, RuntimeError>>;

/// How to build one service: its target name, the backends it needs, and a constructor.
pub struct ServiceSpec {
    /// Target name, e.g. `ingestion`.
    pub name: &'static str,
    pub description: &'static str,
    pub needs: &'static [Backend],
    /// Schema migrations of the tables it owns, for both SQL engines.
    pub migrations: &'static [brain_store::Migrations],
    pub build: BuildService,
}

/// A running service: its gRPC services, its REST routes and its background work.
#[async_trait]
pub trait Service: Send + Sync + 'static {
    /// Fully-qualified gRPC service names it serves (reported by `grpc.health.v1`).
    fn grpc_names(&self) -> Vec<&'static str>;

    /// Adds its gRPC services to the process's gRPC router.
    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder);

    /// Its REST routes, documented for the OpenAPI document.
    fn rest(&self) -> OpenApiRouter;

    /// Background work such as consumers. Must return once `ctx.shutdown` is cancelled,
    /// after finishing and committing in-flight work.
    async fn run(self: Arc<Self>, ctx: ServiceContext) -> Result<(), RuntimeError> {
        ctx.shutdown.cancelled().await;
        Ok(())
    }
}
