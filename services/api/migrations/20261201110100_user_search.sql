-- User search (`GET /users?query=`): exact nickname, then prefix, then "contains", all
-- case-insensitive. Built-in indexes only: the embedded PostgreSQL of `make run` / `make test`
-- (the pgserver wheel) ships no pg_trgm, and trigrams would not help anyway for the two-syllable
-- Hangul words people search by (`초코`): a trigram index cannot narrow a 2-character pattern.

-- The exact and prefix tiers: an ordered scan of the lowered nickname in code-point order
-- ("C"), so a prefix is one key range and each tier reads only the page it returns.
CREATE INDEX users_nickname_search_idx ON users ((lower(nickname) COLLATE "C"), id);

-- The "contains" tier: every character and every pair of adjacent characters of the lowered
-- nickname, in a GIN index. A query of two or more characters must contain all its pairs (one
-- character: itself), which narrows to candidates that `strpos` then confirms.
CREATE FUNCTION text_grams(value text, size integer) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ARRAY(SELECT DISTINCT substr(value, i, size)
                 FROM generate_series(1, length(value) - size + 1) AS i);

CREATE FUNCTION nickname_grams(nickname text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN text_grams(lower(nickname), 1) || text_grams(lower(nickname), 2);

CREATE INDEX users_nickname_grams_idx ON users USING gin (nickname_grams(nickname));
