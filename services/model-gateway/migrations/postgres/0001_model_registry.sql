-- The model registry: one catalog per brain, readable by every tenant. Not tenant-owned
-- tables (no tenant_id column): `owner_tenant` says who registered a model and may change it.

CREATE TABLE IF NOT EXISTS model_registry_models (
    name TEXT PRIMARY KEY,
    level TEXT NOT NULL CHECK (level IN ('foundation', 'industry', 'scenario')),
    -- Foundation models have no parent; industry and scenario models have one.
    parent TEXT REFERENCES model_registry_models (name),
    description TEXT NOT NULL,
    owner_tenant TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    -- Touched by every change of the model, which also serializes concurrent changes.
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK ((level = 'foundation') = (parent IS NULL))
);

CREATE INDEX IF NOT EXISTS model_registry_models_by_level ON model_registry_models (level, name);
CREATE INDEX IF NOT EXISTS model_registry_models_by_parent ON model_registry_models (parent, name);
CREATE INDEX IF NOT EXISTS model_registry_models_by_owner ON model_registry_models (owner_tenant, name);

CREATE TABLE IF NOT EXISTS model_registry_versions (
    model TEXT NOT NULL REFERENCES model_registry_models (name),
    version TEXT NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('development', 'staging', 'production', 'retired')),
    -- The highest grade of the training data as declared; NULL: no data of this brain.
    trained_on_grade TEXT CHECK (trained_on_grade IN ('low', 'medium', 'high')),
    endpoints JSONB NOT NULL,
    training_datasets JSONB NOT NULL,
    fallback_model TEXT REFERENCES model_registry_models (name),
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    stage_changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model, version)
);

-- At most one production version per model, whatever the writers do.
CREATE UNIQUE INDEX IF NOT EXISTS model_registry_one_production ON model_registry_versions (model) WHERE stage = 'production';
CREATE INDEX IF NOT EXISTS model_registry_versions_by_stage ON model_registry_versions (stage, model);
