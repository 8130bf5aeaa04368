#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The `brain` command line: targets, configuration checks, version, migrations.

use std::process::Command;

fn brain(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(brain_testkit::process::brain_binary().unwrap());
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn list_targets_names_all_seven_services() {
    let (ok, out, _) = brain(&["--list-targets"], &[]);
    assert!(ok);
    for target in ["all", "ingestion", "governance", "compute-scheduler", "model-gateway", "service-opening", "portal-api", "evaluation"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("{target}\t"))), "{target} missing:\n{out}");
    }
}

#[test]
fn config_check_names_the_key_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("brain.yaml");
    std::fs::write(&file, "common:\n  bus: rabbitmq://x\n").unwrap();
    let (ok, _, err) = brain(&["config", "check", "--config", file.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(err.contains("config key `common.bus`: must be `embedded` or `kafka://"), "{err}");

    std::fs::write(&file, "common:\n  htp_addr: 0.0.0.0:80\n").unwrap();
    let (ok, _, err) = brain(&["config", "check", "--config", file.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(err.contains("htp_addr"), "{err}");

    let (ok, _, err) = brain(&["config", "check"], &[("BRAIN_BUS__PARTITIONS", "0")]);
    assert!(!ok);
    assert!(err.contains("bus.partitions"), "{err}");

    let (ok, out, _) = brain(&["config", "check"], &[]);
    assert!(ok, "{out}");
}

#[test]
fn config_print_shows_effective_values_without_secrets() {
    let (ok, out, err) = brain(
        &["config", "print"],
        &[("BRAIN_COMMON__DATABASE", "postgres://brain:hunter2@db:5432/brain"), ("BRAIN_BUS__PARTITIONS", "12")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("partitions: 12"), "{out}");
    assert!(out.contains("postgres://brain:***@db:5432/brain"), "{out}");
    assert!(!out.contains("hunter2"));
}

#[test]
fn version_and_unknown_target() {
    let (ok, out, _) = brain(&["version"], &[]);
    assert!(ok);
    assert!(out.starts_with("brain "), "{out}");
    let (ok, _, err) = brain(&["serve", "--target", "ingestion,warehouse"], &[("BRAIN_COMMON__HTTP_ADDR", "127.0.0.1:0"), ("BRAIN_COMMON__GRPC_ADDR", "127.0.0.1:0")]);
    assert!(!ok);
    assert!(err.contains("unknown target `warehouse`"), "{err}");
}

#[test]
fn migrate_on_sqlite_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("BRAIN_COMMON__DATA_DIR", dir.path().to_str().unwrap())];
    let (ok, out, err) = brain(&["migrate"], &env);
    assert!(ok, "{err}");
    assert!(out.contains("migrations applied"), "{out}");
    let (ok, _, err) = brain(&["migrate"], &env);
    assert!(ok, "second run: {err}");
    assert!(dir.path().join("brain.db").exists());
}

#[test]
fn migrate_on_postgres_is_idempotent() {
    let Some(server) = brain_testkit::engines::postgres() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(brain_testkit::postgres::fresh_database(&server)).unwrap();
    let env = [("BRAIN_COMMON__DATABASE", database.url())];
    let (ok, _, err) = brain(&["migrate"], &env);
    assert!(ok, "{err}");
    let (ok, _, err) = brain(&["migrate"], &env);
    assert!(ok, "second run: {err}");
    runtime.block_on(database.drop_now()).unwrap();
}
