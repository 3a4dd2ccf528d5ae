-- The push worker's bookkeeping. The notification row stays the job's source of truth; these
-- columns and tables let several workers share it without pushing a device twice.

-- push_due_at: not before this time (a retry's backoff), and the clock the sweeper uses to decide a
-- pending job was lost (NULL: created_at). push_lease_until: a worker is sending this job; others
-- leave it alone until then (a crashed worker's lease simply runs out).
ALTER TABLE notifications
    ADD COLUMN push_due_at      timestamptz,
    ADD COLUMN push_lease_until timestamptz;
CREATE INDEX notifications_push_due_idx
    ON notifications ((coalesce(push_due_at, created_at))) WHERE push_state = 'pending';

-- One row per device a notification was settled for, so a retried or reclaimed job skips them.
CREATE TABLE push_deliveries (
    notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    device_token    text NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('sent', 'rejected', 'unregistered')),
    detail          text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (notification_id, device_token)
);

-- Jobs set aside after the last attempt, for an operator (`make push-dead`).
CREATE TABLE push_dead_letters (
    notification_id uuid PRIMARY KEY REFERENCES notifications (id) ON DELETE CASCADE,
    attempts        integer NOT NULL,
    reason          text NOT NULL,
    failed_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX push_dead_letters_failed_idx ON push_dead_letters (failed_at DESC);
