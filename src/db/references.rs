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

/// See [`REFERENCING`]: one round trip.
pub fn referencing(conn: &mut PgConn) -> QueryResult<Vec<Referencing>> {
    diesel::sql_query(REFERENCING).load(conn)
}
