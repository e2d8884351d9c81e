-- API keys of both dialects. A key is "initialised" (name and client_id NULL) until it is created.
-- Timestamps are microseconds since the Unix epoch, UTC, so that they sort as numbers.
CREATE TABLE api_keys (
    id            TEXT    PRIMARY KEY NOT NULL,
    profile_id    TEXT    NOT NULL,
    name          TEXT,
    client_id     TEXT    UNIQUE,
    secret_hash   TEXT,
    key_for       TEXT    NOT NULL DEFAULT 'GENERIC',
    created       INTEGER NOT NULL,
    last_modified INTEGER NOT NULL,
    CHECK ((name IS NULL) = (client_id IS NULL) AND (client_id IS NULL) = (secret_hash IS NULL))
);

-- Names are unique per profile among created keys.
CREATE UNIQUE INDEX api_keys_profile_name ON api_keys (profile_id, name) WHERE name IS NOT NULL;
-- Listing order: newest first, ties broken by id.
CREATE INDEX api_keys_profile_created ON api_keys (profile_id, created DESC, id DESC);

-- Token signing keys, shared by every instance on this database.
CREATE TABLE signing_keys (
    kid         TEXT    PRIMARY KEY NOT NULL,
    private_key TEXT    NOT NULL,
    created     INTEGER NOT NULL
);
