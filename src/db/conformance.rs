//! Does the database hold the schema of SPEC §1? Used by
//! `db migrate --baseline` and `db health`. Reads only the catalogs, so it
//! works for a read-only role that owns nothing.

use crate::db::PgConn;
use diesel::prelude::*;
use diesel::sql_types::Text;

/// `(table, column, type, not null, default)` as the catalog shows them.
const COLUMNS: &[(&str, &str, &str, bool, Option<&str>)] = &[
    ("users", "id", "character varying(255)", true, None),
    ("users", "email", "character varying(255)", true, None),
    ("users", "name", "character varying(255)", false, None),
    (
        "users",
        "created_at",
        "timestamp without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "users",
        "updated_at",
        "timestamp without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "tasks",
        "id",
        "integer",
        true,
        Some("nextval('tasks_id_seq'::regclass)"),
    ),
    ("tasks", "title", "character varying(255)", true, None),
    ("tasks", "description", "text", false, None),
    ("tasks", "completed", "boolean", false, Some("false")),
    ("tasks", "user_id", "character varying(255)", true, None),
    (
        "tasks",
        "created_at",
        "timestamp without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
    (
        "tasks",
        "updated_at",
        "timestamp without time zone",
        false,
        Some("CURRENT_TIMESTAMP"),
    ),
];

/// `(table, constraint definition)`; names are the backend's to choose.
const CONSTRAINTS: &[(&str, &str)] = &[
    ("users", "PRIMARY KEY (id)"),
    ("users", "UNIQUE (email)"),
    ("tasks", "PRIMARY KEY (id)"),
    (
        "tasks",
        "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
    ),
];

/// `(table, index name, access method and key)` of the documented indexes.
pub const INDEXES: &[(&str, &str, &str)] = &[
    ("users", "idx_users_email", "btree (email)"),
    ("tasks", "idx_tasks_user_id", "btree (user_id)"),
    ("tasks", "idx_tasks_completed", "btree (completed)"),
    (
        "tasks",
        "idx_tasks_user_completed",
        "btree (user_id, completed)",
    ),
    ("tasks", "idx_tasks_created_at", "btree (created_at DESC)"),
    ("tasks", "idx_tasks_updated_at", "btree (updated_at)"),
];

#[derive(serde::Deserialize)]
struct Column {
    table: String,
    name: String,
    data_type: String,
    not_null: bool,
    default: Option<String>,
}

#[derive(serde::Deserialize)]
struct Definition {
    table: String,
    name: String,
    definition: String,
}

/// The catalog rows the comparison needs, as one JSON value (an expression,
/// so that `db health` can read it in its own single statement).
macro_rules! catalog_json {
    () => {
        "json_build_object(
      'columns', (SELECT coalesce(json_agg(x), '[]') FROM (
         SELECT c.relname::text AS table, a.attname::text AS name,
                format_type(a.atttypid, a.atttypmod) AS data_type,
                a.attnotnull AS not_null,
                pg_get_expr(d.adbin, d.adrelid) AS default
         FROM pg_class c
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
         WHERE c.oid IN (to_regclass('users'), to_regclass('tasks'))) x),
      'constraints', (SELECT coalesce(json_agg(x), '[]') FROM (
         SELECT c.relname::text AS table, k.conname::text AS name,
                pg_get_constraintdef(k.oid) AS definition
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
         WHERE c.oid IN (to_regclass('users'), to_regclass('tasks'))) x),
      'indexes', (SELECT coalesce(json_agg(x), '[]') FROM (
         SELECT c.relname::text AS table, i.relname::text AS name,
                pg_get_indexdef(x.indexrelid) AS definition
         FROM pg_index x
         JOIN pg_class c ON c.oid = x.indrelid
         JOIN pg_class i ON i.oid = x.indexrelid
         WHERE c.oid IN (to_regclass('users'), to_regclass('tasks'))) x),
      'unfinished', (SELECT coalesce(json_agg(what ORDER BY what), '[]') FROM (
         SELECT 'index ' || i.relname || ' is INVALID' AS what
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
         WHERE x.indrelid IN (to_regclass('users'), to_regclass('tasks')) AND NOT x.indisvalid
         UNION ALL
         SELECT 'constraint ' || k.conname || ' is NOT VALID'
         FROM pg_constraint k
         WHERE k.conrelid IN (to_regclass('users'), to_regclass('tasks')) AND NOT k.convalidated) x),
      'missing_extras', (SELECT coalesce(json_agg(what), '[]') FROM (VALUES
            ('check constraint tasks_title_not_blank',
             EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass('tasks') AND conname = 'tasks_title_not_blank')),
            ('check constraint tasks_description_length',
             EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass('tasks') AND conname = 'tasks_description_length')),
            ('trigger users_set_updated_at',
             EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('users') AND tgname = 'users_set_updated_at')),
            ('trigger tasks_set_updated_at',
             EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('tasks') AND tgname = 'tasks_set_updated_at')),
            ('index idx_users_email_lower',
             EXISTS (SELECT 1 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                     WHERE x.indrelid = to_regclass('users') AND i.relname = 'idx_users_email_lower'))
         ) AS extras(what, present) WHERE NOT present))"
    };
}
pub(crate) use catalog_json;

const CATALOG: &str = concat!("SELECT ", catalog_json!(), "::text AS catalog");

/// What the catalogs say about `users` and `tasks`.
#[derive(serde::Deserialize)]
pub struct Catalog {
    columns: Vec<Column>,
    constraints: Vec<Definition>,
    indexes: Vec<Definition>,
    /// The extras the migrations add on top of SPEC §1 that are missing
    /// (check constraints, `updated_at` triggers, the `lower(email)` index).
    pub missing_extras: Vec<String>,
    /// INVALID indexes and NOT VALID constraints on the tables: work an
    /// interrupted online migration (or another program) left (SPEC §21).
    #[serde(default)]
    pub unfinished: Vec<String>,
}

/// Reads the [`Catalog`] (one round trip).
pub fn catalog(conn: &mut PgConn) -> QueryResult<Catalog> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        catalog: String,
    }
    let row: Row = diesel::sql_query(CATALOG).get_result(conn)?;
    serde_json::from_str(&row.catalog)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
}

/// Every difference between the database and the base schema of SPEC §1
/// (empty when it conforms); one round trip.
pub fn base_schema_differences(conn: &mut PgConn) -> QueryResult<Vec<String>> {
    Ok(catalog(conn)?.differences())
}

impl Catalog {
    /// Every difference from the base schema of SPEC §1 (empty when it
    /// conforms). Extra columns, constraints and indexes are allowed.
    pub fn differences(&self) -> Vec<String> {
        let Catalog {
            columns,
            constraints,
            indexes,
            ..
        } = self;
        let mut diffs = Vec::new();
        for table in ["users", "tasks"] {
            if !columns.iter().any(|c| c.table == table) {
                diffs.push(format!("table {table} is missing"));
            }
        }
        for &(table, name, data_type, not_null, default) in COLUMNS {
            if !columns.iter().any(|c| c.table == table) {
                continue;
            }
            let Some(col) = columns.iter().find(|c| c.table == table && c.name == name) else {
                diffs.push(format!("column {table}.{name} is missing"));
                continue;
            };
            if col.data_type != data_type {
                diffs.push(format!(
                    "column {table}.{name} is {} (expected {data_type})",
                    col.data_type
                ));
            }
            if col.not_null != not_null {
                let want = if not_null { "NOT NULL" } else { "nullable" };
                diffs.push(format!("column {table}.{name} should be {want}"));
            }
            if col.default.as_deref() != default {
                diffs.push(format!(
                    "column {table}.{name} has default {} (expected {})",
                    col.default.as_deref().unwrap_or("none"),
                    default.unwrap_or("none")
                ));
            }
        }
        for &(table, definition) in CONSTRAINTS {
            if columns.iter().any(|c| c.table == table)
                && !constraints
                    .iter()
                    .any(|k| k.table == table && k.definition == definition)
            {
                diffs.push(format!("constraint on {table} is missing: {definition}"));
            }
        }
        for &(table, name, key) in INDEXES {
            if !columns.iter().any(|c| c.table == table) {
                continue;
            }
            match indexes.iter().find(|i| i.name == name) {
                None => diffs.push(format!("index {name} on {table} is missing")),
                Some(index) => {
                    let using = index.definition.split_once(" USING ").map(|(_, u)| u);
                    if index.table != table || using != Some(key) {
                        diffs.push(format!(
                            "index {name} is `{}` (expected on {table} USING {key})",
                            index.definition
                        ));
                    }
                }
            }
        }
        diffs
    }
}
