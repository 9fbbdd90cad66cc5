//! The checks of SPEC §7, one function each; their thresholds are listed
//! in the `health` module's documentation.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Integer, Nullable, Text, Timestamp};

use super::super::{conformance, migrate};
use super::{needs_vacuum, Check, Status, SEQ_MAX};

pub(super) fn connection(
    conn: &mut PgConnection,
    target: &str,
    connected_in: Duration,
) -> QueryResult<Check> {
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

pub(super) fn server_version(conn: &mut PgConnection) -> QueryResult<Check> {
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

pub(super) fn migrations(conn: &mut PgConnection) -> QueryResult<Check> {
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

pub(super) fn schema(conn: &mut PgConnection) -> QueryResult<Check> {
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

pub(super) fn connections(conn: &mut PgConnection) -> QueryResult<Check> {
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

pub(super) fn wraparound(conn: &mut PgConnection) -> QueryResult<Check> {
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

pub(super) fn sequence(conn: &mut PgConnection) -> QueryResult<Check> {
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

pub(super) fn vacuum(conn: &mut PgConnection) -> QueryResult<Check> {
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

pub(super) fn cache_hit(conn: &mut PgConnection) -> QueryResult<Check> {
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

pub(super) fn unused_indexes(conn: &mut PgConnection) -> QueryResult<Check> {
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
