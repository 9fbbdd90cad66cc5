//! `db backup` and `db restore` (SPEC §11): one consistent snapshot of
//! `users` and `tasks` streamed out with COPY, and loaded back with COPY in
//! one transaction (the rows by [`super::load`]). The file format is
//! [`crate::backup_file`].
//!
//! Round trips: a backup is BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY,
//! two settings, the migrations and server version, two COPY TO, COMMIT —
//! independent of the number of rows. A restore is one transaction: the
//! emptiness check, the delete (`--replace`), the index drop and truncate
//! of the fast path ([`super::fast_path`]), two COPY FROM, the builds'
//! memory setting and the index rebuild, `setval`, COMMIT.

use crate::db::PgConn;
use std::io::{BufRead, Read, Write};
use std::time::Duration;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::load::copy_sections;
use super::{fast_path, migrate};
use crate::backup_file::order::{self, Order};
use crate::backup_file::{self, Checksums, FormatError, Header, Trailer};

/// What a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub users: u64,
    pub tasks: u64,
}

pub(super) fn io_err(e: std::io::Error) -> diesel::result::Error {
    diesel::result::Error::SerializationError(Box::new(e))
}

/// The outcome of copying a COPY OUT's rows: the server's error when the
/// COPY failed (a statement cancelled, the connection lost: it keeps its
/// SQLSTATE), else the error of the writing side, else the section.
/// A COPY whose output failed first is cancelled, not read to its end
/// (see [`super::conn::CopyOut`]'s drop).
fn copied(
    mut copy: super::conn::CopyOut<'_>,
    written: std::io::Result<backup_file::Section>,
) -> QueryResult<backup_file::Section> {
    match written {
        Ok(section) => copy.finish().map(|()| section),
        Err(e) => Err(copy.take_error().unwrap_or_else(|| io_err(e))),
    }
}

/// Settings that make COPY's text the same on every server: ISO dates
/// (timestamps are `TIMESTAMP`, so the time zone does not enter). With
/// `row_security` off, a COPY that row-level security would filter raises
/// an error instead of silently writing fewer rows (a second guard behind
/// the check in [`backup`]). As pg_dump does for its session, no
/// `statement_timeout` or `idle_in_transaction_session_timeout` of the
/// role's, the database's or `PGOPTIONS` cuts a backup or restore short
/// (lock waits keep their own limit). All for the transaction only, in
/// one round trip.
pub(super) fn set_copy_settings(conn: &mut PgConn) -> QueryResult<()> {
    diesel::sql_query(LONG_RUNNING_SETTINGS)
        .execute(conn)
        .map(|_| ())
}

/// See [`set_copy_settings`].
pub(super) const LONG_RUNNING_SETTINGS: &str =
    "SELECT set_config('DateStyle', 'ISO, YMD', true), set_config('row_security', 'off', true),
            set_config('statement_timeout', '0', true),
            set_config('idle_in_transaction_session_timeout', '0', true)";

/// The server version, and the tables whose rows row-level security
/// filters for the connected role (SPEC §17: a backup never succeeds with
/// rows silently missing).
const SERVER_AND_ROW_SECURITY: &str = concat!(
    "current_setting('server_version') || ' ' || ",
    super::rls::row_security_tables!()
);

/// Why a backup failed.
#[derive(Debug)]
pub enum BackupError {
    /// Row-level security filters these tables for the connected role.
    RowSecurity(Vec<String>),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for BackupError {
    fn from(e: diesel::result::Error) -> Self {
        BackupError::Db(e)
    }
}

/// Streams one consistent snapshot into `out` (a REPEATABLE READ, READ
/// ONLY transaction: works for a read-only role and through a pooler).
/// `progress(rows)` is called as rows stream.
pub fn backup(
    conn: &mut PgConn,
    out: &mut dyn Write,
    tool_version: &str,
    taken_at: &str,
    progress: &dyn Fn(u64),
) -> Result<Counts, BackupError> {
    super::untimed(conn, super::Begin::Snapshot, |conn| {
        set_copy_settings(conn)?;
        let answer: String =
            diesel::select(sql::<Text>(SERVER_AND_ROW_SECURITY)).get_result(conn)?;
        let (server_version, hidden) = answer.rsplit_once(' ').unwrap_or((&answer, ""));
        if !hidden.is_empty() {
            return Err(BackupError::RowSecurity(super::rls::split_tables(hidden)));
        }
        let server_version = server_version.to_string();
        let header = Header {
            format_version: backup_file::FORMAT_VERSION,
            tool_version: tool_version.to_string(),
            migrations: readable_migrations(conn)?,
            server_version,
            taken_at: taken_at.to_string(),
            kind: None,
        };
        backup_file::write_header(out, &header).map_err(io_err)?;

        backup_file::write_section_start(out, "users", backup_file::USERS_COLUMNS)
            .map_err(io_err)?;
        let mut copy = conn.copy_out(super::columns::USERS_OUT)?;
        let users = order::copy(&mut copy, out, 0, progress, Order::Users);
        let users = copied(copy, users)?;
        backup_file::write_section_end(out).map_err(io_err)?;

        backup_file::write_section_start(out, "tasks", backup_file::TASKS_COLUMNS)
            .map_err(io_err)?;
        let mut copy = conn.copy_out(super::columns::TASKS_OUT)?;
        let tasks = order::copy(&mut copy, out, users.rows, progress, Order::Tasks);
        let tasks = copied(copy, tasks)?;
        backup_file::write_section_end(out).map_err(io_err)?;

        let counts = Counts {
            users: users.rows,
            tasks: tasks.rows,
        };
        let trailer = Trailer {
            users: counts.users,
            tasks: counts.tasks,
            sha256: Checksums {
                users: users.sha256(),
                tasks: tasks.sha256(),
            },
        };
        backup_file::write_trailer(out, &trailer).map_err(io_err)?;
        Ok(counts)
    })
}

/// The applied migrations, or none when the role may not read the
/// migrations table (a read-only role granted only the two tables); the
/// manifest then names none, and a restore cannot tell a newer schema.
fn readable_migrations(conn: &mut PgConn) -> QueryResult<Vec<String>> {
    let readable: bool = diesel::select(sql::<Bool>(
        "to_regclass('__diesel_schema_migrations') IS NOT NULL
         AND has_table_privilege('__diesel_schema_migrations', 'SELECT')",
    ))
    .get_result(conn)?;
    if !readable {
        return Ok(Vec::new());
    }
    migrate::versions(conn)
}

/// Why a restore did not happen; nothing changed in any case.
#[derive(Debug)]
pub enum RestoreError {
    /// The file is not a backup, or is truncated, damaged or tampered with.
    File(FormatError),
    /// The target holds rows and `--replace` was not given.
    NotEmpty,
    /// `--append`: rows of the file clash with the database's.
    Conflicts(super::append::Conflicts),
    /// `--replace` would delete users or tasks that rows of other tables
    /// reference (SPEC §22): those tables and their referencing rows.
    Referenced(Vec<super::references::Referencing>),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for RestoreError {
    fn from(e: diesel::result::Error) -> Self {
        // A file problem found inside a COPY callback travels as a
        // serialization error; take it back out.
        match e {
            diesel::result::Error::SerializationError(inner) => {
                match inner.downcast::<FormatError>() {
                    Ok(file) => RestoreError::File(*file),
                    Err(other) => {
                        RestoreError::Db(diesel::result::Error::SerializationError(other))
                    }
                }
            }
            other => RestoreError::Db(other),
        }
    }
}

impl From<FormatError> for RestoreError {
    fn from(e: FormatError) -> Self {
        RestoreError::File(e)
    }
}

/// Whether `users` or `tasks` holds any row.
pub fn has_rows(conn: &mut PgConn) -> QueryResult<bool> {
    diesel::select(sql::<Bool>(
        "EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM tasks)",
    ))
    .get_result(conn)
}

/// Loads the rows of a backup whose header has been read, in one
/// transaction: any error (a damaged file included, found before COMMIT)
/// leaves the database as it was. With `replace`, existing rows are deleted
/// first, in the same transaction, unless rows of other tables reference
/// them ([`RestoreError::Referenced`]). Ids are kept and `tasks_id_seq` is moved
/// past the largest; into an empty `tasks`, the secondary indexes and the
/// foreign key are rebuilt once after the load (as `db seed` does).
///
/// `placeholders` (for `db verify` of a purge archive, into a throwaway
/// database): the users the tasks reference but the file does not hold
/// are added as placeholders before the foreign key is rebuilt; their
/// number is returned beside the counts (always 0 otherwise).
pub fn restore<R: BufRead + Send>(
    conn: &mut PgConn,
    reader: &mut backup_file::Reader<R>,
    replace: bool,
    placeholders: bool,
    lock_timeout: Duration,
    progress: &dyn Fn(u64),
) -> Result<Loaded, RestoreError> {
    super::untimed::<_, RestoreError, _>(conn, super::Begin::ReadWrite, |conn| {
        set_copy_settings(conn)?;
        super::set_lock_timeout(conn, lock_timeout)?;
        if has_rows(conn)? {
            if !replace {
                return Err(RestoreError::NotEmpty);
            }
            // A replace deletes every user and task: rows of other tables
            // that reference them (the auth service's accounts and
            // sessions) would go by cascade, or block the delete. Never
            // silently (SPEC §22): refused, nothing changed.
            let referencing = super::references::referencing(conn)?;
            if !referencing.is_empty() {
                return Err(RestoreError::Referenced(referencing));
            }
            diesel::sql_query("DELETE FROM tasks").execute(conn)?;
            diesel::sql_query("DELETE FROM users").execute(conn)?;
        }
        let taken = fast_path::take(conn, lock_timeout, fast_path::FastPath::Everything)?;
        let indexes_kept = matches!(taken, fast_path::Taken::Locked);
        let rebuild = taken.dropped();
        // Into tables truncated in this transaction, rows go in frozen.
        let into = if rebuild.as_ref().is_some_and(|r| r.truncated) {
            [
                super::columns::USERS_IN_FROZEN,
                super::columns::TASKS_IN_FROZEN,
            ]
        } else {
            [
                super::columns::USERS_IN_BINARY,
                super::columns::TASKS_IN_BINARY,
            ]
        };

        let counts = copy_sections(conn, reader, into, progress)?;

        let added = if placeholders {
            diesel::sql_query(PLACEHOLDER_USERS).execute(conn)? as u64
        } else {
            0
        };
        if let Some(dropped) = rebuild {
            // Keys and constraints that refuse the rows (SQLSTATE class 23:
            // an id twice, a task whose user the file lacks): the file's
            // rows are wrong, whatever its checksums say.
            fast_path::rebuild(conn, &dropped, counts.tasks.max(counts.users))
                .map_err(|e| super::load::refused_rows(e, "23", super::load::BREAK_CONSTRAINTS))?;
        }
        diesel::sql_query(
            "SELECT setval('tasks_id_seq', coalesce(max(id), 1), max(id) IS NOT NULL) FROM tasks",
        )
        .execute(conn)?;
        Ok(Loaded {
            counts,
            placeholders: added,
            indexes_kept,
        })
    })
}

/// What [`restore`] loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub counts: Counts,
    /// Placeholder users added for an archive's tasks.
    pub placeholders: u64,
    /// Another session held the tables, so the rows went in with the
    /// indexes and keys in place instead of the fast path's drop and
    /// rebuild (said in a note: the reason for a slow restore).
    pub indexes_kept: bool,
}

/// Users for the tasks whose user is not in the file (a purge archive's).
const PLACEHOLDER_USERS: &str = "INSERT INTO users (id, email)
    SELECT DISTINCT t.user_id, 'archived-' || md5(t.user_id) || '@placeholder.invalid'
    FROM tasks t WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)";

/// Row counts of the two tables (for `db verify`).
pub fn count_rows(conn: &mut PgConn) -> QueryResult<Counts> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        users: i64,
        #[diesel(sql_type = BigInt)]
        tasks: i64,
    }
    let r: Row = diesel::sql_query(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM tasks) AS tasks",
    )
    .get_result(conn)?;
    Ok(Counts {
        users: r.users as u64,
        tasks: r.tasks as u64,
    })
}

/// Reads everything left in `r` (so a gzip stream checks its CRC).
pub fn drain(r: &mut impl Read) -> std::io::Result<()> {
    std::io::copy(r, &mut std::io::sink()).map(|_| ())
}
