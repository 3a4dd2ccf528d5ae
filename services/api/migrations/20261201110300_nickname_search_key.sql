-- User search reads the lowered nickname of every candidate (to confirm, rank and sort it);
-- computing lower() on each was most of a broad query's time (a two-syllable suffix such as
-- `아빠` is inside thousands of nicknames). Stored once per write instead, in code-point order
-- ("C"), and the btree of the exact and prefix tiers is on it. (Adding the column rewrites
-- `users`: on a large live table, add it in a maintenance window.)
ALTER TABLE users
    ADD COLUMN nickname_key text COLLATE "C" GENERATED ALWAYS AS (lower(nickname)) STORED;
DROP INDEX users_nickname_search_idx;
CREATE INDEX users_nickname_search_idx ON users (nickname_key, id);
