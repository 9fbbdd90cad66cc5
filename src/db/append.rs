//! `db restore --append` (SPEC §19): a backup's or a purge archive's rows
//! added to a database that already holds rows, keeping their ids, in one
//! transaction. The file is loaded by COPY into temporary tables first;
//! then one statement finds every clash (a user id or email already
//! present, a task id already present, a task whose user is neither in the
//! database nor in the file), and only when there is none are the rows
//! inserted. Checksums are checked before that, as `restore` does.
//!
//! Statements: the settings, two CREATE TEMP TABLE, two COPY, the clash
//! query, two INSERT … SELECT and the sequence: all in one transaction.

use std::io::BufRead;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::backup::{set_copy_settings, Counts, RestoreError};
use super::load::copy_sections;
use super::{columns, PgConn};
use crate::backup_file;

const STAGE_USERS: &str = "CREATE TEMP TABLE todo_append_users (LIKE users) ON COMMIT DROP";
const STAGE_TASKS: &str = "CREATE TEMP TABLE todo_append_tasks (LIKE tasks) ON COMMIT DROP";

/// Every clash between the file's rows and the database's, with the first
/// five of each kind (sorted), in one statement.
const CLASHES: &str = "
WITH users_present AS (
    SELECT s.email FROM todo_append_users s
    WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = s.id OR lower(u.email) = lower(s.email))),
tasks_present AS (
    SELECT s.id FROM todo_append_tasks s WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.id = s.id)),
orphans AS (
    SELECT DISTINCT s.user_id FROM todo_append_tasks s
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)
      AND NOT EXISTS (SELECT 1 FROM todo_append_users n WHERE n.id = s.user_id))
SELECT (SELECT count(*) FROM users_present) AS users,
       (SELECT coalesce(string_agg(email, ', '), '')
          FROM (SELECT email FROM users_present ORDER BY 1 LIMIT 5) f) AS users_first,
       (SELECT count(*) FROM tasks_present) AS tasks,
       (SELECT coalesce(string_agg(id::text, ', '), '')
          FROM (SELECT id FROM tasks_present ORDER BY 1 LIMIT 5) f) AS tasks_first,
       (SELECT count(*) FROM orphans) AS missing_users,
       (SELECT coalesce(string_agg(user_id, ', '), '')
          FROM (SELECT user_id FROM orphans ORDER BY 1 LIMIT 5) f) AS missing_first";

const ADD_USERS: &str = "INSERT INTO users (id, email, name, created_at, updated_at)
    SELECT id, email, name, created_at, updated_at FROM todo_append_users";
const ADD_TASKS: &str =
    "INSERT INTO tasks (id, title, description, completed, user_id, created_at, updated_at)
    SELECT id, title, description, completed, user_id, created_at, updated_at
    FROM todo_append_tasks";
/// `tasks_id_seq` past the largest id, never backwards.
const SEQUENCE: &str = "SELECT setval('tasks_id_seq', m) FROM (SELECT max(id) AS m FROM tasks) x
    WHERE m > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
               FROM tasks_id_seq)";

/// What clashes (counts, and the first few of each, comma-separated).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Conflicts {
    /// Users of the file whose id or email the database already has (their emails).
    #[diesel(sql_type = BigInt)]
    pub users: i64,
    #[diesel(sql_type = Text)]
    pub users_first: String,
    /// Tasks of the file whose id the database already has.
    #[diesel(sql_type = BigInt)]
    pub tasks: i64,
    #[diesel(sql_type = Text)]
    pub tasks_first: String,
    /// User ids the file's tasks name that neither holds.
    #[diesel(sql_type = BigInt)]
    pub missing_users: i64,
    #[diesel(sql_type = Text)]
    pub missing_first: String,
}

impl Conflicts {
    fn any(&self) -> bool {
        self.users + self.tasks + self.missing_users > 0
    }
}

/// Adds the rows of a backup whose header has been read (see the module).
pub fn append<R: BufRead + Send>(
    conn: &mut PgConn,
    reader: &mut backup_file::Reader<R>,
    lock_timeout: Duration,
    progress: &dyn Fn(u64),
) -> Result<Counts, RestoreError> {
    super::untimed::<_, RestoreError, _>(conn, super::Begin::ReadWrite, |conn| {
        set_copy_settings(conn)?;
        super::set_lock_timeout(conn, lock_timeout)?;
        diesel::sql_query(STAGE_USERS).execute(conn)?;
        diesel::sql_query(STAGE_TASKS).execute(conn)?;
        let counts = copy_sections(
            conn,
            reader,
            [
                columns::STAGED_USERS_IN_BINARY,
                columns::STAGED_TASKS_IN_BINARY,
            ],
            progress,
        )?;
        let clashes: Conflicts = diesel::sql_query(CLASHES).get_result(conn)?;
        if clashes.any() {
            return Err(RestoreError::Conflicts(clashes));
        }
        diesel::sql_query(ADD_USERS).execute(conn)?;
        diesel::sql_query(ADD_TASKS).execute(conn)?;
        diesel::sql_query(SEQUENCE).execute(conn)?;
        Ok(counts)
    })
}
