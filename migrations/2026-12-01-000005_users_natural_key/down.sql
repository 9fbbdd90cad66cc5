-- Back to migration 4's state: its ICU collation and index, where the
-- server has ICU (as migration 4 itself does, on a server built without
-- ICU this creates nothing, so that reverting works on every build).
DO $$
BEGIN
    CREATE COLLATION IF NOT EXISTS todo_natural (provider = icu, locale = 'und-u-kn-true');
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no ICU: migration 4 has nothing to bring back';
END
$$;
-- todo: when SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'todo_natural' AND pg_collation_is_visible(oid)) AS ok
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email_natural ON users (email COLLATE todo_natural, id);
DROP INDEX CONCURRENTLY IF EXISTS idx_users_email_natural_key;
