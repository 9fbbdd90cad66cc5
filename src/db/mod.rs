//! Everything that talks to PostgreSQL: connections, statements, COPY,
//! migrations, health measurements. Functions here return diesel's
//! `QueryResult` (or a module error), never print, and name no command or
//! flag; the command layer decides where to connect, turns failures into
//! [`crate::error::Error`] with its wording (`commands::errors`), and
//! renders results (`output`).

pub mod append;
pub mod backup;
pub mod brief;
pub mod columns;
pub mod conformance;
pub mod conn;
pub mod fast_path;
pub mod health;
mod load;
pub mod maintain;
pub mod migrate;
mod models;
pub mod pool;
pub mod purge;
mod readahead;
pub mod references;
pub mod replica;
pub mod revert;
pub mod rls;
pub mod schema;
pub mod scratch;
pub mod seed;
pub mod stats;
pub mod task_copy;
pub mod tasks;
pub mod users;

pub use conn::PgConn;

use diesel::prelude::*;

/// Runs the DDL statement `template` with `%I` standing for `identifier`:
/// DDL takes no bind parameters, so the identifier is bound to the
/// server's `format()`, which quotes it, and the statement it returns is
/// run. Two round trips; returns the statement run.
pub(crate) fn run_ddl(conn: &mut PgConn, template: &str, identifier: &str) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Sql {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let stmt: Sql = diesel::sql_query("SELECT format($1, $2) AS sql")
        .bind::<diesel::sql_types::Text, _>(template)
        .bind::<diesel::sql_types::Text, _>(identifier)
        .get_result(conn)?;
    diesel::sql_query(&stmt.sql).execute(conn)?;
    Ok(stmt.sql)
}
pub use pool::{Conn, Pool, StatementLog};

/// The SQLSTATE (five characters, e.g. `42501`) of a database error, as
/// [`PgConn`] noted it (diesel's errors do not carry it; the error's
/// message finds it again, see [`conn::sqlstate`]). None for an error that came
/// from no server result (a lost connection). Classify errors by this,
/// never by the server's message, which follows its `lc_messages` language.
pub fn sqlstate(err: &diesel::result::Error) -> Option<String> {
    match err {
        diesel::result::Error::DatabaseError(_, info) => sqlstate_of_message(info.message()),
        _ => None,
    }
}

/// [`sqlstate`] for an error known only by its message (the server's
/// primary message, as [`conn`] noted it).
pub fn sqlstate_of_message(message: &str) -> Option<String> {
    conn::sqlstate::of(message)
}

/// How a transaction for long work begins (see [`untimed`]).
#[derive(Debug, Clone, Copy)]
pub enum Begin {
    /// `BEGIN`.
    ReadWrite,
    /// `BEGIN READ ONLY`.
    ReadOnly,
    /// `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`: one snapshot.
    Snapshot,
}

/// The settings of a transaction for long work, after its BEGIN.
macro_rules! untimed_settings {
    () => {
        "; SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0"
    };
}

impl Begin {
    fn sql(self) -> &'static str {
        match self {
            Begin::ReadWrite => concat!("BEGIN", untimed_settings!()),
            Begin::ReadOnly => concat!("BEGIN READ ONLY", untimed_settings!()),
            Begin::Snapshot => concat!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                untimed_settings!()
            ),
        }
    }
}

/// Runs `f` in a transaction for long work (a backup's reads, a purge's
/// batches, an export, migrations), set up as pg_dump sets up its session:
/// no `statement_timeout` or `idle_in_transaction_session_timeout` of the
/// role's, the database's or `$PGOPTIONS` cuts it short (lock waits keep
/// their own limit). Transaction-local (a pooler's other clients never see
/// it), and sent with the BEGIN in one round trip.
pub fn untimed<T, E, F>(conn: &mut PgConn, begin: Begin, f: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn::transaction_as(conn, begin.sql(), f)
}

/// SQLSTATEs the tool tells apart.
pub mod codes {
    /// `insufficient_privilege`: a permission the server refused.
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// `read_only_sql_transaction`: a write on a read-only server or
    /// transaction.
    pub const READ_ONLY: &str = "25006";
    /// `lock_not_available`: `lock_timeout` expired.
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    /// `query_canceled`: a cancel request (the lock watchdog's).
    pub const QUERY_CANCELED: &str = "57014";
    /// `undefined_table`: the schema is missing.
    pub const UNDEFINED_TABLE: &str = "42P01";
    /// `unique_violation`: a key that is already there.
    pub const UNIQUE_VIOLATION: &str = "23505";
    /// `untranslatable_character`: text the database's encoding (LATIN1,
    /// …) has no character for.
    pub const UNTRANSLATABLE_CHARACTER: &str = "22P05";
}

/// `SET LOCAL lock_timeout` (bound, through `set_config`): how long the
/// bulk and schema paths wait for their table locks.
pub fn set_lock_timeout(conn: &mut PgConn, timeout: std::time::Duration) -> QueryResult<()> {
    diesel::sql_query("SELECT set_config('lock_timeout', $1, true)")
        .bind::<diesel::sql_types::Text, _>(format!("{}ms", timeout.as_millis().max(1)))
        .execute(conn)
        .map(|_| ())
}

/// Whether a database error is SQLSTATE 55P03 (`lock_timeout` expired).
pub fn is_lock_timeout(err: &diesel::result::Error) -> bool {
    sqlstate(err).as_deref() == Some(codes::LOCK_NOT_AVAILABLE)
}
