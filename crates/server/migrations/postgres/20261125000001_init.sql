-- API keys of both dialects. A key is "initialised" (name and client_id NULL) until it is created.
CREATE TABLE api_keys (
    id            uuid        PRIMARY KEY,
    profile_id    text        NOT NULL,
    name          text,
    client_id     text        UNIQUE,
    secret_hash   text,
    key_for       text        NOT NULL DEFAULT 'GENERIC',
    created       timestamptz NOT NULL,
    last_modified timestamptz NOT NULL,
    CHECK ((name IS NULL) = (client_id IS NULL) AND (client_id IS NULL) = (secret_hash IS NULL))
);

-- Names are unique per profile among created keys.
CREATE UNIQUE INDEX api_keys_profile_name ON api_keys (profile_id, name) WHERE name IS NOT NULL;
-- Listing order: newest first, ties broken by id.
CREATE INDEX api_keys_profile_created ON api_keys (profile_id, created DESC, id DESC);

-- Token signing keys, shared by every instance on this database.
CREATE TABLE signing_keys (
    kid         text        PRIMARY KEY,
    private_key text        NOT NULL,
    created     timestamptz NOT NULL
);
