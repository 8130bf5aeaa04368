use super::*;
use crate::registry::endpoint::{check_secret_env, check_url};
use serde_json::json;

fn endpoint(url: &str, location: Location) -> Endpoint {
    Endpoint { url: url.into(), location, weight: 100, max_concurrency: 8, request_timeout_ms: None, api_key_secret_env: None }
}

fn version(name: &str) -> NewVersion {
    NewVersion {
        version: name.into(),
        endpoints: vec![endpoint("http://vllm-0.models.svc:8000/v1", Location::OnPremise)],
        training_datasets: vec!["91330100MA27XKQ717/production-output".into()],
        trained_on_grade: Some(Grade::Medium),
        fallback_model: None,
    }
}

fn industry_model() -> NewModel {
    NewModel { name: "textile-qa".into(), level: Level::Industry, parent: Some("qwen2.5-72b".into()), description: "纺织问答".into(), version: version("2026.1") }
}

fn rules(violations: &[Violation]) -> Vec<(&str, &str)> {
    violations.iter().map(|v| (v.field.as_deref().unwrap_or(""), v.rule.as_str())).collect()
}

#[test]
fn names_are_lowercase_and_start_with_a_letter_or_digit() {
    for good in ["qwen2.5-72b", "a", "0", "textile_qa.v2", &"a".repeat(64)] {
        assert!(valid_name(good), "{good}");
    }
    for bad in ["", "Qwen", "-lead", ".hidden", "_x", "a b", "a/b", "模型", &"a".repeat(65)] {
        assert!(!valid_name(bad), "{bad}");
    }
}

#[test]
fn a_good_registration_passes() {
    assert_eq!(check_new_model(&industry_model()), vec![]);
    let foundation = NewModel {
        name: "qwen2.5-72b".into(),
        level: Level::Foundation,
        parent: None,
        description: String::new(),
        version: NewVersion { training_datasets: vec![], trained_on_grade: None, ..version("2024-09") },
    };
    assert_eq!(check_new_model(&foundation), vec![]);
}

#[test]
fn every_problem_of_a_registration_is_listed_with_its_field() {
    let mut bad = industry_model();
    bad.name = "Textile QA".into();
    bad.parent = None;
    bad.description = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
    bad.version.version = String::new();
    bad.version.endpoints = vec![
        Endpoint { weight: 0, max_concurrency: 0, request_timeout_ms: Some(5), ..endpoint("ftp://host/v1", Location::External) },
        Endpoint { api_key_secret_env: Some("sk-live-abc".into()), ..endpoint("https://user:pw@api.example.com/v1", Location::External) },
        endpoint("https://api.example.com/v1?key=abc", Location::External),
    ];
    bad.version.training_datasets = vec!["no-slash".into()];
    bad.version.trained_on_grade = None;
    bad.version.fallback_model = Some("Textile QA".into());
    assert_eq!(
        rules(&check_new_model(&bad)),
        vec![
            ("name", "name"),
            ("parent", "parent"),
            ("description", "length"),
            ("version.version", "name"),
            ("version.endpoints[0].url", "url"),
            ("version.endpoints[0].weight", "range"),
            ("version.endpoints[0].max_concurrency", "range"),
            ("version.endpoints[0].request_timeout_ms", "range"),
            ("version.endpoints[1].url", "url"),
            ("version.endpoints[1].api_key_secret_env", "secret_env"),
            ("version.endpoints[2].url", "url"),
            ("version.training_datasets[0]", "dataset_ref"),
            ("version.trained_on_grade", "required"),
            ("version.fallback_model", "name"),
        ]
    );
}

#[test]
fn the_tree_has_three_levels_and_fine_tuned_models_name_their_data() {
    assert_eq!(Level::Foundation.parent_level(), None);
    assert_eq!(Level::Industry.parent_level(), Some(Level::Foundation));
    assert_eq!(Level::Scenario.parent_level(), Some(Level::Industry));
    let orphan = NewModel { level: Level::Foundation, ..industry_model() };
    assert_eq!(rules(&check_new_model(&orphan)), vec![("parent", "parent")], "a foundation model has no parent");
    let own_parent = NewModel { parent: Some("textile-qa".into()), ..industry_model() };
    assert_eq!(rules(&check_new_model(&own_parent)), vec![("parent", "parent")]);
    let mut no_data = industry_model();
    no_data.version.training_datasets.clear();
    assert_eq!(rules(&check_new_model(&no_data)), vec![("version.training_datasets", "required")]);
    let mut twice = industry_model();
    twice.version.training_datasets.push(twice.version.training_datasets[0].clone());
    assert_eq!(rules(&check_new_model(&twice)), vec![("version.training_datasets[1]", "unique")]);
    let mut to_itself = industry_model();
    to_itself.version.fallback_model = Some("textile-qa".into());
    assert_eq!(rules(&check_new_model(&to_itself)), vec![("version.fallback_model", "fallback")]);
}

#[test]
fn endpoints_count_and_urls_are_unique() {
    let mut none = version("1");
    none.endpoints.clear();
    assert_eq!(rules(&check_new_version(Level::Industry, "m", &none, "")), vec![("endpoints", "count")]);
    let mut same = version("1");
    same.endpoints.push(endpoint("http://vllm-0.models.svc:8000/v1/", Location::OnPremise));
    assert_eq!(rules(&check_new_version(Level::Industry, "m", &same, "")), vec![("endpoints[1].url", "unique")]);
}

#[test]
fn urls_are_plain_http_base_urls_without_credentials() {
    for good in ["http://vllm-0.models.svc:8000/v1", "https://api.deepseek.com", "http://10.0.3.7:11434/v1/", "http://[::1]:8080/v1"] {
        assert_eq!(check_url(good), Ok(()), "{good}");
    }
    for (bad, says) in [
        ("", "required"),
        ("vllm:8000/v1", "scheme"),
        ("ftp://models/v1", "scheme"),
        ("https://sk-123@api.example.com/v1", "credentials"),
        ("https://u:p@api.example.com/v1", "credentials"),
        ("https://api.example.com/v1?api_key=sk-1", "query"),
        ("https://api.example.com/v1#x", "fragment"),
        ("https://api.example.com/v 1", "whitespace"),
        ("http:///v1", "URL"),
    ] {
        let reason = check_url(bad).unwrap_err();
        assert!(reason.contains(says), "{bad}: {reason}");
    }
}

#[test]
fn key_references_name_a_model_key_variable_never_a_key() {
    assert_eq!(check_secret_env("MODEL_KEY_DEEPSEEK"), Ok(()));
    assert_eq!(check_secret_env("MODEL_KEY_VLLM_0"), Ok(()));
    for bad in ["sk-4f9a0c", "PGPASSWORD", "MODEL_KEY_", "model_key_x", "MODEL_KEY_a", "BRAIN_TRUST__JWT", &format!("MODEL_KEY_{}", "A".repeat(65))] {
        assert!(check_secret_env(bad).is_err(), "{bad}");
    }
}

#[test]
fn high_graded_weights_stay_on_premise_and_medium_ones_in_the_province() {
    use Location::*;
    assert!(OnPremise.may_serve(Grade::High) && OnPremise.may_serve(Grade::Low));
    assert!(InProvince.may_serve(Grade::Medium) && !InProvince.may_serve(Grade::High));
    assert!(External.may_serve(Grade::Low) && !External.may_serve(Grade::Medium));
    let endpoints = [endpoint("http://a/v1", OnPremise), endpoint("http://b/v1", InProvince), endpoint("https://c/v1", External)];
    assert_eq!(rules(&check_locations(&endpoints, None, "")), vec![], "no graded training data: anywhere");
    assert_eq!(rules(&check_locations(&endpoints, Some(Grade::Low), "")), vec![]);
    assert_eq!(rules(&check_locations(&endpoints, Some(Grade::Medium), "v.")), vec![("v.endpoints[2].location", "location_grade")]);
    assert_eq!(rules(&check_locations(&endpoints, Some(Grade::High), "")), vec![("endpoints[1].location", "location_grade"), ("endpoints[2].location", "location_grade")]);
    assert!(OnPremise.needs_attestation() && InProvince.needs_attestation() && !External.needs_attestation());
}

#[test]
fn stages_move_through_staging_and_retirement_is_final() {
    use Stage::*;
    for (from, to) in [(Development, Staging), (Staging, Development), (Staging, Production), (Production, Staging), (Development, Retired), (Staging, Retired), (Production, Retired)] {
        assert_eq!(transition(from, to), Ok(()), "{from} → {to}");
    }
    for (from, to, says) in [
        (Development, Production, "through staging"),
        (Production, Development, "staging first"),
        (Retired, Staging, "never serves again"),
        (Retired, Production, "never serves again"),
        (Retired, Retired, "never serves again"),
    ] {
        assert!(transition(from, to).unwrap_err().contains(says), "{from} → {to}");
    }
}

#[test]
fn promoting_to_production_moves_the_previous_production_version_to_staging() {
    use Stage::*;
    let changes = plan_stage_change("2", Staging, Production, Some("1")).unwrap();
    assert_eq!(
        changes,
        vec![StageChange { version: "1".into(), from: Production, to: Staging }, StageChange { version: "2".into(), from: Staging, to: Production }],
        "the old one first: one production version at a time"
    );
    assert_eq!(plan_stage_change("2", Staging, Production, None).unwrap().len(), 1);
    assert_eq!(plan_stage_change("1", Production, Retired, Some("1")).unwrap(), vec![StageChange { version: "1".into(), from: Production, to: Retired }]);
    assert_eq!(plan_stage_change("1", Production, Production, Some("1")), Err(StageError::Unchanged { version: "1".into(), stage: Production }));
    let refused = plan_stage_change("3", Development, Production, Some("1")).unwrap_err();
    assert_eq!(refused.to_string(), "version 3 cannot move from development to production: a version reaches production through staging");
}

#[test]
fn grades_add_up_along_the_tree() {
    assert_eq!(max_grade([None, None]), None);
    assert_eq!(max_grade([Some(Grade::Low), None, Some(Grade::High), Some(Grade::Medium)]), Some(Grade::High));
    let at = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
    let stored = |name: &str, stage: Stage, grade: Option<Grade>| Version {
        version: name.into(),
        stage,
        endpoints: vec![],
        training_datasets: vec![],
        trained_on_grade: grade,
        fallback_model: None,
        created_by: "user:u1".into(),
        created_at: at,
        stage_changed_at: at,
    };
    let model = Model {
        name: "textile-qa".into(),
        level: Level::Industry,
        parent: Some("qwen".into()),
        description: String::new(),
        owner_tenant: "platform".into(),
        created_at: at,
        versions: vec![stored("1", Stage::Production, Some(Grade::Low)), stored("2", Stage::Retired, Some(Grade::High))],
        inherited_grade: Some(Grade::Medium),
    };
    assert_eq!(model.production().map(|v| v.version.as_str()), Some("1"));
    assert_eq!(model.effective_grade(&model.versions[0]), Some(Grade::Medium), "its own low, its ancestors' medium");
    assert_eq!(model.lineage_grade(), Some(Grade::High), "children inherit every version's grade, retired ones too");
}

#[test]
fn requests_are_read_strictly() {
    let unknown = serde_json::from_value::<NewModel>(json!({"name": "m", "level": "foundation", "versoin": {}})).unwrap_err();
    assert!(unknown.to_string().contains("versoin"), "{unknown}");
    let location = serde_json::from_value::<Endpoint>(json!({"url": "http://a/v1", "location": "cloud", "max_concurrency": 1})).unwrap_err();
    assert!(location.to_string().contains("on_premise"), "{location}");
    let defaulted: Endpoint = serde_json::from_value(json!({"url": "http://a/v1", "location": "in_province", "max_concurrency": 4})).unwrap();
    assert_eq!(defaulted.weight, 100);
    let grade: NewVersion = serde_json::from_value(json!({"version": "1", "endpoints": [], "trained_on_grade": "core"})).unwrap();
    assert_eq!(grade.trained_on_grade, Some(Grade::High), "the MIIT labels are understood too");
    let shown = serde_json::to_value(endpoint("http://a/v1", Location::OnPremise).redacted()).unwrap();
    assert_eq!(shown, json!({"location": "on_premise", "weight": 100, "max_concurrency": 8}), "no address, no key name");
    for stage in [Stage::Development, Stage::Staging, Stage::Production, Stage::Retired] {
        assert_eq!(Stage::parse(stage.as_str()), Some(stage));
    }
}
