//! `db purge` (SPEC §12): completed tasks whose `updated_at` is before a
//! cutoff, deleted in batches, each its own short transaction (bounded
//! locks and WAL on a live database); an interrupted purge is finished by
//! running it again. Rows locked by the application are skipped (`SKIP
//! LOCKED`) and left for a later run. NULL `completed` is pending and NULL
//! `updated_at` never matches: such rows are kept.

use crate::db::PgConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use crate::model::Task;

/// What a purge deletes: `$1` cutoff, `$2` user id (NULL: every user).
macro_rules! purgeable {
    () => {
        "SELECT id FROM tasks WHERE completed AND updated_at < $1
         AND ($2::text IS NULL OR user_id = $2)"
    };
}

/// How many tasks a purge would delete, and whether row-level security
/// filters `tasks` for the connected role (then the count is only what the
/// role sees).
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Count {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = Bool)]
    pub row_security: bool,
}

pub fn count(
    conn: &mut PgConn,
    cutoff: NaiveDateTime,
    user_id: Option<&str>,
) -> QueryResult<Count> {
    diesel::sql_query(concat!(
        "SELECT count(*) AS n, row_security_active('tasks') AS row_security FROM (",
        purgeable!(),
        ") p"
    ))
    .bind::<Timestamp, _>(cutoff)
    .bind::<Nullable<Text>, _>(user_id)
    .get_result(conn)
}

/// Deletes one batch of at most `batch` tasks in one statement
/// (autocommit: its own transaction); returns how many went.
pub fn delete_batch(
    conn: &mut PgConn,
    cutoff: NaiveDateTime,
    user_id: Option<&str>,
    batch: i64,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let r: Row = diesel::sql_query(concat!(
        "WITH d AS (DELETE FROM tasks WHERE id IN (",
        purgeable!(),
        " ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING 1)
         SELECT count(*) AS n FROM d"
    ))
    .bind::<Timestamp, _>(cutoff)
    .bind::<Nullable<Text>, _>(user_id)
    .bind::<BigInt, _>(batch)
    .get_result(conn)?;
    Ok(r.n)
}

/// Deletes one batch inside a transaction and hands its rows to `keep`
/// before COMMIT (the archive writes and syncs them there): if `keep`
/// fails, the batch is rolled back.
pub fn delete_batch_keeping<E>(
    conn: &mut PgConn,
    cutoff: NaiveDateTime,
    user_id: Option<&str>,
    batch: i64,
    keep: &mut dyn FnMut(&[Task]) -> Result<(), E>,
) -> Result<usize, E>
where
    E: From<diesel::result::Error>,
{
    conn.transaction::<_, E, _>(|conn| {
        let rows: Vec<super::models::TaskRow> = diesel::sql_query(concat!(
            "DELETE FROM tasks WHERE id IN (",
            purgeable!(),
            " ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, title, description, completed, user_id, created_at, updated_at"
        ))
        .bind::<Timestamp, _>(cutoff)
        .bind::<Nullable<Text>, _>(user_id)
        .bind::<BigInt, _>(batch)
        .load(conn)?;
        let tasks: Vec<Task> = rows.into_iter().map(Task::from).collect();
        keep(&tasks)?;
        Ok(tasks.len())
    })
}
