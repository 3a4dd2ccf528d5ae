-- Pausing location sharing (위치정보법 §24, CONTRACT section 3 Location consent): one row per
-- person who ever paused. Paused while `paused_until` is NULL (until resumed) or in the future;
-- a resume sets it to the moment of the resume. `changed_at` orders the changes the gateways
-- hear of (shared/location_pauses.py), so an old one never undoes a newer one.
CREATE TABLE location_pauses (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    paused_until timestamptz,
    changed_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX location_pauses_changed_idx ON location_pauses (changed_at);

-- The `location_provided` notification (위치정보법 §19③): in the in-app list only. The type is
-- added to whatever the constraint lists when this runs, so that migrations of other types,
-- applied before or after this one, keep theirs.
DO $$
DECLARE
    types text[];
BEGIN
    SELECT array_agg(DISTINCT m[1]) INTO types
      FROM pg_constraint c,
           regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') AS m
     WHERE c.conname = 'notifications_type_check';
    ALTER TABLE notifications DROP CONSTRAINT notifications_type_check;
    EXECUTE format(
        'ALTER TABLE notifications ADD CONSTRAINT notifications_type_check CHECK (type = ANY (%L::text[]))',
        array_append(types, 'location_provided'));
END $$;
-- Once per walk and walker, however many sweeps see the walk.
CREATE UNIQUE INDEX notifications_location_provided_once_key
    ON notifications (user_id, (data ->> 'invitation_id')) WHERE type = 'location_provided';
-- When the sweep wrote a walk's notices (services/api/location_rights/notices.py); the walks
-- still waiting for theirs are a small index. Walks that ended before this migration get none.
ALTER TABLE invitations ADD COLUMN location_notices_at timestamptz;
UPDATE invitations SET location_notices_at = ended_at
 WHERE responded_at IS NOT NULL AND status IN ('finished', 'cancelled');
CREATE INDEX invitations_location_notices_due_idx ON invitations (ended_at)
    WHERE responded_at IS NOT NULL AND status IN ('finished', 'cancelled')
      AND location_notices_at IS NULL;
-- The ledger's entries of one walk.
CREATE INDEX location_access_log_invitation_idx ON location_access_log (invitation_id);
-- A deleted account's name leaves the notices that name it as the partner.
CREATE INDEX notifications_location_provided_partner_idx
    ON notifications ((data -> 'partner' ->> 'id')) WHERE type = 'location_provided';
