-- What other instances must learn about keys: a key was deleted ('revoked') or renamed
-- ('changed'). Written in the transaction of the change, read by every instance's poll.
CREATE TABLE key_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX key_events_at ON key_events (at);
