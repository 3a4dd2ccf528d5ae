-- Reports and moderation (CONTRACT sections 3 Reports and 6 Moderation).

-- A suspension: until this time (a ban: 'infinity'). The visibility rule reads it.
ALTER TABLE users ADD COLUMN suspended_until timestamptz;
CREATE INDEX users_suspended_idx ON users (suspended_until) WHERE suspended_until IS NOT NULL;

-- Hidden by a moderator (or by enough reports), with the report reason the author is shown.
ALTER TABLE walks ADD COLUMN hidden_reason text;
ALTER TABLE comments ADD COLUMN hidden_reason text;
CREATE INDEX comments_hidden_idx ON comments (walk_id) WHERE hidden_reason IS NOT NULL;
CREATE INDEX comments_user_walk_idx ON comments (user_id, walk_id);

-- A report and the snapshot of its target as the reporter saw it. Evidence outlives the
-- accounts it names: no foreign key (reporter_id, target_user_id), and the snapshot is
-- cleared REPORT_EVIDENCE_RETENTION_DAYS after resolution.
CREATE TABLE reports (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reporter_id    uuid NOT NULL,
    target_type    text NOT NULL CHECK (target_type IN ('user', 'walk', 'comment')),
    target_id      uuid NOT NULL,
    target_user_id uuid,
    reason         text NOT NULL CHECK (reason IN ('spam', 'harassment', 'hate', 'sexual',
                        'violence', 'self_harm', 'privacy', 'impersonation', 'other')),
    note           text,
    snapshot       jsonb,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'actioned', 'dismissed')),
    action         text CHECK (action IN ('dismiss', 'hide', 'suspend', 'ban')),
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    resolved_at    timestamptz
);
-- One open report a reporter and target.
CREATE UNIQUE INDEX reports_open_once_key ON reports (reporter_id, target_type, target_id)
    WHERE status = 'open';
CREATE INDEX reports_reporter_idx ON reports (reporter_id, created_at DESC, id DESC);
CREATE INDEX reports_target_idx ON reports (target_type, target_id, created_at);
CREATE INDEX reports_target_user_idx ON reports (target_user_id, created_at DESC);
CREATE INDEX reports_open_idx ON reports (created_at) WHERE status = 'open';
CREATE INDEX reports_evidence_idx ON reports (resolved_at) WHERE snapshot IS NOT NULL;

-- A ban outlives the account as a keyed hash of the email, never the email.
CREATE TABLE banned_emails (
    email_hash text PRIMARY KEY,
    banned_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL
);

-- Staff: granted only by `python -m services.api.staff`.
CREATE TABLE staff (
    user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    role           text NOT NULL CHECK (role IN ('moderator', 'admin')),
    totp_secret    text NOT NULL,
    -- The last TOTP time step used: a code works once.
    totp_last_step bigint NOT NULL DEFAULT 0,
    granted_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A console session: the cookie's value is stored only as its SHA-256.
CREATE TABLE staff_sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX staff_sessions_user_idx ON staff_sessions (user_id);

-- Every staff action. The database itself refuses to change or remove a row.
CREATE TABLE audit_log (
    id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_id uuid,
    action   text NOT NULL CHECK (action IN ('sign_in', 'sign_out', 'resolve', 'restore',
                  'unsuspend', 'grant', 'revoke')),
    target   jsonb,
    note     text,
    at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_target_user_idx ON audit_log ((target ->> 'user_id'));

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

ALTER TABLE notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_type_check
    CHECK (type IN ('invitation_received', 'invitation_accepted', 'followed', 'follow_requested',
                    'walk_liked', 'walk_commented', 'badge_earned', 'ranking_changed',
                    'report_resolved', 'content_hidden', 'location_provided'));
