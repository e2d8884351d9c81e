-- How many created and initialised keys each profile holds, kept by a trigger in the transaction
-- of every change, so that limits and list totals cost one row instead of a count of the profile.
CREATE TABLE profile_key_counts (
    profile_id       text   PRIMARY KEY,
    created_keys     bigint NOT NULL DEFAULT 0,
    initialised_keys bigint NOT NULL DEFAULT 0
);

INSERT INTO profile_key_counts (profile_id, created_keys, initialised_keys)
SELECT profile_id, count(name), count(*) - count(name) FROM api_keys GROUP BY profile_id;

CREATE FUNCTION api_keys_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE profile_key_counts SET
            created_keys = created_keys - (OLD.name IS NOT NULL)::int,
            initialised_keys = initialised_keys - (OLD.name IS NULL)::int
        WHERE profile_id = OLD.profile_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO profile_key_counts AS counts (profile_id, created_keys, initialised_keys)
        VALUES (NEW.profile_id, (NEW.name IS NOT NULL)::int, (NEW.name IS NULL)::int)
        ON CONFLICT (profile_id) DO UPDATE SET
            created_keys = counts.created_keys + EXCLUDED.created_keys,
            initialised_keys = counts.initialised_keys + EXCLUDED.initialised_keys;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_counted_change AFTER INSERT OR DELETE ON api_keys
FOR EACH ROW EXECUTE FUNCTION api_keys_counted();

CREATE TRIGGER api_keys_counted_state AFTER UPDATE OF name, profile_id ON api_keys
FOR EACH ROW WHEN ((OLD.name IS NULL) <> (NEW.name IS NULL) OR OLD.profile_id <> NEW.profile_id)
EXECUTE FUNCTION api_keys_counted();
