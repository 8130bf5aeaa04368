//! What the gateway serves: each model's production version with the endpoints its grade
//! allows, and its fallback. Answers are reused for [`super::ROUTE_TTL`]: a request does not
//! read the store, and a change elsewhere shows within that time (here at once).

use super::domain::{Endpoint, Level, Model, valid_name};
use super::{Registry, RegistryError};
use brain_governance::domain::Grade;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a model is served now.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRoute {
    pub model: String,
    /// The production version.
    pub version: String,
    pub level: Level,
    pub owner_tenant: String,
    /// When the model was registered (OpenAI's `created`).
    pub created_at: DateTime<Utc>,
    /// The version's endpoints its grade allows, in registration order: on premise only for
    /// weights trained on high-graded data, not external ones for medium-graded data.
    pub endpoints: Vec<Endpoint>,
    /// How many endpoints were held back because the grade does not allow them (a grade that
    /// rose after the version was promoted: an ancestor got a higher-graded version).
    pub withheld_endpoints: usize,
    /// The highest grade the version or any version of its ancestors was trained on; `Low`
    /// when none declared one.
    pub trained_on_grade: Grade,
    /// The model to use when this one fails; the gateway follows one hop.
    pub fallback_model: Option<String>,
}

impl ModelRoute {
    /// The route of `model`'s production version; `None` when none serves.
    pub fn of(model: &Model) -> Option<Self> {
        let version = model.production()?;
        let grade = model.effective_grade(version).unwrap_or(Grade::Low);
        let (endpoints, withheld): (Vec<Endpoint>, Vec<Endpoint>) = version.endpoints.iter().cloned().partition(|e| e.location.may_serve(grade));
        if !withheld.is_empty() {
            tracing::warn!(model = %model.name, version = %version.version, grade = grade.as_str(), withheld = withheld.len(), "endpoints withheld: the model's grade does not allow them");
        }
        Some(Self {
            model: model.name.clone(),
            version: version.version.clone(),
            level: model.level,
            owner_tenant: model.owner_tenant.clone(),
            created_at: model.created_at,
            endpoints,
            withheld_endpoints: withheld.len(),
            trained_on_grade: grade,
            fallback_model: version.fallback_model.clone(),
        })
    }
}

/// Bounds memory against clients asking for many unknown names.
const MAX_ROUTES: usize = 4096;

/// Routes reused for a short time. A write clears it and bumps the generation, so a read that
/// began before the write does not put its stale answer back.
pub(crate) struct RouteCache {
    ttl: Duration,
    inner: Mutex<Cached>,
    /// One store load per model at a time (and one of the serving list, under `""`).
    loads: brain_core::load_locks::LoadLocks,
}

#[derive(Default)]
struct Cached {
    generation: u64,
    routes: HashMap<String, (Instant, Option<ModelRoute>)>,
    serving: Option<(Instant, Vec<ModelRoute>)>,
}

impl RouteCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, inner: Mutex::new(Cached::default()), loads: brain_core::load_locks::LoadLocks::default() }
    }

    fn fresh(&self, at: Instant) -> bool {
        at.elapsed() < self.ttl
    }

    /// The generation to hand back to `put_*`; `None` when caching is off or the lock is poisoned.
    fn generation(&self) -> Option<u64> {
        (!self.ttl.is_zero()).then(|| self.inner.lock().ok().map(|c| c.generation)).flatten()
    }

    /// Held while `key` is loaded from the store; nothing to wait for when nothing is cached.
    async fn lock_load(&self, key: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.ttl.is_zero() { None } else { Some(self.loads.lock(key).await) }
    }

    fn route(&self, model: &str) -> Option<Option<ModelRoute>> {
        let cached = self.inner.lock().ok()?;
        cached.routes.get(model).filter(|(at, _)| self.fresh(*at)).map(|(_, route)| route.clone())
    }

    fn put_route(&self, generation: Option<u64>, model: &str, route: &Option<ModelRoute>) {
        let (Some(generation), Ok(mut cached)) = (generation, self.inner.lock()) else { return };
        if cached.generation != generation {
            return;
        }
        if cached.routes.len() >= MAX_ROUTES {
            let ttl = self.ttl;
            cached.routes.retain(|_, (at, _)| at.elapsed() < ttl);
            if cached.routes.len() >= MAX_ROUTES {
                cached.routes.clear();
            }
        }
        cached.routes.insert(model.to_owned(), (Instant::now(), route.clone()));
    }

    fn serving(&self) -> Option<Vec<ModelRoute>> {
        let cached = self.inner.lock().ok()?;
        cached.serving.as_ref().filter(|(at, _)| self.fresh(*at)).map(|(_, routes)| routes.clone())
    }

    fn put_serving(&self, generation: Option<u64>, routes: &[ModelRoute]) {
        let (Some(generation), Ok(mut cached)) = (generation, self.inner.lock()) else { return };
        if cached.generation == generation {
            cached.serving = Some((Instant::now(), routes.to_vec()));
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut cached) = self.inner.lock() {
            cached.generation += 1;
            cached.routes.clear();
            cached.serving = None;
        }
    }
}

impl Registry {
    /// How `model` is served: its production version, or `None` when it has none (unknown,
    /// or no version in production).
    pub async fn route(&self, model: &str) -> Result<Option<ModelRoute>, RegistryError> {
        if let Some(route) = self.routes.route(model) {
            return Ok(route);
        }
        // When a busy model's route expires, one request reloads it; the others wait for it.
        let _loading = self.routes.lock_load(model).await;
        if let Some(route) = self.routes.route(model) {
            return Ok(route);
        }
        let generation = self.routes.generation();
        let route = if valid_name(model) { self.load(model).await?.as_ref().and_then(ModelRoute::of) } else { None };
        self.routes.put_route(generation, model, &route);
        Ok(route)
    }

    /// Every model that serves (`GET /v1/models`), by name.
    pub async fn serving_models(&self) -> Result<Vec<ModelRoute>, RegistryError> {
        if let Some(routes) = self.routes.serving() {
            return Ok(routes);
        }
        let _loading = self.routes.lock_load("").await;
        if let Some(routes) = self.routes.serving() {
            return Ok(routes);
        }
        let generation = self.routes.generation();
        let names = self.store.serving().await?;
        let rows = self.store.model_rows(&names).await?;
        let routes: Vec<ModelRoute> = self.assemble(rows).await?.iter().filter_map(ModelRoute::of).collect();
        self.routes.put_serving(generation, &routes);
        Ok(routes)
    }
}
