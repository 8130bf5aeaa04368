//! The SQL store conformance suite against SQLite (a temporary file) and PostgreSQL (a fresh
//! database per test on the server from `BRAIN_TEST_POSTGRES`).

use brain_store::{Store, conformance};

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    // A nested path: connect must create the parent directories.
                    let url = format!("sqlite://{}/data/brain.db", dir.path().display());
                    let store = Store::connect(&url).await.unwrap();
                    conformance::$case(store).await;
                }
            )*
        }

        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(server) = brain_testkit::engines::postgres() else { return };
                    let db = brain_testkit::postgres::fresh_database(&server).await.unwrap();
                    let store = Store::connect(db.url()).await.unwrap();
                    conformance::$case(store).await;
                    db.drop_now().await.unwrap();
                }
            )*
        }

        #[test]
        fn every_case_runs_here() {
            let mut here = vec![$(stringify!($case)),*];
            let mut listed = conformance::CASES.to_vec();
            here.sort_unstable();
            listed.sort_unstable();
            assert_eq!(here, listed, "brain_store::conformance::CASES and this suite differ");
        }
    };
}

suite!(
    migrations_apply_once,
    changed_checksum_is_refused,
    failed_migration_leaves_nothing,
    tenant_rows_are_invisible_to_other_tenants,
    unscoped_sql_is_refused,
    transaction_commit_and_rollback,
    mark_processed_once,
    mark_processed_race,
    mark_processed_batch,
    json_and_timestamp_round_trip,
    scalar_values_round_trip,
    unique_violation_is_already_exists,
    committed_write_survives_reconnect,
    durability_settings,
);
