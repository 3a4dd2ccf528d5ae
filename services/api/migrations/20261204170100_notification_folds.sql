-- What one person can make another's phone do (CONTRACT section 3, Notifications; issue 20's
-- comment flood). services/api/notifications/notify.py:
-- * a notification may be `folded`: written to the in-app list, but announced by the next push
--   of its thread instead of a push of its own; `push_count` is how many notifications a push
--   announces (1, or more for the push that carries folded ones: "3 new comments");
-- * `push_folds`: per recipient, type and walk, when the next push of that thread may go out,
--   and the pending push (the carrier) that later notifications fold into meanwhile.
ALTER TABLE notifications DROP CONSTRAINT notifications_push_state_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_push_state_check
    CHECK (push_state IN ('pending', 'sent', 'dead', 'muted', 'folded'));
ALTER TABLE notifications ADD COLUMN push_count integer NOT NULL DEFAULT 1 CHECK (push_count >= 1);

CREATE TABLE push_folds (
    recipient_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type           text NOT NULL,
    walk_id        uuid NOT NULL REFERENCES walks (id) ON DELETE CASCADE,
    next_push_at   timestamptz NOT NULL,
    carrier_id     uuid REFERENCES notifications (id) ON DELETE SET NULL,
    carrier_due_at timestamptz,
    PRIMARY KEY (recipient_id, type, walk_id)
);
CREATE INDEX push_folds_walk_idx ON push_folds (walk_id);
CREATE INDEX push_folds_carrier_idx ON push_folds (carrier_id) WHERE carrier_id IS NOT NULL;
