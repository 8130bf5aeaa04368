-- Signed trusted-status reports. A report concerns the parties of an exchange: it is stored
-- once per party (like grants), so each reads its reports through its own tenant scope.
CREATE TABLE IF NOT EXISTS trust_reports (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    report JSONB NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
