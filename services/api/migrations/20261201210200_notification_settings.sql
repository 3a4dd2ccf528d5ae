-- Notification settings: which types are pushed, and quiet hours (Asia/Seoul wall-clock times;
-- start after end spans midnight). No row means the defaults: every type on, no quiet hours.
-- Types switched off are listed (not those on), so a type added later starts on.
CREATE TABLE notification_settings (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    push_off    text[] NOT NULL DEFAULT '{}',
    quiet_start time,
    quiet_end   time,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)),
    CHECK (quiet_start IS NULL OR quiet_start <> quiet_end)
);

-- A push waiting out its recipient's quiet hours stays `pending` with `push_due_at` at their end
-- and `push_held`, so that changing the settings can release it at once. A push of a type the
-- recipient switched off is settled `muted`: in the in-app list, never sent.
ALTER TABLE notifications ADD COLUMN push_held boolean NOT NULL DEFAULT false;
CREATE INDEX notifications_push_held_idx ON notifications (user_id) WHERE push_held;
ALTER TABLE notifications DROP CONSTRAINT notifications_push_state_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_push_state_check
    CHECK (push_state IN ('pending', 'sent', 'dead', 'muted'));
