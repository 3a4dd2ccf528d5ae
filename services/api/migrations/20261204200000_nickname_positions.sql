-- User search's "contains" tier (services/api/social/search.py) ranks by where the text occurs
-- first in the lowered nickname, then the nickname, then the id. The gram index
-- (`users_nickname_grams_idx`) finds every nickname holding the text, 8,000 for a common suffix
-- such as `아빠` at 100,000 users, all of which were read and sorted to keep one page. Here
-- instead: every character and every pair of adjacent characters of `nickname_key`, each with
-- where it starts, in a btree in ranking order. The tier walks the range of the query's first
-- pair (one character: itself) from its cursor and keeps the rows where the whole text occurs
-- first, so a page reads about a page of rows.

CREATE TABLE nickname_positions (
    gram     text COLLATE "C" NOT NULL,
    -- 1-based, as `strpos` counts.
    position integer NOT NULL,
    key      text COLLATE "C" NOT NULL,  -- the user's `nickname_key`
    user_id  uuid NOT NULL,
    PRIMARY KEY (gram, position, key, user_id)
);

-- The rows of one lowered nickname: each character and each pair, where it starts.
CREATE FUNCTION nickname_grams_at(key text) RETURNS TABLE (gram text, start integer)
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT substr(key, i, size), i
    FROM generate_series(1, length(key)) AS i, (VALUES (1), (2)) AS sizes (size)
    WHERE i + size - 1 <= length(key);
END;

INSERT INTO nickname_positions (gram, position, key, user_id)
SELECT g.gram, g.start, u.nickname_key, u.id FROM users u, nickname_grams_at(u.nickname_key) g;

-- Kept beside `users` in the same transaction: a nickname's rows go with its old value and come
-- with its new one. ALWAYS, like an index: also under `session_replication_role = replica`
-- (bench/seed.py writes users so), and a truncated `users` empties it.
CREATE FUNCTION nickname_positions_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE nickname_positions;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM nickname_positions np
        WHERE (np.gram, np.position) IN (SELECT g.gram, g.start
                                         FROM nickname_grams_at(OLD.nickname_key) g)
          AND np.key = OLD.nickname_key AND np.user_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO nickname_positions (gram, position, key, user_id)
        SELECT g.gram, g.start, NEW.nickname_key, NEW.id
        FROM nickname_grams_at(NEW.nickname_key) g;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_nickname_positions AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION nickname_positions_follow();
CREATE TRIGGER users_nickname_positions_rename AFTER UPDATE OF nickname ON users
    FOR EACH ROW WHEN (OLD.nickname_key IS DISTINCT FROM NEW.nickname_key)
    EXECUTE FUNCTION nickname_positions_follow();
CREATE TRIGGER users_nickname_positions_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION nickname_positions_follow();
ALTER TABLE users
    ENABLE ALWAYS TRIGGER users_nickname_positions,
    ENABLE ALWAYS TRIGGER users_nickname_positions_rename,
    ENABLE ALWAYS TRIGGER users_nickname_positions_truncate;
