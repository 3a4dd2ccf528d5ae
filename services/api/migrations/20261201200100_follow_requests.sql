-- Follow requests: a user with approve_followers is followed only once they approve, so
-- "followers" visibility means something. A pending request grants nothing (visibility.py reads
-- only follows).
ALTER TABLE users ADD COLUMN approve_followers boolean NOT NULL DEFAULT false;

CREATE TABLE follow_requests (
    requester_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (requester_id, target_id),
    CHECK (requester_id <> target_id)
);
-- The target's list, newest first.
CREATE INDEX follow_requests_target_idx
    ON follow_requests (target_id, created_at DESC, requester_id DESC);

ALTER TABLE notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_type_check
    CHECK (type IN ('invitation_received', 'invitation_accepted', 'followed', 'follow_requested',
                    'walk_liked', 'walk_commented', 'badge_earned', 'ranking_changed'));

-- When an actor last caused a notification of a type to a recipient, for the notifications a
-- repeated action must not repeat (following, unfollowing and following again within 24 h).
CREATE TABLE repeat_notices (
    recipient_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type         text NOT NULL,
    noticed_at   timestamptz NOT NULL,
    PRIMARY KEY (recipient_id, actor_id, type)
);
CREATE INDEX repeat_notices_actor_idx ON repeat_notices (actor_id);
