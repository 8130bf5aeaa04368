//! Connecting by URL: PostgreSQL or SQLite, one pool each, one [`Store`] handle.

use crate::error::{StoreError, redact_url, scrub};
use crate::tx::{StoreTx, TxInner};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Which SQL engine a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    Postgres,
    Sqlite,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pool sizing and timeouts. `Default` fits a service process.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Upper bound of pooled connections; `None` = 10 for PostgreSQL, 4 for an SQLite file
    /// (SQLite serializes writers anyway; readers run in parallel under WAL), 1 in memory.
    pub max_connections: Option<u32>,
    /// How long a query waits for a free connection before failing with `Unavailable`.
    pub acquire_timeout: Duration,
    /// How long `connect` may take to open its first connection.
    pub connect_timeout: Duration,
    /// SQLite: how long a writer waits for the database lock before failing.
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A connection pool to one database. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// The URL as given (it may hold a password): only used to reconnect, never shown.
    connect_url: Arc<str>,
    redacted_url: Arc<str>,
    options: Arc<StoreOptions>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine())
            .field("url", &self.redacted_url)
            .finish()
    }
}

enum Target {
    Postgres,
    SqliteFile(String),
    SqliteMemory,
}

fn parse_target(url: &str) -> Result<Target, StoreError> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        url: redact_url(url),
        reason: reason.to_owned(),
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres);
    }
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Err(invalid(
            "expected postgres://, postgresql://, sqlite://<path> or sqlite::memory:",
        ));
    };
    if rest == ":memory:" {
        return Ok(Target::SqliteMemory);
    }
    if rest.contains('?') {
        return Err(invalid(
            "SQLite URL options are not supported; the store sets journal, sync and locking itself",
        ));
    }
    if rest.is_empty() {
        return Err(invalid("missing database file path"));
    }
    Ok(Target::SqliteFile(rest.to_owned()))
}

impl Store {
    /// Connects with [`StoreOptions::default`].
    ///
    /// `postgres://user[:password]@host[:port]/db[?…]` (or `postgresql://`), `sqlite://<path>`
    /// (`sqlite:///abs/path.db`, `sqlite://relative/path.db`; parent directories and the file are
    /// created) or `sqlite::memory:` (one private in-memory database, one connection: for unit tests).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// Connects with explicit pool options.
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let redacted = redact_url(url);
        let pool = match parse_target(url)? {
            Target::Postgres => Pool::Postgres(connect_postgres(url, &redacted, &options).await?),
            Target::SqliteFile(path) => {
                Pool::Sqlite(connect_sqlite_file(&path, &redacted, &options).await?)
            }
            Target::SqliteMemory => Pool::Sqlite(connect_sqlite_memory(&redacted, &options).await?),
        };
        let store = Store {
            pool,
            connect_url: url.into(),
            redacted_url: redacted.into(),
            options: Arc::new(options),
        };
        tracing::info!(db.system = store.engine().as_str(), url = %store.redacted_url, "store connected");
        Ok(store)
    }

    /// A second, independent pool to the same URL with the same options.
    pub(crate) async fn reconnect(&self) -> Result<Store, StoreError> {
        Self::connect_with(&self.connect_url, (*self.options).clone()).await
    }

    pub fn engine(&self) -> Engine {
        match self.pool {
            Pool::Postgres(_) => Engine::Postgres,
            Pool::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// The URL with any password replaced by `***`, fit for logs.
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// `SELECT 1` on a pooled connection (readiness probe).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
            Pool::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Closes the pool: waits for checked-out connections to return, then closes them all.
    /// Every clone of this store is closed too.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }

    /// Begins a transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up front,
    /// so a transaction that reads and then writes never fails with a stale snapshot.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        let inner = match &self.pool {
            Pool::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
            Pool::Sqlite(pool) => TxInner::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        };
        Ok(StoreTx(inner))
    }

    /// The PostgreSQL pool, for engine-specific fast paths (COPY).
    pub fn as_postgres(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(pool) => Some(pool),
            Pool::Sqlite(_) => None,
        }
    }

    /// The SQLite pool, for engine-specific fast paths.
    pub fn as_sqlite(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(pool) => Some(pool),
            Pool::Postgres(_) => None,
        }
    }
}

async fn connect_postgres(
    url: &str,
    redacted: &str,
    options: &StoreOptions,
) -> Result<PgPool, StoreError> {
    let connect_options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redacted.to_owned(),
        reason: scrub(e.to_string(), url),
    })?;
    let pool_options = PgPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(10))
        .min_connections(0)
        .acquire_timeout(options.acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(600)))
        .max_lifetime(Some(Duration::from_secs(1800)));
    match tokio::time::timeout(
        options.connect_timeout,
        pool_options.connect_with(connect_options),
    )
    .await
    {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(e)) => Err(connect_error(e, url, redacted)),
        Err(_) => Err(StoreError::Unavailable(format!(
            "connecting to {redacted} took longer than {:?}",
            options.connect_timeout
        ))),
    }
}

fn connect_error(error: sqlx::Error, url: &str, redacted: &str) -> StoreError {
    let message = scrub(StoreError::from(error).to_string(), url);
    StoreError::Unavailable(format!("cannot connect to {redacted}: {message}"))
}

fn sqlite_options(options: &StoreOptions) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .foreign_keys(true)
        .busy_timeout(options.sqlite_busy_timeout)
}

async fn connect_sqlite_file(
    path: &str,
    redacted: &str,
    options: &StoreOptions,
) -> Result<SqlitePool, StoreError> {
    let path = std::path::Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create directory {} for {redacted}: {e}",
                parent.display()
            ))
        })?;
    }
    let connect_options = sqlite_options(options)
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: the WAL is synced at every commit, so a committed transaction survives power loss.
        .synchronous(SqliteSynchronous::Full);
    let pool_options = SqlitePoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(4))
        .acquire_timeout(options.acquire_timeout);
    match tokio::time::timeout(
        options.connect_timeout,
        pool_options.connect_with(connect_options),
    )
    .await
    {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(e)) => Err(connect_error(e, "", redacted)),
        Err(_) => Err(StoreError::Unavailable(format!(
            "opening {redacted} took longer than {:?}",
            options.connect_timeout
        ))),
    }
}

async fn connect_sqlite_memory(
    redacted: &str,
    options: &StoreOptions,
) -> Result<SqlitePool, StoreError> {
    // One connection that never closes: the database lives exactly as long as the pool.
    let connect_options = sqlite_options(options).in_memory(true);
    let pool_options = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(options.acquire_timeout);
    pool_options
        .connect_with(connect_options)
        .await
        .map_err(|e| connect_error(e, "", redacted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(matches!(
            parse_target("postgres://u@h/db"),
            Ok(Target::Postgres)
        ));
        assert!(matches!(
            parse_target("postgresql://u@h/db"),
            Ok(Target::Postgres)
        ));
        assert!(matches!(
            parse_target("sqlite::memory:"),
            Ok(Target::SqliteMemory)
        ));
        assert!(
            matches!(parse_target("sqlite:///tmp/x.db"), Ok(Target::SqliteFile(p)) if p == "/tmp/x.db")
        );
        assert!(
            matches!(parse_target("sqlite://data/x.db"), Ok(Target::SqliteFile(p)) if p == "data/x.db")
        );
        assert!(parse_target("sqlite://x.db?mode=ro").is_err());
        assert!(parse_target("sqlite://").is_err());
        let err = parse_target("mysql://u:hunter2@h/db").err().unwrap();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn memory_store_pings() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        assert_eq!(store.engine(), Engine::Sqlite);
        store.ping().await.unwrap();
        assert!(store.as_sqlite().is_some() && store.as_postgres().is_none());
        store.close().await;
        assert!(store.ping().await.is_err());
    }

    #[tokio::test]
    async fn unreachable_postgres_is_unavailable_without_password() {
        let options = StoreOptions {
            connect_timeout: Duration::from_secs(3),
            ..StoreOptions::default()
        };
        let err = Store::connect_with("postgres://u:hunter2@127.0.0.1:1/db", options)
            .await
            .unwrap_err();
        assert_eq!(
            brain_core::ServiceError::code(&err),
            brain_core::ErrorCode::Unavailable
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
