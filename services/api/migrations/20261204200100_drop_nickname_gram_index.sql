-- The "contains" tier reads `nickname_positions` (20261204200000) now; the GIN index it used
-- before, and the two functions only that index called, go, so every write of a nickname
-- no longer updates an index no query reads.
DROP INDEX users_nickname_grams_idx;
DROP FUNCTION nickname_grams(text);
DROP FUNCTION text_grams(text, integer);
