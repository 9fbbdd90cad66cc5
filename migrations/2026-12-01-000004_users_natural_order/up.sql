-- `user list` shows users by email in natural order: seed-user-2 before
-- seed-user-10, where byte order puts seed-user-1000 before seed-user-2.
-- An ICU collation with numeric ordering ("kn") compares runs of digits as
-- numbers; the index keeps `user list --limit N` an index scan however many
-- users there are (without it, 1 M users are read and sorted for a page of
-- 50). An extra index and a collation beside the documented schema; the
-- web backend is not affected.
--
-- Migration 5 replaces both with an order that needs no ICU and drops
-- them again. On a server built without ICU (CREATE COLLATION ... provider =
-- icu fails with feature_not_supported, even with IF NOT EXISTS) this
-- migration does nothing, so that the chain runs on every build: the index
-- is built (concurrently, SPEC section 21) only when the collation exists.
DO $$
BEGIN
    CREATE COLLATION IF NOT EXISTS todo_natural (provider = icu, locale = 'und-u-kn-true');
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no ICU: the natural order comes with the next migration';
END
$$;
-- todo: when SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'todo_natural' AND pg_collation_is_visible(oid)) AS ok
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email_natural ON users (email COLLATE todo_natural, id);
