//! Ledger entries and their hashes.
//!
//! `details_hash` = hex SHA-256 of the canonical JSON of the details.
//! `entry_hash` = hex SHA-256 over the length-prefixed encoding
//!
//! ```text
//! lp("brain-ledger-entry/v1") || u64be(seq) || lp(at) || lp(actor) || lp(tenant) || lp(action)
//!   || lp(subject) || lp(result) || lp(details_hash) || lp(prev_hash)
//! ```
//!
//! where `lp(x)` = `u64be(byte length of x) || x` (UTF-8), `at` is in
//! [`crate::format_at`] form and the hashes are lowercase hex text. Length prefixes make the
//! encoding unambiguous: no two different field lists give the same bytes.

use crate::canonical::canonical_json;
use crate::error::LedgerError;
use crate::time::{format_at, serde_micros};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const ENTRY_TAG: &str = "brain-ledger-entry/v1";

/// What a caller appends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEntry {
    /// Who did it, e.g. `user:42`, `service:ingestion`.
    pub actor: String,
    /// The tenant it concerns; empty for platform-wide actions.
    pub tenant: String,
    /// What was done, e.g. `grant.approve`.
    pub action: String,
    /// What it was done to.
    pub subject: String,
    /// `ok`, `denied`, `failed`, ...
    pub result: String,
    /// Anything an auditor needs to read; hashed in canonical form.
    pub details: serde_json::Value,
}

impl NewEntry {
    pub(crate) fn validate(&self) -> Result<(), LedgerError> {
        if self.actor.is_empty() {
            return Err(LedgerError::InvalidEntry(
                "actor must not be empty".to_owned(),
            ));
        }
        if self.action.is_empty() {
            return Err(LedgerError::InvalidEntry(
                "action must not be empty".to_owned(),
            ));
        }
        Ok(())
    }
}

/// An appended entry as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub seq: u64,
    #[serde(with = "serde_micros")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub tenant: String,
    pub action: String,
    pub subject: String,
    pub result: String,
    pub details: serde_json::Value,
    pub details_hash: String,
    pub prev_hash: String,
    pub entry_hash: String,
}

impl LedgerEntry {
    /// The entry hash recomputed from the fields (compare with `entry_hash`).
    pub fn computed_hash(&self) -> String {
        entry_hash(&EntryFields {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            tenant: &self.tenant,
            action: &self.action,
            subject: &self.subject,
            result: &self.result,
            details_hash: &self.details_hash,
            prev_hash: &self.prev_hash,
        })
    }

    /// Whether `details_hash` is the hash of `details`.
    pub fn details_match(&self) -> bool {
        details_hash(&self.details) == self.details_hash
    }
}

/// Hex SHA-256 of the canonical JSON of `details`.
pub fn details_hash(details: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(canonical_json(details).as_bytes()))
}

/// The hashed fields of an entry, borrowed.
pub(crate) struct EntryFields<'a> {
    pub seq: u64,
    pub at: &'a DateTime<Utc>,
    pub actor: &'a str,
    pub tenant: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub result: &'a str,
    pub details_hash: &'a str,
    pub prev_hash: &'a str,
}

pub(crate) fn entry_hash(fields: &EntryFields<'_>) -> String {
    fn put(hasher: &mut Sha256, bytes: &[u8]) {
        // usize -> u64 never truncates on the platforms Rust supports.
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    }
    let mut hasher = Sha256::new();
    put(&mut hasher, ENTRY_TAG.as_bytes());
    hasher.update(fields.seq.to_be_bytes());
    put(&mut hasher, format_at(fields.at).as_bytes());
    for field in [
        fields.actor,
        fields.tenant,
        fields.action,
        fields.subject,
        fields.result,
        fields.details_hash,
        fields.prev_hash,
    ] {
        put(&mut hasher, field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Links `entries` after the entry `prev_seq` whose hash is `prev_hash`, all stamped `at`.
pub(crate) fn chain(
    prev_seq: u64,
    prev_hash: &str,
    at: DateTime<Utc>,
    entries: Vec<NewEntry>,
) -> Vec<LedgerEntry> {
    let mut prev_hash = prev_hash.to_owned();
    let mut out = Vec::with_capacity(entries.len());
    for (seq, entry) in (prev_seq + 1..).zip(entries) {
        let details_hash = details_hash(&entry.details);
        let mut linked = LedgerEntry {
            seq,
            at,
            actor: entry.actor,
            tenant: entry.tenant,
            action: entry.action,
            subject: entry.subject,
            result: entry.result,
            details: entry.details,
            details_hash,
            prev_hash,
            entry_hash: String::new(),
        };
        linked.entry_hash = linked.computed_hash();
        prev_hash = linked.entry_hash.clone();
        out.push(linked);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new(subject: &str) -> NewEntry {
        NewEntry {
            actor: "user:1".into(),
            tenant: "acme".into(),
            action: "grant.approve".into(),
            subject: subject.into(),
            result: "ok".into(),
            details: json!({"b": 1, "a": [1, 2]}),
        }
    }

    #[test]
    fn chain_links_and_hashes() {
        let at = crate::time::now();
        let entries = chain(0, GENESIS_HASH, at, vec![new("x"), new("y"), new("z")]);
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(entries[0].prev_hash, GENESIS_HASH);
        assert_eq!(entries[1].prev_hash, entries[0].entry_hash);
        assert_eq!(entries[2].prev_hash, entries[1].entry_hash);
        for e in &entries {
            assert_eq!(e.computed_hash(), e.entry_hash);
            assert!(e.details_match());
            assert_eq!(e.entry_hash.len(), 64);
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let at = crate::time::now();
        let base = chain(6, GENESIS_HASH, at, vec![new("x")]).remove(0);
        let variants: [fn(&mut LedgerEntry); 9] = [
            |e| e.seq += 1,
            |e| e.at += chrono::Duration::microseconds(1),
            |e| e.actor.push('!'),
            |e| e.tenant.push('!'),
            |e| e.action.push('!'),
            |e| e.subject.push('!'),
            |e| e.result.push('!'),
            |e| e.details_hash = details_hash(&json!(1)),
            |e| e.prev_hash = "1".repeat(64),
        ];
        for change in variants {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(e.computed_hash(), base.entry_hash);
        }
    }

    #[test]
    fn length_prefixes_keep_field_boundaries() {
        let at = crate::time::now();
        let mut a = chain(0, GENESIS_HASH, at, vec![new("x")]).remove(0);
        let mut b = a.clone();
        a.actor = "ab".into();
        a.tenant = "c".into();
        b.actor = "a".into();
        b.tenant = "bc".into();
        assert_ne!(a.computed_hash(), b.computed_hash());
    }

    #[test]
    fn details_hash_ignores_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"x":1,"y":2}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{ "y": 2, "x": 1 }"#).unwrap();
        assert_eq!(details_hash(&a), details_hash(&b));
        assert_ne!(details_hash(&a), details_hash(&json!({"x": 1, "y": 3})));
    }

    #[test]
    fn entries_round_trip_through_json() {
        let e = chain(0, GENESIS_HASH, crate::time::now(), vec![new("x")]).remove(0);
        let text = serde_json::to_string(&e).unwrap();
        let back: LedgerEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.computed_hash(), e.entry_hash);
    }

    #[test]
    fn validation() {
        let mut e = new("x");
        assert!(e.validate().is_ok());
        e.actor.clear();
        assert!(e.validate().is_err());
        let mut e = new("x");
        e.action.clear();
        assert!(e.validate().is_err());
    }
}
