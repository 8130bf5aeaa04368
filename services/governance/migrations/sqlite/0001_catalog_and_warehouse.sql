-- Catalog: datasets and their schema versions.
CREATE TABLE IF NOT EXISTS governance_datasets (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    library TEXT NOT NULL,
    domain TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    quality_rules TEXT NOT NULL,
    lineage_sources TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, dataset)
);

CREATE TABLE IF NOT EXISTS governance_schemas (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,
    fields TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, dataset, version)
);

-- Rejected records, from ingestion and governance alike, with their reasons.
CREATE TABLE IF NOT EXISTS governance_rejected (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    record_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    violations TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    resubmitted_at TEXT,
    PRIMARY KEY (tenant_id, dataset, record_id)
);

-- Accepted and rejected counts per day (China Standard Time), for quality scores.
CREATE TABLE IF NOT EXISTS governance_quality_daily (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    day TEXT NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, dataset, day)
);

-- The industry data warehouse: exactly one row per record id.
CREATE TABLE IF NOT EXISTS warehouse_records (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    record_id TEXT NOT NULL,
    event_time TEXT NOT NULL,
    ingest_time TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (tenant_id, dataset, record_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS warehouse_records_by_time ON warehouse_records (tenant_id, dataset, event_time, record_id);
