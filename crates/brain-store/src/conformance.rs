//! The store conformance suite: the same cases against SQLite and PostgreSQL.
//!
//! Every case takes a [`Store`] connected to a fresh, empty database and panics on a failed
//! expectation. `brain-testkit/tests/store_conformance.rs` runs each case against a temporary
//! SQLite file and a temporary PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{
    ErrorCode, Migration, MigrationReport, Migrations, PLATFORM, Row, ServiceError, Store,
    StoreError, TenantId, Value,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use std::time::Duration;

/// Names of every case, in the order [`run`] knows them.
pub const CASES: &[&str] = &[
    "migrations_apply_once",
    "changed_checksum_is_refused",
    "failed_migration_leaves_nothing",
    "tenant_rows_are_invisible_to_other_tenants",
    "unscoped_sql_is_refused",
    "transaction_commit_and_rollback",
    "mark_processed_once",
    "mark_processed_race",
    "mark_processed_batch",
    "json_and_timestamp_round_trip",
    "scalar_values_round_trip",
    "unique_violation_is_already_exists",
    "committed_write_survives_reconnect",
    "durability_settings",
];

/// Runs the case named `case` (one of [`CASES`]).
pub async fn run(case: &str, store: Store) {
    match case {
        "migrations_apply_once" => migrations_apply_once(store).await,
        "changed_checksum_is_refused" => changed_checksum_is_refused(store).await,
        "failed_migration_leaves_nothing" => failed_migration_leaves_nothing(store).await,
        "tenant_rows_are_invisible_to_other_tenants" => {
            tenant_rows_are_invisible_to_other_tenants(store).await
        }
        "unscoped_sql_is_refused" => unscoped_sql_is_refused(store).await,
        "transaction_commit_and_rollback" => transaction_commit_and_rollback(store).await,
        "mark_processed_once" => mark_processed_once(store).await,
        "mark_processed_race" => mark_processed_race(store).await,
        "mark_processed_batch" => mark_processed_batch(store).await,
        "json_and_timestamp_round_trip" => json_and_timestamp_round_trip(store).await,
        "scalar_values_round_trip" => scalar_values_round_trip(store).await,
        "unique_violation_is_already_exists" => unique_violation_is_already_exists(store).await,
        "committed_write_survives_reconnect" => committed_write_survives_reconnect(store).await,
        "durability_settings" => durability_settings(store).await,
        other => panic!("unknown store conformance case {other:?}"),
    }
}

const PG_ITEMS: &str = "CREATE TABLE conformance_items (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    qty BIGINT,
    ratio DOUBLE PRECISION,
    flag BOOLEAN,
    payload BYTEA,
    attrs JSONB,
    happened_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX conformance_items_happened ON conformance_items (tenant_id, happened_at);";

const SQLITE_ITEMS: &str = "CREATE TABLE conformance_items (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    qty INTEGER,
    ratio REAL,
    flag BOOLEAN,
    payload BLOB,
    attrs TEXT,
    happened_at TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX conformance_items_happened ON conformance_items (tenant_id, happened_at);";

const NOTES: &str = "CREATE TABLE conformance_notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)";

/// The tables the cases use, owned by `conformance`.
pub const TEST_MIGRATIONS: Migrations = Migrations {
    owner: "conformance",
    postgres: &[
        Migration::new(1, "items", PG_ITEMS),
        Migration::new(2, "notes", NOTES),
    ],
    sqlite: &[
        Migration::new(1, "items", SQLITE_ITEMS),
        Migration::new(2, "notes", NOTES),
    ],
};

async fn setup(store: &Store) {
    store.migrate(&PLATFORM).await.unwrap();
    store.migrate(&TEST_MIGRATIONS).await.unwrap();
}

fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

fn text(v: &str) -> Value {
    Value::Text(v.to_owned())
}

async fn table_exists(store: &Store, table: &str) -> bool {
    // Probing by querying: the result tells whether the table exists on either engine.
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    store.unscoped().fetch_all(&sql, &[]).await.is_ok()
}

async fn count(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    store
        .unscoped()
        .fetch_optional(&sql, &[])
        .await
        .unwrap()
        .unwrap()
        .get::<i64>("n")
        .unwrap()
}

async fn insert_item(store: &Store, tenant: &TenantId, id: &str, name: &str) {
    let n = store
        .scoped(tenant)
        .execute(
            "INSERT INTO conformance_items (tenant_id, id, name) VALUES ($1, $2, $3)",
            &[text(id), text(name)],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
}

async fn names(store: &Store, tenant: &TenantId) -> Vec<(String, String)> {
    store
        .scoped(tenant)
        .fetch_all(
            "SELECT id, name FROM conformance_items WHERE tenant_id = $1 ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String>("id").unwrap(),
                r.get::<String>("name").unwrap(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Migrations apply once, re-apply as a no-op, coexist across owners with the same version
/// numbers, and concurrent runs apply each migration exactly once.
pub async fn migrations_apply_once(store: Store) {
    let platform = store.migrate(&PLATFORM).await.unwrap();
    assert_eq!(platform.applied, vec![1]);
    let first = store.migrate(&TEST_MIGRATIONS).await.unwrap();
    assert_eq!(
        first,
        MigrationReport {
            applied: vec![1, 2],
            unchanged: vec![]
        }
    );
    let again = store.migrate(&TEST_MIGRATIONS).await.unwrap();
    assert_eq!(
        again,
        MigrationReport {
            applied: vec![],
            unchanged: vec![1, 2]
        }
    );
    let recorded = store.applied_migrations("conformance").await.unwrap();
    assert_eq!(
        recorded.iter().map(|m| m.version).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(
        recorded[0].checksum,
        TEST_MIGRATIONS.for_engine(store.engine())[0].checksum()
    );
    assert_eq!(recorded[1].description, "notes");

    // Another owner's version 1 does not collide with ours.
    const OTHER: Migrations = Migrations {
        owner: "conformance-other",
        postgres: &[Migration::new(
            1,
            "other",
            "CREATE TABLE conformance_other (id TEXT)",
        )],
        sqlite: &[Migration::new(
            1,
            "other",
            "CREATE TABLE conformance_other (id TEXT)",
        )],
    };
    assert_eq!(store.migrate(&OTHER).await.unwrap().applied, vec![1]);
    assert!(table_exists(&store, "conformance_other").await);

    // Several processes starting at once: each migration runs exactly once.
    const RACE: Migrations = Migrations {
        owner: "conformance-race",
        postgres: &[
            Migration::new(1, "race", "CREATE TABLE conformance_race (id TEXT)"),
            Migration::new(
                2,
                "race row",
                "INSERT INTO conformance_race (id) VALUES ('once')",
            ),
        ],
        sqlite: &[
            Migration::new(1, "race", "CREATE TABLE conformance_race (id TEXT)"),
            Migration::new(
                2,
                "race row",
                "INSERT INTO conformance_race (id) VALUES ('once')",
            ),
        ],
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let other = store.reconnect().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let report = other.migrate(&RACE).await.unwrap();
            other.close().await;
            report
        }));
    }
    let mut applied = Vec::new();
    for task in tasks {
        applied.extend(task.await.unwrap().applied);
    }
    applied.sort_unstable();
    assert_eq!(
        applied,
        vec![1, 2],
        "each migration applied by exactly one runner"
    );
    assert_eq!(count(&store, "conformance_race").await, 1);
}

/// An applied migration whose SQL changed is refused, and nothing after it runs.
pub async fn changed_checksum_is_refused(store: Store) {
    const V1: &[Migration] = &[Migration::new(
        1,
        "cs",
        "CREATE TABLE conformance_cs (id TEXT)",
    )];
    const ORIGINAL: Migrations = Migrations {
        owner: "conformance-cs",
        postgres: V1,
        sqlite: V1,
    };
    const EDITED_SET: &[Migration] = &[
        Migration::new(1, "cs", "CREATE TABLE conformance_cs (id TEXT, extra TEXT)"),
        Migration::new(2, "cs2", "CREATE TABLE conformance_cs2 (id TEXT)"),
    ];
    const EDITED: Migrations = Migrations {
        owner: "conformance-cs",
        postgres: EDITED_SET,
        sqlite: EDITED_SET,
    };

    store.migrate(&ORIGINAL).await.unwrap();
    let err = store.migrate(&EDITED).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::MigrationChecksum { owner, version: 1, .. } if owner == "conformance-cs"),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::FailedPrecondition);
    assert!(err.to_string().contains("conformance-cs/1"), "{err}");
    assert!(
        !table_exists(&store, "conformance_cs2").await,
        "a later migration ran after a checksum mismatch"
    );
    assert_eq!(
        store
            .applied_migrations("conformance-cs")
            .await
            .unwrap()
            .len(),
        1
    );
    // The original set still applies cleanly.
    assert_eq!(store.migrate(&ORIGINAL).await.unwrap().unchanged, vec![1]);
}

/// A migration that fails half-way leaves neither its effects nor a bookkeeping row.
pub async fn failed_migration_leaves_nothing(store: Store) {
    const BROKEN_SET: &[Migration] = &[Migration::new(
        1,
        "half",
        "CREATE TABLE conformance_half (id TEXT); INSERT INTO conformance_missing_table (id) VALUES ('x');",
    )];
    const BROKEN: Migrations = Migrations {
        owner: "conformance-fail",
        postgres: BROKEN_SET,
        sqlite: BROKEN_SET,
    };
    const FIXED_SET: &[Migration] = &[Migration::new(
        1,
        "half",
        "CREATE TABLE conformance_half (id TEXT);",
    )];
    const FIXED: Migrations = Migrations {
        owner: "conformance-fail",
        postgres: FIXED_SET,
        sqlite: FIXED_SET,
    };

    let err = store.migrate(&BROKEN).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Migration { version: 1, .. }),
        "{err}"
    );
    assert!(
        !table_exists(&store, "conformance_half").await,
        "first statement of a failed migration persisted"
    );
    assert!(
        store
            .applied_migrations("conformance-fail")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.migrate(&FIXED).await.unwrap().applied, vec![1]);
    assert!(table_exists(&store, "conformance_half").await);
}

/// Rows of tenant A are invisible to tenant B; B's updates and deletes touch nothing of A's.
pub async fn tenant_rows_are_invisible_to_other_tenants(store: Store) {
    setup(&store).await;
    let (a, b) = (tenant("tenant-a"), tenant("tenant-b"));
    insert_item(&store, &a, "x1", "alpha").await;
    insert_item(&store, &a, "x2", "beta").await;
    insert_item(&store, &b, "x1", "gamma").await;

    assert_eq!(
        names(&store, &a).await,
        pairs(&[("x1", "alpha"), ("x2", "beta")])
    );
    assert_eq!(names(&store, &b).await, pairs(&[("x1", "gamma")]));
    let by_id = "SELECT name FROM conformance_items WHERE tenant_id = $1 AND id = $2";
    assert!(
        store
            .scoped(&b)
            .fetch_optional(by_id, &[text("x2")])
            .await
            .unwrap()
            .is_none()
    );
    let row = store
        .scoped(&b)
        .fetch_optional(by_id, &[text("x1")])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<String>("name").unwrap(), "gamma");

    let mut as_b = store.scoped(&b);
    let update = "UPDATE conformance_items SET name = $2 WHERE tenant_id = $1 AND id = $3";
    assert_eq!(
        as_b.execute(update, &[text("hacked"), text("x2")])
            .await
            .unwrap(),
        0
    );
    let update_all = "UPDATE conformance_items SET name = $2 WHERE tenant_id = $1";
    assert_eq!(
        as_b.execute(update_all, &[text("renamed")]).await.unwrap(),
        1
    );
    let delete = "DELETE FROM conformance_items WHERE tenant_id = $1 AND id = $2";
    assert_eq!(as_b.execute(delete, &[text("x2")]).await.unwrap(), 0);
    let upsert = "INSERT INTO conformance_items (tenant_id, id, name) VALUES ($1, $2, $3) \
                  ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name";
    assert_eq!(
        as_b.execute(upsert, &[text("x2"), text("upserted")])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        names(&store, &a).await,
        pairs(&[("x1", "alpha"), ("x2", "beta")])
    );
    assert_eq!(
        names(&store, &b).await,
        pairs(&[("x1", "renamed"), ("x2", "upserted")])
    );

    // Inside a transaction too.
    let mut tx = store.begin().await.unwrap();
    let rows = tx
        .scoped(&b)
        .fetch_all("SELECT id FROM conformance_items WHERE tenant_id = $1", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let deleted = tx
        .scoped(&b)
        .execute("DELETE FROM conformance_items WHERE tenant_id = $1", &[])
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    tx.commit().await.unwrap();
    assert_eq!(
        names(&store, &a).await,
        pairs(&[("x1", "alpha"), ("x2", "beta")])
    );
    assert!(names(&store, &b).await.is_empty());
}

/// SQL that does not constrain the tenant never reaches the database.
pub async fn unscoped_sql_is_refused(store: Store) {
    setup(&store).await;
    let a = tenant("tenant-a");
    insert_item(&store, &a, "x1", "alpha").await;
    let b = tenant("tenant-b");
    let refused: &[(&str, Vec<Value>)] = &[
        ("SELECT * FROM conformance_items", vec![]),
        (
            "SELECT * FROM conformance_items WHERE id = $2",
            vec![text("x1")],
        ),
        (
            "SELECT * FROM conformance_items WHERE tenant_id = $1 OR 1 = 1",
            vec![],
        ),
        (
            "SELECT * FROM conformance_items WHERE tenant_id = $2",
            vec![text("tenant-a")],
        ),
        (
            "SELECT * FROM conformance_items WHERE tenant_id = $1 UNION SELECT * FROM conformance_items",
            vec![],
        ),
        (
            "UPDATE conformance_items SET name = $2",
            vec![text("hacked")],
        ),
        (
            "UPDATE conformance_items SET tenant_id = $2 WHERE tenant_id = $1",
            vec![text("tenant-a")],
        ),
        ("DELETE FROM conformance_items", vec![]),
        (
            "DELETE FROM conformance_items WHERE id = $2",
            vec![text("x1")],
        ),
        (
            "DELETE FROM conformance_items WHERE tenant_id = $1; DELETE FROM conformance_items",
            vec![],
        ),
        (
            "INSERT INTO conformance_items (id, name) VALUES ($2, $3)",
            vec![text("y"), text("n")],
        ),
        (
            "INSERT INTO conformance_items (tenant_id, id, name) VALUES ($2, $3, $4)",
            vec![text("tenant-a"), text("y"), text("n")],
        ),
        (
            "INSERT INTO conformance_items (tenant_id, id, name) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            vec![text("x1"), text("n")],
        ),
    ];
    for (sql, binds) in refused {
        let err = store.scoped(&b).execute(sql, binds).await.unwrap_err();
        assert!(matches!(err, StoreError::Unscoped { .. }), "{sql}: {err}");
        assert_eq!(err.code(), ErrorCode::Internal);
        let err = store.scoped(&b).fetch_all(sql, binds).await.unwrap_err();
        assert!(matches!(err, StoreError::Unscoped { .. }), "{sql}: {err}");
    }
    assert_eq!(count(&store, "conformance_items").await, 1);
    assert_eq!(names(&store, &a).await, pairs(&[("x1", "alpha")]));
}

/// Committed writes are visible, rolled-back and dropped transactions leave nothing.
pub async fn transaction_commit_and_rollback(store: Store) {
    setup(&store).await;
    let insert = "INSERT INTO conformance_notes (id, body) VALUES ($1, $2)";
    let select = "SELECT body FROM conformance_notes WHERE id = $1";

    let mut tx = store.begin().await.unwrap();
    tx.unscoped()
        .execute(insert, &[text("n1"), text("committed")])
        .await
        .unwrap();
    assert!(
        tx.unscoped()
            .fetch_optional(select, &[text("n1")])
            .await
            .unwrap()
            .is_some(),
        "own write invisible"
    );
    assert!(
        store
            .unscoped()
            .fetch_optional(select, &[text("n1")])
            .await
            .unwrap()
            .is_none(),
        "uncommitted write leaked"
    );
    tx.commit().await.unwrap();
    let row = store
        .unscoped()
        .fetch_optional(select, &[text("n1")])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<String>("body").unwrap(), "committed");

    let mut tx = store.begin().await.unwrap();
    tx.unscoped()
        .execute(insert, &[text("n2"), text("rolled back")])
        .await
        .unwrap();
    let a = tenant("tenant-a");
    tx.scoped(&a)
        .execute(
            "INSERT INTO conformance_items (tenant_id, id, name) VALUES ($1, $2, $3)",
            &[text("i1"), text("gone")],
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        store
            .unscoped()
            .fetch_optional(select, &[text("n2")])
            .await
            .unwrap()
            .is_none()
    );
    assert!(names(&store, &a).await.is_empty());

    {
        let mut tx = store.begin().await.unwrap();
        tx.unscoped()
            .execute(insert, &[text("n3"), text("dropped")])
            .await
            .unwrap();
    }
    assert!(
        store
            .unscoped()
            .fetch_optional(select, &[text("n3")])
            .await
            .unwrap()
            .is_none()
    );
    // The dropped transaction released its locks: a new one can write.
    let mut tx = store.begin().await.unwrap();
    tx.unscoped()
        .execute(insert, &[text("n3"), text("after drop")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&store, "conformance_notes").await, 2);
}

/// The dedupe mark is `true` once per (consumer, event), only counts when committed.
pub async fn mark_processed_once(store: Store) {
    setup(&store).await;
    let mut tx = store.begin().await.unwrap();
    assert!(
        store
            .mark_processed(&mut tx, "writer", "evt-1")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(store.is_processed("writer", "evt-1").await.unwrap());

    let mut tx = store.begin().await.unwrap();
    assert!(
        !store
            .mark_processed(&mut tx, "writer", "evt-1")
            .await
            .unwrap(),
        "second delivery not detected"
    );
    assert!(
        tx.mark_processed("auditor", "evt-1").await.unwrap(),
        "consumers share dedupe keys"
    );
    tx.commit().await.unwrap();

    // A mark rolled back with its effect does not count.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.mark_processed("writer", "evt-2").await.unwrap());
    tx.rollback().await.unwrap();
    assert!(!store.is_processed("writer", "evt-2").await.unwrap());
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.mark_processed("writer", "evt-2").await.unwrap(),
        "rolled-back mark still counted"
    );
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let err = tx.mark_processed("", "evt").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    drop(tx);

    assert_eq!(
        store
            .prune_processed(Utc::now() - chrono::Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .prune_processed(Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        3
    );
    assert!(!store.is_processed("writer", "evt-1").await.unwrap());
}

/// A batch mark returns exactly the new ids: not the ones committed before, not a repeat
/// within the batch, not another consumer's; a rolled-back batch leaves nothing; more rows
/// than one statement holds all count.
pub async fn mark_processed_batch(store: Store) {
    setup(&store).await;
    let mut tx = store.begin().await.unwrap();
    assert!(tx.mark_processed("meter", "evt-1").await.unwrap());
    assert!(tx.mark_processed("other", "evt-2").await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let new = tx.mark_processed_batch("meter", &["evt-1", "evt-2", "evt-3", "evt-3"]).await.unwrap();
    assert_eq!(new.into_iter().collect::<Vec<_>>(), ["evt-2", "evt-3"]);
    tx.rollback().await.unwrap();
    assert!(!store.is_processed("meter", "evt-3").await.unwrap(), "rolled-back batch still counted");

    let many: Vec<String> = (0..1_234).map(|i| format!("bulk-{i:05}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.mark_processed_batch("meter", &refs).await.unwrap().len(), 1_234);
    assert!(tx.mark_processed_batch("meter", &refs[1_000..]).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    assert!(store.is_processed("meter", "bulk-01233").await.unwrap());

    let mut tx = store.begin().await.unwrap();
    let err = tx.mark_processed_batch("meter", &["ok", ""]).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}

/// 20 concurrent transactions mark the same event: exactly one gets `true`.
pub async fn mark_processed_race(store: Store) {
    setup(&store).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let first = store
                .mark_processed(&mut tx, "racer", "evt-race")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            tx.commit().await.unwrap();
            first
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(
        winners, 1,
        "exactly one of 20 racing consumers may apply the event"
    );
    assert_eq!(count(&store, "processed_events").await, 1);
}

fn millis(ts: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    ts + chrono::Duration::milliseconds(ms)
}

/// JSON documents and UTC timestamps (millisecond precision) come back as written, and
/// timestamps compare and sort as time on both engines.
pub async fn json_and_timestamp_round_trip(store: Store) {
    setup(&store).await;
    let a = tenant("tenant-a");
    let base = Utc
        .with_ymd_and_hms(2024, 2, 29, 23, 59, 59)
        .single()
        .unwrap();
    let doc = json!({
        "name": "纺织 textile — ✓",
        "nested": {"list": [1, 2.5, -3, null, true, "x"], "empty": {}},
        "big": i64::MAX,
        "small": -0.001,
        "quote": "it's \"quoted\"\n",
    });
    // Written out of order; fractional digits vary (none, .5, .123, .999).
    let cases = [
        ("t3", millis(base, 1500), json!([])),
        ("t1", base, doc.clone()),
        ("t4", millis(base, 2999), json!("plain string")),
        ("t2", millis(base, 123), json!({"k": 1})),
        (
            "t0",
            Utc.with_ymd_and_hms(1999, 12, 31, 0, 0, 0)
                .single()
                .unwrap(),
            json!(null),
        ),
    ];
    for (id, at, attrs) in &cases {
        store
            .scoped(&a)
            .execute(
                "INSERT INTO conformance_items (tenant_id, id, name, attrs, happened_at) VALUES ($1, $2, $3, $4, $5)",
                &[text(id), text("ts"), Value::Json(attrs.clone()), Value::Timestamp(*at)],
            )
            .await
            .unwrap();
    }
    let rows = store
        .scoped(&a)
        .fetch_all(
            "SELECT id, attrs, happened_at FROM conformance_items WHERE tenant_id = $1 ORDER BY happened_at",
            &[],
        )
        .await
        .unwrap();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.get::<String>("id").unwrap())
        .collect();
    assert_eq!(
        ids,
        ["t0", "t1", "t2", "t3", "t4"],
        "ORDER BY timestamp is not time order"
    );
    for row in &rows {
        let id = row.get::<String>("id").unwrap();
        let (_, at, attrs) = cases.iter().find(|(case_id, _, _)| *case_id == id).unwrap();
        assert_eq!(
            row.get::<DateTime<Utc>>("happened_at").unwrap(),
            *at,
            "timestamp of {id}"
        );
        assert_eq!(
            row.get::<serde_json::Value>("attrs").unwrap(),
            *attrs,
            "json of {id}"
        );
    }
    let later = store
        .scoped(&a)
        .fetch_all(
            "SELECT id FROM conformance_items WHERE tenant_id = $1 AND happened_at >= $2 ORDER BY id",
            &[Value::Timestamp(millis(base, 123))],
        )
        .await
        .unwrap();
    assert_eq!(
        later
            .iter()
            .map(|r| r.get::<String>("id").unwrap())
            .collect::<Vec<_>>(),
        ["t2", "t3", "t4"]
    );

    // NULL in a JSON and a timestamp column reads back as None.
    store
        .scoped(&a)
        .execute(
            "INSERT INTO conformance_items (tenant_id, id, name, attrs, happened_at) VALUES ($1, $2, $3, $4, $5)",
            &[text("nulls"), text("n"), Value::Null, Value::Null],
        )
        .await
        .unwrap();
    let row = store
        .scoped(&a)
        .fetch_optional(
            "SELECT attrs, happened_at FROM conformance_items WHERE tenant_id = $1 AND id = $2",
            &[text("nulls")],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<Option<serde_json::Value>>("attrs").unwrap(), None);
    assert_eq!(
        row.get::<Option<DateTime<Utc>>>("happened_at").unwrap(),
        None
    );
}

/// Integers, floats, booleans, bytes, NULLs; typed getters; decode errors name the column.
pub async fn scalar_values_round_trip(store: Store) {
    setup(&store).await;
    let a = tenant("tenant-a");
    let insert = "INSERT INTO conformance_items (tenant_id, id, name, qty, ratio, flag, payload) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let payload = vec![0u8, 1, 2, 254, 255];
    store
        .scoped(&a)
        .execute(
            insert,
            &[
                text("v1"),
                text("values"),
                Value::Int(i64::MIN),
                Value::Float(-1.25e-3),
                Value::Bool(true),
                Value::Bytes(payload.clone()),
            ],
        )
        .await
        .unwrap();
    store
        .scoped(&a)
        .execute(
            insert,
            &[
                text("v2"),
                text("nulls"),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        )
        .await
        .unwrap();
    let select = "SELECT id, name, qty, ratio, flag, payload FROM conformance_items WHERE tenant_id = $1 AND id = $2";
    let row: Row = store
        .scoped(&a)
        .fetch_optional(select, &[text("v1")])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.columns(),
        ["id", "name", "qty", "ratio", "flag", "payload"]
    );
    assert_eq!(row.get::<i64>("qty").unwrap(), i64::MIN);
    assert!((row.get::<f64>("ratio").unwrap() - -1.25e-3).abs() < f64::EPSILON);
    assert!(row.get::<bool>("flag").unwrap());
    assert_eq!(row.get::<Vec<u8>>("payload").unwrap(), payload);
    assert_eq!(row.get::<Option<i64>>("qty").unwrap(), Some(i64::MIN));
    let missing = row.get::<String>("no_such_column").unwrap_err();
    assert!(
        matches!(&missing, StoreError::Decode { column, .. } if column == "no_such_column"),
        "{missing}"
    );

    let row = store
        .scoped(&a)
        .fetch_optional(select, &[text("v2")])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<Option<i64>>("qty").unwrap(), None);
    assert_eq!(row.get::<Option<f64>>("ratio").unwrap(), None);
    assert_eq!(row.get::<Option<bool>>("flag").unwrap(), None);
    assert_eq!(row.get::<Option<Vec<u8>>>("payload").unwrap(), None);
    assert!(row.get::<i64>("qty").is_err(), "NULL read as a plain i64");

    // COUNT(*) is bigint on PostgreSQL and integer on SQLite: both read as i64.
    let row = store
        .scoped(&a)
        .fetch_optional(
            "SELECT COUNT(*) AS n FROM conformance_items WHERE tenant_id = $1",
            &[],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<i64>("n").unwrap(), 2);
}

/// A duplicate primary key maps to `AlreadyExists`.
pub async fn unique_violation_is_already_exists(store: Store) {
    setup(&store).await;
    let a = tenant("tenant-a");
    insert_item(&store, &a, "dup", "first").await;
    let err = store
        .scoped(&a)
        .execute(
            "INSERT INTO conformance_items (tenant_id, id, name) VALUES ($1, $2, $3)",
            &[text("dup"), text("second")],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
    assert_eq!(err.code(), ErrorCode::AlreadyExists);
    let err = store
        .unscoped()
        .execute(
            "INSERT INTO conformance_notes (id, body) VALUES ($1, NULL)",
            &[text("n")],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
}

/// A committed write is read back by a new `Store` after the first one closed.
pub async fn committed_write_survives_reconnect(store: Store) {
    setup(&store).await;
    let a = tenant("tenant-a");
    let mut tx = store.begin().await.unwrap();
    tx.scoped(&a)
        .execute(
            "INSERT INTO conformance_items (tenant_id, id, name) VALUES ($1, $2, $3)",
            &[text("d1"), text("durable")],
        )
        .await
        .unwrap();
    assert!(tx.mark_processed("writer", "evt-durable").await.unwrap());
    tx.commit().await.unwrap();
    store.close().await;

    let again = store.reconnect().await.unwrap();
    assert_eq!(names(&again, &a).await, pairs(&[("d1", "durable")]));
    assert!(again.is_processed("writer", "evt-durable").await.unwrap());
    // Migrations are recorded durably too: nothing to apply.
    assert!(
        again
            .migrate(&TEST_MIGRATIONS)
            .await
            .unwrap()
            .applied
            .is_empty()
    );
    again.close().await;
}

/// The engine is configured so that a commit survives a crash.
pub async fn durability_settings(store: Store) {
    store.ping().await.unwrap();
    match store.engine() {
        crate::Engine::Sqlite => {
            let pragma = |name: &'static str| {
                let store = store.clone();
                async move {
                    let sql = format!("PRAGMA {name}");
                    let row = store
                        .unscoped()
                        .fetch_optional(&sql, &[])
                        .await
                        .unwrap()
                        .unwrap();
                    let column = row.columns()[0].to_owned();
                    match row.get::<i64>(&column) {
                        Ok(n) => n.to_string(),
                        Err(_) => row.get::<String>(&column).unwrap(),
                    }
                }
            };
            // Every pooled connection is configured alike; ask a few times to hit several.
            for _ in 0..3 {
                assert_eq!(pragma("journal_mode").await, "wal");
                assert_eq!(pragma("synchronous").await, "2", "synchronous must be FULL");
                assert_eq!(pragma("foreign_keys").await, "1");
                assert_eq!(pragma("busy_timeout").await, "5000");
            }
        }
        crate::Engine::Postgres => {
            assert!(store.as_postgres().is_some());
            let row = store
                .unscoped()
                .fetch_optional("SELECT current_setting('fsync') AS fsync", &[])
                .await
                .unwrap()
                .unwrap();
            let fsync = row.get::<String>("fsync").unwrap();
            if fsync != "on" {
                tracing::warn!(
                    fsync,
                    "the PostgreSQL server runs with fsync off: commits do not survive a crash"
                );
            }
        }
    }
}
