-- What other instances must learn about keys: a key was deleted ('revoked') or renamed
-- ('changed'). Written in the transaction of the change; every instance reads it by time (with
-- an overlap, since sequence numbers can commit out of order) and is woken by NOTIFY.
CREATE TABLE key_events (
    seq       bigserial   PRIMARY KEY,
    client_id text        NOT NULL,
    kind      text        NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX key_events_at ON key_events (at);
