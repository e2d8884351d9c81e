-- Events name the key's profile, so that instances can drop what they hold of that profile's
-- keys (its list, its records), and creates are logged too ('created').
ALTER TABLE key_events ADD COLUMN profile_id TEXT;
