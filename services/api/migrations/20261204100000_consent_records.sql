-- The consent record (CONTRACT section 3, Consents): each consent given or withdrawn, with the
-- document's version, the time and the client's address. Append-only in the code; kept for the
-- account's life and 5 years after it, so user_id has no foreign key (the account may be gone).
CREATE TABLE consent_records (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL,
    kind           text NOT NULL,
    version        text NOT NULL,
    action         text NOT NULL CHECK (action IN ('given', 'withdrawn')),
    client_address text NOT NULL,
    at             timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX consent_records_user_idx ON consent_records (user_id, at, id);
