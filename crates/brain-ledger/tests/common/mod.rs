//! Runs each ledger scenario on SQLite (a file) and on PostgreSQL (a fresh database).

#![allow(dead_code)]

use brain_auth::SigningKey;
use brain_ledger::{Ledger, MIGRATIONS, NewEntry};
use brain_store::Store;
use std::sync::Arc;

/// One test database; `connect` may be called repeatedly (reopening, second instances).
pub struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<brain_testkit::postgres::TempDatabase>,
    pub key: Arc<SigningKey>,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/ledger.db", dir.path().display());
        Db {
            url,
            _dir: Some(dir),
            postgres: None,
            key: Arc::new(SigningKey::generate().unwrap()),
        }
    }

    /// `None` outside CI when no PostgreSQL is configured; under `CI=true` that panics instead.
    pub async fn postgres() -> Option<Db> {
        let server = brain_testkit::engines::postgres()?;
        let db = brain_testkit::postgres::fresh_database(&server)
            .await
            .unwrap();
        Some(Db {
            url: db.url().to_owned(),
            _dir: None,
            postgres: Some(db),
            key: Arc::new(SigningKey::generate().unwrap()),
        })
    }

    /// A new pool on the database, migrated.
    pub async fn connect(&self) -> Store {
        let store = Store::connect(&self.url).await.unwrap();
        store.migrate(&MIGRATIONS).await.unwrap();
        store
    }

    /// A ledger on a new pool, and the pool (for direct SQL).
    pub async fn open(&self) -> (Ledger, Store) {
        let store = self.connect().await;
        (
            Ledger::open(store.clone(), self.key.clone()).await.unwrap(),
            store,
        )
    }

    pub async fn finish(self) {
        if let Some(db) = self.postgres {
            db.drop_now().await.unwrap();
        }
    }
}

pub fn entry(i: u64) -> NewEntry {
    NewEntry {
        actor: format!("user:{}", i % 7),
        tenant: "acme-textiles".into(),
        action: "grant.approve".into(),
        subject: format!("grant/{i}"),
        result: "ok".into(),
        details: serde_json::json!({"n": i, "reason": "quarterly audit", "nested": {"z": [1, 2], "a": "é日本"}}),
    }
}

pub fn entries(range: std::ops::Range<u64>) -> Vec<NewEntry> {
    range.map(entry).collect()
}

/// Generates `sqlite::<name>` and `postgres::<name>` tests for each `async fn <name>(&Db)`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::Db::sqlite().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $crate::common::Db::postgres().await else { return };
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}
