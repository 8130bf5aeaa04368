//! The tamper-evident audit ledger of Industry Brain, stored in SQL (PostgreSQL or SQLite
//! through `brain-store`).
//!
//! # Design
//!
//! - **Hash chain.** Entries get gap-free sequence numbers 1, 2, 3, …. Each stores the SHA-256
//!   of its canonical-JSON details and an `entry_hash` over an unambiguous, length-prefixed
//!   encoding of all its fields including `prev_hash`, the hash of the entry before it (64
//!   zeros for the first). The exact encodings are documented in [`entry`] and [`canonical`] so
//!   auditors can recompute them without this crate.
//! - **Group commit.** [`Ledger::append`] returns only after its entries are committed. One
//!   writer task per [`Ledger`] takes every append waiting at that moment (up to 512 entries)
//!   into one transaction: on PostgreSQL it first takes a transaction-scoped advisory lock, on
//!   SQLite the transaction holds the write lock from `BEGIN`; then it reads the head, links,
//!   inserts and commits. So several processes on one database still build one chain, and a
//!   failed commit fails every waiter of the batch — nothing is reported appended that is not.
//! - **Checkpoints.** [`Ledger::checkpoint`] (periodically via
//!   [`Ledger::spawn_checkpointer`]) computes the RFC 6962 Merkle root over all entry hashes and
//!   signs `brain-ledger-checkpoint/v1\n{tree_size}\n{root}\n{at}` with the ledger's Ed25519
//!   key — after checking that the entries since the previous checkpoint verify and that the
//!   previous root still matches, so it never signs over a broken chain.
//! - **Inclusion proofs.** [`Ledger::proof`] returns an entry with its audit path to the
//!   latest covering checkpoint; [`verify_inclusion`] checks one offline with the public key.
//! - **Verification.** [`Ledger::verify`] walks all entries and checkpoints in pages and lists
//!   every problem with the seq it concerns.
//!
//! # What is detected and what is not
//!
//! Detected: an edited field or details (the entry's hashes no longer match); an edited entry
//! whose hashes were recomputed (the next entry's `prev_hash` no longer matches); deleted rows
//! (a gap in the sequence); a deleted tail that a checkpoint covered (truncation); any rewrite
//! of checkpointed entries, even with every hash recomputed (the signed root no longer
//! matches); an edited checkpoint (its signature fails).
//!
//! Not detected by the database alone: rewriting or deleting entries *after* the last
//! checkpoint together with every later hash — the chain is then consistent and no signature
//! covers it yet. Keep the checkpoint interval short, and hand checkpoints or proofs to parties
//! outside the database (auditors, the CLI) so an old signed root can be compared. Rewriting
//! checkpointed history and re-signing requires the ledger's private key.
//!
//! Tables are platform-wide (the `tenant` column records whom an entry concerns), so queries go
//! through the store's `unscoped` handle.

pub mod canonical;
mod checkpoint;
mod checkpointer;
mod db;
pub mod entry;
mod error;
mod ledger;
pub mod merkle;
mod metrics;
mod proof;
mod proving;
mod schema;
mod time;
mod verify;
mod writer;

pub use canonical::canonical_json;
pub use checkpoint::Checkpoint;
pub use entry::{GENESIS_HASH, LedgerEntry, NewEntry, details_hash};
pub use error::LedgerError;
pub use ledger::{Ledger, MAX_PAGE};
pub use proof::{InclusionProof, verify_inclusion};
pub use schema::MIGRATIONS;
pub use time::format_at;
pub use verify::{VerifyProblem, VerifyReport};
