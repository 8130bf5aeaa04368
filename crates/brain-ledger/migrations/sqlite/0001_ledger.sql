-- The audit ledger: platform-wide (no tenant owns a row), append-only by convention and
-- tamper-evident by construction (hash chain + signed checkpoints).
CREATE TABLE ledger_entries (
    seq INTEGER PRIMARY KEY CHECK (seq > 0),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    tenant TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    result TEXT NOT NULL,
    -- Canonical JSON text, kept verbatim so auditors read exactly what was hashed.
    details TEXT NOT NULL,
    details_hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);

CREATE TABLE ledger_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tree_size INTEGER NOT NULL UNIQUE CHECK (tree_size > 0),
    root_hash TEXT NOT NULL,
    at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
