//! The SQL store of Industry Brain: one API over PostgreSQL (distributed mode) and SQLite
//! (single-binary mode), chosen by URL.
//!
//! - [`Store::connect`]: `postgres://…` / `postgresql://…` or `sqlite://<path>` (WAL journal,
//!   `synchronous=FULL` so a committed transaction survives a crash, foreign keys on, 5 s busy
//!   timeout) or `sqlite::memory:` for unit tests. A `Store` is a cloneable pool handle.
//! - [`Store::migrate`]: per-owner migration sets for both engines ([`Migrations`]), tracked by
//!   `(owner, version)` with checksums in `brain_schema_migrations` (see [`migrate`]).
//!   [`PLATFORM`] holds the store's own tables; apply it before the services' sets.
//! - [`Store::scoped`] / [`StoreTx::scoped`]: queries on tenant-owned tables through a
//!   [`Scoped`] handle that binds the tenant itself and refuses SQL that does not constrain it.
//! - [`StoreTx::mark_processed`]: dedupe of at-least-once deliveries inside the consumer's
//!   transaction (see [`dedupe`]).
//! - [`conformance`]: the suite every engine must pass.
//!
//! # Why tenant scoping lives in the store layer
//!
//! Every route of the platform reads or writes rows that belong to one tenant (a government
//! body, an enterprise, a bank). If each handler had to remember `AND tenant_id = …`, one
//! forgotten clause among hundreds of queries would leak one enterprise's production data to a
//! competitor — and nothing would notice, because the query still "works". So the rule is
//! enforced where every query passes, in one place that can be tested once:
//!
//! - the [`Scoped`] handle is built from a validated [`TenantId`] (from the authenticated
//!   principal, never from a request body) and binds it as `$1` itself — a handler cannot pass
//!   the wrong tenant by mistake, and cannot bind it as text into the SQL;
//! - before running anything, it checks that the statement constrains the tenant:
//!   `SELECT`/`UPDATE`/`DELETE` need a top-level `WHERE` with `tenant_id = $1` as an `AND` term
//!   (no top-level `OR`, no `UNION`), `INSERT` needs a `tenant_id` column whose value is `$1` in
//!   every row, `UPDATE … SET` may not move rows to another tenant, and an upsert's conflict
//!   target must include `tenant_id`. Violations are [`StoreError::Unscoped`] (an internal
//!   error: a bug in the caller), so a missing clause fails the first test that runs the query
//!   rather than leaking in production;
//! - tables no tenant owns (dedupe marks, job queues, the migration table) go through the
//!   explicitly named [`Store::unscoped`], which stands out in review.
//!
//! The check reads the top-level statement only; joined tables and subqueries that read
//! tenant-owned tables must constrain those too. It is a guard against omissions, not a
//! sandbox for untrusted SQL. The end-to-end suite complements it by walking every route as
//! tenant A against tenant B's rows.
//!
//! # Engine differences hidden here
//!
//! Placeholders are `$1, $2, …` on both engines. [`Value::Timestamp`] is `timestamptz` on
//! PostgreSQL and fixed-width RFC 3339 UTC text on SQLite (so comparisons and `ORDER BY` follow
//! time); precision is microseconds. [`Value::Json`] is `jsonb` on PostgreSQL, text on SQLite.
//! SQLite transactions start with `BEGIN IMMEDIATE`, so a read-then-write transaction never
//! fails on a stale snapshot. Engine-specific fast paths (PostgreSQL `COPY`) use
//! [`Store::as_postgres`] / [`StoreTx::as_postgres_mut`].

pub mod conformance;
pub mod dedupe;
mod engine;
mod error;
mod guard;
pub mod migrate;
mod scope;
mod tx;
mod value;

pub use brain_core::{ErrorCode, ServiceError};
pub use engine::{Engine, Store, StoreOptions};
pub use error::{StoreError, redact_url};
pub use migrate::{AppliedMigration, Migration, MigrationReport, Migrations, PLATFORM};
pub use scope::{Scoped, TenantId, Unscoped};
pub use tx::StoreTx;
pub use value::{FromColumn, Row, Value};
