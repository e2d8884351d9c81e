-- People who sign in through an identity provider: a profile exists from its first sign-in, and
-- holds the key provisioned for it then (its `default` key).
CREATE TABLE profiles (
    id             TEXT    PRIMARY KEY NOT NULL,
    first_sign_in  INTEGER NOT NULL,
    last_sign_in   INTEGER NOT NULL,
    default_key_id TEXT
);
