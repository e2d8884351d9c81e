-- Signing keys sealed with the deployment's secret key (AES-256-GCM): `private_key` then holds
-- base64(nonce || ciphertext || tag) instead of the PEM. Keys stored before stay in clear until
-- a server starts with a secret key.
ALTER TABLE signing_keys ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
