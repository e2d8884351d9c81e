-- How many created and initialised keys each profile holds, kept by triggers in the transaction of
-- every change, so that limits and list totals cost one row instead of a count of the profile.
CREATE TABLE profile_key_counts (
    profile_id       TEXT    PRIMARY KEY NOT NULL,
    created_keys     INTEGER NOT NULL DEFAULT 0,
    initialised_keys INTEGER NOT NULL DEFAULT 0
);

INSERT INTO profile_key_counts (profile_id, created_keys, initialised_keys)
SELECT profile_id, count(name), count(*) - count(name) FROM api_keys GROUP BY profile_id;

CREATE TRIGGER api_keys_counted_insert AFTER INSERT ON api_keys BEGIN
    INSERT INTO profile_key_counts (profile_id, created_keys, initialised_keys)
    VALUES (NEW.profile_id, NEW.name IS NOT NULL, NEW.name IS NULL)
    ON CONFLICT (profile_id) DO UPDATE SET
        created_keys = created_keys + excluded.created_keys,
        initialised_keys = initialised_keys + excluded.initialised_keys;
END;

CREATE TRIGGER api_keys_counted_delete AFTER DELETE ON api_keys BEGIN
    UPDATE profile_key_counts SET
        created_keys = created_keys - (OLD.name IS NOT NULL),
        initialised_keys = initialised_keys - (OLD.name IS NULL)
    WHERE profile_id = OLD.profile_id;
END;

CREATE TRIGGER api_keys_counted_update AFTER UPDATE OF name, profile_id ON api_keys
WHEN (OLD.name IS NULL) <> (NEW.name IS NULL) OR OLD.profile_id <> NEW.profile_id BEGIN
    UPDATE profile_key_counts SET
        created_keys = created_keys - (OLD.name IS NOT NULL),
        initialised_keys = initialised_keys - (OLD.name IS NULL)
    WHERE profile_id = OLD.profile_id;
    INSERT INTO profile_key_counts (profile_id, created_keys, initialised_keys)
    VALUES (NEW.profile_id, NEW.name IS NOT NULL, NEW.name IS NULL)
    ON CONFLICT (profile_id) DO UPDATE SET
        created_keys = created_keys + excluded.created_keys,
        initialised_keys = initialised_keys + excluded.initialised_keys;
END;
