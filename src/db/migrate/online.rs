//! Running migrations online (SPEC §21): while the tables hold rows, every
//! step runs under a lock that does not block the application, or under a
//! strong lock only briefly (tried with the lock budget and retried, see
//! [`crate::db::brief`]). Each step is idempotent, so a run interrupted
//! anywhere (Ctrl-C, `kill -9`, a lost connection, a lock timeout) is
//! completed by the next one; a migration is recorded only when all its
//! steps are done.
//!
//! Where the tables hold no rows (a fresh database, an emptied one) there
//! is nothing to block: every pending migration runs in one transaction,
//! as before, which also works through a transaction pooler.
//!
//! Concurrent runs: one transaction-scoped advisory lock ([`super::LOCK_KEY`])
//! around the one-transaction path and each brief migration, the same key
//! as a session lock around the online steps (a concurrent build cannot run
//! in a transaction). A session lock needs a session, which a transaction
//! pooler does not give: through one, a migration with a step that builds,
//! drops an index or validates is refused before anything changes.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Text};

use super::steps::{self, Kind, Source, Step};
use super::MigrateError;
use crate::db::brief;
use crate::db::PgConn;

/// What the runner tells its caller as it goes (for progress on a
/// terminal).
#[derive(Debug)]
pub enum Event<'a> {
    /// A step is starting on the session with server process id `pid`.
    Step {
        version: &'a str,
        step: &'a Step,
        pid: i32,
    },
    /// The step ended (done or failed).
    StepEnd,
}

/// The limits of a run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `--lock-timeout`: how long to keep trying for a lock.
    pub lock_timeout: Duration,
    /// How long one try of a brief step may wait ([`brief::BUDGET`]).
    pub budget: Duration,
}

impl Limits {
    /// `lock_timeout` with the default lock budget.
    pub fn new(lock_timeout: Duration) -> Limits {
        Limits {
            lock_timeout,
            budget: brief::BUDGET,
        }
    }
}

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    fn sql(self, source: &Source) -> &'static str {
        match self {
            Direction::Up => source.up,
            Direction::Down => source.down,
        }
    }

    /// Records the migration as applied (up) or not (down); idempotent.
    fn record(self) -> &'static str {
        match self {
            Direction::Up => {
                "INSERT INTO __diesel_schema_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING"
            }
            Direction::Down => "DELETE FROM __diesel_schema_migrations WHERE version = $1",
        }
    }

    /// Whether the migration still has to run in this direction, read
    /// under the lock: one round trip.
    fn still_to_do(self) -> &'static str {
        match self {
            Direction::Up => {
                "SELECT NOT EXISTS (SELECT 1 FROM __diesel_schema_migrations WHERE version = $1) AS todo"
            }
            Direction::Down => {
                "SELECT EXISTS (SELECT 1 FROM __diesel_schema_migrations WHERE version = $1) AS todo"
            }
        }
    }
}

/// Whether `users` and `tasks` hold no rows (or do not exist), so that a
/// migration blocks nobody: one round trip. Rows hidden by row-level
/// security count as rows (`row_security_active`), and a table created by
/// another program is looked at as it is.
const EMPTY: &str = "SELECT coalesce(bool_and(NOT row_security_active(c.oid)
                  AND NOT (CASE c.relname WHEN 'users' THEN EXISTS (SELECT 1 FROM users)
                                          ELSE EXISTS (SELECT 1 FROM tasks) END)), true) AS empty
   FROM pg_class c
  WHERE c.relname IN ('users', 'tasks') AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)";

/// Whether both tables hold no rows. The statement names both tables, so
/// it is only planned when both exist; otherwise the existing one (if
/// any) is looked at alone.
pub fn tables_empty(conn: &mut PgConn) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        empty: bool,
    }
    #[derive(QueryableByName)]
    struct Names {
        #[diesel(sql_type = Text)]
        relname: String,
    }
    let existing: Vec<Names> = diesel::sql_query(
        "SELECT relname::text AS relname FROM pg_class
          WHERE relname IN ('users', 'tasks') AND relkind IN ('r', 'p') AND pg_table_is_visible(oid)",
    )
    .load(conn)?;
    let sql = match existing.len() {
        0 => return Ok(true),
        2 => EMPTY,
        _ if existing[0].relname == "users" => {
            "SELECT NOT row_security_active('users') AND NOT EXISTS (SELECT 1 FROM users) AS empty"
        }
        _ => {
            "SELECT NOT row_security_active('tasks') AND NOT EXISTS (SELECT 1 FROM tasks) AS empty"
        }
    };
    Ok(diesel::sql_query(sql).get_result::<Row>(conn)?.empty)
}

/// Whether this connection reaches the server through a pooler: the
/// server process libpq was told of at connect is not the one running the
/// statement (PgBouncer, Supavisor and Neon's pooler give their own). One
/// round trip.
pub fn pooled(conn: &mut PgConn) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let row: Row = diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(conn)?;
    Ok(row.pid != conn.backend_pid())
}

/// Whether every step of a migration is brief and transactional: the whole
/// migration then runs as one transaction, tried with the lock budget.
fn brief_only(steps: &[Step]) -> bool {
    steps
        .iter()
        .all(|s| s.kind == Kind::Transactional && !s.scans)
}

/// Runs every step of the `sources` in one transaction (the tables hold no
/// rows), `CONCURRENTLY` dropped, recording each. The caller holds the
/// transaction and the advisory lock.
pub(crate) fn in_one_transaction(
    conn: &mut PgConn,
    sources: &[&'static Source],
    direction: Direction,
) -> Result<(), MigrateError> {
    for source in sources {
        for step in steps::steps(direction.sql(source)) {
            run_step(conn, source, &step, &step.in_transaction())?;
        }
        diesel::sql_query(direction.record())
            .bind::<Text, _>(source.version)
            .execute(conn)?;
    }
    Ok(())
}

/// Runs the `sources` online in `direction`; returns the versions this run
/// completed. Another run may complete some meanwhile: each is done once.
pub(crate) fn run(
    conn: &mut PgConn,
    sources: &[&'static Source],
    direction: Direction,
    limits: Limits,
    observe: &mut dyn FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    let planned: Vec<(&Source, Vec<Step>)> = sources
        .iter()
        .map(|s| (*s, steps::steps(direction.sql(s))))
        .collect();
    let session_needed = planned.iter().any(|(_, steps)| !brief_only(steps));
    if session_needed && pooled(conn)? {
        let (source, steps) = planned
            .iter()
            .find(|(_, steps)| !brief_only(steps))
            .map(|(s, steps)| (*s, steps))
            .ok_or(MigrateError::Changed)?;
        let step = steps
            .iter()
            .find(|s| s.kind != Kind::Transactional || s.scans)
            .map(|s| s.sql.clone())
            .unwrap_or_default();
        return Err(MigrateError::Pooled {
            version: source.version.to_string(),
            step,
        });
    }
    if session_needed {
        session_lock(conn, limits.lock_timeout)?;
    }
    let result = run_all(conn, &planned, direction, limits, observe);
    if session_needed {
        // Also released when the session ends; an error here changes
        // nothing that was done.
        let _ = diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<BigInt, _>(super::LOCK_KEY)
            .execute(conn);
    }
    result
}

fn run_all(
    conn: &mut PgConn,
    planned: &[(&'static Source, Vec<Step>)],
    direction: Direction,
    limits: Limits,
    observe: &mut dyn FnMut(Event),
) -> Result<Vec<String>, MigrateError> {
    let mut done = Vec::new();
    for (source, steps) in planned {
        if brief_only(steps) {
            let did = brief_migration(conn, source, steps, direction, limits)?;
            if did {
                done.push(source.version.to_string());
            }
            continue;
        }
        // The session lock is held: nobody else migrates meanwhile.
        if !still_to_do(conn, source, direction)? {
            continue;
        }
        stepwise(conn, source, steps, direction, limits, observe)?;
        done.push(source.version.to_string());
    }
    Ok(done)
}

/// A migration of brief steps only: one transaction under the advisory
/// lock, tried with the lock budget. False when another run did it.
fn brief_migration(
    conn: &mut PgConn,
    source: &Source,
    steps: &[Step],
    direction: Direction,
    limits: Limits,
) -> Result<bool, MigrateError> {
    let tables = tables_of(steps);
    retry(conn, limits, &tables, |conn| {
        if !super::try_lock(conn, super::LockScope::Transaction)? {
            return Err(MigrateError::MigrationLocked);
        }
        if !still_to_do(conn, source, direction)? {
            return Ok(false);
        }
        for step in steps {
            run_step(conn, source, step, &step.sql)?;
        }
        record(conn, source, direction)?;
        Ok(true)
    })
}

/// A migration with long steps, step by step under the session lock:
/// consecutive transactional steps share one transaction, tried with the
/// lock budget (the record joins the last one); builds, drops and
/// validations run alone, waiting up to `--lock-timeout` for a lock that
/// blocks no reads or writes.
fn stepwise(
    conn: &mut PgConn,
    source: &Source,
    steps: &[Step],
    direction: Direction,
    limits: Limits,
    observe: &mut dyn FnMut(Event),
) -> Result<(), MigrateError> {
    let mut at = 0;
    while at < steps.len() {
        if steps[at].kind == Kind::Transactional {
            let end = steps[at..]
                .iter()
                .position(|s| s.kind != Kind::Transactional)
                .map_or(steps.len(), |n| at + n);
            let group = &steps[at..end];
            let last = end == steps.len();
            retry(conn, limits, &tables_of(group), |conn| {
                for step in group {
                    run_step(conn, source, step, &step.sql)?;
                }
                if last {
                    record(conn, source, direction)?;
                }
                Ok(())
            })?;
            at = end;
            continue;
        }
        let step = &steps[at];
        if condition_holds(conn, step)? {
            observe(Event::Step {
                version: source.version,
                step,
                pid: conn.backend_pid(),
            });
            let result = long_step(conn, source, step, limits);
            observe(Event::StepEnd);
            result?;
        }
        at += 1;
    }
    if steps.last().is_some_and(|s| s.kind != Kind::Transactional) {
        record(conn, source, direction)?;
    }
    Ok(())
}

/// A build, a concurrent drop or a validation: alone, with no statement
/// timeout, waiting up to `--lock-timeout` for its lock (which blocks no
/// reads or writes, so waiting in the queue stalls nobody). A build first
/// drops an INVALID index of its name, left by an interrupted build.
fn long_step(
    conn: &mut PgConn,
    source: &Source,
    step: &Step,
    limits: Limits,
) -> Result<(), MigrateError> {
    session_settings(conn, limits.lock_timeout)?;
    if let Kind::Build { index } = &step.kind {
        if invalid_index(conn, index)? {
            crate::db::run_ddl(conn, "DROP INDEX CONCURRENTLY IF EXISTS %I", index)
                .map_err(|e| in_migration(source, e))?;
        }
    }
    // Sent alone, outside a transaction block: a concurrent build or drop
    // needs that, a validation is its own transaction.
    run_sql(conn, source, &step.sql)
        .map_err(|e| busy_or(conn, e, &tables_of(std::slice::from_ref(step)), None))
}

/// Settings of the session for long steps run outside a transaction: no
/// statement timeout, lock waits up to `lock_timeout`. One round trip.
fn session_settings(conn: &mut PgConn, lock_timeout: Duration) -> QueryResult<()> {
    diesel::sql_query(
        "SELECT set_config('statement_timeout', '0', false),
                set_config('idle_in_transaction_session_timeout', '0', false),
                set_config('lock_timeout', $1, false)",
    )
    .bind::<Text, _>(format!("{}ms", lock_timeout.as_millis().max(1)))
    .execute(conn)
    .map(|_| ())
}

/// Takes the session-level migration lock, polling up to `lock_timeout`.
fn session_lock(conn: &mut PgConn, lock_timeout: Duration) -> Result<(), MigrateError> {
    session_settings(conn, lock_timeout)?;
    super::poll_lock(conn, lock_timeout, |conn| {
        Ok(super::try_lock(conn, super::LockScope::Session)?.then_some(()))
    })
}

/// Whether `index` exists and is INVALID (an interrupted concurrent build).
fn invalid_index(conn: &mut PgConn, index: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        invalid: bool,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT NOT i.indisvalid AS invalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relname = $1 AND pg_table_is_visible(c.oid)",
    )
    .bind::<Text, _>(index)
    .load(conn)?;
    Ok(rows.first().is_some_and(|r| r.invalid))
}

fn still_to_do(conn: &mut PgConn, source: &Source, direction: Direction) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        todo: bool,
    }
    let row: Row = diesel::sql_query(direction.still_to_do())
        .bind::<Text, _>(source.version)
        .get_result(conn)?;
    Ok(row.todo)
}

fn record(conn: &mut PgConn, source: &Source, direction: Direction) -> QueryResult<()> {
    diesel::sql_query(direction.record())
        .bind::<Text, _>(source.version)
        .execute(conn)
        .map(|_| ())
}

/// Whether a step's `-- todo: when` condition holds (true without one).
/// The condition is a whole query of this build's own migration files,
/// sent as written.
fn condition_holds(conn: &mut PgConn, step: &Step) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        ok: bool,
    }
    match &step.when {
        None => Ok(true),
        Some(query) => Ok(diesel::sql_query(query).get_result::<Row>(conn)?.ok),
    }
}

/// Runs `sql` (the step's statement, or its one-transaction form) when the
/// step's condition holds.
fn run_step(
    conn: &mut PgConn,
    source: &Source,
    step: &Step,
    sql: &str,
) -> Result<(), MigrateError> {
    if condition_holds(conn, step)? {
        run_sql(conn, source, sql)?;
    }
    Ok(())
}

/// Runs one statement of a migration file (its own text: DDL takes no
/// parameters).
fn run_sql(conn: &mut PgConn, source: &Source, sql: &str) -> Result<(), MigrateError> {
    diesel::sql_query(sql)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| in_migration(source, e))
}

fn in_migration(source: &Source, err: diesel::result::Error) -> MigrateError {
    MigrateError::InMigration {
        version: source.version.to_string(),
        name: source.name.to_string(),
        error: err,
    }
}

/// The application's tables a group of steps locks.
fn tables_of(steps: &[Step]) -> Vec<String> {
    let mut tables: Vec<String> = steps.iter().filter_map(|s| s.table.clone()).collect();
    if tables.is_empty() {
        tables = vec!["users".into(), "tasks".into()];
    }
    tables.sort();
    tables.dedup();
    tables
}

/// [`brief::retry`] for a migration's transaction, naming the session
/// that held the lock when every try failed.
fn retry<T>(
    conn: &mut PgConn,
    limits: Limits,
    tables: &[String],
    f: impl FnMut(&mut PgConn) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    brief::retry(conn, limits.budget, limits.lock_timeout, f)
        .map_err(|(e, tries)| busy_or(conn, e, tables, Some(tries)))
}

/// A lock wait given up becomes [`MigrateError::LockBusy`], naming who
/// holds a lock on the tables; other errors pass.
fn busy_or(
    conn: &mut PgConn,
    err: impl Into<MigrateError>,
    tables: &[String],
    tries: Option<brief::Tries>,
) -> MigrateError {
    let err = err.into();
    if !brief::LockWait::is_lock_timeout(&err) {
        return err;
    }
    let holder = if matches!(err, MigrateError::MigrationLocked) {
        brief::advisory_holder(conn, super::LOCK_KEY)
    } else {
        let names: Vec<&str> = tables.iter().map(String::as_str).collect();
        brief::holder(conn, &names)
    };
    MigrateError::LockBusy {
        holder: holder.ok().flatten().map(Box::new),
        tries,
    }
}

/// What an interrupted or running migration left for `db status` and
/// `db health` to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// The session holding the migration lock (a migration in progress).
    pub running: Option<i32>,
    /// INVALID indexes on `users`/`tasks` (interrupted concurrent builds).
    pub invalid_indexes: Vec<String>,
    /// NOT VALID constraints on `users`/`tasks` (validation not done).
    pub unvalidated: Vec<String>,
    /// Pending migrations part-way: for each, what of its work exists.
    pub partial: Vec<(String, Vec<Found>)>,
}

/// An object a pending migration's step makes, found in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `index` or `constraint`.
    pub kind: &'static str,
    pub name: String,
    /// False for an INVALID index or a NOT VALID constraint.
    pub valid: bool,
}

/// Catalog facts for [`Leftovers`]: one round trip. `kind` is `running`
/// (the pid holding the migration lock, as `name`), `index` / `invalid
/// index` (every index on the tables) or `constraint` / `not valid`
/// (every CHECK or foreign key on them).
const LEFTOVERS: &str = "SELECT 'running' AS kind, pid::text AS name FROM pg_locks
  WHERE locktype = 'advisory' AND granted AND objsubid = 1
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND ((classid::bigint << 32) | objid::bigint) = $1
UNION ALL
SELECT CASE WHEN i.indisvalid THEN 'index' ELSE 'invalid index' END, c.relname::text
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
 WHERE t.relname IN ('users', 'tasks') AND pg_table_is_visible(t.oid)
UNION ALL
SELECT CASE WHEN k.convalidated THEN 'constraint' ELSE 'not valid' END, k.conname::text
  FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
 WHERE k.contype IN ('c', 'f') AND t.relname IN ('users', 'tasks') AND pg_table_is_visible(t.oid)";

/// The objects the steps of `up` SQL make: indexes built, constraints
/// validated.
fn made_by(up: &str) -> Vec<(&'static str, String)> {
    steps::steps(up)
        .into_iter()
        .filter_map(|step| match step.kind {
            Kind::Build { index } => Some(("index", index)),
            Kind::Validate => step
                .sql
                .split_whitespace()
                .last()
                .map(|c| ("constraint", c.trim_end_matches(';').to_ascii_lowercase())),
            _ => None,
        })
        .collect()
}

/// Reads the [`Leftovers`], given the pending migrations.
pub fn leftovers(conn: &mut PgConn, pending: &[String]) -> QueryResult<Leftovers> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Row> = diesel::sql_query(LEFTOVERS)
        .bind::<BigInt, _>(super::LOCK_KEY)
        .load(conn)?;
    let mut out = Leftovers::default();
    let mut catalog: Vec<Found> = Vec::new();
    for row in rows {
        let (kind, valid) = match row.kind.as_str() {
            "running" => {
                out.running = row.name.parse().ok();
                continue;
            }
            "invalid index" => {
                out.invalid_indexes.push(row.name.clone());
                ("index", false)
            }
            "not valid" => {
                out.unvalidated.push(row.name.clone());
                ("constraint", false)
            }
            "index" => ("index", true),
            _ => ("constraint", true),
        };
        catalog.push(Found {
            kind,
            name: row.name,
            valid,
        });
    }
    for version in pending {
        let Some(source) = steps::source(version) else {
            continue;
        };
        let found: Vec<Found> = made_by(source.up)
            .into_iter()
            .filter_map(|(kind, name)| {
                catalog
                    .iter()
                    .find(|f| f.kind == kind && f.name == name)
                    .cloned()
            })
            .collect();
        if !found.is_empty() {
            out.partial.push((version.clone(), found));
        }
    }
    out.invalid_indexes.sort();
    out.unvalidated.sort();
    Ok(out)
}

/// Where a concurrent index build of session `pid` is
/// (`pg_stat_progress_create_index`).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct BuildProgress {
    #[diesel(sql_type = Text)]
    pub phase: String,
    #[diesel(sql_type = BigInt)]
    pub blocks_done: i64,
    #[diesel(sql_type = BigInt)]
    pub blocks_total: i64,
    #[diesel(sql_type = BigInt)]
    pub tuples_done: i64,
    #[diesel(sql_type = BigInt)]
    pub tuples_total: i64,
}

/// The progress of session `pid`'s index build, if it is building one:
/// one round trip.
pub fn build_progress(conn: &mut PgConn, pid: i32) -> QueryResult<Option<BuildProgress>> {
    let rows: Vec<BuildProgress> = diesel::sql_query(
        "SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total
           FROM pg_stat_progress_create_index WHERE pid = $1",
    )
    .bind::<Integer, _>(pid)
    .load(conn)?;
    Ok(rows.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_base_migrations_down_and_the_trigger_free_ones_are_brief() {
        let brief: Vec<(&str, bool, bool)> = steps::SOURCES
            .iter()
            .map(|s| {
                (
                    s.version,
                    brief_only(&steps::steps(s.up)),
                    brief_only(&steps::steps(s.down)),
                )
            })
            .collect();
        assert_eq!(
            brief,
            vec![
                ("20261124000001", false, true),
                ("20261124000002", false, false),
                ("20261124000003", false, false),
                ("20261201000004", false, false),
                ("20261201000005", false, false),
            ]
        );
    }
}
