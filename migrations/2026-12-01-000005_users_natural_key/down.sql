CREATE COLLATION IF NOT EXISTS todo_natural (provider = icu, locale = 'und-u-kn-true');
CREATE INDEX IF NOT EXISTS idx_users_email_natural ON users (email COLLATE todo_natural, id);
DROP INDEX IF EXISTS idx_users_email_natural_key;
