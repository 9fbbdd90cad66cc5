//! `db health` (SPEC §7): read-only checks, each OK / WARN / FAIL with a
//! detail. Two round trips after connecting: one statement measures
//! everything ([`measure`]: catalogs, settings, statistics views), then the
//! applied migrations are read (or, when that table is missing or
//! unreadable, `SELECT 1`), which also times the round trip. A read-only
//! role that owns nothing can run it; where the role may not read
//! `__diesel_schema_migrations` or `tasks_id_seq`, the check is a WARN
//! naming the grant it lacks. When the measuring statement fails, the
//! report is the connection and one FAIL with the reason.
//!
//! Thresholds:
//! - round trip: WARN above 100 ms;
//! - server version: WARN below PostgreSQL 13;
//! - migrations: WARN when any is pending or the schema is not managed by
//!   todo; FAIL when there is no schema;
//! - schema: FAIL when a table, column, documented index or the cascading
//!   foreign key is missing or different; WARN when an extra (check
//!   constraints, triggers, `lower(email)` index) is missing, or an index
//!   on the tables is INVALID or a constraint NOT VALID (an interrupted
//!   online migration, SPEC §21: named);
//! - connections: WARN at 80 % of `max_connections` (minus the slots
//!   ordinary roles cannot use: `superuser_reserved_connections` and, on 16+,
//!   `reserved_connections`), FAIL at 95 %;
//! - wraparound: WARN when the oldest database's `age(datfrozenxid)` reaches
//!   500 million, FAIL at 1.5 billion (the hard stop is near 2.1 billion);
//! - `tasks_id_seq` (int4): WARN at 75 % of 2 147 483 647 used, FAIL at 90 %;
//! - `tasks` dead tuples: WARN above 20 % dead with more than 10 000 dead;
//! - cache hit ratio: WARN below 90 % once 10 000 blocks were read;
//! - unused indexes: informational (always OK), non-unique indexes of
//!   users/tasks never scanned since statistics were reset;
//! - sessions, locks, size, row-level security, replication: see
//!   [`activity`].

use crate::db::PgConn;
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::migrate;

mod activity;
mod checks;
mod measure;

use checks::{
    cache_hit, connection, connections, migrations, schema, sequence, server_version,
    unused_indexes, vacuum, wraparound,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What would fix it, for the command layer to word (the data layer
    /// names no command).
    pub remedy: Option<Remedy>,
}

/// A fix a check points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Apply the pending migrations.
    Migrate,
    /// Adopt tables created by other means.
    Baseline,
}

impl Check {
    fn with_remedy(mut self, remedy: Remedy) -> Check {
        self.remedy = Some(remedy);
        self
    }

    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            remedy: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    /// Whether the tables of SPEC §1 are missing.
    pub schema_missing: bool,
}

impl Report {
    pub fn status(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok)
    }
}

pub const SEQ_MAX: i64 = i32::MAX as i64;

/// Dead tuples above which a table needs VACUUM: more than this many ...
pub const DEAD_ROWS_MIN: i64 = 10_000;
/// ... and more than this share of its rows (percent). `db health` warns,
/// `db maintain` vacuums: one place decides.
pub const DEAD_ROWS_PCT: f64 = 20.0;

/// Whether a table with these live and dead tuples needs VACUUM.
pub fn needs_vacuum(live: i64, dead: i64) -> bool {
    let pct = dead as f64 * 100.0 / (live + dead).max(1) as f64;
    dead > DEAD_ROWS_MIN && pct > DEAD_ROWS_PCT
}

/// Whether a table's statistics are stale: as many changes since the last
/// analyze as [`needs_vacuum`] counts dead tuples, or never analyzed with rows.
pub fn needs_analyze(live: i64, modified: i64, analyzed: bool) -> bool {
    let pct = modified as f64 * 100.0 / live.max(1) as f64;
    (!analyzed && live > 0) || (modified > DEAD_ROWS_MIN && pct > DEAD_ROWS_PCT)
}

/// Runs every check on an open connection (two round trips). `connected_in`
/// is how long the connection took; `target` is the masked `user@host/db`.
/// `lock_wait` tells a statement given up behind another session's lock
/// (and says who held it): then the measurements are taken again without
/// the schema catalogs (one round trip more), and the schema check is the
/// FAIL that says why.
pub fn run(
    conn: &mut PgConn,
    target: &str,
    connected_in: Duration,
    lock_wait: &dyn Fn(&diesel::result::Error) -> Option<String>,
) -> Report {
    let mut unchecked = None;
    let measured = match measure::measure(conn, true) {
        Err(e) => match lock_wait(&e) {
            Some(why) => {
                unchecked = Some(why);
                // When the server's lock_timeout beat the lock watchdog to
                // the first statement, the watchdog's one cancel can land on
                // this one: it cancels once only, so once more.
                match measure::measure(conn, false) {
                    Err(e) if lock_wait(&e).is_some() => measure::measure(conn, false),
                    other => other,
                }
            }
            None => Err(e),
        },
        ok => ok,
    };
    let started = Instant::now();
    let second = match &measured {
        Ok(m) if m.recorded && m.recorded_readable => migrate::versions(conn),
        _ => diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| Vec::new()),
    };
    let round_trip = started.elapsed();
    let mut report = Report::default();
    report
        .checks
        .push(connection(target, connected_in, round_trip));
    let m = match measured {
        Ok(m) => m,
        Err(e) => {
            report.checks.push(Check::new(
                "measurements",
                Status::Fail,
                format!("check failed: {e}"),
            ));
            return report;
        }
    };
    report.checks.push(server_version(&m));
    report.checks.push(match &second {
        Ok(applied) => migrations(&m, applied),
        Err(e) => Check::new("migrations", Status::Fail, format!("check failed: {e}")),
    });
    report.checks.push(schema(&m, unchecked.as_deref()));
    report.checks.push(connections(&m));
    report.checks.push(wraparound(&m));
    if m.both_tables {
        report.checks.push(sequence(&m));
        report.checks.push(vacuum(&m));
    }
    report.checks.push(cache_hit(&m));
    if m.both_tables {
        report.checks.push(unused_indexes(&m));
    }
    report.checks.extend(activity::checks(&m.activity));
    report.schema_missing = !m.both_tables;
    report
}
