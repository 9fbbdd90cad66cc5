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
    /// The table's owner, when the current role may not maintain it
    /// ([`may_maintain`]): PostgreSQL would skip the VACUUM with a warning
    /// and report success, or refuse the REINDEX.
    pub refused_for: Option<String>,
}

/// Whether the current role may VACUUM, ANALYZE and REINDEX the table
/// `c` (a `pg_class` row): on PostgreSQL 17 and later the MAINTAIN
/// privilege (owners, superusers, `pg_maintain` and grantees have it);
/// before, the table's owner (a member of the owning role), a superuser,
/// or for VACUUM and ANALYZE the database's owner. A literal, put into the
/// plan's two statements by `concat!`.
macro_rules! may_maintain {
    () => {
        "CASE WHEN current_setting('server_version_num')::int >= 170000
              THEN has_table_privilege(c.oid, 'MAINTAIN')
              ELSE pg_has_role(c.relowner, 'USAGE')
                   OR pg_has_role((SELECT datdba FROM pg_database
                                   WHERE datname = current_database()), 'USAGE')
         END"
    };
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
    #[diesel(sql_type = Bool)]
    allowed: bool,
    #[diesel(sql_type = Text)]
    owner: String,
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    quoted: String,
    #[diesel(sql_type = Bool)]
    allowed: bool,
    #[diesel(sql_type = Text)]
    owner: String,
}

/// The plan: two read-only statements, one round trip each.
pub fn plan(conn: &mut PgConn) -> QueryResult<Vec<Action>> {
    let tables: Vec<TableRow> = diesel::sql_query(concat!(
        "SELECT s.relname::text AS name, s.relid::regclass::text AS quoted,
                s.n_live_tup AS live, s.n_dead_tup AS dead, s.n_mod_since_analyze AS modified,
                (s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL) AS analyzed, ",
        may_maintain!(),
        " AS allowed, pg_get_userbyid(c.relowner)::text AS owner
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
         WHERE s.relid IN (to_regclass('users'), to_regclass('tasks'))
         ORDER BY s.relname"
    ))
    .load(conn)?;
    // REINDEX needs the table's owner before 17 (not the database's).
    let indexes: Vec<IndexRow> = diesel::sql_query(
        "SELECT x.relname::text AS name, i.indexrelid::regclass::text AS quoted,
                CASE WHEN current_setting('server_version_num')::int >= 170000
                     THEN has_table_privilege(c.oid, 'MAINTAIN')
                     ELSE pg_has_role(c.relowner, 'USAGE') END AS allowed,
                pg_get_userbyid(c.relowner)::text AS owner
         FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
              JOIN pg_class c ON c.oid = i.indrelid
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
                refused_for: (!t.allowed).then_some(t.owner),
            });
        }
    }
    for i in indexes {
        plan.push(Action {
            sql: format!("REINDEX INDEX CONCURRENTLY {}", i.quoted),
            target: i.name,
            reason: "the index is invalid (a failed concurrent build)".to_string(),
            refused_for: (!i.allowed).then_some(i.owner),
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
