-- Tenants of the brain: government bodies, enterprises (id = unified social credit code),
-- service providers, banks, and the platform's own tenant.
CREATE TABLE IF NOT EXISTS trust_tenants (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- People. Passwords are argon2id PHC strings; a TOTP secret is set once the user confirmed it.
CREATE TABLE IF NOT EXISTS trust_users (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    totp_secret TEXT,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, username)
);

-- Sign-in sessions: the refresh token is kept only as its SHA-256; rotation replaces it, and
-- every session of one sign-in shares a family that is revoked as a whole on token reuse.
CREATE TABLE IF NOT EXISTS trust_sessions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    refresh_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX IF NOT EXISTS trust_sessions_by_family ON trust_sessions (tenant_id, family_id);

-- API keys of systems: only the SHA-256 of the key is kept; the key id is unique brain-wide
-- because a key names only its id.
CREATE TABLE IF NOT EXISTS trust_api_keys (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    scope TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    PRIMARY KEY (tenant_id, id)
);
