-- Catalog: datasets and their schema versions.
CREATE TABLE IF NOT EXISTS governance_datasets (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    library TEXT NOT NULL,
    domain TEXT NOT NULL,
    schema_version BIGINT NOT NULL,
    quality_rules JSONB NOT NULL,
    lineage_sources JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, dataset)
);

CREATE TABLE IF NOT EXISTS governance_schemas (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    version BIGINT NOT NULL,
    fields JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, dataset, version)
);

-- Rejected records, from ingestion and governance alike, with their reasons.
CREATE TABLE IF NOT EXISTS governance_rejected (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    record_id TEXT NOT NULL,
    payload JSONB NOT NULL,
    violations JSONB NOT NULL,
    rejected_at TIMESTAMPTZ NOT NULL,
    resubmitted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, dataset, record_id)
);

-- Accepted and rejected counts per day (China Standard Time), for quality scores.
CREATE TABLE IF NOT EXISTS governance_quality_daily (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    day TEXT NOT NULL,
    accepted BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, dataset, day)
);

-- The industry data warehouse: exactly one row per record id, hash-partitioned by dataset so
-- each dataset's rows (and its primary-key index) stay together and partitions stay small.
CREATE TABLE IF NOT EXISTS warehouse_records (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    record_id TEXT NOT NULL,
    event_time TIMESTAMPTZ NOT NULL,
    ingest_time TIMESTAMPTZ NOT NULL,
    schema_version BIGINT NOT NULL,
    payload JSONB NOT NULL,
    PRIMARY KEY (tenant_id, dataset, record_id)
) PARTITION BY HASH (tenant_id, dataset);

CREATE TABLE IF NOT EXISTS warehouse_records_p0 PARTITION OF warehouse_records FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE IF NOT EXISTS warehouse_records_p1 PARTITION OF warehouse_records FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE IF NOT EXISTS warehouse_records_p2 PARTITION OF warehouse_records FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE IF NOT EXISTS warehouse_records_p3 PARTITION OF warehouse_records FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE IF NOT EXISTS warehouse_records_p4 PARTITION OF warehouse_records FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE IF NOT EXISTS warehouse_records_p5 PARTITION OF warehouse_records FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE IF NOT EXISTS warehouse_records_p6 PARTITION OF warehouse_records FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE IF NOT EXISTS warehouse_records_p7 PARTITION OF warehouse_records FOR VALUES WITH (MODULUS 8, REMAINDER 7);

CREATE INDEX IF NOT EXISTS warehouse_records_by_time ON warehouse_records (tenant_id, dataset, event_time, record_id);
