-- The current classification of each dataset (fields' domains, grades and explanations).
CREATE TABLE IF NOT EXISTS governance_classifications (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    classification JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, dataset)
);

-- Every manual grade override, kept as history.
CREATE TABLE IF NOT EXISTS governance_grade_overrides (
    tenant_id TEXT NOT NULL,
    dataset TEXT NOT NULL,
    field TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    previous_grade TEXT NOT NULL,
    grade TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (tenant_id, dataset, field, at)
);
