//! Tables todo does not own that reference `users` or `tasks` (SPEC §22):
//! Better Auth's `account` and `session`, a backend's own tables. Found in
//! the catalog (`pg_constraint`), whatever they are called, and counted
//! before a command would delete rows they reference.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::PgConn;

/// A table with foreign keys to `users` or `tasks`, and how many of its
/// rows reference them (a row with any such key not null).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Referencing {
    /// The table's name, schema-qualified when not on the search path.
    #[diesel(sql_type = Text)]
    pub table: String,
    #[diesel(sql_type = BigInt)]
    pub rows: i64,
}

/// Every other table's referencing rows, counted by the server: the
/// statement for each table is made by `format()` from the catalog (names
/// quoted with `%I`) and run by `query_to_xml`, so that one round trip
/// counts them all and no SQL is put together here. Tables without such
/// rows are left out.
const REFERENCING: &str = "SELECT t.shown AS table, t.n AS rows FROM (
    SELECT CASE WHEN pg_table_is_visible(c.oid) THEN c.relname::text
                ELSE n.nspname || '.' || c.relname END AS shown,
           (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I WHERE %s',
                n.nspname, c.relname,
                string_agg(format('%I IS NOT NULL', a.attname), ' OR ')), false, true, '')))[1]::text::bigint AS n
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
     WHERE k.contype = 'f'
       AND k.confrelid IN (to_regclass('users'), to_regclass('tasks'))
       AND k.conrelid NOT IN (to_regclass('users'), to_regclass('tasks'))
     GROUP BY c.oid, n.nspname, c.relname) t
  WHERE t.n > 0
  ORDER BY 1";

/// The rows of other tables that reference the user whose id is the SQL
/// expression `$id` (directly, or through the user's tasks), per table: a
/// JSON object `{"TABLE": rows}` as text (`{}` when none), counted by the
/// server as [`REFERENCING`] counts (statements made by `format()`, the
/// id quoted with `%L`). An expression, so that `user rm` counts in its
/// deleting statement: the cascade runs at the end of the statement, after
/// the count. Tables the role may not read are left out of the count (the
/// web app's least-privilege role deletes users without reading the auth
/// service's tables; the cascade runs as their owner).
macro_rules! referencing_user_sql {
    ($id:literal) => {
        concat!(
            "(SELECT coalesce(json_object_agg(t.shown, t.n ORDER BY t.shown), '{}')::text FROM (
   SELECT CASE WHEN pg_table_is_visible(c.oid) THEN c.relname::text
               ELSE n.nspname || '.' || c.relname END AS shown,
          (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I WHERE %s',
             n.nspname, c.relname,
             string_agg(CASE
               WHEN k.confrelid = to_regclass('users') AND fa.attname = 'id'
                 THEN format('%I = %L', a.attname, ",
            $id,
            ")
               WHEN k.confrelid = to_regclass('users')
                 THEN format('%I IN (SELECT %I FROM users WHERE id = %L)', a.attname, fa.attname, ",
            $id,
            ")
               ELSE format('%I IN (SELECT %I FROM tasks WHERE user_id = %L)', a.attname, fa.attname, ",
            $id,
            ")
             END, ' OR ')), false, true, '')))[1]::text::bigint AS n
     FROM pg_constraint k
     JOIN pg_class c ON c.oid = k.conrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN LATERAL unnest(k.conkey, k.confkey) AS p(col, refcol) ON true
     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = p.col
     JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = p.refcol
    WHERE k.contype = 'f'
      AND k.confrelid IN (to_regclass('users'), to_regclass('tasks'))
      AND k.conrelid NOT IN (to_regclass('users'), to_regclass('tasks'))
      AND has_table_privilege(c.oid, 'SELECT')
    GROUP BY c.oid, n.nspname, c.relname) t
  WHERE t.n > 0)"
        )
    };
}
pub(crate) use referencing_user_sql;

/// Parses [`referencing_user_sql`]'s JSON text: tables in name order.
pub fn parse_counts(json: &str) -> Vec<Referencing> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).unwrap_or_default();
    map.into_iter()
        .map(|(table, rows)| Referencing {
            table,
            rows: rows.as_i64().unwrap_or(0),
        })
        .collect()
}

/// The rows of other tables that reference the user `id` (see
/// [`referencing_user_sql`]): one round trip.
pub fn referencing_user(conn: &mut PgConn, id: &str) -> QueryResult<Vec<Referencing>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        counts: String,
    }
    let row: Row = diesel::sql_query(concat!(
        "SELECT ",
        referencing_user_sql!("$1::text"),
        " AS counts"
    ))
    .bind::<Text, _>(id)
    .get_result(conn)?;
    Ok(parse_counts(&row.counts))
}

/// See [`REFERENCING`]: one round trip.
pub fn referencing(conn: &mut PgConn) -> QueryResult<Vec<Referencing>> {
    diesel::sql_query(REFERENCING).load(conn)
}
