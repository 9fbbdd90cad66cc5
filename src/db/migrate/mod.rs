//! Migrations (SPEC §4a, §21): embedded in the binary ([`steps::SOURCES`]),
//! applied online ([`online`]): one transaction where the tables hold no
//! rows, step by step under locks that do not block the application
//! otherwise. Versions are recorded in diesel's `__diesel_schema_migrations`.

pub mod online;
pub mod plan;
pub mod steps;

use crate::db::PgConn;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::brief;
use super::conformance;
pub use online::{Event, Limits};

/// The base migration: the schema shared with the web backend.
pub const BASE_VERSION: &str = "20261124000001";

/// Advisory lock key taken by `db migrate` and `db revert` (seeds take their
/// own, [`super::seed::LOCK_KEY`]): the bytes of "todo-mig".
pub const LOCK_KEY: i64 = 0x746f_646f_2d6d_6967;

/// One migration known to this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub version: String,
    pub name: String,
}

/// Why migrating did not happen.
#[derive(Debug)]
pub enum MigrateError {
    /// A database error, kept whole so the command can classify it.
    Db(diesel::result::Error),
    /// A statement of a migration failed.
    InMigration {
        version: String,
        name: String,
        error: diesel::result::Error,
    },
    /// The tables exist but the base migration is not recorded.
    Unmanaged,
    /// `--baseline` without the tables.
    NothingToBaseline,
    /// `--baseline` on a schema that differs from SPEC §1.
    Mismatch(Vec<String>),
    /// The last applied migration is not part of this build.
    UnknownVersion(String),
    /// `db revert` of the base migration while its tables hold rows.
    HasRows,
    /// The last applied migration changed since the plan was shown.
    Changed,
    /// A brief step (or a long step's lock) could not get its lock within
    /// `--lock-timeout`: who held it, and how the tries went.
    LockBusy {
        holder: Option<Box<brief::Holder>>,
        tries: Option<brief::Tries>,
    },
    /// Another run holds the migration lock (retried like a lock wait).
    MigrationLocked,
    /// A step that needs a session of its own (`version`'s `step`), on a
    /// connection through a transaction pooler.
    Pooled { version: String, step: String },
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Db(e) => write!(f, "{e}"),
            MigrateError::InMigration { version, error, .. } => {
                write!(f, "{error} (running migration {version})")
            }
            MigrateError::Unmanaged => f.write_str("the tables exist but no migration is recorded"),
            MigrateError::NothingToBaseline => f.write_str("nothing to baseline"),
            MigrateError::Mismatch(d) => write!(f, "the schema differs: {}", d.join("; ")),
            MigrateError::UnknownVersion(v) => write!(f, "unknown migration {v}"),
            MigrateError::HasRows => f.write_str("the tables hold rows"),
            MigrateError::Changed => f.write_str("the applied migrations changed"),
            MigrateError::LockBusy { .. } => f.write_str("a lock was not available"),
            MigrateError::MigrationLocked => f.write_str("another migration is running"),
            MigrateError::Pooled { version, .. } => {
                write!(
                    f,
                    "migration {version} needs a session, not a pooled connection"
                )
            }
        }
    }
}

impl From<diesel::result::Error> for MigrateError {
    fn from(err: diesel::result::Error) -> Self {
        MigrateError::Db(err)
    }
}

impl brief::LockWait for MigrateError {
    fn is_lock_timeout(&self) -> bool {
        match self {
            MigrateError::Db(e) | MigrateError::InMigration { error: e, .. } => {
                super::is_lock_timeout(e)
            }
            MigrateError::MigrationLocked => true,
            _ => false,
        }
    }
}

/// An applied version with its name, or "(not in this build)" for one a
/// newer build applied.
pub fn describe(version: &str) -> Known {
    let name = known()
        .into_iter()
        .find(|k| k.version == version)
        .map(|k| k.name)
        .unwrap_or_else(|| "(not in this build)".into());
    Known {
        version: version.to_string(),
        name,
    }
}

/// The migrations of this build, oldest first.
pub fn known() -> Vec<Known> {
    steps::SOURCES
        .iter()
        .map(|s| Known {
            version: s.version.to_string(),
            name: s.name.to_string(),
        })
        .collect()
}

/// Whether the migrations table and the base tables exist: one statement
/// that reads only the catalogs. It scans `pg_class` under the statement's
/// snapshot rather than calling `to_regclass`, whose cached lookups can be
/// stale inside a transaction (after waiting for the migration lock while
/// another session migrated) and are not one snapshot within a statement.
const TABLES: &str = "SELECT
      EXISTS (SELECT 1 FROM pg_class WHERE relname = '__diesel_schema_migrations'
              AND pg_table_is_visible(oid)) AS recorded,
      EXISTS (SELECT 1 FROM pg_class WHERE relname IN ('users', 'tasks')
              AND relkind IN ('r', 'p') AND pg_table_is_visible(oid)) AS has_tables";

/// The applied versions and when each was applied (the table must exist).
const VERSIONS: &str =
    "SELECT version::text AS version, run_on FROM __diesel_schema_migrations ORDER BY version";

/// What is recorded and what exists, read without creating anything (this
/// must work for a read-only role).
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Applied versions, oldest first; `None` without a migrations table.
    pub applied: Option<Vec<String>>,
    /// When each applied version was applied, in the same order.
    pub run_on: Vec<chrono::NaiveDateTime>,
    /// Whether either table of the base schema exists.
    pub has_tables: bool,
}

impl State {
    pub fn applied(&self) -> &[String] {
        self.applied.as_deref().unwrap_or_default()
    }

    /// Known migrations not applied, oldest first.
    pub fn pending(&self) -> Vec<Known> {
        pending(self.applied())
    }

    /// See [`unmanaged`].
    pub fn unmanaged(&self) -> bool {
        unmanaged(self.applied(), self.has_tables)
    }
}

/// Reads the [`State`]: one round trip, two when the migrations table
/// exists.
pub fn state(conn: &mut PgConn) -> QueryResult<State> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        recorded: bool,
        #[diesel(sql_type = Bool)]
        has_tables: bool,
    }
    let r: Row = diesel::sql_query(TABLES).get_result(conn)?;
    let rows = if r.recorded {
        Some(applied_rows(conn)?)
    } else {
        None
    };
    Ok(State {
        run_on: rows.iter().flatten().map(|(_, at)| *at).collect(),
        applied: rows.map(|rows| rows.into_iter().map(|(v, _)| v).collect()),
        has_tables: r.has_tables,
    })
}

/// Applied versions, oldest first, from an existing migrations table.
pub fn versions(conn: &mut PgConn) -> QueryResult<Vec<String>> {
    Ok(applied_rows(conn)?.into_iter().map(|(v, _)| v).collect())
}

/// Applied versions with when each was applied (UTC), oldest first.
fn applied_rows(conn: &mut PgConn) -> QueryResult<Vec<(String, chrono::NaiveDateTime)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        version: String,
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        run_on: chrono::NaiveDateTime,
    }
    let rows: Vec<Row> = diesel::sql_query(VERSIONS).load(conn)?;
    Ok(rows.into_iter().map(|r| (r.version, r.run_on)).collect())
}

/// Tables of the base schema exist but the base migration is not recorded:
/// another program (the web backend) created them; adopt with `--baseline`.
pub fn unmanaged(applied: &[String], has_tables: bool) -> bool {
    has_tables && !applied.iter().any(|v| v == BASE_VERSION)
}

/// Whether both tables of the base schema exist.
pub fn has_both_tables(conn: &mut PgConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::sql::<Bool>(
        "to_regclass('users') IS NOT NULL AND to_regclass('tasks') IS NOT NULL",
    ))
    .get_result(conn)
}

/// Known migrations not yet applied, oldest first.
pub fn pending(applied: &[String]) -> Vec<Known> {
    known()
        .into_iter()
        .filter(|k| !applied.contains(&k.version))
        .collect()
}

/// Takes the migration lock without waiting: true when taken. One round
/// trip. Nobody waits for the migration lock inside a statement: a
/// concurrent index build waits for every snapshot older than itself, and
/// a statement waiting for the lock its own run holds would have one (a
/// deadlock). Waiters poll instead ([`poll_lock`]).
pub(super) fn try_lock(conn: &mut PgConn, scope: LockScope) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        got: bool,
    }
    let sql = match scope {
        LockScope::Transaction => "SELECT pg_try_advisory_xact_lock($1) AS got",
        LockScope::Session => "SELECT pg_try_advisory_lock($1) AS got",
    };
    let row: Row = diesel::sql_query(sql)
        .bind::<BigInt, _>(LOCK_KEY)
        .get_result(conn)?;
    Ok(row.got)
}

/// How long the migration lock is held.
#[derive(Debug, Clone, Copy)]
pub(super) enum LockScope {
    Transaction,
    Session,
}

/// Calls `attempt` until it returns `Some`, pausing between attempts
/// (50 ms, doubling up to 500 ms) until `lock_timeout` has passed; then
/// the migration lock's holder is named ([`MigrateError::LockBusy`]).
pub(super) fn poll_lock<T>(
    conn: &mut PgConn,
    lock_timeout: Duration,
    mut attempt: impl FnMut(&mut PgConn) -> Result<Option<T>, MigrateError>,
) -> Result<T, MigrateError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        if let Some(value) = attempt(conn)? {
            return Ok(value);
        }
        let elapsed = start.elapsed();
        if elapsed >= lock_timeout {
            return Err(MigrateError::LockBusy {
                holder: brief::advisory_holder(conn, LOCK_KEY)
                    .ok()
                    .flatten()
                    .map(Box::new),
                tries: None,
            });
        }
        std::thread::sleep(pause.min(lock_timeout - elapsed));
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Runs `f` in one transaction holding the migration lock, with
/// `lock_timeout` applying to every statement's locks; the lock itself is
/// polled for up to `lock_timeout` ([`try_lock`]).
pub(super) fn locked<T>(
    conn: &mut PgConn,
    lock_timeout: Duration,
    f: impl FnOnce(&mut PgConn) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    let mut f = Some(f);
    poll_lock(conn, lock_timeout, |conn| {
        // Index builds over every row are long work: no statement timeout
        // of the role's cuts them short (lock waits keep `lock_timeout`).
        super::untimed(conn, super::Begin::ReadWrite, |conn| {
            super::set_lock_timeout(conn, lock_timeout)?;
            if !try_lock(conn, LockScope::Transaction)? {
                return Ok(None);
            }
            let f = f.take().ok_or(MigrateError::Changed)?;
            f(conn).map(Some)
        })
    })
}

/// What the first, transactional phase of a run decided.
enum Phase {
    /// Everything pending was applied (these versions), or nothing was.
    Done(Vec<String>),
    /// The tables hold rows: apply these online; `earlier` were applied
    /// already (the base migration a baseline recorded).
    Online {
        earlier: Vec<String>,
        pending: Vec<Known>,
    },
}

/// Applies all pending migrations; returns the versions applied. Refuses a
/// schema created by someone else (see [`baseline`]).
///
/// Nothing pending is the common case, found without a transaction or a
/// lock ([`state`]: two round trips); otherwise the state is read again
/// under the migration lock. Where the tables hold no rows everything runs
/// in that one transaction; otherwise online, step by step ([`online`]).
pub fn run(
    conn: &mut PgConn,
    limits: Limits,
    observe: &mut dyn FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    let before = state(conn)?;
    if before.applied.is_some() && !before.unmanaged() && before.pending().is_empty() {
        return Ok(Vec::new());
    }
    let phase = locked(conn, limits.lock_timeout, |conn| {
        let now = state(conn)?;
        if now.unmanaged() {
            return Err(MigrateError::Unmanaged);
        }
        first_phase(conn, Vec::new(), now.pending())
    })?;
    finish(conn, phase, limits, observe)
}

/// In the first phase's transaction: creates the migrations table, and
/// applies `pending` at once where the tables hold no rows.
fn first_phase(
    conn: &mut PgConn,
    earlier: Vec<String>,
    pending: Vec<Known>,
) -> Result<Phase, MigrateError> {
    if pending.is_empty() {
        return Ok(Phase::Done(earlier));
    }
    diesel::sql_query(diesel::migration::CREATE_MIGRATIONS_TABLE).execute(conn)?;
    if !online::tables_empty(conn)? {
        return Ok(Phase::Online { earlier, pending });
    }
    let sources = sources(&pending);
    online::in_one_transaction(conn, &sources, online::Direction::Up)?;
    let mut done = earlier;
    done.extend(pending.into_iter().map(|k| k.version));
    Ok(Phase::Done(done))
}

fn finish(
    conn: &mut PgConn,
    phase: Phase,
    limits: Limits,
    observe: &mut dyn FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    match phase {
        Phase::Done(done) => Ok(done),
        Phase::Online {
            mut earlier,
            pending,
        } => {
            let sources = sources(&pending);
            earlier.extend(online::run(
                conn,
                &sources,
                online::Direction::Up,
                limits,
                observe,
            )?);
            Ok(earlier)
        }
    }
}

/// This build's sources of `known` migrations.
fn sources(known: &[Known]) -> Vec<&'static steps::Source> {
    known
        .iter()
        .filter_map(|k| steps::source(&k.version))
        .collect()
}

/// Adopts a schema that the web backend created: checks it against SPEC §1,
/// records the base migration as applied, then applies the others (which add
/// the extras that are missing). Returns the versions applied after the base.
/// On an already managed database it just applies what is pending.
pub fn baseline(
    conn: &mut PgConn,
    limits: Limits,
    observe: &mut dyn FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    let phase = locked(conn, limits.lock_timeout, |conn| {
        let now = state(conn)?;
        if !now.applied().iter().any(|v| v == BASE_VERSION) {
            if !now.has_tables {
                return Err(MigrateError::NothingToBaseline);
            }
            let diffs = conformance::base_schema_differences(conn)?;
            if !diffs.is_empty() {
                return Err(MigrateError::Mismatch(diffs));
            }
            diesel::sql_query(diesel::migration::CREATE_MIGRATIONS_TABLE).execute(conn)?;
            diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ($1)")
                .bind::<Text, _>(BASE_VERSION)
                .execute(conn)?;
        }
        let mut applied = now.applied().to_vec();
        applied.push(BASE_VERSION.to_string());
        first_phase(conn, Vec::new(), pending(&applied))
    })?;
    finish(conn, phase, limits, observe)
}

#[cfg(test)]
mod tests {
    /// Migrations are ASCII, comments included: a database whose encoding
    /// is not UTF-8 (LATIN1, …) refuses a statement holding a character it
    /// lacks, and a migration is sent as one statement (issue 43).
    #[test]
    fn migrations_are_ascii() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut checked = 0;
        for version in std::fs::read_dir(&dir).unwrap() {
            for file in std::fs::read_dir(version.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                let text = std::fs::read(&path).unwrap();
                if let Some(at) = text.iter().position(|b| !b.is_ascii()) {
                    panic!("{}: a non-ASCII byte at {at}", path.display());
                }
                checked += 1;
            }
        }
        assert!(checked >= 10, "{checked} files");
    }
}
