#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The model registry on SQLite and PostgreSQL: the model tree with its grades, who may change
//! what, stage transitions (a promotion moves the previous production version to staging),
//! retirement, what the gateway is told to serve, listing with filters and pages, and the
//! ledger entries every change leaves.

use brain_auth::{AuthMethod, PLATFORM_TENANT, Principal, Role, Subject};
use brain_governance::domain::Grade;
use brain_model_gateway::registry::domain::StageError;
use brain_model_gateway::registry::{AuditLog, Endpoint, Level, ListFilter, Location, NewModel, NewVersion, Registry, RegistryError, RegistryStore, Stage};
use brain_runtime::AuditError;
use brain_store::Store;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ENTERPRISE: &str = "91330100MA27XKQ717";

/// One ledger entry: (actor, tenant, action, subject, details).
type Entry = (String, String, String, String, serde_json::Value);

/// The ledger of a test.
#[derive(Default)]
struct Recorder(Mutex<Vec<Entry>>);

#[async_trait::async_trait]
impl AuditLog for Recorder {
    async fn record(&self, caller: &Principal, tenant: &str, action: &'static str, subject: &str, details: serde_json::Value) -> Result<u64, AuditError> {
        let mut entries = self.0.lock().unwrap();
        entries.push((caller.subject.actor(), tenant.into(), action.into(), subject.into(), details));
        Ok(entries.len() as u64)
    }
}

impl Recorder {
    fn actions(&self) -> Vec<(String, String, String)> {
        self.0.lock().unwrap().iter().map(|(_, tenant, action, subject, _)| (tenant.clone(), action.clone(), subject.clone())).collect()
    }

    fn last_details(&self) -> serde_json::Value {
        self.0.lock().unwrap().last().unwrap().4.clone()
    }
}

/// A brain whose ledger is not reachable from this process.
struct NoLedger;

#[async_trait::async_trait]
impl AuditLog for NoLedger {
    fn ready(&self, action: &'static str) -> Result<(), AuditError> {
        Err(AuditError { action, reason: "common.peers.trust is not set".into() })
    }

    async fn record(&self, _: &Principal, _: &str, action: &'static str, _: &str, _: serde_json::Value) -> Result<u64, AuditError> {
        Err(AuditError { action, reason: "common.peers.trust is not set".into() })
    }
}

fn caller(tenant: &str, id: &str, roles: &[Role], method: AuthMethod) -> Principal {
    Principal {
        tenant: tenant.into(),
        subject: Subject::User { id: id.into(), name: id.into() },
        roles: roles.iter().copied().collect(),
        scope: None,
        method,
        session_id: None,
    }
}

fn operator() -> Principal {
    caller(PLATFORM_TENANT, "ops", &[Role::Operator], AuthMethod::Password)
}

fn provider() -> Principal {
    caller("ai-vendor", "vendor", &[Role::Provider], AuthMethod::Password)
}

fn endpoint(url: &str, location: Location) -> Endpoint {
    Endpoint { url: url.into(), location, weight: 100, max_concurrency: 16, request_timeout_ms: Some(60_000), api_key_secret_env: None }
}

fn version(name: &str, endpoints: Vec<Endpoint>, datasets: &[&str], grade: Option<Grade>) -> NewVersion {
    NewVersion {
        version: name.into(),
        endpoints,
        training_datasets: datasets.iter().map(|d| (*d).to_owned()).collect(),
        trained_on_grade: grade,
        fallback_model: None,
    }
}

fn model(name: &str, level: Level, parent: Option<&str>, version: NewVersion) -> NewModel {
    NewModel { name: name.into(), level, parent: parent.map(Into::into), description: format!("{name} for the textile cluster"), version }
}

fn violations(error: RegistryError) -> Vec<(String, String)> {
    match error {
        RegistryError::Invalid { violations, .. } | RegistryError::Unservable { violations, .. } => {
            violations.into_iter().map(|v| (v.field.unwrap_or_default(), v.rule)).collect()
        }
        other => panic!("expected violations, got {other:?}"),
    }
}

fn pair(field: &str, rule: &str) -> (String, String) {
    (field.to_owned(), rule.to_owned())
}

fn stages(model: &brain_model_gateway::registry::Model) -> Vec<(&str, Stage)> {
    model.versions.iter().map(|v| (v.version.as_str(), v.stage)).collect()
}

async fn registry(store: Store, ttl: Duration) -> (Registry, Arc<Recorder>) {
    store.migrate(&brain_store::PLATFORM).await.unwrap();
    store.migrate(&brain_model_gateway::registry::MIGRATIONS).await.unwrap();
    let recorder = Arc::new(Recorder::default());
    (Registry::with_route_ttl(RegistryStore::new(store), recorder.clone(), ttl), recorder)
}

/// The whole life of a small tree: qwen (foundation) → textile-qa (industry) → dyeing-advisor (scenario).
async fn scenario(store: Store) {
    let (registry, ledger) = registry(store, Duration::ZERO).await;
    let ops = operator();
    let vendor = provider();
    let enterprise = caller(ENTERPRISE, "weaver", &[Role::EnterpriseAdmin], AuthMethod::Password);

    // A foundation model of the platform, on premise, trained on no data of this brain.
    let qwen = model("qwen2.5-72b", Level::Foundation, None, version("2024-09", vec![endpoint("http://vllm-0.models.svc:8000/v1/", Location::OnPremise)], &[], None));
    let registered = registry.register(&ops, qwen.clone()).await.unwrap();
    assert_eq!((registered.owner_tenant.as_str(), registered.level, registered.lineage_grade()), (PLATFORM_TENANT, Level::Foundation, None));
    assert_eq!(stages(&registered), [("2024-09", Stage::Development)]);
    assert_eq!(registered.versions[0].endpoints[0].url, "http://vllm-0.models.svc:8000/v1", "trailing slash dropped");
    assert!(matches!(registry.register(&ops, qwen).await, Err(RegistryError::ModelExists(name)) if name == "qwen2.5-72b"));

    // Who may register: operators and providers, the administrator only with a second factor.
    assert!(matches!(registry.register(&enterprise, model("mine", Level::Foundation, None, version("1", vec![endpoint("http://a/v1", Location::External)], &[], None))).await, Err(RegistryError::Auth(_))));
    let one_factor_admin = caller(PLATFORM_TENANT, "admin", &[Role::SystemAdmin], AuthMethod::Password);
    assert!(matches!(registry.register(&one_factor_admin, model("mine", Level::Foundation, None, version("1", vec![endpoint("http://a/v1", Location::External)], &[], None))).await, Err(RegistryError::Auth(_))));

    // The tree: an industry model's parent is a foundation model, a scenario model's an industry one.
    let data = ["91330100MA27XKQ717/production-output", "91330100MA27XKQ717/quality-inspections"];
    let medium_on = |endpoints| version("1", endpoints, &data, Some(Grade::Medium));
    let wrong_level = registry.register(&vendor, model("dyeing", Level::Scenario, Some("qwen2.5-72b"), medium_on(vec![endpoint("http://a/v1", Location::OnPremise)]))).await.unwrap_err();
    assert_eq!(violations(wrong_level), [pair("parent", "level")]);
    let unknown_parent = registry.register(&vendor, model("dyeing", Level::Scenario, Some("no-such-model"), medium_on(vec![endpoint("http://a/v1", Location::OnPremise)]))).await.unwrap_err();
    assert_eq!(violations(unknown_parent), [pair("parent", "exists")]);
    let orphan = registry.register(&vendor, model("dyeing", Level::Industry, None, version("1", vec![endpoint("http://a/v1", Location::OnPremise)], &[], None))).await.unwrap_err();
    assert_eq!(violations(orphan), [pair("parent", "parent"), pair("version.training_datasets", "required")]);

    // Weights trained on medium-graded data do not go outside the province.
    let outside = medium_on(vec![endpoint("http://10.20.0.5:8000/v1", Location::InProvince), endpoint("https://api.example.com/v1", Location::External)]);
    let refused = registry.register(&vendor, model("textile-qa", Level::Industry, Some("qwen2.5-72b"), outside)).await.unwrap_err();
    assert_eq!(violations(refused), [pair("version.endpoints[1].location", "location_grade")]);
    let textile = registry.register(&vendor, model("textile-qa", Level::Industry, Some("qwen2.5-72b"), medium_on(vec![endpoint("http://10.20.0.5:8000/v1", Location::InProvince)]))).await.unwrap();
    assert_eq!((textile.owner_tenant.as_str(), textile.parent.as_deref(), textile.lineage_grade()), ("ai-vendor", Some("qwen2.5-72b"), Some(Grade::Medium)));
    assert!(matches!(
        registry.add_version(&vendor, "textile-qa", medium_on(vec![endpoint("http://10.20.0.6:8000/v1", Location::InProvince)])).await,
        Err(RegistryError::VersionExists { .. })
    ));

    // Only the owner tenant's operators and providers (and the platform) change a model.
    let rival = caller("other-vendor", "rival", &[Role::Provider], AuthMethod::Password);
    assert!(matches!(registry.add_version(&rival, "textile-qa", version("2", vec![endpoint("http://x/v1", Location::External)], &data, Some(Grade::Low))).await, Err(RegistryError::Auth(_))));
    assert!(matches!(registry.promote(&rival, "textile-qa", "1", Stage::Staging, "").await, Err(RegistryError::Auth(_))));
    assert!(matches!(registry.retire(&vendor, "no-such-model", "1", "").await, Err(RegistryError::UnknownModel(_))));
    assert!(matches!(registry.promote(&vendor, "textile-qa", "9", Stage::Staging, "").await, Err(RegistryError::UnknownVersion { .. })));

    // To production through staging; nothing serves before.
    assert_eq!(registry.route("qwen2.5-72b").await.unwrap(), None, "development does not serve");
    let skipped = registry.promote(&ops, "qwen2.5-72b", "2024-09", Stage::Production, "").await.unwrap_err();
    assert!(matches!(skipped, RegistryError::Stage(StageError::NotAllowed { from: Stage::Development, to: Stage::Production, .. })), "{skipped:?}");
    registry.promote(&ops, "qwen2.5-72b", "2024-09", Stage::Staging, "evaluated").await.unwrap();
    let serving = registry.promote(&ops, "qwen2.5-72b", "2024-09", Stage::Production, "").await.unwrap();
    assert_eq!(serving.production().map(|v| v.version.as_str()), Some("2024-09"));
    let route = registry.route("qwen2.5-72b").await.unwrap().unwrap();
    assert_eq!((route.version.as_str(), route.trained_on_grade, route.endpoints.len(), route.fallback_model.as_deref()), ("2024-09", Grade::Low, 1, None));

    // The provider stages its model; production of an in-province claim takes the platform.
    registry.promote(&vendor, "textile-qa", "1", Stage::Staging, "").await.unwrap();
    let unattested = registry.promote(&vendor, "textile-qa", "1", Stage::Production, "").await.unwrap_err();
    assert!(matches!(&unattested, RegistryError::Auth(e) if e.to_string().contains("vouch")), "{unattested:?}");
    registry.promote(&ops, "textile-qa", "1", Stage::Production, "attested: DC of the provincial big-data bureau").await.unwrap();
    let route = registry.route("textile-qa").await.unwrap().unwrap();
    assert_eq!((route.trained_on_grade, route.endpoints.len(), route.owner_tenant.as_str()), (Grade::Medium, 1, "ai-vendor"));

    // A second foundation version, continued pre-training on high-graded data, replaces the
    // first in production; the first goes back to staging.
    let high = version("2025-01", vec![endpoint("http://vllm-1.models.svc:8000/v1", Location::OnPremise)], &["platform/industry-corpus"], Some(Grade::High));
    registry.add_version(&ops, "qwen2.5-72b", high).await.unwrap();
    registry.promote(&ops, "qwen2.5-72b", "2025-01", Stage::Staging, "").await.unwrap();
    let replaced = registry.promote(&ops, "qwen2.5-72b", "2025-01", Stage::Production, "better on textile terms").await.unwrap();
    assert_eq!(stages(&replaced), [("2024-09", Stage::Staging), ("2025-01", Stage::Production)]);
    let details = ledger.last_details();
    assert_eq!(details["changes"][0], serde_json::json!({"version": "2024-09", "from": "production", "to": "staging"}), "{details}");
    assert_eq!(details["reason"], "better on textile terms");
    assert_eq!(registry.route("qwen2.5-72b").await.unwrap().unwrap().trained_on_grade, Grade::High);

    // Its child now inherits high: the in-province endpoint may no longer serve it.
    let child = registry.model(&vendor, "textile-qa").await.unwrap();
    assert_eq!((child.inherited_grade, child.effective_grade(&child.versions[0])), (Some(Grade::High), Some(Grade::High)));
    let route = registry.route("textile-qa").await.unwrap().unwrap();
    assert_eq!((route.trained_on_grade, route.endpoints.len(), route.withheld_endpoints), (Grade::High, 0, 1), "high-graded weights serve on premise only");

    // A scenario grandchild inherits it too, before any endpoint is stored.
    let low = |endpoints| version("1", endpoints, &["91330100MA27XKQ717/dye-recipes"], Some(Grade::Low));
    let refused = registry.register(&vendor, model("dyeing-advisor", Level::Scenario, Some("textile-qa"), low(vec![endpoint("https://api.example.com/v1", Location::External)]))).await.unwrap_err();
    assert_eq!(violations(refused), [pair("version.endpoints[0].location", "location_grade")]);
    let mut advisor = low(vec![endpoint("http://vllm-2.models.svc:8000/v1", Location::OnPremise)]);
    advisor.fallback_model = Some("no-such-model".into());
    assert_eq!(violations(registry.register(&vendor, model("dyeing-advisor", Level::Scenario, Some("textile-qa"), advisor.clone())).await.unwrap_err()), [pair("version.fallback_model", "exists")]);
    advisor.fallback_model = Some("textile-qa".into());
    let grandchild = registry.register(&vendor, model("dyeing-advisor", Level::Scenario, Some("textile-qa"), advisor)).await.unwrap();
    assert_eq!(grandchild.effective_grade(&grandchild.versions[0]), Some(Grade::High));
    registry.promote(&vendor, "dyeing-advisor", "1", Stage::Staging, "").await.unwrap();
    registry.promote(&ops, "dyeing-advisor", "1", Stage::Production, "").await.unwrap();
    assert_eq!(registry.route("dyeing-advisor").await.unwrap().unwrap().fallback_model.as_deref(), Some("textile-qa"));

    // Rolling back: the staging version returns to production, the other goes to staging.
    registry.promote(&ops, "qwen2.5-72b", "2024-09", Stage::Production, "roll back").await.unwrap();
    assert_eq!(stages(&registry.model(&ops, "qwen2.5-72b").await.unwrap()), [("2024-09", Stage::Production), ("2025-01", Stage::Staging)]);
    assert_eq!(registry.route("qwen2.5-72b").await.unwrap().unwrap().trained_on_grade, Grade::Low, "a version's own grade and its ancestors'");

    // Retiring the production version stops serving at once, and retirement is final.
    let retired = registry.retire(&vendor, "textile-qa", "1", "replaced by a scenario model").await.unwrap();
    assert_eq!(stages(&retired), [("1", Stage::Retired)]);
    assert_eq!(registry.route("textile-qa").await.unwrap(), None);
    assert!(matches!(registry.retire(&vendor, "textile-qa", "1", "").await, Err(RegistryError::Stage(StageError::Unchanged { .. }))));
    assert!(matches!(registry.promote(&ops, "textile-qa", "1", Stage::Staging, "").await, Err(RegistryError::Stage(StageError::NotAllowed { from: Stage::Retired, .. }))));
    assert!(matches!(registry.promote(&ops, "textile-qa", "1", Stage::Retired, "").await, Err(RegistryError::Invalid { .. })), "retiring is its own operation");

    // What the gateway lists.
    let serving: Vec<String> = registry.serving_models().await.unwrap().into_iter().map(|r| r.model).collect();
    assert_eq!(serving, ["dyeing-advisor", "qwen2.5-72b"]);

    // Endpoint addresses are the owner's and the platform's to see.
    let seen_by_enterprise = registry.model(&enterprise, "textile-qa").await.unwrap();
    assert_eq!((seen_by_enterprise.versions[0].endpoints[0].url.as_str(), seen_by_enterprise.versions[0].endpoints[0].location), ("", Location::InProvince));
    assert_eq!(registry.model(&vendor, "textile-qa").await.unwrap().versions[0].endpoints[0].url, "http://10.20.0.5:8000/v1");
    assert_eq!(registry.model(&ops, "textile-qa").await.unwrap().versions[0].endpoints[0].url, "http://10.20.0.5:8000/v1");
    assert!(registry.model(&vendor, "qwen2.5-72b").await.unwrap().versions.iter().all(|v| v.endpoints[0].url.is_empty()));
    assert!(matches!(registry.model(&enterprise, "Not A Name").await, Err(RegistryError::UnknownModel(_))));

    // Every change is in the ledger, under the owner tenant.
    let actions = ledger.actions();
    let count = |action: &str| actions.iter().filter(|(_, a, _)| a == action).count();
    assert_eq!((count("model.register"), count("model.version_add"), count("model.promote"), count("model.retire")), (3, 1, 9, 1), "{actions:?}");
    assert!(actions.contains(&("ai-vendor".into(), "model.retire".into(), "textile-qa".into())));
    assert!(actions.contains(&(PLATFORM_TENANT.into(), "model.register".into(), "qwen2.5-72b".into())));
}

/// Filters and pages over a catalog of several tenants.
async fn listing(store: Store) {
    let (registry, _) = registry(store, Duration::ZERO).await;
    let ops = operator();
    let vendor = provider();
    let on_premise = || vec![endpoint("http://vllm-0.models.svc:8000/v1", Location::OnPremise)];
    for name in ["base-a", "base-b"] {
        registry.register(&ops, model(name, Level::Foundation, None, version("1", on_premise(), &[], None))).await.unwrap();
    }
    for (name, parent) in [("ind-a1", "base-a"), ("ind-a2", "base-a"), ("ind-b1", "base-b")] {
        registry.register(&vendor, model(name, Level::Industry, Some(parent), version("1", on_premise(), &["t1/d1"], Some(Grade::Low)))).await.unwrap();
    }
    registry.promote(&ops, "ind-a2", "1", Stage::Staging, "").await.unwrap();
    let names = |page: &brain_model_gateway::registry::catalog::Page| page.models.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    let list = |filter: ListFilter| {
        let registry = registry.clone();
        async move { registry.list(&provider(), &filter, None, None).await.unwrap() }
    };
    assert_eq!(names(&list(ListFilter::default()).await), ["base-a", "base-b", "ind-a1", "ind-a2", "ind-b1"]);
    assert_eq!(names(&list(ListFilter { level: Some(Level::Foundation), ..ListFilter::default() }).await), ["base-a", "base-b"]);
    assert_eq!(names(&list(ListFilter { parent: Some("base-a".into()), ..ListFilter::default() }).await), ["ind-a1", "ind-a2"]);
    assert_eq!(names(&list(ListFilter { stage: Some(Stage::Staging), ..ListFilter::default() }).await), ["ind-a2"]);
    assert_eq!(names(&list(ListFilter { owner: Some("ai-vendor".into()), level: Some(Level::Industry), ..ListFilter::default() }).await), ["ind-a1", "ind-a2", "ind-b1"]);
    assert!(list(ListFilter { stage: Some(Stage::Production), ..ListFilter::default() }).await.models.is_empty());
    let child = &list(ListFilter { parent: Some("base-b".into()), ..ListFilter::default() }).await.models[0];
    assert_eq!((child.versions.len(), child.lineage_grade()), (1, Some(Grade::Low)), "listed with versions and grades");

    // Pages of two, by name, until the last.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..4 {
        let page = registry.list(&vendor, &ListFilter::default(), Some(2), token.as_deref()).await.unwrap();
        seen.extend(names(&page));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["base-a", "base-b", "ind-a1", "ind-a2", "ind-b1"]);
    let oversize = registry.list(&vendor, &ListFilter::default(), Some(5000), Some("not a token")).await.unwrap_err();
    assert_eq!(violations(oversize), [pair("page_size", "range"), pair("page_token", "page_token")]);
}

/// Routes are reused for the TTL; a change through the same registry shows at once, one
/// through another process (another registry on the store) after the TTL.
async fn routes_are_cached_briefly(store: Store) {
    let (cached, _) = registry(store.clone(), Duration::from_secs(3600)).await;
    let (elsewhere, _) = registry(store, Duration::ZERO).await;
    let ops = operator();
    cached.register(&ops, model("base", Level::Foundation, None, version("1", vec![endpoint("http://vllm-0/v1", Location::OnPremise)], &[], None))).await.unwrap();
    cached.promote(&ops, "base", "1", Stage::Staging, "").await.unwrap();
    assert_eq!(cached.route("base").await.unwrap(), None);
    cached.promote(&ops, "base", "1", Stage::Production, "").await.unwrap();
    assert_eq!(cached.route("base").await.unwrap().unwrap().version, "1", "its own change shows at once");
    assert_eq!(cached.serving_models().await.unwrap().len(), 1);
    elsewhere.retire(&ops, "base", "1", "").await.unwrap();
    assert_eq!(elsewhere.route("base").await.unwrap(), None);
    assert!(cached.route("base").await.unwrap().is_some(), "another process's change shows after the TTL");
    assert_eq!(cached.serving_models().await.unwrap().len(), 1);
    assert_eq!(cached.route("Not a model").await.unwrap(), None);
}

/// Promotions racing each other leave exactly one production version: changes of one model
/// wait for each other, each planned on what the one before left.
async fn concurrent_promotions(store: Store) {
    let (registry, _) = registry(store, Duration::ZERO).await;
    let ops = operator();
    let on_premise = |name: &str| version(name, vec![endpoint(&format!("http://vllm-{name}/v1"), Location::OnPremise)], &[], None);
    registry.register(&ops, model("base", Level::Foundation, None, on_premise("1"))).await.unwrap();
    for name in ["2", "3", "4", "5"] {
        registry.add_version(&ops, "base", on_premise(name)).await.unwrap();
    }
    for name in ["1", "2", "3", "4", "5"] {
        registry.promote(&ops, "base", name, Stage::Staging, "").await.unwrap();
    }
    let racers = ["1", "2", "3", "4", "5"].map(|name| {
        let registry = registry.clone();
        tokio::spawn(async move { registry.promote(&operator(), "base", name, Stage::Production, "").await })
    });
    for racer in racers {
        racer.await.unwrap().unwrap();
    }
    let after = registry.model(&ops, "base").await.unwrap();
    let production: Vec<&str> = after.versions.iter().filter(|v| v.stage == Stage::Production).map(|v| v.version.as_str()).collect();
    assert_eq!(production.len(), 1, "{:?}", stages(&after));
    assert_eq!(after.versions.iter().filter(|v| v.stage == Stage::Staging).count(), 4);
    assert_eq!(registry.route("base").await.unwrap().unwrap().version, production[0]);
}

/// Without a ledger, changes are refused before anything is written.
async fn no_change_without_a_ledger(store: Store) {
    let (_, _) = registry(store.clone(), Duration::ZERO).await;
    let registry = Registry::new(RegistryStore::new(store), Arc::new(NoLedger));
    let refused = registry.register(&operator(), model("base", Level::Foundation, None, version("1", vec![endpoint("http://vllm-0/v1", Location::OnPremise)], &[], None))).await.unwrap_err();
    assert!(matches!(&refused, RegistryError::Audit(e) if e.action == "model.register"), "{refused:?}");
    assert_eq!(brain_core::ServiceError::code(&refused), brain_core::ErrorCode::Unavailable);
    assert!(matches!(registry.model(&operator(), "base").await, Err(RegistryError::UnknownModel(_))), "nothing written");
}

async fn sqlite() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/registry.db", dir.path().display())).await.unwrap();
    (dir, store)
}

macro_rules! on_both_engines {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let (_dir, store) = sqlite().await;
            $scenario(store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let Some(server) = brain_testkit::engines::postgres() else { return };
            let db = brain_testkit::postgres::fresh_database(&server).await.unwrap();
            $scenario(Store::connect(db.url()).await.unwrap()).await;
            db.drop_now().await.unwrap();
        }
    )*};
}

on_both_engines! {
    scenario => model_tree_stages_and_routes_on_sqlite, model_tree_stages_and_routes_on_postgres;
    listing => listing_filters_and_pages_on_sqlite, listing_filters_and_pages_on_postgres;
    routes_are_cached_briefly => routes_are_cached_briefly_on_sqlite, routes_are_cached_briefly_on_postgres;
    no_change_without_a_ledger => no_change_without_a_ledger_on_sqlite, no_change_without_a_ledger_on_postgres;
    concurrent_promotions => concurrent_promotions_leave_one_production_version_on_sqlite, concurrent_promotions_leave_one_production_version_on_postgres;
}
