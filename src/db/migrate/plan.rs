//! `db migrate --plan` (SPEC §21): what the pending migrations will do,
//! read without changing anything: per step its statement, the lock it
//! takes, what that lock blocks, how long it should take and whether it
//! runs in a transaction.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::steps::{self, Kind, Lock};
use super::{online, Known};
use crate::db::PgConn;

/// Heap bytes a concurrent index build reads per millisecond (two passes
/// over the table and a sort), and what any build costs besides (its three
/// waits for other transactions). Measured on this machine kind,
/// PostgreSQL 15, 2026-12-08: `idx_tasks_user_created` over 2 M tasks
/// (160 MB) in 3.1 s, the `users` indexes over 100 k users (7.6 MB) in
/// 0.2-0.27 s.
const BUILD_BYTES_PER_MS: i64 = 50_000;
const BUILD_FIXED_MS: i64 = 100;
/// Heap bytes a validation (or a plain scan) reads per millisecond: a
/// CHECK over those 2 M tasks in 0.28 s (cached) to 0.78 s (read from
/// disk).
const SCAN_BYTES_PER_MS: i64 = 200_000;

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    pub sql: String,
    /// The lock mode, or "none".
    pub lock: &'static str,
    /// "nothing", "writes" or "reads and writes".
    pub blocks: &'static str,
    /// The table locked, when the application uses it.
    pub table: Option<String>,
    /// Rows the step reads (a build, a validation); None when it only
    /// changes the catalog (brief).
    pub rows: Option<i64>,
    /// The estimate from the table's size (0: brief).
    pub estimate_ms: i64,
    /// Whether it runs inside a transaction.
    pub transactional: bool,
    /// `-- todo: when` condition, if the step is conditional.
    pub when: Option<String>,
}

/// One pending migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub known: Known,
    pub steps: Vec<PlannedStep>,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The tables hold no rows: everything runs in one transaction.
    pub one_transaction: bool,
    pub pending: Vec<Planned>,
}

/// Rows and heap bytes of `users` and `tasks` (those that exist): one
/// round trip. Rows are the planner's estimate (`reltuples`), counted for
/// a table never analysed.
const SIZES: &str = "SELECT c.relname::text AS relname,
        CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint
             WHEN c.relname = 'users' THEN (SELECT count(*) FROM users)
             ELSE (SELECT count(*) FROM tasks) END AS rows,
        pg_relation_size(c.oid) AS bytes
   FROM pg_class c
  WHERE c.relname IN ('users', 'tasks') AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)";

#[derive(QueryableByName)]
struct Size {
    #[diesel(sql_type = Text)]
    relname: String,
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

/// The plan for `pending` (oldest first).
pub fn plan(conn: &mut PgConn, pending: &[Known]) -> QueryResult<Plan> {
    let one_transaction = online::tables_empty(conn)?;
    // SIZES names both tables: only planned when both exist.
    let sizes: Vec<Size> = if super::has_both_tables(conn)? {
        diesel::sql_query(SIZES).load(conn)?
    } else {
        Vec::new()
    };
    let size_of = |table: &Option<String>| -> (i64, i64) {
        sizes
            .iter()
            .find(|s| Some(&s.relname) == table.as_ref())
            .map_or((0, 0), |s| (s.rows, s.bytes))
    };
    let pending = pending
        .iter()
        .filter_map(|k| steps::source(&k.version).map(|s| (k, s)))
        .map(|(known, source)| Planned {
            known: known.clone(),
            steps: steps::steps(source.up)
                .into_iter()
                .map(|step| {
                    let (rows, bytes) = size_of(&step.table);
                    let (rate, fixed) = match step.kind {
                        Kind::Build { .. } => (BUILD_BYTES_PER_MS, BUILD_FIXED_MS),
                        _ => (SCAN_BYTES_PER_MS, 0),
                    };
                    let lock = if one_transaction && step.needs_session() {
                        // Without CONCURRENTLY, in the one transaction.
                        match step.kind {
                            Kind::Build { .. } => Lock::Share,
                            _ => Lock::AccessExclusive,
                        }
                    } else {
                        step.lock
                    };
                    PlannedStep {
                        sql: if one_transaction {
                            step.in_transaction()
                        } else {
                            step.sql.clone()
                        },
                        lock: lock.mode(),
                        blocks: lock.blocks(),
                        rows: step.scans.then_some(rows),
                        estimate_ms: if step.scans { fixed + bytes / rate } else { 0 },
                        transactional: one_transaction || !step.needs_session(),
                        table: step.table,
                        when: step.when,
                    }
                })
                .collect(),
        })
        .collect();
    Ok(Plan {
        one_transaction,
        pending,
    })
}
