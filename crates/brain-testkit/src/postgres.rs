//! Throw-away PostgreSQL databases for tests: one fresh database per test on the server from
//! [`crate::engines::postgres`], dropped afterwards.

use anyhow::Context as _;
use brain_store::Store;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A database created for one test. Drop it with [`TempDatabase::drop_now`]; if the test
/// panics first, `Drop` removes it on a helper thread.
#[derive(Debug)]
pub struct TempDatabase {
    server_url: String,
    name: String,
    url: String,
    dropped: bool,
}

/// Creates `brain_t_<32 hex>` on the server at `server_url` (any database URL on it).
pub async fn fresh_database(server_url: &str) -> anyhow::Result<TempDatabase> {
    let name = format!("brain_t_{}", unique_hex());
    let url = database_url(server_url, &name)?;
    let admin = Store::connect(server_url)
        .await
        .with_context(|| format!("connect to {}", brain_store::redact_url(server_url)))?;
    let created = admin
        .unscoped()
        .execute(&format!("CREATE DATABASE \"{name}\""), &[])
        .await;
    admin.close().await;
    created.with_context(|| format!("create database {name}"))?;
    Ok(TempDatabase {
        server_url: server_url.to_owned(),
        name,
        url,
        dropped: false,
    })
}

impl TempDatabase {
    /// URL of the new database (the server URL with its path replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, terminating connections still open to it.
    pub async fn drop_now(mut self) -> anyhow::Result<()> {
        self.dropped = true;
        drop_database(&self.server_url, &self.name).await
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // No async in Drop: drop it from a helper thread with its own runtime.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime
                && let Err(e) = runtime.block_on(drop_database(&server_url, &name))
            {
                eprintln!("could not drop test database {name}: {e:#}");
            }
        });
        let _ = cleanup.join();
    }
}

async fn drop_database(server_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = Store::connect(server_url)
        .await
        .with_context(|| format!("connect to {}", brain_store::redact_url(server_url)))?;
    let dropped = admin
        .unscoped()
        .execute(
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            &[],
        )
        .await;
    admin.close().await;
    dropped.with_context(|| format!("drop database {name}"))?;
    Ok(())
}

/// `server_url` with the database path replaced by `/name`, query kept.
fn database_url(server_url: &str, name: &str) -> anyhow::Result<String> {
    let scheme_end = server_url
        .find("://")
        .context("PostgreSQL URL without ://")?
        + 3;
    let (base, query) = match server_url.find('?') {
        Some(q) => server_url.split_at(q),
        None => (server_url, ""),
    };
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    Ok(format!("{}/{name}{query}", &base[..authority_end]))
}

/// 128 random-enough bits as 32 hex digits (the shape of a simple UUID).
fn unique_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut halves = [0u64; 2];
    for (i, half) in halves.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_usize(i);
        *half = hasher.finish();
    }
    format!("{:016x}{:016x}", halves[0], halves[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_names() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "brain_t_x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/brain_t_x"
        );
        assert_eq!(
            database_url("postgresql://u:p@h/db?sslmode=disable", "brain_t_x").unwrap(),
            "postgresql://u:p@h/brain_t_x?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h:5432", "d").unwrap(),
            "postgres://h:5432/d"
        );
        let (a, b) = (unique_hex(), unique_hex());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    async fn exists(server: &str, name: &str) -> bool {
        let admin = Store::connect(server).await.unwrap();
        let row = admin
            .unscoped()
            .fetch_optional(
                "SELECT datname FROM pg_database WHERE datname = $1",
                &[name.into()],
            )
            .await
            .unwrap();
        admin.close().await;
        row.is_some()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn databases_are_created_and_dropped() {
        let Some(server) = crate::engines::postgres() else {
            return;
        };
        let db = fresh_database(&server).await.unwrap();
        let name = db.name().to_owned();
        assert!(exists(&server, &name).await);
        let store = Store::connect(db.url()).await.unwrap();
        store.ping().await.unwrap();
        // Still connected: WITH (FORCE) ends the session.
        db.drop_now().await.unwrap();
        assert!(!exists(&server, &name).await);

        // Forgotten (e.g. the test panicked): Drop cleans up.
        let db = fresh_database(&server).await.unwrap();
        let name = db.name().to_owned();
        drop(db);
        assert!(!exists(&server, &name).await);
    }
}
