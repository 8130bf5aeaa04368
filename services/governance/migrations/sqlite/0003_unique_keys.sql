-- The value of a dataset's unique key (its key fields as a JSON array), when it has one: the
-- warehouse refuses a second record id with the same key.
ALTER TABLE warehouse_records ADD COLUMN unique_key TEXT;

CREATE INDEX IF NOT EXISTS warehouse_records_by_key ON warehouse_records (tenant_id, dataset, unique_key) WHERE unique_key IS NOT NULL;
