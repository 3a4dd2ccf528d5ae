-- When each deleted account's consent records start their last five years (CONTRACT section 3,
-- Consents): the records are deleted that long after the account (services/api/consents/
-- retention.py). The account's id and the time only; no foreign key, the account is gone.
CREATE TABLE consent_retention (
    user_id            uuid PRIMARY KEY,
    account_deleted_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX consent_retention_deleted_idx ON consent_retention (account_deleted_at);
