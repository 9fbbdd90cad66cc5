//! `db maintain` (SPEC §12): what `db health` finds and a DBA would fix by
//! hand. VACUUM (ANALYZE) of a table with many dead tuples or stale
//! statistics ([`super::health::needs_vacuum`], [`super::health::needs_analyze`]:
//! the thresholds `db health` uses), REINDEX INDEX CONCURRENTLY of an
//! invalid index (left by a failed `CREATE INDEX CONCURRENTLY`). Neither
//! runs in a transaction; both take SHARE UPDATE EXCLUSIVE locks, which
//! never block the application's reads and writes, and wait for other
//! maintenance at most `lock_timeout`.

use crate::db::PgConn;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::health::{needs_analyze, needs_vacuum};

/// One thing to do, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The SQL it runs (identifiers quoted by the catalog).
    pub sql: String,
    pub target: String,
    pub reason: String,
}

#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    quoted: String,
    #[diesel(sql_type = BigInt)]
    live: i64,
    #[diesel(sql_type = BigInt)]
    dead: i64,
    #[diesel(sql_type = BigInt)]
    modified: i64,
    #[diesel(sql_type = Bool)]
    analyzed: bool,
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    quoted: String,
}

/// The plan: two read-only statements.
pub fn plan(conn: &mut PgConn) -> QueryResult<Vec<Action>> {
    let tables: Vec<TableRow> = diesel::sql_query(
        "SELECT relname::text AS name, relid::regclass::text AS quoted,
                n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS modified,
                (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) AS analyzed
         FROM pg_stat_user_tables
         WHERE relid IN (to_regclass('users'), to_regclass('tasks'))
         ORDER BY relname",
    )
    .load(conn)?;
    let indexes: Vec<IndexRow> = diesel::sql_query(
        "SELECT c.relname::text AS name, i.indexrelid::regclass::text AS quoted
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid IN (to_regclass('users'), to_regclass('tasks'))
           AND NOT i.indisvalid
         ORDER BY 1",
    )
    .load(conn)?;
    let mut plan = Vec::new();
    for t in tables {
        let reason = if needs_vacuum(t.live, t.dead) {
            Some(format!("{} dead tuples beside {} live", t.dead, t.live))
        } else if needs_analyze(t.live, t.modified, t.analyzed) {
            Some(if t.analyzed {
                format!("{} rows changed since the last analyze", t.modified)
            } else {
                "never analyzed".to_string()
            })
        } else {
            None
        };
        if let Some(reason) = reason {
            plan.push(Action {
                sql: format!("VACUUM (ANALYZE) {}", t.quoted),
                target: t.name,
                reason,
            });
        }
    }
    for i in indexes {
        plan.push(Action {
            sql: format!("REINDEX INDEX CONCURRENTLY {}", i.quoted),
            target: i.name,
            reason: "the index is invalid (a failed concurrent build)".to_string(),
        });
    }
    Ok(plan)
}

/// Runs one action outside any transaction, waiting for locks at most
/// `lock_timeout` (a session setting here, reset afterwards: run
/// maintenance on the direct host, not through a transaction pooler).
pub fn run(conn: &mut PgConn, action: &Action, lock_timeout: Duration) -> QueryResult<()> {
    diesel::sql_query("SELECT set_config('lock_timeout', $1, false)")
        .bind::<Text, _>(format!("{}ms", lock_timeout.as_millis().max(1)))
        .execute(conn)?;
    let result = diesel::sql_query(&action.sql).execute(conn).map(|_| ());
    let reset = diesel::sql_query("RESET lock_timeout").execute(conn);
    result?;
    reset.map(|_| ())
}
