-- The extras SPEC section 1 asks for on top of the shared schema, as online
-- steps (SPEC section 21): every statement is idempotent, so that after
-- `todo db migrate --baseline` this migration adds only what a
-- backend-created schema lacks, and an interrupted run is completed by the
-- next one. Each statement is one step, sent alone.

-- Check constraints: a title is never blank, a description at most 1000
-- characters. Added NOT VALID (a brief ACCESS EXCLUSIVE lock, no scan),
-- then validated under a lock that blocks neither reads nor writes.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'tasks'::regclass AND conname = 'tasks_title_not_blank') THEN
        ALTER TABLE tasks ADD CONSTRAINT tasks_title_not_blank
            CHECK (length(btrim(title)) > 0) NOT VALID;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'tasks'::regclass AND conname = 'tasks_description_length') THEN
        ALTER TABLE tasks ADD CONSTRAINT tasks_description_length
            CHECK (char_length(description) <= 1000) NOT VALID;
    END IF;
END
$$;
ALTER TABLE tasks VALIDATE CONSTRAINT tasks_title_not_blank;
ALTER TABLE tasks VALIDATE CONSTRAINT tasks_description_length;

-- updated_at is kept true by the database for every writer: any UPDATE that
-- changes a row sets it to the current time in UTC (the columns are
-- TIMESTAMP without time zone; CURRENT_TIMESTAMP would follow the writer's
-- session time zone). An UPDATE that changes nothing leaves it alone.
CREATE OR REPLACE FUNCTION todo_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now() AT TIME ZONE 'UTC';
    END IF;
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION todo_set_updated_at();
CREATE OR REPLACE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION todo_set_updated_at();

-- Case-insensitive user lookups by email (`lower(email) = lower($1)`).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email_lower ON users (lower(email));
