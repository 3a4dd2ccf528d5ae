-- The feed reads each author's newest walks from walks_user_created_idx and keeps the ones the
-- viewer may see. With visibility in the index those scans never visit the table (index-only
-- scans): a feed page on the bench seed (1,000,000 walks, 50 follows each) went from 3.6 to
-- 1.4 ms of PostgreSQL. On a large live table, build the new index CONCURRENTLY by hand first.
DROP INDEX walks_user_created_idx;
CREATE INDEX walks_user_created_idx ON walks (user_id, created_at DESC, id DESC) INCLUDE (visibility);
