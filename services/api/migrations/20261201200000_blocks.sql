-- Blocks: the blocked person no longer sees the blocker or anything of theirs
-- (services/api/visibility.py). Both sides cascade: deleting either account leaves no row.
CREATE TABLE blocks (
    blocker_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
-- "Has anyone blocked the viewer?" (the visibility rule) and the blocker's list, newest first.
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id);
CREATE INDEX blocks_blocker_created_idx ON blocks (blocker_id, created_at DESC, blocked_id DESC);
