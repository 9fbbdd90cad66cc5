//! `db revert` (SPEC §4a): what reverting the last migration drops, shown
//! before acting, and the revert itself, under the migration lock.

use crate::db::PgConn;

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::migrate::online::{self, Direction};
use super::migrate::{known, locked, state, steps, Event, Limits, MigrateError, BASE_VERSION};

/// What reverting each migration drops, shown before `db revert` acts.
const REVERT_DROPS: &[(&str, &str)] = &[
    (
        BASE_VERSION,
        "tables tasks and users, with all their rows and indexes",
    ),
    (
        "20261124000002",
        "check constraints tasks_title_not_blank and tasks_description_length, \
         triggers users_set_updated_at and tasks_set_updated_at, \
         function todo_set_updated_at(), index idx_users_email_lower",
    ),
    ("20261124000003", "index idx_tasks_user_created"),
    (
        "20261201000004",
        "index idx_users_email_natural and collation todo_natural",
    ),
    (
        "20261201000005",
        "index idx_users_email_natural_key (migration 4's collation and index come back)",
    ),
];

/// What reverting `version` drops, if this build knows it.
pub fn drops(version: &str) -> Option<&'static str> {
    REVERT_DROPS
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, d)| *d)
}

/// What `db revert` would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub version: String,
    pub name: String,
    pub drops: &'static str,
    /// Rows in (users, tasks) when reverting the base migration.
    pub rows: Option<(i64, i64)>,
}

/// The last applied migration and what reverting it drops; `None` when
/// nothing is applied.
pub fn plan(conn: &mut PgConn) -> Result<Option<Plan>, MigrateError> {
    let Some(version) = state(conn)?.applied().last().cloned() else {
        return Ok(None);
    };
    let (Some(known), Some(drops)) = (
        known().into_iter().find(|k| k.version == version),
        drops(&version),
    ) else {
        return Err(MigrateError::UnknownVersion(version));
    };
    let rows = if version == BASE_VERSION {
        Some(row_counts(conn)?)
    } else {
        None
    };
    Ok(Some(Plan {
        version,
        name: known.name,
        drops,
        rows,
    }))
}

fn row_counts(conn: &mut PgConn) -> QueryResult<(i64, i64)> {
    diesel::select((
        diesel::dsl::sql::<BigInt>("(SELECT count(*) FROM users)"),
        diesel::dsl::sql::<BigInt>("(SELECT count(*) FROM tasks)"),
    ))
    .get_result(conn)
}

/// Reverts the planned migration, if it is still the last one. The base
/// migration is reverted only when its tables are empty or `force` is set.
/// Where the tables hold no rows, in one transaction; otherwise online,
/// step by step ([`online`]).
pub fn run(
    conn: &mut PgConn,
    limits: Limits,
    plan: &Plan,
    force: bool,
    observe: &mut dyn FnMut(Event),
) -> Result<String, MigrateError> {
    let source = steps::source(&plan.version)
        .ok_or_else(|| MigrateError::UnknownVersion(plan.version.clone()))?;
    let done = locked(conn, limits.lock_timeout, |conn| {
        let last = state(conn)?.applied().last().cloned();
        if last.as_deref() != Some(plan.version.as_str()) {
            return Err(MigrateError::Changed);
        }
        if plan.version == BASE_VERSION && !force && row_counts(conn)? != (0, 0) {
            return Err(MigrateError::HasRows);
        }
        if !online::tables_empty(conn)? {
            return Ok(false);
        }
        online::in_one_transaction(conn, &[source], Direction::Down)?;
        Ok(true)
    })?;
    if !done {
        online::run(conn, &[source], Direction::Down, limits, observe)?;
    }
    Ok(plan.version.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_says_what_its_revert_drops() {
        let known = known();
        assert!(known.len() >= 2);
        assert_eq!(known[0].version, BASE_VERSION);
        for k in known {
            assert!(drops(&k.version).is_some(), "{k:?}");
        }
    }
}
