//! Starting and stopping a brain process.
//!
//! Start: backends the selected targets need → services → listeners. Stop (on the shutdown
//! token): report NOT_SERVING and fail `/readyz`, stop accepting and finish in-flight
//! requests, let services drain and commit their consumers, flush producers, close the store.

use crate::http::Readiness;
use crate::service::{Backend, Service, ServiceSpec};
use crate::{RuntimeError, ServiceContext, Topics, grpc, targets};
use brain_bus::EventBus;
use brain_cache::Cache;
use brain_config::Config;
use brain_store::Store;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct ProcessOptions {
    pub config: Config,
    /// `all` or a comma-separated list of service names.
    pub targets: String,
    pub registry: Vec<ServiceSpec>,
    pub telemetry: Arc<brain_telemetry::Telemetry>,
}

pub struct Process;

pub struct RunningProcess {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    /// The gRPC listener serves mTLS (`common.tls`).
    pub grpc_tls: bool,
    /// Names of the services running in this process.
    pub services: Vec<&'static str>,
    /// Backends this process started, e.g. `["store", "bus"]`.
    pub backends: Vec<&'static str>,
    shutdown: CancellationToken,
    requests_done: CancellationToken,
    grace: Duration,
    servers: Vec<JoinHandle<Result<(), RuntimeError>>>,
    service_tasks: TaskTracker,
    health: tonic_health::server::HealthReporter,
    grpc_names: Vec<&'static str>,
    bus: Option<Arc<dyn EventBus>>,
    store: Option<Store>,
    telemetry: Arc<brain_telemetry::Telemetry>,
}

/// The backends of a process, opened once and shared by its services.
struct Backends {
    store: Option<Store>,
    bus: Option<Arc<dyn EventBus>>,
    cache: Option<Arc<dyn Cache>>,
}

fn backend_error(backend: &'static str) -> impl Fn(String) -> RuntimeError {
    move |reason| RuntimeError::Backend { backend, reason }
}

async fn open_backends(config: &Config, needed: &BTreeSet<Backend>, specs: &[&ServiceSpec]) -> Result<Backends, RuntimeError> {
    let common = &config.common;
    let store = if needed.contains(&Backend::Store) {
        let store = Store::connect(&common.database_url()).await.map_err(|e| backend_error("store")(e.to_string()))?;
        store.migrate(&brain_store::PLATFORM).await.map_err(|e| backend_error("store")(e.to_string()))?;
        for spec in specs {
            for migrations in spec.migrations {
                store.migrate(migrations).await.map_err(|e| backend_error("store")(e.to_string()))?;
            }
        }
        Some(store)
    } else {
        None
    };
    let bus = if needed.contains(&Backend::Bus) {
        let data_dir = PathBuf::from(&common.data_dir);
        let bus = brain_bus::connect(&common.bus, &data_dir, (&config.bus).into(), &common.topic_prefix, &config.bus.kafka_security)
            .await
            .map_err(|e| backend_error("bus")(e.to_string()))?;
        let topics = Topics::new(&common.topic_prefix);
        for topic in brain_bus::topics::ALL {
            bus.ensure_topic(&topics.name(topic)).await.map_err(|e| backend_error("bus")(e.to_string()))?;
        }
        Some(bus)
    } else {
        None
    };
    let cache = if needed.contains(&Backend::Cache) {
        let namespace = format!("{}:{}:", common.topic_prefix, common.industry.code);
        Some(brain_cache::connect(&common.cache, &namespace).await.map_err(|e| backend_error("cache")(e.to_string()))?)
    } else {
        None
    };
    Ok(Backends { store, bus, cache })
}

async fn bind(what: &'static str, addr: &str) -> Result<tokio::net::TcpListener, RuntimeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RuntimeError::Bind { what, addr: addr.to_owned(), source })
}

impl Process {
    /// Starts the selected services and their listeners; returns once they accept requests.
    pub async fn start(options: ProcessOptions) -> Result<RunningProcess, RuntimeError> {
        let ProcessOptions { config, targets: target_list, registry, telemetry } = options;
        let specs = targets::select(&registry, &target_list)?;
        let needed: BTreeSet<Backend> = specs.iter().flat_map(|s| s.needs.iter().copied()).collect();
        let config = Arc::new(config);
        let shutdown = CancellationToken::new();
        let requests_done = CancellationToken::new();
        // Bad certificate files stop the start before any backend is touched.
        crate::tls::register_metrics();
        let tls = crate::ServiceTls::from_config(&config.common.tls)?;
        let backends = open_backends(&config, &needed, &specs).await?;

        // Services in this process call each other through its gRPC routes, set once built.
        let local_routes = crate::peers::LocalRoutes::default();
        let peers = crate::Peers::new(specs.iter().map(|s| s.name).collect(), local_routes.clone(), config.common.peers.clone(), tls.clone());
        let key = crate::auth::signing_key(&config)?;
        let service_tokens = Arc::new(crate::auth::ServiceTokens::new(&config, key.clone()));
        let auth = crate::auth::ProcessAuth::new(&config, &key, peers.for_service("brain", service_tokens.clone()))?;

        let mut services: Vec<(&'static str, Arc<dyn Service>, ServiceContext)> = Vec::new();
        for spec in &specs {
            let ctx = ServiceContext {
                service: spec.name,
                config: config.clone(),
                topics: Topics::new(&config.common.topic_prefix),
                shutdown: shutdown.child_token(),
                requests_done: requests_done.clone(),
                peers: peers.for_service(spec.name, service_tokens.clone()),
                store: spec.needs.contains(&Backend::Store).then(|| backends.store.clone()).flatten(),
                bus: spec.needs.contains(&Backend::Bus).then(|| backends.bus.clone()).flatten(),
                cache: spec.needs.contains(&Backend::Cache).then(|| backends.cache.clone()).flatten(),
            };
            let service = (spec.build)(ctx.clone()).await?;
            services.push((spec.name, service, ctx));
        }


        let http_listener = bind("HTTP", &config.common.http_addr).await?;
        let grpc_listener = bind("gRPC", &config.common.grpc_addr).await?;
        let http_addr = http_listener.local_addr().map_err(|source| RuntimeError::Bind { what: "HTTP", addr: config.common.http_addr.clone(), source })?;
        let grpc_addr = grpc_listener.local_addr().map_err(|source| RuntimeError::Bind { what: "gRPC", addr: config.common.grpc_addr.clone(), source })?;

        // gRPC: services, health, reflection.
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut routes = tonic::service::RoutesBuilder::default();
        let mut grpc_names = Vec::new();
        for (_, service, _) in &services {
            service.add_grpc(&mut routes);
            grpc_names.extend(service.grpc_names());
        }
        for name in &grpc_names {
            health.set_service_status(*name, tonic_health::ServingStatus::Serving).await;
        }
        health.set_service_status("", tonic_health::ServingStatus::Serving).await;
        let reflection = grpc::reflection().map_err(|e| RuntimeError::Server { what: "gRPC reflection", reason: e.to_string() })?;
        routes.add_service(health_service).add_service(reflection);
        let routes = routes.routes();
        // Only this function sets it, once: an error cannot happen.
        let _ = local_routes.set(routes.clone());
        let grpc_shutdown = shutdown.clone();
        let auth_layer = auth_layer(&auth);
        let grpc_auth = auth_layer.clone();
        if let Some(tls) = &tls {
            tls.spawn_reloader(shutdown.clone());
        }
        let grpc_server = tokio::spawn(async move {
            let router = tonic::transport::Server::builder().layer(grpc::ObserveLayer).layer(grpc_auth).add_routes(routes);
            let done = grpc_shutdown.clone().cancelled_owned();
            // No Nagle either way: small acks of a gRPC stream must not wait for the peer's
            // delayed ACK (the TLS acceptor sets it on every connection).
            let served = match tls {
                Some(tls) => router.serve_with_incoming_shutdown(tls.incoming(grpc_listener, grpc_shutdown), done).await,
                None => {
                    let incoming = tonic::transport::server::TcpIncoming::from(grpc_listener).with_nodelay(Some(true));
                    router.serve_with_incoming_shutdown(incoming, done).await
                }
            };
            served.map_err(|e| RuntimeError::Server { what: "gRPC", reason: e.to_string() })
        });

        // HTTP: service routes with their OpenAPI, plus operations endpoints.
        let mut api = utoipa_axum::router::OpenApiRouter::with_openapi(openapi_base(&config));
        for (_, service, _) in &services {
            api = api.merge(service.rest());
        }
        let (service_router, openapi) = api.split_for_parts();
        let readiness = Readiness {
            store: backends.store.clone(),
            bus: backends.bus.clone(),
            cache: backends.cache.clone(),
            draining: shutdown.clone(),
        };
        let app = crate::http::router(service_router, openapi, readiness, telemetry.clone(), auth_layer);
        let http_shutdown = shutdown.clone();
        let http_server = tokio::spawn(async move {
            use axum::serve::ListenerExt as _;
            // Small writes (a streamed token, an SSE event) go out at once, not after the
            // kernel's delayed-ACK wait (~40 ms).
            let http_listener = http_listener.tap_io(|tcp| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "TCP_NODELAY not set");
                }
            });
            axum::serve(http_listener, app)
                .with_graceful_shutdown(http_shutdown.cancelled_owned())
                .await
                .map_err(|e| RuntimeError::Server { what: "HTTP", reason: e.to_string() })
        });

        let service_tasks = TaskTracker::new();
        for (name, service, ctx) in &services {
            let (name, service, ctx, token) = (*name, service.clone(), ctx.clone(), shutdown.clone());
            service_tasks.spawn(async move {
                if let Err(error) = service.run(ctx).await {
                    // A service that cannot do its work must not leave a half-working process.
                    tracing::error!(service = name, %error, "service stopped with an error; shutting down");
                    token.cancel();
                }
            });
        }
        service_tasks.close();

        let backend_names = needed.iter().map(|b| b.name()).collect();
        Ok(RunningProcess {
            http_addr,
            grpc_addr,
            grpc_tls: config.common.tls.enabled(),
            services: services.iter().map(|(name, _, _)| *name).collect(),
            backends: backend_names,
            shutdown,
            requests_done,
            grace: Duration::from_secs(config.common.shutdown_grace_seconds),
            servers: vec![grpc_server, http_server],
            service_tasks,
            health,
            grpc_names,
            bus: backends.bus,
            store: backends.store,
            telemetry,
        })
    }
}

/// One authentication layer for both listeners.
fn auth_layer(auth: &crate::auth::ProcessAuth) -> brain_auth::AuthLayer {
    if auth.enforce {
        brain_auth::AuthLayer::new(auth.authenticator.clone(), brain_auth::PublicPaths::platform_defaults())
    } else {
        brain_auth::AuthLayer::unenforced(auth.authenticator.clone(), crate::auth::unenforced_principal())
    }
}

fn openapi_base(config: &Config) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{InfoBuilder, OpenApiBuilder};
    let industry = &config.common.industry;
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!("Industry Brain — {}", industry.name))
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("REST API of an industry brain (产业大脑). Errors are RFC 9457 problem+json."))
                .build(),
        )
        .build()
}

impl RunningProcess {
    /// Cancelling this token starts a graceful shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits for the shutdown token, then stops in order. Errors of the listeners are returned.
    pub async fn wait(self) -> Result<(), RuntimeError> {
        self.shutdown.cancelled().await;
        tracing::info!("shutting down: draining in-flight work");
        for name in &self.grpc_names {
            self.health.set_service_status(*name, tonic_health::ServingStatus::NotServing).await;
        }
        self.health.set_service_status("", tonic_health::ServingStatus::NotServing).await;

        let mut result = Ok(());
        let deadline = tokio::time::Instant::now() + self.grace;
        for server in self.servers {
            match tokio::time::timeout_at(deadline, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => result = Err(error),
                Ok(Err(join)) => result = Err(RuntimeError::Server { what: "listener", reason: join.to_string() }),
                Err(_) => tracing::warn!("in-flight requests did not finish within the shutdown grace period"),
            }
        }
        self.requests_done.cancel();
        if tokio::time::timeout_at(deadline, self.service_tasks.wait()).await.is_err() {
            tracing::warn!("services did not drain within the shutdown grace period");
        }
        if let Some(bus) = &self.bus
            && let Err(error) = bus.flush().await {
                tracing::error!(%error, "flushing the bus at shutdown");
            }
        if let Some(store) = &self.store {
            store.close().await;
        }
        self.telemetry.shutdown();
        tracing::info!("stopped");
        result
    }
}
