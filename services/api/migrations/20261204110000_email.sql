-- Email (CONTRACT section 3, Email; section 7, the account pages): a verified flag and the
-- language the account's emails are written in, the links' tokens, and the outbox the push
-- worker sends from (services/api/email/).

-- `language`: what the browser or app preferred at sign-up (Accept-Language), 'ko' or 'en'.
ALTER TABLE users
    ADD COLUMN email_verified_at timestamptz,
    ADD COLUMN language text NOT NULL DEFAULT 'ko' CHECK (language IN ('ko', 'en'));

-- One live token of each kind per account: a newer one replaces it (the older link is void),
-- using one deletes it, a password change deletes them all, and the account's deletion takes
-- them along. Only the SHA-256 of a token is kept.
CREATE TABLE account_tokens (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('verify', 'reset', 'delete')),
    token_hash bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, kind)
);

-- The email outbox, written in the transaction that causes each email. `message` is the whole
-- RFC 5322 message (it holds the link, so it is cleared once the email is sent or set aside);
-- `claim` and `lease_until` are a worker's claim and how long it holds; `due_at` the end of a retry's backoff; `expires_at` when
-- its link stops working, past which it is set aside unsent. A 'dead' row is a dead letter.
CREATE TABLE email_outbox (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('verify', 'reset', 'delete')),
    recipient   text NOT NULL,
    message     text,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts    integer NOT NULL DEFAULT 0,
    due_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_until timestamptz,
    claim       uuid,
    expires_at  timestamptz NOT NULL,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    settled_at  timestamptz
);
CREATE INDEX email_outbox_pending_idx ON email_outbox (due_at) WHERE state = 'pending';
CREATE INDEX email_outbox_dead_idx ON email_outbox (settled_at DESC) WHERE state = 'dead';
CREATE INDEX email_outbox_user_idx ON email_outbox (user_id);
