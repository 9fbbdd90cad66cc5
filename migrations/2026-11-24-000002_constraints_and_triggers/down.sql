DROP INDEX CONCURRENTLY IF EXISTS idx_users_email_lower;
DROP TRIGGER IF EXISTS tasks_set_updated_at ON tasks;
DROP TRIGGER IF EXISTS users_set_updated_at ON users;
DROP FUNCTION IF EXISTS todo_set_updated_at();
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_description_length;
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_title_not_blank;
