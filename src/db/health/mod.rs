//! `db health` (SPEC §7): read-only checks, each OK / WARN / FAIL with a
//! detail. Every check runs in its own READ ONLY transaction and reads only
//! catalogs, statistics views, `__diesel_schema_migrations` and
//! `tasks_id_seq`, so a read-only role that owns nothing can run it; where
//! the role may not read the last two, the check is a WARN naming the grant
//! it lacks. A check whose query fails is reported as FAIL with the reason;
//! the other checks still run.
//!
//! Thresholds:
//! - round trip: WARN above 100 ms;
//! - server version: WARN below PostgreSQL 13;
//! - migrations: WARN when any is pending or the schema is not managed by
//!   todo; FAIL when there is no schema;
//! - schema: FAIL when a table, column, documented index or the cascading
//!   foreign key is missing or different; WARN when an extra (check
//!   constraints, triggers, `lower(email)` index) is missing;
//! - connections: WARN at 80 % of `max_connections` (minus the superuser
//!   reserve), FAIL at 95 %;
//! - wraparound: WARN when the oldest database's `age(datfrozenxid)` reaches
//!   500 million, FAIL at 1.5 billion (the hard stop is near 2.1 billion);
//! - `tasks_id_seq` (int4): WARN at 75 % of 2 147 483 647 used, FAIL at 90 %;
//! - `tasks` dead tuples: WARN above 20 % dead with more than 10 000 dead;
//! - cache hit ratio: WARN below 90 % once 10 000 blocks were read;
//! - unused indexes: informational (always OK), non-unique indexes of
//!   users/tasks never scanned since statistics were reset;
//! - sessions, locks, size, row-level security, replication: see
//!   [`activity`].

use std::time::Duration;

use diesel::prelude::*;

use super::migrate;

mod activity;
mod checks;

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
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
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

/// Runs every check on an open connection. `connected_in` is how long the
/// connection took; `target` is the masked `user@host/db`.
pub fn run(conn: &mut PgConnection, target: &str, connected_in: Duration) -> Report {
    let mut report = Report::default();
    let mut add = |check: QueryResult<Check>, name: &'static str| {
        report.checks.push(
            check.unwrap_or_else(|e| Check::new(name, Status::Fail, format!("check failed: {e}"))),
        )
    };
    add(connection(conn, target, connected_in), "connection");
    add(read_only(conn, server_version), "server_version");
    let tables = read_only(conn, migrate::has_both_tables).unwrap_or(false);
    add(read_only(conn, migrations), "migrations");
    add(read_only(conn, schema), "schema");
    add(read_only(conn, connections), "connections");
    add(read_only(conn, wraparound), "wraparound");
    if tables {
        add(read_only(conn, sequence), "tasks_id_seq");
        add(read_only(conn, vacuum), "vacuum");
    }
    add(read_only(conn, cache_hit), "cache_hit_ratio");
    if tables {
        add(read_only(conn, unused_indexes), "unused_indexes");
    }
    match read_only(conn, activity::checks) {
        Ok(checks) => report.checks.extend(checks),
        Err(e) => report.checks.push(Check::new(
            "activity",
            Status::Fail,
            format!("check failed: {e}"),
        )),
    }
    report.schema_missing = !tables;
    report
}

fn read_only<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    conn.build_transaction().read_only().run(f)
}
