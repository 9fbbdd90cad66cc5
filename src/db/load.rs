//! Loading a backup's two sections by COPY FROM (`db restore`, `db verify`
//! and `db restore --append` share it): the rows read ahead on a thread of
//! their own ([`super::readahead`]) and sent in COPY's binary format
//! ([`backup_file::binary`]), the trailer's counts and checksums checked
//! after them.

use crate::db::PgConn;
use std::cell::RefCell;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::QueryResult;

use super::backup::{io_err, Counts, RestoreError};
use super::codes::UNIQUE_VIOLATION;
use crate::backup_file::{self, binary, CopyError, FormatError, Section};

/// Loads both sections of a backup whose header has been read with the
/// two COPY FROM statements `into` (users, then tasks), and checks the
/// trailer's counts and checksums: for `restore` (into the tables) and
/// `append` (into staging tables). A problem with the file is a
/// [`RestoreError::File`], whichever side noticed it.
pub(super) fn copy_sections<R: BufRead + Send>(
    conn: &mut PgConn,
    reader: &mut backup_file::Reader<R>,
    into: [&str; 2],
    progress: &dyn Fn(u64),
) -> Result<Counts, RestoreError> {
    let reader = RefCell::new(reader);
    let section = RefCell::new(None);
    let problem = RefCell::new(None);
    let mut loaded = Vec::with_capacity(2);
    for ((name, columns, kinds), copy) in [
        ("users", backup_file::USERS_COLUMNS, binary::USERS),
        ("tasks", backup_file::TASKS_COLUMNS, binary::TASKS),
    ]
    .into_iter()
    .zip(into)
    {
        reader.borrow_mut().section_start(name, columns)?;
        conn.copy_in(copy, |sink: &mut dyn Write| {
            load(&reader, kinds, &section, &problem, progress, sink)
        })
        .map_err(|e| file_problem(&reader, &problem, e))?;
        loaded.push(section.take().unwrap_or_default());
    }
    let trailer = reader.borrow_mut().trailer()?;
    let tasks = loaded.pop().unwrap_or_default();
    let users = loaded.pop().unwrap_or_default();
    let counts = Counts {
        users: users.rows,
        tasks: tasks.rows,
    };
    backup_file::check(&trailer, users, tasks)?;
    Ok(counts)
}

/// A COPY FROM callback: one section's rows from the file, read ahead on
/// another thread ([`super::readahead`]). A problem with the file is kept
/// in `problem` (the server reports the COPY as failed).
fn load<R: BufRead + Send>(
    reader: &RefCell<&mut backup_file::Reader<R>>,
    kinds: &[binary::Kind],
    section: &RefCell<Option<Section>>,
    problem: &RefCell<Option<FormatError>>,
    progress: &dyn Fn(u64),
    sink: &mut dyn Write,
) -> QueryResult<()> {
    let rows = AtomicU64::new(0);
    let mut guard = reader.borrow_mut();
    let file: &mut backup_file::Reader<R> = &mut guard;
    let (copied, sent) = super::readahead::pipe(
        |out| file.copy_rows_binary(out, kinds, &|n| rows.store(n, Ordering::Relaxed)),
        sink,
        || progress(rows.load(Ordering::Relaxed)),
    );
    drop(guard);
    progress(rows.load(Ordering::Relaxed));
    match copied {
        Ok(s) => {
            section.replace(Some(s));
            sent.map_err(io_err)
        }
        Err(CopyError::File(e)) => {
            let message = e.message.clone();
            problem.replace(Some(e));
            Err(io_err(std::io::Error::other(message)))
        }
        // The producer stopped because the sink failed: the sink's error.
        Err(CopyError::Sink(e)) => Err(io_err(sent.err().unwrap_or(e))),
    }
}

/// Why a COPY FROM failed: the file (as the callback found, or as the rest
/// of the stream shows: a flipped byte fails gzip's CRC only at the end),
/// rows the server cannot parse, or the database itself.
fn file_problem<R: BufRead>(
    reader: &RefCell<&mut backup_file::Reader<R>>,
    problem: &RefCell<Option<FormatError>>,
    err: diesel::result::Error,
) -> RestoreError {
    // The rest of the stream first: a damaged gzip stream (its CRC) is the
    // cause of whatever a row showed.
    let found = problem.take();
    if let Err(damaged) = reader.borrow_mut().drain() {
        return RestoreError::File(damaged);
    }
    if let Some(found) = found {
        return RestoreError::File(found);
    }
    // SQLSTATE class 22, data exception: a value the server cannot take
    // (bad syntax or encoding, too long, out of range), in any language.
    // Class 23 but for a unique key: a CHECK or NOT NULL constraint, or (when
    // the keys stay in place) a task whose user is neither in the file nor
    // in the emptied table: the file's rows, whichever session is about. A
    // duplicate key may be another session's row added meanwhile (when the
    // keys stay in place, the tables are not locked): a conflict, as the
    // database reports it.
    if super::sqlstate(&err).is_some_and(|s| s.starts_with("23") && s != UNIQUE_VIOLATION) {
        return refused_rows(err, "23", BREAK_CONSTRAINTS);
    }
    refused_rows(err, "22", "the file holds rows the database cannot read")
}

/// A file whose rows the schema's constraints refuse (SQLSTATE class 23).
pub(super) const BREAK_CONSTRAINTS: &str = "the file's rows break the schema's constraints";

/// `err` as a problem of the file's rows, `what` with the server's first
/// line, when its SQLSTATE is of `class` (two characters); otherwise the
/// database's error.
pub(super) fn refused_rows(err: diesel::result::Error, class: &str, what: &str) -> RestoreError {
    if !super::sqlstate(&err).is_some_and(|state| state.starts_with(class)) {
        return RestoreError::Db(err);
    }
    let message = err.to_string();
    RestoreError::File(FormatError::corrupt(format!(
        "{what} ({})",
        message.lines().next().unwrap_or_default()
    )))
}
