-- What a key may do, space-separated. Keys made before scopes existed keep every right.
ALTER TABLE api_keys ADD COLUMN scopes text NOT NULL DEFAULT 'keys:read keys:write keys:verify';

-- Every create, rename, scope change and delete of a key, written in the transaction of the
-- change and kept: who (the caller's client id, NULL for the command line), from where, when.
CREATE TABLE audit_events (
    seq             bigserial   PRIMARY KEY,
    profile_id      text        NOT NULL,
    at              timestamptz NOT NULL,
    action          text        NOT NULL,
    key_id          uuid        NOT NULL,
    client_id       text,
    name            text,
    scopes          text,
    actor_client_id text,
    actor_address   text
);
CREATE INDEX audit_events_profile ON audit_events (profile_id, seq DESC);
