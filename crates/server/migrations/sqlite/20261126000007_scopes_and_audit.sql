-- What a key may do, space-separated. Keys made before scopes existed keep every right.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'keys:read keys:write keys:verify';

-- Every create, rename, scope change and delete of a key, written in the transaction of the
-- change and kept: who (the caller's client id, NULL for the command line), from where, when.
CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    profile_id      TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    action          TEXT    NOT NULL,
    key_id          TEXT    NOT NULL,
    client_id       TEXT,
    name            TEXT,
    scopes          TEXT,
    actor_client_id TEXT,
    actor_address   TEXT
);
CREATE INDEX audit_events_profile ON audit_events (profile_id, seq DESC);
