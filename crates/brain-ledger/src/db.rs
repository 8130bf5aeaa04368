//! The ledger's SQL, the same text on both engines.
//!
//! Ledger tables are platform-wide (no tenant owns a row; the `tenant` column records whom an
//! entry concerns), so every query goes through the store's `unscoped` handle.

use crate::checkpoint::Checkpoint;
use crate::entry::{GENESIS_HASH, LedgerEntry};
use crate::error::LedgerError;
use brain_store::{Row, Unscoped, Value};
use chrono::{DateTime, Utc};

/// Rows per multi-row INSERT: 11 binds each keeps far below both engines' bind limits.
const INSERT_CHUNK: usize = 100;

const ENTRY_COLUMNS: &str =
    "seq, at, actor, tenant, action, subject, result, details, details_hash, prev_hash, entry_hash";

const CHECKPOINT_COLUMNS: &str = "tree_size, root_hash, at, key_id, signature";

/// An entry row as stored, details still as text (a tampered row may not even parse).
#[derive(Clone, Debug)]
pub(crate) struct StoredEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub tenant: String,
    pub action: String,
    pub subject: String,
    pub result: String,
    pub details: String,
    pub details_hash: String,
    pub prev_hash: String,
    pub entry_hash: String,
}

impl StoredEntry {
    pub fn into_entry(self) -> Result<LedgerEntry, LedgerError> {
        let details = serde_json::from_str(&self.details).map_err(|e| LedgerError::Corrupt {
            seq: self.seq,
            reason: format!("details are not valid JSON: {e}"),
        })?;
        Ok(LedgerEntry {
            seq: self.seq,
            at: self.at,
            actor: self.actor,
            tenant: self.tenant,
            action: self.action,
            subject: self.subject,
            result: self.result,
            details,
            details_hash: self.details_hash,
            prev_hash: self.prev_hash,
            entry_hash: self.entry_hash,
        })
    }
}

/// A seq as bound: seqs never exceed `i64::MAX`, larger bounds mean "everything".
pub(crate) fn bind_seq(seq: u64) -> Value {
    Value::Int(i64::try_from(seq).unwrap_or(i64::MAX))
}

fn seq_of(row: &Row, column: &str) -> Result<u64, LedgerError> {
    let value: i64 = row.get(column)?;
    u64::try_from(value).map_err(|_| LedgerError::Corrupt {
        seq: 0,
        reason: format!("{column} {value} is negative"),
    })
}

fn decode_entry(row: &Row) -> Result<StoredEntry, LedgerError> {
    Ok(StoredEntry {
        seq: seq_of(row, "seq")?,
        at: row.get("at")?,
        actor: row.get("actor")?,
        tenant: row.get("tenant")?,
        action: row.get("action")?,
        subject: row.get("subject")?,
        result: row.get("result")?,
        details: row.get("details")?,
        details_hash: row.get("details_hash")?,
        prev_hash: row.get("prev_hash")?,
        entry_hash: row.get("entry_hash")?,
    })
}

fn decode_checkpoint(row: &Row) -> Result<Checkpoint, LedgerError> {
    Ok(Checkpoint {
        tree_size: seq_of(row, "tree_size")?,
        root_hash: row.get("root_hash")?,
        at: row.get("at")?,
        key_id: row.get("key_id")?,
        signature: row.get("signature")?,
    })
}

/// The last entry's seq and hash; `(0, GENESIS_HASH)` when the ledger is empty.
pub(crate) async fn head(q: &mut Unscoped<'_>) -> Result<(u64, String), LedgerError> {
    let row = q
        .fetch_optional(
            "SELECT seq, entry_hash FROM ledger_entries ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    match row {
        Some(row) => Ok((seq_of(&row, "seq")?, row.get("entry_hash")?)),
        None => Ok((0, GENESIS_HASH.to_owned())),
    }
}

/// Inserts linked entries (details as canonical JSON text).
pub(crate) async fn insert_entries(
    q: &mut Unscoped<'_>,
    entries: &[LedgerEntry],
) -> Result<(), LedgerError> {
    for chunk in entries.chunks(INSERT_CHUNK) {
        let mut sql = format!("INSERT INTO ledger_entries ({ENTRY_COLUMNS}) VALUES ");
        let mut binds = Vec::with_capacity(chunk.len() * 11);
        for (i, entry) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let base = i * 11;
            let placeholders: Vec<String> = (1..=11).map(|n| format!("${}", base + n)).collect();
            sql.push('(');
            sql.push_str(&placeholders.join(", "));
            sql.push(')');
            binds.extend([
                bind_seq(entry.seq),
                Value::Timestamp(entry.at),
                Value::from(&entry.actor),
                Value::from(&entry.tenant),
                Value::from(&entry.action),
                Value::from(&entry.subject),
                Value::from(&entry.result),
                Value::Text(crate::canonical::canonical_json(&entry.details)),
                Value::from(&entry.details_hash),
                Value::from(&entry.prev_hash),
                Value::from(&entry.entry_hash),
            ]);
        }
        q.execute(&sql, &binds).await?;
    }
    Ok(())
}

/// Up to `limit` entries with `after < seq <= up_to`, in seq order.
pub(crate) async fn entry_page(
    q: &mut Unscoped<'_>,
    after: u64,
    up_to: u64,
    limit: u32,
) -> Result<Vec<StoredEntry>, LedgerError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
    );
    q.fetch_all(
        &sql,
        &[
            bind_seq(after),
            bind_seq(up_to),
            Value::Int(i64::from(limit)),
        ],
    )
    .await?
    .iter()
    .map(decode_entry)
    .collect()
}

/// Up to `limit` (seq, entry_hash) pairs with `after < seq <= up_to`, in seq order.
pub(crate) async fn leaf_page(
    q: &mut Unscoped<'_>,
    after: u64,
    up_to: u64,
    limit: u32,
) -> Result<Vec<(u64, String)>, LedgerError> {
    q.fetch_all(
        "SELECT seq, entry_hash FROM ledger_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
        &[bind_seq(after), bind_seq(up_to), Value::Int(i64::from(limit))],
    )
    .await?
    .iter()
    .map(|row| Ok((seq_of(row, "seq")?, row.get("entry_hash")?)))
    .collect()
}

pub(crate) async fn entry(
    q: &mut Unscoped<'_>,
    seq: u64,
) -> Result<Option<StoredEntry>, LedgerError> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE seq = $1");
    q.fetch_optional(&sql, &[bind_seq(seq)])
        .await?
        .as_ref()
        .map(decode_entry)
        .transpose()
}

/// The checkpoint with the largest tree size.
pub(crate) async fn latest_checkpoint(
    q: &mut Unscoped<'_>,
) -> Result<Option<Checkpoint>, LedgerError> {
    let sql = format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
    );
    q.fetch_optional(&sql, &[])
        .await?
        .as_ref()
        .map(decode_checkpoint)
        .transpose()
}

/// Up to `limit` checkpoints with `after < tree_size <= up_to`, by tree size.
pub(crate) async fn checkpoint_page(
    q: &mut Unscoped<'_>,
    after: u64,
    up_to: u64,
    limit: u32,
) -> Result<Vec<Checkpoint>, LedgerError> {
    let sql = format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size > $1 AND tree_size <= $2 \
         ORDER BY tree_size LIMIT $3"
    );
    q.fetch_all(
        &sql,
        &[
            bind_seq(after),
            bind_seq(up_to),
            Value::Int(i64::from(limit)),
        ],
    )
    .await?
    .iter()
    .map(decode_checkpoint)
    .collect()
}

/// Stores a checkpoint; `false` when one for that tree size exists already (another process
/// signed the same size first).
pub(crate) async fn insert_checkpoint(
    q: &mut Unscoped<'_>,
    checkpoint: &Checkpoint,
) -> Result<bool, LedgerError> {
    let sql = format!(
        "INSERT INTO ledger_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tree_size) DO NOTHING"
    );
    let inserted = q
        .execute(
            &sql,
            &[
                bind_seq(checkpoint.tree_size),
                Value::from(&checkpoint.root_hash),
                Value::Timestamp(checkpoint.at),
                Value::from(&checkpoint.key_id),
                Value::from(&checkpoint.signature),
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// The checkpoint stored for exactly `tree_size`.
pub(crate) async fn checkpoint_at(
    q: &mut Unscoped<'_>,
    tree_size: u64,
) -> Result<Option<Checkpoint>, LedgerError> {
    let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size = $1");
    q.fetch_optional(&sql, &[bind_seq(tree_size)])
        .await?
        .as_ref()
        .map(decode_checkpoint)
        .transpose()
}
