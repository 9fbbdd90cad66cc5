//! `task import`: many tasks for one user, all or none, in one transaction
//! with COPY (two statements: the COPY and its transaction; the user was
//! looked up before).

use std::io::Write;

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::models::NewTask;
use super::schema::tasks;

/// Inserts every task for `user_id`; a task without times gets `now`.
pub fn insert_all(
    conn: &mut PgConnection,
    user_id: &str,
    new: &[NewTask],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    conn.transaction(|conn| {
        diesel::copy_from(tasks::table)
            .from_raw_data(
                super::columns::NEW_TASK_ROW,
                |sink: &mut dyn Write| -> QueryResult<()> {
                    let mut out = std::io::BufWriter::with_capacity(256 * 1024, sink);
                    for t in new {
                        let line = copy_line(t, user_id, now);
                        out.write_all(line.as_bytes()).map_err(io_err)?;
                    }
                    out.flush().map_err(io_err)
                },
            )
            .execute(conn)
    })
}

fn io_err(e: std::io::Error) -> diesel::result::Error {
    diesel::result::Error::SerializationError(Box::new(e))
}

/// One row in COPY's text format.
fn copy_line(t: &NewTask, user_id: &str, now: NaiveDateTime) -> String {
    use crate::text::copy_escape_into as text;
    let ts = |v: Option<NaiveDateTime>| v.unwrap_or(now).format("%Y-%m-%d %H:%M:%S%.f").to_string();
    let mut line = String::new();
    text(&mut line, &t.title);
    line.push('\t');
    match &t.description {
        Some(d) => text(&mut line, d),
        None => line.push_str("\\N"),
    }
    line.push('\t');
    line.push(if t.completed { 't' } else { 'f' });
    line.push('\t');
    text(&mut line, user_id);
    line.push('\t');
    let created = t.created_at.or(t.updated_at);
    line.push_str(&ts(created));
    line.push('\t');
    line.push_str(&ts(t.updated_at.or(created)));
    line.push('\n');
    line
}
