-- Cursor of each scheduled pull feed: advanced only after the records it covers are durable
-- on the bus, so a restart resumes where the last successful run ended.
CREATE TABLE IF NOT EXISTS ingestion_pull_cursors (
    tenant_id TEXT NOT NULL,
    feed TEXT NOT NULL,
    cursor_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, feed)
);
