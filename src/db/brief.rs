//! Statements that need a strong table lock briefly (SPEC §21): each try
//! waits for its locks at most the lock budget, so that it never sits in
//! the lock queue in front of the application's reads and writes for
//! longer than that, and is retried after a growing, jittered pause until
//! the command's `--lock-timeout` has passed.
//!
//! A lock request waiting in PostgreSQL's queue blocks every later
//! conflicting request, even ones compatible with the current holders: a
//! 1 ms `ALTER TABLE` waiting 10 s behind a long report would stall every
//! request of the web application for those 10 s. With tries of 0.5 s the
//! application waits at most 0.5 s at a time.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text};

use super::PgConn;

/// How long one try may wait for its locks (SPEC §21's lock budget).
pub const BUDGET: Duration = Duration::from_millis(500);

/// The first pause between tries; each later one doubles, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// The transaction of one try: no statement timeout of the role's cuts the
/// work short, its lock waits are limited by `lock_timeout` (set after).
const BEGIN: &str = "BEGIN; SET LOCAL statement_timeout = 0; \
                     SET LOCAL idle_in_transaction_session_timeout = 0";

/// An error that may be a lock wait given up (SQLSTATE 55P03).
pub trait LockWait {
    fn is_lock_timeout(&self) -> bool;
}

impl LockWait for diesel::result::Error {
    fn is_lock_timeout(&self) -> bool {
        super::is_lock_timeout(self)
    }
}

/// How the tries went, for the message when they all failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tries {
    pub count: u32,
    pub waited: Duration,
}

/// Runs `f` in a transaction whose lock waits last at most `budget`
/// (`lock_timeout`, `SET LOCAL`: safe through a transaction pooler),
/// again after a pause while it fails for a lock, until `total` has
/// passed. Returns the last error and the tries when it gives up. Two
/// round trips per try beyond `f`'s (BEGIN with its settings, the
/// `lock_timeout`), one for the COMMIT.
pub fn retry<T, E, F>(
    conn: &mut PgConn,
    budget: Duration,
    total: Duration,
    mut f: F,
) -> Result<T, (E, Tries)>
where
    F: FnMut(&mut PgConn) -> Result<T, E>,
    E: From<diesel::result::Error> + LockWait,
{
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut count = 0;
    loop {
        count += 1;
        let left = total.saturating_sub(start.elapsed());
        let wait = budget.min(left).max(Duration::from_millis(1));
        let result = super::conn::transaction_as(conn, BEGIN, |conn| {
            super::set_lock_timeout(conn, wait)?;
            f(conn)
        });
        match result {
            Err(e) if e.is_lock_timeout() => {
                let elapsed = start.elapsed();
                let tries = Tries {
                    count,
                    waited: elapsed,
                };
                if elapsed >= total {
                    return Err((e, tries));
                }
                let sleep = jitter(pause).min(total - elapsed);
                std::thread::sleep(sleep);
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(e) => {
                return Err((
                    e,
                    Tries {
                        count,
                        waited: start.elapsed(),
                    },
                ))
            }
            Ok(value) => return Ok(value),
        }
    }
}

/// `pause` scaled by a factor in [0.5, 1.5): concurrent retriers spread
/// out instead of queueing again together.
fn jitter(pause: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // A multiplicative hash of the clock's low bits: spread, not secret.
    let spread = (nanos.wrapping_mul(2_654_435_761) >> 16) % 1000;
    pause.mul_f64(0.5 + f64::from(spread) / 1000.0)
}

/// A session holding a lock others wait for.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct Holder {
    #[diesel(sql_type = Integer)]
    pub pid: i32,
    /// `application_name`, else the role.
    #[diesel(sql_type = Text)]
    pub app: String,
    /// Seconds since its transaction (or statement) began.
    #[diesel(sql_type = Nullable<Double>)]
    pub secs: Option<f64>,
    /// Its current or last statement, whitespace folded, 80 characters.
    #[diesel(sql_type = Nullable<Text>)]
    pub query: Option<String>,
    /// The lock mode it holds (None when not looked up by lock).
    #[diesel(sql_type = Nullable<Text>)]
    pub mode: Option<String>,
    /// The table it is on; None for an advisory lock or when not looked up
    /// by lock.
    #[diesel(sql_type = Nullable<Text>)]
    pub table: Option<String>,
}

/// The columns of a [`Holder`] from `pg_stat_activity a`, before its lock's.
macro_rules! holder_columns {
    () => {
        "a.pid, coalesce(nullif(a.application_name, ''), a.usename::text, '?') AS app,
         extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::float8 AS secs,
         left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80) AS query, "
    };
}

/// The session holding a granted lock on any of `tables` the longest
/// (others than this one): who a brief statement gave up behind. One
/// round trip.
const HOLDER: &str = concat!(
    "SELECT ",
    holder_columns!(),
    "l.mode, c.relname::text AS table
   FROM pg_locks l
   JOIN pg_class c ON c.oid = l.relation
   JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.granted AND l.pid <> pg_backend_pid() AND c.relname = ANY ($1)
    AND pg_table_is_visible(c.oid)
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  ORDER BY coalesce(a.xact_start, a.query_start) NULLS LAST, a.pid
  LIMIT 1"
);

/// See [`HOLDER`].
pub fn holder(conn: &mut PgConn, tables: &[&str]) -> QueryResult<Option<Holder>> {
    let rows: Vec<Holder> = diesel::sql_query(HOLDER)
        .bind::<Array<Text>, _>(tables)
        .load(conn)?;
    Ok(rows.into_iter().next())
}

/// The session holding the advisory lock `key` in this database (others
/// than this one). One round trip.
const ADVISORY_HOLDER: &str = concat!(
    "SELECT ",
    holder_columns!(),
    "l.mode, NULL::text AS table
   FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.pid <> pg_backend_pid()
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
  LIMIT 1"
);

/// See [`ADVISORY_HOLDER`].
pub fn advisory_holder(conn: &mut PgConn, key: i64) -> QueryResult<Option<Holder>> {
    let rows: Vec<Holder> = diesel::sql_query(ADVISORY_HOLDER)
        .bind::<BigInt, _>(key)
        .load(conn)?;
    Ok(rows.into_iter().next())
}

/// The session blocking any of the server processes `pids` (the lock
/// watchdog's question, `pg_blocking_pids`). One round trip.
const BLOCKING: &str = concat!(
    "SELECT ",
    holder_columns!(),
    "NULL::text AS mode, NULL::text AS table
   FROM pg_stat_activity a
  WHERE a.pid IN (SELECT unnest(pg_blocking_pids(p)) FROM unnest($1::int[]) p)
  ORDER BY a.pid LIMIT 1"
);

/// See [`BLOCKING`].
pub fn blocking(conn: &mut PgConn, pids: &[i32]) -> QueryResult<Option<Holder>> {
    let rows: Vec<Holder> = diesel::sql_query(BLOCKING)
        .bind::<Array<Integer>, _>(pids)
        .load(conn)?;
    Ok(rows.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_one_and_a_half() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(500) && j < Duration::from_millis(1500));
        }
    }
}
