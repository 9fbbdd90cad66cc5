//! `task import`: many tasks for one user, all or none, in one transaction
//! with COPY (two statements: the COPY and its transaction; the user was
//! looked up before). The rows are streamed: whoever produces them writes
//! each one as it is read, so memory does not grow with the import.

use crate::db::PgConn;
use std::io::Write;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::model::NewTask;

/// Where a producer writes tasks: rows of one COPY, for one user.
pub struct TaskRows<'a> {
    out: std::io::BufWriter<&'a mut dyn Write>,
    user_id: &'a str,
    now: NaiveDateTime,
    line: String,
}

impl TaskRows<'_> {
    /// Sends one task (a task without times gets `now`).
    pub fn push(&mut self, t: &NewTask) -> std::io::Result<()> {
        copy_line(&mut self.line, t, self.user_id, self.now);
        self.out.write_all(self.line.as_bytes())
    }
}

/// Inserts every task `produce` pushes, for `user_id`, in one transaction.
/// When `produce` fails, the COPY is aborted and nothing is inserted: the
/// error returned is then the server's ("COPY from stdin failed: …"), and
/// the producer keeps its own reason. `track`: note the transaction id for
/// read replicas (one more statement, inside the transaction).
pub fn insert_stream(
    conn: &mut PgConn,
    user_id: &str,
    now: NaiveDateTime,
    produce: &dyn Fn(&mut TaskRows<'_>) -> std::io::Result<()>,
    track: bool,
) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let inserted = conn.copy_in(super::columns::NEW_TASKS_IN, |sink: &mut dyn Write| {
            let mut rows = TaskRows {
                out: std::io::BufWriter::with_capacity(256 * 1024, sink),
                user_id,
                now,
                line: String::new(),
            };
            produce(&mut rows).map_err(io_err)?;
            rows.out.flush().map_err(io_err)
        })?;
        if track {
            let xid = super::replica::current_xid(conn)?;
            super::replica::note_write(Some(&xid));
        }
        Ok(inserted)
    })
}

fn io_err(e: std::io::Error) -> diesel::result::Error {
    diesel::result::Error::SerializationError(Box::new(e))
}

/// One row in COPY's text format, into `line` (cleared first).
fn copy_line(line: &mut String, t: &NewTask, user_id: &str, now: NaiveDateTime) {
    use crate::text::copy_escape_into as text;
    use std::fmt::Write as _;
    let ts = |line: &mut String, v: Option<NaiveDateTime>| {
        // Writing to a String cannot fail.
        let _ = write!(line, "{}", v.unwrap_or(now).format("%Y-%m-%d %H:%M:%S%.f"));
    };
    line.clear();
    text(line, &t.title);
    line.push('\t');
    match &t.description {
        Some(d) => text(line, d),
        None => line.push_str("\\N"),
    }
    line.push('\t');
    line.push(if t.completed { 't' } else { 'f' });
    line.push('\t');
    text(line, user_id);
    line.push('\t');
    let created = t.created_at.or(t.updated_at);
    ts(line, created);
    line.push('\t');
    ts(line, t.updated_at.or(created));
    line.push('\n');
}
