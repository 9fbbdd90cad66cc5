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

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Integer, Nullable, Text, Timestamp};

use super::{conformance, migrate};

mod activity;

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

fn connection(conn: &mut PgConnection, target: &str, connected_in: Duration) -> QueryResult<Check> {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        diesel::sql_query("SELECT 1").execute(conn)?;
        best = best.min(start.elapsed());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let status = if best > Duration::from_millis(100) {
        Status::Warn
    } else {
        Status::Ok
    };
    Ok(Check::new(
        "connection",
        status,
        format!(
            "{target}: connected in {:.1} ms, round trip {:.2} ms",
            ms(connected_in),
            ms(best)
        ),
    ))
}

fn server_version(conn: &mut PgConnection) -> QueryResult<Check> {
    let num: i32 = diesel::select(sql::<Integer>("current_setting('server_version_num')::int"))
        .get_result(conn)?;
    let text: String =
        diesel::select(sql::<Text>("current_setting('server_version')")).get_result(conn)?;
    let major = num / 10_000;
    Ok(if major < 13 {
        Check::new(
            "server_version",
            Status::Warn,
            format!("PostgreSQL {text}: 13 or newer is recommended"),
        )
    } else {
        Check::new("server_version", Status::Ok, format!("PostgreSQL {text}"))
    })
}

/// `GRANT …` for a relation the connected role may not read, if any.
fn missing_grant(
    conn: &mut PgConnection,
    relation: &str,
    kind: &str,
) -> QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        readable: bool,
        #[diesel(sql_type = Text)]
        who: String,
    }
    let r: Row = diesel::sql_query(
        "SELECT CASE WHEN to_regclass($1) IS NULL THEN true
                     WHEN $2 = 'SEQUENCE' THEN has_sequence_privilege($1, 'SELECT')
                     ELSE has_table_privilege($1, 'SELECT') END AS readable,
                current_user::text AS who",
    )
    .bind::<Text, _>(relation)
    .bind::<Text, _>(kind)
    .get_result(conn)?;
    let object = if kind == "SEQUENCE" {
        format!("SEQUENCE {relation}")
    } else {
        relation.to_string()
    };
    Ok((!r.readable).then(|| {
        format!(
            "role {who} cannot read {relation}: GRANT SELECT ON {object} TO {who}",
            who = r.who
        )
    }))
}

fn migrations(conn: &mut PgConnection) -> QueryResult<Check> {
    if let Some(grant) = missing_grant(conn, "__diesel_schema_migrations", "TABLE")? {
        return Ok(Check::new("migrations", Status::Warn, grant));
    }
    let applied = migrate::applied(conn)?.unwrap_or_default();
    let has_tables = migrate::has_tables(conn)?;
    let name = "migrations";
    if applied.is_empty() && !has_tables {
        return Ok(Check::new(
            name,
            Status::Fail,
            "no schema: run todo db migrate",
        ));
    }
    if migrate::unmanaged(&applied, has_tables) {
        return Ok(Check::new(
            name,
            Status::Warn,
            "tables not created by todo: adopt them with todo db migrate --baseline",
        ));
    }
    let pending = migrate::pending(&applied);
    let known = migrate::known();
    let unknown: Vec<&String> = applied
        .iter()
        .filter(|v| !known.iter().any(|k| &k.version == *v))
        .collect();
    if !pending.is_empty() {
        let list: Vec<&str> = pending.iter().map(|k| k.version.as_str()).collect();
        return Ok(Check::new(
            name,
            Status::Warn,
            format!(
                "{} pending ({}): run todo db migrate",
                pending.len(),
                list.join(", ")
            ),
        ));
    }
    if !unknown.is_empty() {
        return Ok(Check::new(
            name,
            Status::Warn,
            format!(
                "{} applied migration(s) unknown to this build (a newer todo?)",
                unknown.len()
            ),
        ));
    }
    Ok(Check::new(
        name,
        Status::Ok,
        format!("{} applied, none pending", applied.len()),
    ))
}

fn schema(conn: &mut PgConnection) -> QueryResult<Check> {
    let diffs = conformance::base_schema_differences(conn)?;
    if !diffs.is_empty() {
        return Ok(Check::new("schema", Status::Fail, diffs.join("; ")));
    }
    let missing = conformance::missing_extras(conn)?;
    if !missing.is_empty() {
        return Ok(Check::new(
            "schema",
            Status::Warn,
            format!("missing: {}", missing.join(", ")),
        ));
    }
    Ok(Check::new(
        "schema",
        Status::Ok,
        format!(
            "users and tasks match: columns, keys, cascade, {} documented indexes, extras",
            conformance::INDEXES.len()
        ),
    ))
}

fn connections(conn: &mut PgConnection) -> QueryResult<Check> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        used: i64,
        #[diesel(sql_type = BigInt)]
        max: i64,
        #[diesel(sql_type = BigInt)]
        reserved: i64,
    }
    let r: Row = diesel::sql_query(
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,
                current_setting('max_connections')::bigint AS max,
                current_setting('superuser_reserved_connections')::bigint AS reserved",
    )
    .get_result(conn)?;
    let available = (r.max - r.reserved).max(1);
    let pct = r.used as f64 * 100.0 / available as f64;
    let status = threshold(pct, 80.0, 95.0);
    Ok(Check::new(
        "connections",
        status,
        format!(
            "{} of {} usable connections in use ({pct:.0}%)",
            r.used, available
        ),
    ))
}

fn wraparound(conn: &mut PgConnection) -> QueryResult<Check> {
    let age: i64 = diesel::select(sql::<BigInt>(
        "(SELECT max(age(datfrozenxid))::bigint FROM pg_database)",
    ))
    .get_result(conn)?;
    let status = if age >= 1_500_000_000 {
        Status::Fail
    } else if age >= 500_000_000 {
        Status::Warn
    } else {
        Status::Ok
    };
    Ok(Check::new(
        "wraparound",
        status,
        format!(
            "oldest transaction id age {age} ({:.1}% of 2^31)",
            age as f64 * 100.0 / 2_147_483_648.0
        ),
    ))
}

fn sequence(conn: &mut PgConnection) -> QueryResult<Check> {
    // pg_sequences shows last_value only to roles allowed to read the
    // sequence (and NULL before its first use).
    if let Some(grant) = missing_grant(conn, "tasks_id_seq", "SEQUENCE")? {
        return Ok(Check::new("tasks_id_seq", Status::Warn, grant));
    }
    let last: Option<i64> = diesel::select(sql::<Nullable<BigInt>>(
        "(SELECT last_value FROM pg_sequences
          WHERE sequencename = 'tasks_id_seq' AND schemaname = current_schema())",
    ))
    .get_result(conn)?;
    let used = last.unwrap_or(0);
    let pct = used as f64 * 100.0 / SEQ_MAX as f64;
    Ok(Check::new(
        "tasks_id_seq",
        threshold(pct, 75.0, 90.0),
        format!(
            "{used} of {SEQ_MAX} ids used ({pct:.1}%), {} left",
            SEQ_MAX - used
        ),
    ))
}

fn vacuum(conn: &mut PgConnection) -> QueryResult<Check> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        live: i64,
        #[diesel(sql_type = BigInt)]
        dead: i64,
        #[diesel(sql_type = Nullable<Timestamp>)]
        last: Option<NaiveDateTime>,
        #[diesel(sql_type = Nullable<Double>)]
        ago_hours: Option<f64>,
    }
    let r: Row = diesel::sql_query(
        "SELECT n_live_tup AS live, n_dead_tup AS dead,
                greatest(last_vacuum, last_autovacuum) AT TIME ZONE 'UTC' AS last,
                extract(epoch FROM now() - greatest(last_vacuum, last_autovacuum))::float8 / 3600 AS ago_hours
         FROM pg_stat_user_tables WHERE relid = to_regclass('tasks')",
    )
    .get_result(conn)?;
    let total = (r.live + r.dead).max(1);
    let pct = r.dead as f64 * 100.0 / total as f64;
    let status = if needs_vacuum(r.live, r.dead) {
        Status::Warn
    } else {
        Status::Ok
    };
    let when = match (r.last, r.ago_hours) {
        (Some(_), Some(h)) if h < 48.0 => format!("{h:.1} h ago"),
        (Some(_), Some(h)) => format!("{:.0} days ago", h / 24.0),
        _ => "never".to_string(),
    };
    Ok(Check::new(
        "vacuum",
        status,
        format!(
            "tasks: {} live, {} dead ({pct:.1}%); last vacuum {when}",
            r.live, r.dead
        ),
    ))
}

fn cache_hit(conn: &mut PgConnection) -> QueryResult<Check> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        hit: i64,
        #[diesel(sql_type = BigInt)]
        read: i64,
    }
    let r: Row = diesel::sql_query(
        "SELECT coalesce(blks_hit, 0) AS hit, coalesce(blks_read, 0) AS read
         FROM pg_stat_database WHERE datname = current_database()",
    )
    .get_result(conn)?;
    let total = r.hit + r.read;
    if total == 0 {
        return Ok(Check::new(
            "cache_hit_ratio",
            Status::Ok,
            "no block reads yet",
        ));
    }
    let pct = r.hit as f64 * 100.0 / total as f64;
    let status = if pct < 90.0 && total >= 10_000 {
        Status::Warn
    } else {
        Status::Ok
    };
    Ok(Check::new(
        "cache_hit_ratio",
        status,
        format!("{pct:.1}% of {total} block reads served from shared buffers"),
    ))
}

fn unused_indexes(conn: &mut PgConnection) -> QueryResult<Check> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT s.indexrelname::text AS name
         FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
         WHERE s.relid IN (to_regclass('users'), to_regclass('tasks'))
           AND s.idx_scan = 0 AND NOT i.indisunique
         ORDER BY 1",
    )
    .load(conn)?;
    let detail = if rows.is_empty() {
        "every index has been used".to_string()
    } else {
        let names: Vec<String> = rows.into_iter().map(|r| r.name).collect();
        format!(
            "not used since statistics were reset (informational): {}",
            names.join(", ")
        )
    };
    Ok(Check::new("unused_indexes", Status::Ok, detail))
}

fn threshold(pct: f64, warn: f64, fail: f64) -> Status {
    if pct >= fail {
        Status::Fail
    } else if pct >= warn {
        Status::Warn
    } else {
        Status::Ok
    }
}
