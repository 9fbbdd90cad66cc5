//! `db stats` (SPEC §12): sizes, rows, vacuum and analyze times, scans,
//! deadlocks, and the slowest statements when `pg_stat_statements` is
//! installed. Read-only: three statements (four with pg_stat_statements),
//! from statistics views any role may read.

use crate::db::PgConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};

#[derive(Debug, Clone, QueryableByName)]
pub struct Database {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub deadlocks: i64,
    /// Why the slowest statements cannot be read: `not_installed` (no
    /// `pg_stat_statements` view in this database), `not_loaded` (the
    /// extension is created but the server did not preload its library,
    /// so reading the view fails) or `no_permission` (the role may not
    /// read the view); None when they can. Whether the library is loaded
    /// is told by the setting it defines when preloaded
    /// (`pg_stat_statements.max`), which any role can read:
    /// `shared_preload_libraries` itself needs `pg_read_all_settings`.
    #[diesel(sql_type = Nullable<Text>)]
    pub statements_unavailable: Option<String>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct TableStats {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub table_bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub index_bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub live_rows: i64,
    #[diesel(sql_type = BigInt)]
    pub dead_rows: i64,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_vacuum: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_autovacuum: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_analyze: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_autoanalyze: Option<NaiveDateTime>,
    #[diesel(sql_type = BigInt)]
    pub seq_scans: i64,
    #[diesel(sql_type = BigInt)]
    pub index_scans: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct IndexStats {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub table: String,
    #[diesel(sql_type = BigInt)]
    pub bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub scans: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Statement {
    #[diesel(sql_type = Text)]
    pub query: String,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    #[diesel(sql_type = Double)]
    pub mean_ms: f64,
    #[diesel(sql_type = Double)]
    pub total_ms: f64,
}

#[derive(Debug, Clone)]
pub struct Stats {
    pub database: Database,
    pub tables: Vec<TableStats>,
    pub indexes: Vec<IndexStats>,
    /// `None` when pg_stat_statements cannot be read (see
    /// [`Database::statements_unavailable`]).
    pub statements: Option<Vec<Statement>>,
}

/// How many of the slowest statements are shown.
pub const SLOWEST: i64 = 5;

pub fn read(conn: &mut PgConn) -> QueryResult<Stats> {
    super::conn::transaction_as(conn, "BEGIN READ ONLY", |conn| {
        let database: Database = diesel::sql_query(
            "SELECT current_database()::text AS name,
                    pg_database_size(current_database()) AS bytes,
                    coalesce((SELECT deadlocks FROM pg_stat_database
                              WHERE datname = current_database()), 0) AS deadlocks,
                    CASE WHEN to_regclass('pg_stat_statements') IS NULL THEN 'not_installed'
                         WHEN current_setting('pg_stat_statements.max', true) IS NULL
                              THEN 'not_loaded'
                         WHEN NOT has_table_privilege(to_regclass('pg_stat_statements'), 'SELECT')
                              THEN 'no_permission'
                    END AS statements_unavailable",
        )
        .get_result(conn)?;
        let tables: Vec<TableStats> = diesel::sql_query(
            "SELECT relname::text AS name,
                    pg_total_relation_size(relid) AS bytes,
                    pg_table_size(relid) AS table_bytes,
                    pg_indexes_size(relid) AS index_bytes,
                    n_live_tup AS live_rows, n_dead_tup AS dead_rows,
                    last_vacuum AT TIME ZONE 'UTC' AS last_vacuum,
                    last_autovacuum AT TIME ZONE 'UTC' AS last_autovacuum,
                    last_analyze AT TIME ZONE 'UTC' AS last_analyze,
                    last_autoanalyze AT TIME ZONE 'UTC' AS last_autoanalyze,
                    coalesce(seq_scan, 0) AS seq_scans, coalesce(idx_scan, 0) AS index_scans
             FROM pg_stat_user_tables
             WHERE relid IN (to_regclass('users'), to_regclass('tasks'))
             ORDER BY relname",
        )
        .load(conn)?;
        let indexes: Vec<IndexStats> = diesel::sql_query(
            "SELECT indexrelname::text AS name, relname::text AS table,
                    pg_relation_size(indexrelid) AS bytes, idx_scan AS scans
             FROM pg_stat_user_indexes
             WHERE relid IN (to_regclass('users'), to_regclass('tasks'))
             ORDER BY relname, indexrelname",
        )
        .load(conn)?;
        let statements = if database.statements_unavailable.is_none() {
            Some(
                diesel::sql_query(
                    "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query,
                            calls, mean_exec_time AS mean_ms, total_exec_time AS total_ms
                     FROM pg_stat_statements
                     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                     ORDER BY mean_exec_time DESC LIMIT $1",
                )
                .bind::<BigInt, _>(SLOWEST)
                .load(conn)?,
            )
        } else {
            None
        };
        Ok(Stats {
            database,
            tables,
            indexes,
            statements,
        })
    })
}
