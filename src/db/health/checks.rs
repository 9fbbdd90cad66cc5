//! The checks of SPEC §7, one function each, computed from the
//! [`Measurements`] of the one health statement; their thresholds are
//! listed in the `health` module's documentation.

use std::time::Duration;

use super::super::conformance;
use super::super::migrate;
use super::measure::Measurements;
use super::{needs_vacuum, Check, Remedy, Status, SEQ_MAX};

pub(super) fn connection(target: &str, connected_in: Duration, round_trip: Duration) -> Check {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let status = if round_trip > Duration::from_millis(100) {
        Status::Warn
    } else {
        Status::Ok
    };
    Check::new(
        "connection",
        status,
        format!(
            "{target}: connected in {:.1} ms, round trip {:.2} ms",
            ms(connected_in),
            ms(round_trip)
        ),
    )
}

pub(super) fn server_version(m: &Measurements) -> Check {
    let major = m.version_num / 10_000;
    if major < 13 {
        Check::new(
            "server_version",
            Status::Warn,
            format!("PostgreSQL {}: 13 or newer is recommended", m.version),
        )
    } else {
        Check::new(
            "server_version",
            Status::Ok,
            format!("PostgreSQL {}", m.version),
        )
    }
}

/// The `GRANT …` the connected role lacks to read `object`.
fn missing_grant(m: &Measurements, relation: &str, object: &str) -> String {
    format!(
        "role {who} cannot read {relation}: GRANT SELECT ON {object} TO {who}",
        who = m.role
    )
}

/// `applied`: the versions read from the migrations table (empty when it
/// does not exist).
pub(super) fn migrations(m: &Measurements, applied: &[String]) -> Check {
    let name = "migrations";
    if m.recorded && !m.recorded_readable {
        let grant = missing_grant(
            m,
            "__diesel_schema_migrations",
            "__diesel_schema_migrations",
        );
        return Check::new(name, Status::Warn, grant);
    }
    if applied.is_empty() && !m.any_table {
        return Check::new(name, Status::Fail, "no schema").with_remedy(Remedy::Migrate);
    }
    if migrate::unmanaged(applied, m.any_table) {
        return Check::new(name, Status::Warn, "tables without recorded migrations")
            .with_remedy(Remedy::Baseline);
    }
    let pending = migrate::pending(applied);
    let known = migrate::known();
    let unknown = applied
        .iter()
        .filter(|v| !known.iter().any(|k| &k.version == *v))
        .count();
    if !pending.is_empty() {
        let list: Vec<&str> = pending.iter().map(|k| k.version.as_str()).collect();
        return Check::new(
            name,
            Status::Warn,
            format!("{} pending ({})", pending.len(), list.join(", ")),
        )
        .with_remedy(Remedy::Migrate);
    }
    if unknown > 0 {
        return Check::new(
            name,
            Status::Warn,
            format!(
                "{} unknown to this build (a newer version applied them?)",
                crate::text::count(unknown as i64, "applied migration", "applied migrations")
            ),
        );
    }
    Check::new(
        name,
        Status::Ok,
        format!("{} applied, none pending", applied.len()),
    )
}

/// `unchecked`: why the catalogs were not read (then FAIL).
pub(super) fn schema(m: &Measurements, unchecked: Option<&str>) -> Check {
    let Some(catalog) = &m.catalog else {
        return Check::new(
            "schema",
            Status::Fail,
            format!("could not check: {}", unchecked.unwrap_or("not measured")),
        );
    };
    let diffs = catalog.differences();
    if !diffs.is_empty() {
        return Check::new("schema", Status::Fail, diffs.join("; "));
    }
    let missing = &catalog.missing_extras;
    let unfinished = &catalog.unfinished;
    if !unfinished.is_empty() {
        let mut detail = format!(
            "{} (an interrupted online migration leaves these; todo db migrate completes its own)",
            unfinished.join(", ")
        );
        if !missing.is_empty() {
            detail.push_str(&format!("; missing: {}", missing.join(", ")));
        }
        return Check::new("schema", Status::Warn, detail);
    }
    if !missing.is_empty() {
        return Check::new(
            "schema",
            Status::Warn,
            format!("missing: {}", missing.join(", ")),
        );
    }
    Check::new(
        "schema",
        Status::Ok,
        format!(
            "users and tasks match: columns, keys, cascade, {} documented indexes, extras",
            conformance::INDEXES.len()
        ),
    )
}

pub(super) fn connections(m: &Measurements) -> Check {
    let available = (m.max_connections - m.reserved_connections).max(1);
    let pct = m.connections_used as f64 * 100.0 / available as f64;
    Check::new(
        "connections",
        threshold(pct, 80.0, 95.0),
        format!(
            "{} of {} usable connections in use ({pct:.0}%)",
            m.connections_used, available
        ),
    )
}

pub(super) fn wraparound(m: &Measurements) -> Check {
    let age = m.wraparound_age;
    let status = if age >= 1_500_000_000 {
        Status::Fail
    } else if age >= 500_000_000 {
        Status::Warn
    } else {
        Status::Ok
    };
    Check::new(
        "wraparound",
        status,
        format!(
            "oldest transaction id age {age} ({:.1}% of 2^31)",
            age as f64 * 100.0 / 2_147_483_648.0
        ),
    )
}

pub(super) fn sequence(m: &Measurements) -> Check {
    // pg_sequences shows last_value only to roles allowed to read the
    // sequence (and NULL before its first use).
    if !m.seq_readable {
        let grant = missing_grant(m, "tasks_id_seq", "SEQUENCE tasks_id_seq");
        return Check::new("tasks_id_seq", Status::Warn, grant);
    }
    let used = m.seq_last.unwrap_or(0);
    let pct = used as f64 * 100.0 / SEQ_MAX as f64;
    Check::new(
        "tasks_id_seq",
        threshold(pct, 75.0, 90.0),
        format!(
            "{used} of {SEQ_MAX} ids used ({pct:.1}%), {} left",
            SEQ_MAX - used
        ),
    )
}

pub(super) fn vacuum(m: &Measurements) -> Check {
    let Some(v) = &m.vacuum else {
        return Check::new("vacuum", Status::Ok, "tasks: no statistics yet");
    };
    let total = (v.live + v.dead).max(1);
    let pct = v.dead as f64 * 100.0 / total as f64;
    let status = if needs_vacuum(v.live, v.dead) {
        Status::Warn
    } else {
        Status::Ok
    };
    let when = match v.ago_hours {
        Some(h) if h < 48.0 => format!("{h:.1} h ago"),
        Some(h) => format!("{:.0} days ago", h / 24.0),
        None => "never".to_string(),
    };
    Check::new(
        "vacuum",
        status,
        format!(
            "tasks: {} live, {} dead ({pct:.1}%); last vacuum {when}",
            v.live, v.dead
        ),
    )
}

pub(super) fn cache_hit(m: &Measurements) -> Check {
    let (hit, read) = (m.cache_hit.unwrap_or(0), m.cache_read.unwrap_or(0));
    let total = hit + read;
    if total == 0 {
        return Check::new("cache_hit_ratio", Status::Ok, "no block reads yet");
    }
    let pct = hit as f64 * 100.0 / total as f64;
    let status = if pct < 90.0 && total >= 10_000 {
        Status::Warn
    } else {
        Status::Ok
    };
    Check::new(
        "cache_hit_ratio",
        status,
        format!("{pct:.1}% of {total} block reads served from shared buffers"),
    )
}

pub(super) fn unused_indexes(m: &Measurements) -> Check {
    let detail = if m.unused_indexes.is_empty() {
        "every index has been used".to_string()
    } else {
        format!(
            "not used since statistics were reset (informational): {}",
            m.unused_indexes.join(", ")
        )
    };
    Check::new("unused_indexes", Status::Ok, detail)
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
