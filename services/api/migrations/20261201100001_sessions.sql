-- Sessions (CONTRACT section 3, Sessions): each sign-up or login starts one, refreshing rotates
-- its one live refresh token, and ending it refuses every token issued in it.

CREATE TABLE sessions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The only refresh token of the session that may be used next; any other one presented
    -- (an older, already used one) is a replay and ends the session.
    refresh_jti        uuid NOT NULL,
    refresh_expires_at timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_refresh_expires_idx ON sessions (refresh_expires_at);

-- Sessions that ended, kept as long as an access token issued in them may still be unexpired:
-- every process loads these into memory (shared/ended_sessions.py) and refuses their tokens
-- without a query per request. Only an opaque id: no user, nothing personal.
CREATE TABLE ended_sessions (
    session_id uuid PRIMARY KEY,
    ended_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ended_sessions_ended_at_idx ON ended_sessions (ended_at);

-- However a session row goes (sign-out, a replayed refresh token, a password change, or with
-- its user's account), its end is recorded: no path can forget to.
CREATE FUNCTION record_ended_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ended_sessions (session_id) VALUES (OLD.id) ON CONFLICT DO NOTHING;
    RETURN OLD;
END
$$;
CREATE TRIGGER sessions_record_end AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION record_ended_session();

-- Refresh tokens now live in their session (refresh_jti); pre-session tokens stop working.
DROP TABLE refresh_tokens;
