-- Signing keys of several algorithms: RS256 always, and the configured one beside it.
ALTER TABLE signing_keys ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'RS256';
