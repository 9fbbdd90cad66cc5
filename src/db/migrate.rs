//! Migrations (SPEC §4a): embedded in the binary, applied in one outer
//! transaction that first takes a transaction-scoped advisory lock (so
//! concurrent runs serialise, also through a transaction pooler) under a
//! `lock_timeout` (so the web app is never stalled for long).

use crate::db::PgConn;
use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::conformance;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

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
    /// Any other error reported by diesel_migrations.
    Other(String),
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Db(e) => write!(f, "{e}"),
            MigrateError::Unmanaged => f.write_str("the tables exist but no migration is recorded"),
            MigrateError::NothingToBaseline => f.write_str("nothing to baseline"),
            MigrateError::Mismatch(d) => write!(f, "the schema differs: {}", d.join("; ")),
            MigrateError::UnknownVersion(v) => write!(f, "unknown migration {v}"),
            MigrateError::HasRows => f.write_str("the tables hold rows"),
            MigrateError::Changed => f.write_str("the applied migrations changed"),
            MigrateError::Other(msg) => f.write_str(msg),
        }
    }
}

impl From<diesel::result::Error> for MigrateError {
    fn from(err: diesel::result::Error) -> Self {
        MigrateError::Db(err)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for MigrateError {
    fn from(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        let err = match err.downcast::<diesel::result::Error>() {
            Ok(db) => return MigrateError::Db(*db),
            Err(other) => other,
        };
        // diesel_migrations wraps query errors in a private type: only the
        // message survives (the command layer classifies it by message).
        MigrateError::Other(err.to_string())
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
    let mut all: Vec<Known> = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let full = m.name().to_string();
            let version = m.name().version().to_string();
            let name = full
                .split_once('_')
                .map(|(_, n)| n.to_string())
                .unwrap_or_default();
            Known { version, name }
        })
        .collect();
    all.sort_by(|a, b| a.version.cmp(&b.version));
    all
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

/// Runs `f` in one transaction holding the migration lock, with
/// `lock_timeout` applying to the lock and to every statement's locks.
pub(super) fn locked<T>(
    conn: &mut PgConn,
    lock_timeout: Duration,
    f: impl FnOnce(&mut PgConn) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    // Index builds over every row are long work: no statement timeout of
    // the role's cuts them short (lock waits keep `lock_timeout`).
    super::untimed(conn, super::Begin::ReadWrite, |conn| {
        super::set_lock_timeout(conn, lock_timeout)?;
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(LOCK_KEY)
            .execute(conn)?;
        f(conn)
    })
}

/// Applies all pending migrations; returns the versions applied. Refuses a
/// schema created by someone else (see [`baseline`]).
///
/// Nothing pending is the common case, found without a transaction or a
/// lock ([`state`]: two round trips); otherwise the state is read again
/// under the migration lock, in the transaction that migrates.
pub fn run(conn: &mut PgConn, lock_timeout: Duration) -> Result<Vec<String>, MigrateError> {
    // Only "nothing pending" is decided without the lock; anything else
    // (an unmanaged schema included) is read again under it, where no
    // other migration can be half-way.
    let before = state(conn)?;
    if before.applied.is_some() && !before.unmanaged() && before.pending().is_empty() {
        return Ok(Vec::new());
    }
    locked(conn, lock_timeout, |conn| {
        if state(conn)?.unmanaged() {
            return Err(MigrateError::Unmanaged);
        }
        apply_pending(conn)
    })
}

fn apply_pending(conn: &mut PgConn) -> Result<Vec<String>, MigrateError> {
    let done = conn.run_pending_migrations(MIGRATIONS)?;
    Ok(done.iter().map(|v| v.to_string()).collect())
}

/// Adopts a schema that the web backend created: checks it against SPEC §1,
/// records the base migration as applied, then applies the others (which add
/// the extras that are missing). Returns the versions applied after the base.
/// On an already managed database it just applies what is pending.
pub fn baseline(conn: &mut PgConn, lock_timeout: Duration) -> Result<Vec<String>, MigrateError> {
    locked(conn, lock_timeout, |conn| {
        let now = state(conn)?;
        if !now.applied().iter().any(|v| v == BASE_VERSION) {
            if !now.has_tables {
                return Err(MigrateError::NothingToBaseline);
            }
            let diffs = conformance::base_schema_differences(conn)?;
            if !diffs.is_empty() {
                return Err(MigrateError::Mismatch(diffs));
            }
            // Creates the migrations table if needed.
            conn.applied_migrations()?;
            diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ($1)")
                .bind::<Text, _>(BASE_VERSION)
                .execute(conn)?;
        }
        apply_pending(conn)
    })
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
