-- The location-access ledger (위치정보법 §16②, CONTRACT section 3): for each walk, one row per
-- person and direction in which at least one location was relayed, with when and how many;
-- never coordinates. The realtime gateway writes it in batches (services/realtime/ledger.py),
-- `GET /me/location-log` reads it, and the API prunes rows whose last relay is older than
-- LOCATION_LOG_RETENTION_DAYS.
--
-- The owner's rows go with the owner's account; the partner's deletion keeps them, naming no one.
-- invitation_id has no foreign key: the ledger must outlive whatever happens to the invitation.
CREATE TABLE location_access_log (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invitation_id uuid NOT NULL,
    direction     text NOT NULL CHECK (direction IN ('provided', 'received')),
    partner_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    first_at      timestamptz NOT NULL,
    last_at       timestamptz NOT NULL,
    count         bigint NOT NULL CHECK (count > 0),
    UNIQUE (user_id, invitation_id, direction)
);
-- The caller's entries newest first (keyset on first_at, id).
CREATE INDEX location_access_log_user_idx ON location_access_log (user_id, first_at DESC, id DESC);
-- The retention sweep; and a partner's deletion finds its rows without a scan.
CREATE INDEX location_access_log_last_idx ON location_access_log (last_at);
CREATE INDEX location_access_log_partner_idx ON location_access_log (partner_id)
    WHERE partner_id IS NOT NULL;
