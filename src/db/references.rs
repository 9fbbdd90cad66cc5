//! Tables todo does not own that reference `users` or `tasks` (SPEC §22):
//! Better Auth's `account` and `session`, a backend's own tables. Found in
//! the catalog (`pg_constraint`), whatever they are called, and counted
//! before a command would delete rows they reference.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::PgConn;

/// A table with foreign keys to `users` or `tasks`, and how many of its
/// rows reference them (a row with any such key not null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referencing {
    /// The table's name, schema-qualified when not on the search path.
    pub table: String,
    pub rows: i64,
}

/// Every other table with foreign keys to `users` or `tasks`, with the
/// statement that counts its referencing rows, made by the server's
/// `format()` from the catalog (names quoted with `%I`): nothing is put
/// together here. (One statement could run them all through
/// `query_to_xml`, but a server built without libxml has no XML
/// functions.)
const REFERENCING: &str = "SELECT CASE WHEN pg_table_is_visible(c.oid) THEN c.relname::text
                ELSE n.nspname || '.' || c.relname END AS table,
           format('SELECT count(*) AS rows FROM %I.%I WHERE %s', n.nspname, c.relname,
                  string_agg(format('%I IS NOT NULL', a.attname), ' OR ')) AS count_sql
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
     WHERE k.contype = 'f'
       AND k.confrelid IN (to_regclass('users'), to_regclass('tasks'))
       AND k.conrelid NOT IN (to_regclass('users'), to_regclass('tasks'))
     GROUP BY c.oid, n.nspname, c.relname
     ORDER BY 1";

/// The tables with rows referencing `users` or `tasks`, and how many:
/// one round trip for the catalog, one per such table (none where no
/// other table has a foreign key to them).
pub fn referencing(conn: &mut PgConn) -> QueryResult<Vec<Referencing>> {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = Text)]
        table: String,
        #[diesel(sql_type = Text)]
        count_sql: String,
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        rows: i64,
    }
    let tables: Vec<Table> = diesel::sql_query(REFERENCING).load(conn)?;
    let mut out = Vec::new();
    for t in tables {
        let count: Count = diesel::sql_query(&t.count_sql).get_result(conn)?;
        if count.rows > 0 {
            out.push(Referencing {
                table: t.table,
                rows: count.rows,
            });
        }
    }
    Ok(out)
}
