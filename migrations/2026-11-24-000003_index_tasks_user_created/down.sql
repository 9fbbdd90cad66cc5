DROP INDEX IF EXISTS idx_tasks_user_created;
