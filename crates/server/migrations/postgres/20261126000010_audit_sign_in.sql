-- The identity provider a person signed in through when a change was theirs, not a key's.
ALTER TABLE audit_events ADD COLUMN actor_issuer TEXT;
