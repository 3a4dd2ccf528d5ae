-- The REST API's schema: users, social graph, dogs, walks, interactions, walk-together
-- invitations, the in-app notification list (also the push outbox) and devices.

CREATE TABLE users (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email             text NOT NULL,
    password_hash     text NOT NULL,
    nickname          text NOT NULL,
    profile_image_url text,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A refresh token works once: its jti is recorded here and marked used.
CREATE TABLE refresh_tokens (
    jti        uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE follows (
    follower_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee_idx ON follows (followee_id, created_at DESC, follower_id);
CREATE INDEX follows_follower_idx ON follows (follower_id, created_at DESC, followee_id);

CREATE TABLE dogs (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    breed      text,
    birth_date date,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX dogs_owner_idx ON dogs (owner_id, created_at, id);

CREATE TABLE invitations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    inviter_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invitee_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired', 'finished')),
    message      text,
    scheduled_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    responded_at timestamptz,
    ended_at     timestamptz,
    expires_at   timestamptz NOT NULL,
    CHECK (inviter_id <> invitee_id)
);
-- At most one open (pending or accepted) invitation between the same two people.
CREATE UNIQUE INDEX invitations_open_pair_key
    ON invitations (LEAST(inviter_id, invitee_id), GREATEST(inviter_id, invitee_id))
    WHERE status IN ('pending', 'accepted');
CREATE INDEX invitations_invitee_idx ON invitations (invitee_id, created_at DESC, id DESC);
CREATE INDEX invitations_inviter_idx ON invitations (inviter_id, created_at DESC, id DESC);
-- The sweeper's two scans: unanswered past expires_at, accepted past the maximum walk length.
CREATE INDEX invitations_pending_expiry_idx ON invitations (expires_at) WHERE status = 'pending';
CREATE INDEX invitations_accepted_idx ON invitations (responded_at) WHERE status = 'accepted';

CREATE TABLE walks (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz NOT NULL,
    distance_m    double precision NOT NULL CHECK (distance_m >= 0),
    visibility    text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'followers', 'private')),
    memo          text,
    path          jsonb,
    invitation_id uuid REFERENCES invitations (id) ON DELETE SET NULL,
    like_count    integer NOT NULL DEFAULT 0,
    comment_count integer NOT NULL DEFAULT 0,
    -- Bumped by every like, unlike, comment and comment deletion: the interactions poll's clock.
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (ended_at >= started_at)
);
-- The feed and profile lists: one user's walks, newest first, keyset on (created_at, id).
CREATE INDEX walks_user_created_idx ON walks (user_id, created_at DESC, id DESC);
CREATE INDEX walks_invitation_idx ON walks (invitation_id) WHERE invitation_id IS NOT NULL;

CREATE TABLE walk_dogs (
    walk_id uuid NOT NULL REFERENCES walks (id) ON DELETE CASCADE,
    dog_id  uuid NOT NULL REFERENCES dogs (id) ON DELETE CASCADE,
    PRIMARY KEY (walk_id, dog_id)
);
CREATE INDEX walk_dogs_dog_idx ON walk_dogs (dog_id);

CREATE TABLE likes (
    walk_id    uuid NOT NULL REFERENCES walks (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (walk_id, user_id)
);
CREATE INDEX likes_user_idx ON likes (user_id);

CREATE TABLE comments (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    walk_id    uuid NOT NULL REFERENCES walks (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX comments_walk_idx ON comments (walk_id, created_at, id);

-- The in-app list, and the push outbox: a row is written in the same transaction as the action
-- that causes it, so the row (not the Redis job) is the source of truth for its push.
CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type IN ('invitation_received', 'invitation_accepted', 'followed',
                     'walk_liked', 'walk_commented', 'badge_earned', 'ranking_changed')),
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_at     timestamptz,
    push_state  text NOT NULL DEFAULT 'pending' CHECK (push_state IN ('pending', 'sent', 'dead')),
    push_attempts integer NOT NULL DEFAULT 0,
    pushed_at   timestamptz
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_push_pending_idx ON notifications (created_at) WHERE push_state = 'pending';
-- "One per liker per walk".
CREATE UNIQUE INDEX notifications_walk_liked_once_key
    ON notifications (user_id, actor_id, (data ->> 'walk_id')) WHERE type = 'walk_liked';

CREATE TABLE devices (
    token      text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform   text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX devices_user_idx ON devices (user_id);
