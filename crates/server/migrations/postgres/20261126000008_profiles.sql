-- People who sign in through an identity provider: a profile exists from its first sign-in, and
-- holds the key provisioned for it then (its `default` key).
CREATE TABLE profiles (
    id             text        PRIMARY KEY,
    first_sign_in  timestamptz NOT NULL,
    last_sign_in   timestamptz NOT NULL,
    default_key_id uuid
);
