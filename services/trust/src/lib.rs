//! Trust service (可信): who may do what with whose data, and the evidence of it.
//!
//! - [`domain`]: grants (authorized use of data), data products, trusted-status reports —
//!   pure rules;
//! - [`store`]: products, per-party grant rows, tenants, users, sessions and API keys on both
//!   SQL engines (secrets only as hashes);
//! - [`identity`]: accounts, sign-in (password, TOTP once enrolled, lockout), rotating
//!   sessions, sign-out;
//! - [`authz`]: who may administer what;
//! - [`operations`]: identity operations shared by REST and gRPC; [`sharing`]: products,
//!   grants and reads under a grant (data leaves its owner only here);
//! - [`audit`]: key operations appended to the tamper-evident ledger before they answer;
//! - [`keys`]: API keys resolved from the store for the authentication layer.
//!
//! Contract: `proto/brain/trust/v1/trust.proto`; REST under `/api/v1/auth`, `/api/v1/identity`,
//! `/api/v1/products`, `/api/v1/grants`.

mod api;
pub mod audit;
pub mod authz;
pub mod domain;
mod error;
pub mod evidence;
pub mod identity;
pub mod keys;
mod ledger_sink;
pub mod onboarding;
pub mod operations;
pub mod reporting;
pub mod sharing;
pub mod store;

pub use error::TrustError;

use brain_auth::{JwtIssuer, LockoutPolicy, PasswordHasher, SessionPolicy, SigningKey};
use brain_runtime::{Backend, RuntimeError, Service, ServiceContext, ServiceSpec};
use operations::Trust;
use std::sync::Arc;

pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "trust",
        description: "identity, tenants, API keys, data products, grants, ledger, trusted-status reports",
        needs: &[Backend::Store, Backend::Bus],
        migrations: &[store::MIGRATIONS, brain_ledger::MIGRATIONS],
        build: |ctx| Box::pin(async move { Ok(Arc::new(build(&ctx).await?) as Arc<dyn Service>) }),
    }
}

fn failed(reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Service { service: "trust", reason: reason.to_string() }
}

async fn build(ctx: &ServiceContext) -> Result<Trust, RuntimeError> {
    let config = &ctx.config;
    let settings = &config.trust;
    let store = store::TrustStore::new(ctx.store()?.clone());
    let key = Arc::new(SigningKey::load_or_generate(settings.jwt_key_path(&config.common)).map_err(failed)?);
    let identity = identity::Identity::new(
        store.clone(),
        PasswordHasher::default(),
        LockoutPolicy::from_config(settings.lockout_threshold, settings.lockout_seconds),
        SessionPolicy::from_config(settings.session_idle_timeout_seconds, settings.session_max_seconds),
        JwtIssuer::new(key.clone(), &settings.token_issuer, settings.access_token_ttl_seconds),
    );
    let ledger_key = Arc::new(SigningKey::load_or_generate(settings.ledger_key_path(&config.common)).map_err(failed)?);
    let ledger = brain_ledger::Ledger::open(ctx.store()?.clone(), ledger_key.clone()).await.map_err(failed)?;
    let recorder = Arc::new(ledger_sink::LedgerSink { ledger: ledger.clone(), bus: ctx.bus()?.clone(), topic: ctx.topics.name(brain_bus::topics::AUDIT_EVENTS) });
    let audit = audit::Audit::new(recorder.clone());
    record_configuration(&audit, config).await?;
    let rules = brain_governance::classification_rules(&config.governance.classification_rules).map_err(failed)?;
    let sharing = sharing::Sharing {
        store: store.clone(),
        audit: audit.clone(),
        peers: ctx.peers.clone(),
        masking: Arc::new(rules.masking),
        bus: ctx.bus()?.clone(),
        usage_topic: ctx.topics.name(brain_bus::topics::USAGE_EVENTS),
        reporter: reporting::Reporter::new(ledger_key, config.common.industry.code.clone(), store.clone()),
    };
    let trust = Trust { identity: Arc::new(identity), store, audit, token_keys: vec![key.public_key()], issuer: settings.token_issuer.clone(), sharing, ledger, recorder };
    bootstrap(&trust, ctx).await?;
    Ok(trust)
}

/// Every start records the configuration it runs with (its hash, secrets redacted), so a
/// changed configuration shows in the ledger as a new hash.
async fn record_configuration(audit: &audit::Audit, config: &brain_config::Config) -> Result<(), RuntimeError> {
    use sha2::{Digest, Sha256};
    let yaml = brain_config::to_redacted_yaml(config).map_err(failed)?;
    let details = serde_json::json!({ "sha256": hex::encode(Sha256::digest(yaml.as_bytes())), "industry": config.common.industry.code, "role": config.common.role });
    let entry = audit::AuditEntry { actor: "service:trust".into(), tenant: brain_auth::PLATFORM_TENANT.into(), action: "config.applied", subject: "brain".into(), result: "ok", details };
    audit.record(entry).await.map_err(failed)?;
    Ok(())
}

/// The first system administrator, once: with the configured password, or a random one
/// written to `<data_dir>/initial-admin-password` (mode 0600; never logged).
async fn bootstrap(trust: &Trust, ctx: &ServiceContext) -> Result<(), RuntimeError> {
    let configured = &ctx.config.trust.bootstrap_admin_password;
    let Some(password) = trust.bootstrap(configured).await.map_err(failed)? else { return Ok(()) };
    if !configured.is_empty() {
        tracing::info!("created the first system administrator `admin` of tenant `platform` with the configured password");
        return Ok(());
    }
    let path = std::path::Path::new(&ctx.config.common.data_dir).join("initial-admin-password");
    write_secret(&path, &password).map_err(|e| failed(format!("writing {}: {e}", path.display())))?;
    tracing::warn!(path = %path.display(), "created the first system administrator `admin` of tenant `platform`; its password is in this file: sign in, enrol TOTP, then delete the file");
    Ok(())
}

fn write_secret(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()
}

#[async_trait::async_trait]
impl Service for Trust {
    fn grpc_names(&self) -> Vec<&'static str> {
        api::grpc::SERVICE_NAMES.to_vec()
    }

    fn add_grpc(&self, routes: &mut tonic::service::RoutesBuilder) {
        api::grpc::add(routes, self);
    }

    fn rest(&self) -> utoipa_axum::router::OpenApiRouter {
        api::rest::router(self.clone())
    }

    /// Signs ledger checkpoints until shutdown, and once more then (before the store closes).
    async fn run(self: Arc<Self>, ctx: ServiceContext) -> Result<(), RuntimeError> {
        let every = std::time::Duration::from_secs(ctx.config.trust.ledger_checkpoint_seconds);
        self.ledger.spawn_checkpointer(every, ctx.shutdown.clone()).await.map_err(failed)
    }
}
