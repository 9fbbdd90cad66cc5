//! `db seed` (SPEC §6): COPY of deterministic sample rows in one
//! transaction, serialised by an advisory lock. Seed users are keyed by N
//! (`seed-user-N@seed.example`): existing ones are left alone with their
//! tasks, missing ones are added with theirs. Rows stream to the server
//! (bounded memory) in COPY's binary format, grouped by user.
//!
//! When `tasks` is empty and the load is large, the secondary indexes and
//! the foreign key of `tasks` are dropped and rebuilt inside the same
//! transaction ([`super::fast_path`]); if another session holds their
//! locks, the plain load runs instead.

use crate::db::PgConn;
use std::io::{BufWriter, Write};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::fast_path::{self, FastPath};
use crate::backup_file::binary;
use crate::sample;

/// Advisory lock key serialising seeds: the bytes of "todoseed".
pub const LOCK_KEY: i64 = 0x746f_646f_7365_6564;

/// Below this many tasks the index rebuild is not worth a table lock.
pub const REBUILD_THRESHOLD: u64 = 20_000;

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub users: u64,
    pub tasks_per_user: u64,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub users_created: u64,
    pub tasks_created: u64,
    /// Seed users that already existed and were left alone.
    pub users_existing: u64,
    /// A rebuild was due (many tasks) but another session held `tasks`,
    /// so the rows went in with its indexes in place.
    pub indexes_kept: bool,
    /// The lowest number of a seed user created (for an example).
    pub first_created: Option<u64>,
}

#[derive(QueryableByName)]
struct Email {
    #[diesel(sql_type = Text)]
    email: String,
}

fn io_err(e: std::io::Error) -> diesel::result::Error {
    diesel::result::Error::SerializationError(Box::new(e))
}

/// Runs the seed; `progress(tasks_written, tasks_to_write)` is called as
/// rows stream (the total counts only the seed users that are missing).
pub fn run(
    conn: &mut PgConn,
    plan: Plan,
    lock_timeout: Duration,
    progress: &dyn Fn(u64, u64),
) -> QueryResult<Outcome> {
    conn.transaction(|conn| {
        // Wait for a concurrent seed as long as it takes; then bound every
        // table lock, so the web app is never stalled for long.
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(LOCK_KEY)
            .execute(conn)?;
        super::set_lock_timeout(conn, lock_timeout)?;
        let existing: Vec<Email> = diesel::sql_query(
            "SELECT email FROM users WHERE email LIKE 'seed-user-%@seed.example'",
        )
        .load(conn)?;
        let mut have = vec![false; plan.users as usize + 1];
        for e in &existing {
            if let Some(n) = sample::number(&e.email).filter(|n| *n <= plan.users) {
                have[n as usize] = true;
            }
        }
        let mut missing: Vec<u64> = (1..=plan.users).filter(|n| !have[*n as usize]).collect();
        // In the order of their ids as text (seed-user-1, -10, -100, …), so
        // inserts into the B-trees keyed by id/user_id/email append instead
        // of splitting pages all over the index.
        missing.sort_by_cached_key(|n| sample::user_id(*n));
        let mut outcome = Outcome {
            users_existing: plan.users - missing.len() as u64,
            first_created: missing.iter().min().copied(),
            ..Outcome::default()
        };
        if missing.is_empty() {
            return Ok(outcome);
        }
        let total = missing.len() as u64 * plan.tasks_per_user;
        progress(0, total);
        let progress = |written| progress(written, total);

        let big = missing.len() as u64 * plan.tasks_per_user >= REBUILD_THRESHOLD;
        // Into tables that hold rows the plain load is the one to run: asked
        // first without the fast path's locks, so a reader of the table
        // costs no wait for them (nor a note that it did).
        let rebuild = if big && tables_empty(conn)? {
            let taken = fast_path::take(conn, lock_timeout, FastPath::TasksSecondary)?;
            outcome.indexes_kept = matches!(taken, fast_path::Taken::Locked);
            taken.dropped()
        } else {
            None
        };

        outcome.users_created = copy_users(conn, plan.seed, &missing)? as u64;
        outcome.tasks_created = copy_tasks(conn, plan, &missing, &progress)? as u64;

        if let Some(dropped) = rebuild {
            fast_path::rebuild(conn, &dropped, outcome.tasks_created)?;
        }
        Ok(outcome)
    })
}

/// Whether `tasks` and `users` hold no row (a reader's lock does not block
/// it): only then does a seed take the fast path's locks, which block the
/// application's writes for the whole load (SPEC §21: on a database with
/// rows, a seed takes no lock that blocks the application). Asked before
/// the seed adds its users.
const TABLES_EMPTY: &str =
    "SELECT NOT EXISTS (SELECT FROM tasks) AND NOT EXISTS (SELECT FROM users) AS empty";

fn tables_empty(conn: &mut PgConn) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Empty {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        empty: bool,
    }
    Ok(diesel::sql_query(TABLES_EMPTY)
        .get_result::<Empty>(conn)?
        .empty)
}

fn copy_users(conn: &mut PgConn, seed: u64, missing: &[u64]) -> QueryResult<usize> {
    conn.copy_in(super::columns::USERS_IN_BINARY, |sink: &mut dyn Write| {
        let mut out = BufWriter::with_capacity(64 * 1024, sink);
        out.write_all(binary::HEADER).map_err(io_err)?;
        for n in missing {
            sample::write_user(&mut out, seed, *n).map_err(io_err)?;
        }
        out.write_all(binary::TRAILER).map_err(io_err)?;
        out.flush().map_err(io_err)
    })
}

fn copy_tasks(
    conn: &mut PgConn,
    plan: Plan,
    missing: &[u64],
    progress: &dyn Fn(u64),
) -> QueryResult<usize> {
    let mut written = 0u64;
    conn.copy_in(
        super::columns::NEW_TASKS_IN_BINARY,
        |sink: &mut dyn Write| {
            let mut out = BufWriter::with_capacity(256 * 1024, sink);
            out.write_all(binary::HEADER).map_err(io_err)?;
            for n in missing {
                sample::write_tasks(&mut out, plan.seed, *n, plan.tasks_per_user)
                    .map_err(io_err)?;
                written += plan.tasks_per_user;
                if n % 256 == 0 {
                    progress(written);
                }
            }
            out.write_all(binary::TRAILER).map_err(io_err)?;
            out.flush().map_err(io_err)?;
            progress(written);
            Ok(())
        },
    )
}

/// Deletes the seed users (by their email pattern) and, by cascade, their
/// tasks. Returns (users, tasks) deleted.
/// What `db seed --clean` removed, or the tables row-level security
/// filters for this role (then nothing was removed: a count it could not
/// see whole would be a false one, SPEC §17).
pub enum Cleaned {
    Removed { users: i64, tasks: i64 },
    RowSecurity(Vec<String>),
}

/// Removes the seed-owned users (and by cascade their tasks). Round trips:
/// the advisory lock, the lock timeout, then one statement that checks
/// row-level security and deletes only when none applies.
pub fn clean(conn: &mut PgConn, lock_timeout: Duration) -> QueryResult<Cleaned> {
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = Text)]
        hidden: String,
        #[diesel(sql_type = BigInt)]
        users: i64,
        #[diesel(sql_type = BigInt)]
        tasks: i64,
    }
    conn.transaction(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(LOCK_KEY)
            .execute(conn)?;
        super::set_lock_timeout(conn, lock_timeout)?;
        let c: Counts = diesel::sql_query(concat!(
            "WITH h AS (SELECT ",
            super::rls::row_security_tables!(),
            " AS hidden),
             d AS (DELETE FROM users WHERE email ~ '^seed-user-[1-9][0-9]*@seed\\.example$'
                     AND (SELECT hidden FROM h) = ''
                   RETURNING id)
             SELECT (SELECT hidden FROM h) AS hidden, (SELECT count(*) FROM d) AS users,
                    (SELECT count(*) FROM tasks WHERE user_id IN (SELECT id FROM d)) AS tasks"
        ))
        .get_result(conn)?;
        Ok(if c.hidden.is_empty() {
            Cleaned::Removed {
                users: c.users,
                tasks: c.tasks,
            }
        } else {
            Cleaned::RowSecurity(super::rls::split_tables(&c.hidden))
        })
    })
}
