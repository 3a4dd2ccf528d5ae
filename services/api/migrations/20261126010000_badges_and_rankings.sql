-- Badges (each earned once, kept when the walk that earned it is deleted), the hourly limit on
-- ranking_changed notifications, and the index the weekly-ranking rebuild scans.

CREATE TABLE badges (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code      text NOT NULL CHECK (code IN ('first_walk', 'walks_10', 'walks_100', 'distance_10km',
                  'distance_100km', 'streak_7', 'first_walk_together')),
    earned_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    walk_id   uuid REFERENCES walks (id) ON DELETE SET NULL,
    PRIMARY KEY (user_id, code)
);

-- When each user was last told they were overtaken: at most one ranking_changed an hour.
CREATE TABLE ranking_notices (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_sent_at timestamptz NOT NULL
);

-- Rebuilding a week's ranking when Redis lost it: the walks started in that Seoul week.
CREATE INDEX walks_started_idx ON walks (started_at);
-- The streak rule: one user's walks around a given day.
CREATE INDEX walks_user_started_idx ON walks (user_id, started_at);
