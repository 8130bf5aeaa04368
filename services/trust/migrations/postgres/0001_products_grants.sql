-- Data products registered for circulation; tenant_id is the owner. The catalog of registered
-- products is readable by every tenant of the brain.
CREATE TABLE IF NOT EXISTS trust_products (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL PRIMARY KEY,
    dataset TEXT NOT NULL,
    status TEXT NOT NULL,
    product JSONB NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, id)
);

-- A grant concerns two tenants: it is stored once per party (side `granted` for the owner,
-- `received` for the consumer), both rows written in one transaction, so each party reads
-- its grants through its own tenant scope.
CREATE TABLE IF NOT EXISTS trust_grants (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    side TEXT NOT NULL,
    owner_tenant_id TEXT NOT NULL,
    consumer_tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    product_id TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    grant_body JSONB NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX IF NOT EXISTS trust_grants_by_access ON trust_grants (tenant_id, side, owner_tenant_id, dataset, status);
