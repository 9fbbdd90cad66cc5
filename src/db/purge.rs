//! `db purge` (SPEC §12): completed tasks whose `updated_at` is before a
//! cutoff, deleted in batches, each its own short transaction (bounded
//! locks and WAL on a live database), in id order, each batch starting
//! after the last one's ids; an interrupted purge is finished by running
//! it again. Rows locked by the application are skipped (`SKIP LOCKED`)
//! and left for a later run. NULL `completed` is pending and NULL
//! `updated_at` never matches: such rows are kept.

use crate::db::PgConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

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

/// One batch: the next `$3` purgeable tasks by id after `$4` (NULL: from
/// the first). Each batch starts where the last ended, so a purge reads
/// the table once, not once per batch (at 2 M tasks the fourth batch read
/// 2 M index entries to find its 10 000; the application felt it).
macro_rules! batch {
    () => {
        concat!(
            purgeable!(),
            " AND ($4::int IS NULL OR id > $4) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED"
        )
    };
}

/// A batch deleted: how many tasks, and the last id (where the next
/// batch starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub deleted: i64,
    pub last: Option<i32>,
}

/// Deletes one batch of at most `batch` tasks with ids after `after`, in
/// one statement (autocommit: its own transaction).
pub fn delete_batch(
    conn: &mut PgConn,
    cutoff: NaiveDateTime,
    user_id: Option<&str>,
    batch: i64,
    after: Option<i32>,
) -> QueryResult<Batch> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = Nullable<Integer>)]
        last: Option<i32>,
    }
    let r: Row = diesel::sql_query(concat!(
        "WITH d AS (DELETE FROM tasks WHERE id IN (",
        batch!(),
        ") RETURNING id)
         SELECT count(*) AS n, max(id) AS last FROM d"
    ))
    .bind::<Timestamp, _>(cutoff)
    .bind::<Nullable<Text>, _>(user_id)
    .bind::<BigInt, _>(batch)
    .bind::<Nullable<Integer>, _>(after)
    .get_result(conn)?;
    Ok(Batch {
        deleted: r.n,
        last: r.last,
    })
}

/// Deletes one batch (as [`delete_batch`]) inside a transaction and hands
/// its rows to `keep` before COMMIT (the archive writes and syncs them
/// there): if `keep` fails, the batch is rolled back.
pub fn delete_batch_keeping<E>(
    conn: &mut PgConn,
    cutoff: NaiveDateTime,
    user_id: Option<&str>,
    batch: i64,
    after: Option<i32>,
    keep: &mut dyn FnMut(&[Task]) -> Result<(), E>,
) -> Result<Batch, E>
where
    E: From<diesel::result::Error>,
{
    conn.transaction::<_, E, _>(|conn| {
        let rows: Vec<super::models::TaskRow> = diesel::sql_query(concat!(
            "DELETE FROM tasks WHERE id IN (",
            batch!(),
            ") RETURNING id, title, description, completed, user_id, created_at, updated_at"
        ))
        .bind::<Timestamp, _>(cutoff)
        .bind::<Nullable<Text>, _>(user_id)
        .bind::<BigInt, _>(batch)
        .bind::<Nullable<Integer>, _>(after)
        .load(conn)?;
        let tasks: Vec<Task> = rows.into_iter().map(Task::from).collect();
        keep(&tasks)?;
        Ok(Batch {
            deleted: tasks.len() as i64,
            last: tasks.iter().map(|t| t.id).max(),
        })
    })
}
