-- Usage metered from brain.usage.events.v1, summed per tenant, day (China Standard Time),
-- kind and unit.
CREATE TABLE IF NOT EXISTS evaluation_usage_daily (
    tenant_id TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    unit TEXT NOT NULL,
    quantity REAL NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, kind, unit)
);
