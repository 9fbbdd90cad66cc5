DROP INDEX IF EXISTS idx_users_email_natural;
DROP COLLATION IF EXISTS todo_natural;
