-- The audit ledger: platform-wide (no tenant owns a row), append-only by convention and
-- tamper-evident by construction (hash chain + signed checkpoints).
CREATE TABLE ledger_entries (
    seq BIGINT PRIMARY KEY CHECK (seq > 0),
    at TIMESTAMPTZ NOT NULL,
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
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tree_size BIGINT NOT NULL UNIQUE CHECK (tree_size > 0),
    root_hash TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
