//! Everything `db health` measures, read in one statement (one round trip)
//! as one JSON object: catalogs, settings and statistics views that any role
//! may read. Only the applied migrations are read apart (the table may be
//! missing or unreadable, which a single statement cannot survive).

use crate::db::PgConn;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::activity::{activity_query, Activity};
use crate::db::conformance::{catalog_json, Catalog};

/// The health statement, with `$catalog` for the schema catalogs (NULL: not
/// read; they need a lock on each table, see [`measure`]).
macro_rules! health_sql {
    ($catalog:expr) => {
        concat!(
    "SELECT json_build_object(
      'version_num', current_setting('server_version_num')::int,
      'version', current_setting('server_version'),
      'role', current_user,
      'recorded', to_regclass('__diesel_schema_migrations') IS NOT NULL,
      'recorded_readable',
        coalesce(has_table_privilege(to_regclass('__diesel_schema_migrations'), 'SELECT'), true),
      'any_table', to_regclass('users') IS NOT NULL OR to_regclass('tasks') IS NOT NULL,
      'both_tables', to_regclass('users') IS NOT NULL AND to_regclass('tasks') IS NOT NULL,
      'seq_readable', coalesce(has_sequence_privilege(to_regclass('tasks_id_seq'), 'SELECT'), true),
      'seq_last', (SELECT last_value FROM pg_sequences
                   WHERE sequencename = 'tasks_id_seq' AND schemaname = current_schema()),
      'connections_used',
        (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
      'max_connections', current_setting('max_connections')::bigint,
      'reserved_connections', current_setting('superuser_reserved_connections')::bigint
        + coalesce(current_setting('reserved_connections', true)::bigint, 0),
      'wraparound_age', (SELECT max(age(datfrozenxid))::bigint FROM pg_database),
      'vacuum', (SELECT json_build_object(
                   'live', n_live_tup, 'dead', n_dead_tup,
                   'ago_hours', extract(epoch FROM now() - greatest(last_vacuum, last_autovacuum))::float8 / 3600)
                 FROM pg_stat_user_tables WHERE relid = to_regclass('tasks')),
      'cache_hit', (SELECT coalesce(blks_hit, 0) FROM pg_stat_database WHERE datname = current_database()),
      'cache_read', (SELECT coalesce(blks_read, 0) FROM pg_stat_database WHERE datname = current_database()),
      'unused_indexes', (SELECT coalesce(json_agg(s.indexrelname::text ORDER BY s.indexrelname), '[]')
         FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
         WHERE s.relid IN (to_regclass('users'), to_regclass('tasks'))
           AND s.idx_scan = 0 AND NOT i.indisunique),
      'catalog', ",
    $catalog,
    ",
      'activity', (SELECT row_to_json(a) FROM (",
    activity_query!(),
    ") a)
    )::text AS health"
        )
    };
}

const HEALTH: &str = health_sql!(catalog_json!());
const HEALTH_WITHOUT_CATALOG: &str = health_sql!("NULL");

/// The `vacuum` measurements of `tasks`.
#[derive(Debug, serde::Deserialize)]
pub struct Vacuum {
    pub live: i64,
    pub dead: i64,
    /// Hours since the last (auto)vacuum; `None`: never.
    pub ago_hours: Option<f64>,
}

/// What the health statement returns.
#[derive(serde::Deserialize)]
pub struct Measurements {
    pub version_num: i32,
    pub version: String,
    pub role: String,
    /// The migrations table exists ...
    pub recorded: bool,
    /// ... and this role may read it (true when it does not exist).
    pub recorded_readable: bool,
    pub any_table: bool,
    pub both_tables: bool,
    pub seq_readable: bool,
    pub seq_last: Option<i64>,
    pub connections_used: i64,
    pub max_connections: i64,
    pub reserved_connections: i64,
    pub wraparound_age: i64,
    pub vacuum: Option<Vacuum>,
    pub cache_hit: Option<i64>,
    pub cache_read: Option<i64>,
    pub unused_indexes: Vec<String>,
    /// None when not read (see [`measure`]).
    pub catalog: Option<Catalog>,
    pub(super) activity: Activity,
}

/// Runs the health statement. `with_catalog: false` leaves out the schema
/// catalogs, whose functions (`pg_get_indexdef`, `pg_get_expr`) take a lock
/// on each table: the second try after a lock wait, so that every other
/// check is still reported.
pub fn measure(conn: &mut PgConn, with_catalog: bool) -> QueryResult<Measurements> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        health: String,
    }
    let sql = if with_catalog {
        HEALTH
    } else {
        HEALTH_WITHOUT_CATALOG
    };
    let row: Row = diesel::sql_query(sql).get_result(conn)?;
    serde_json::from_str(&row.health)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
}
