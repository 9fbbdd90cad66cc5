//! The checks of SPEC §12 that watch the server's sessions and storage:
//! deadlocks, the oldest open transaction, sessions idle in a transaction,
//! lock waits, the database size, row-level security on `tasks`, and
//! replication (lag per replica on a primary, replay delay on a replica).
//! Sessions idle in a transaction and lock waits count in this database;
//! the oldest transaction in the whole server (it holds back vacuum
//! everywhere). All are read from statistics views (in the one health
//! statement) that any role may read (other roles' session details need
//! `pg_read_all_stats`; without it those sessions are not counted).
//!
//! Thresholds:
//! - oldest transaction and idle in transaction: WARN above 5 min, FAIL
//!   above 1 h (they hold back vacuum and keep locks);
//! - lock waits: WARN when a session has waited more than 30 s;
//! - deadlocks since the statistics reset: WARN when any;
//! - replication: WARN when a replica lags (or a replica's replay is
//!   behind) more than 60 s;
//! - database size, row-level security: informational (always OK).

use super::{Check, Status};

/// Seconds of an open or idle-in-transaction session that WARN / FAIL.
pub const TRANSACTION_WARN_S: f64 = 300.0;
pub const TRANSACTION_FAIL_S: f64 = 3600.0;
/// Seconds of waiting for a lock that WARN.
pub const LOCK_WAIT_WARN_S: f64 = 30.0;
/// Seconds of replication lag or replay delay that WARN.
pub const REPLICATION_WARN_S: f64 = 60.0;

/// The measurements, from the `activity` part of the health statement.
#[derive(Debug, serde::Deserialize)]
pub(super) struct Activity {
    deadlocks: i64,
    oldest_xact_s: Option<f64>,
    idle_in_xact: i64,
    idle_in_xact_s: Option<f64>,
    lock_waiters: i64,
    lock_wait_s: Option<f64>,
    db_bytes: i64,
    rls: Option<bool>,
    policies: i64,
    replica: bool,
    replay_delay_s: Option<f64>,
    /// On a replica: everything received from the primary is replayed (an
    /// idle primary sends nothing new, so the last replayed transaction
    /// may be old without any lag).
    #[serde(default)]
    caught_up: Option<bool>,
    /// `name: seconds` per replica, comma-separated (NULL lag: caught up).
    replicas: Option<String>,
    max_lag_s: Option<f64>,
}

/// One row of [`Activity`] (a query, used as a subquery of the health
/// statement).
macro_rules! activity_query {
    () => {
        "WITH a AS (SELECT * FROM pg_stat_activity
               WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())
    SELECT
      coalesce((SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()), 0)
        AS deadlocks,
      (SELECT extract(epoch FROM now() - min(xact_start))::float8 FROM a) AS oldest_xact_s,
      (SELECT count(*) FROM a WHERE state LIKE 'idle in transaction%'
       AND datname = current_database()) AS idle_in_xact,
      (SELECT extract(epoch FROM now() - min(state_change))::float8 FROM a
       WHERE state LIKE 'idle in transaction%' AND datname = current_database()) AS idle_in_xact_s,
      (SELECT count(*) FROM a WHERE wait_event_type = 'Lock'
       AND datname = current_database()) AS lock_waiters,
      (SELECT extract(epoch FROM now() - min(state_change))::float8 FROM a
       WHERE wait_event_type = 'Lock' AND datname = current_database()) AS lock_wait_s,
      pg_database_size(current_database()) AS db_bytes,
      (SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass('tasks')) AS rls,
      (SELECT count(*) FROM pg_policy WHERE polrelid = to_regclass('tasks')) AS policies,
      pg_is_in_recovery() AS replica,
      CASE WHEN pg_is_in_recovery()
           THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
        AS replay_delay_s,
      CASE WHEN pg_is_in_recovery() AND pg_last_wal_receive_lsn() IS NOT NULL
           THEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() END AS caught_up,
      (SELECT string_agg(coalesce(nullif(application_name, ''), client_addr::text, 'replica')
                         || ': ' || coalesce(round(extract(epoch FROM replay_lag)::numeric, 1)::text, '0'),
                         ', ')
       FROM pg_stat_replication) AS replicas,
      (SELECT max(extract(epoch FROM replay_lag))::float8 FROM pg_stat_replication) AS max_lag_s"
    };
}
pub(super) use activity_query;

/// The checks from the measurements.
pub(super) fn checks(r: &Activity) -> Vec<Check> {
    let mut out = Vec::new();
    out.push(Check::new(
        "deadlocks",
        if r.deadlocks > 0 {
            Status::Warn
        } else {
            Status::Ok
        },
        format!("{} since the statistics were reset", r.deadlocks),
    ));
    let oldest = r.oldest_xact_s.unwrap_or(0.0);
    out.push(Check::new(
        "oldest_transaction",
        transaction_status(oldest),
        match r.oldest_xact_s {
            Some(s) => format!("the oldest open transaction started {} ago", duration(s)),
            None => "no open transaction".to_string(),
        },
    ));
    out.push(Check::new(
        "idle_in_transaction",
        transaction_status(r.idle_in_xact_s.unwrap_or(0.0)),
        match r.idle_in_xact_s {
            Some(s) => format!(
                "{} idle in a transaction, the longest for {}",
                crate::text::count(r.idle_in_xact, "session", "sessions"),
                duration(s)
            ),
            None => "no session idle in a transaction".to_string(),
        },
    ));
    out.push(Check::new(
        "lock_waits",
        if r.lock_wait_s.unwrap_or(0.0) > LOCK_WAIT_WARN_S {
            Status::Warn
        } else {
            Status::Ok
        },
        match r.lock_wait_s {
            Some(s) => format!(
                "{} waiting for a lock, the longest for {}",
                crate::text::count(r.lock_waiters, "session", "sessions"),
                duration(s)
            ),
            None => "no session waiting for a lock".to_string(),
        },
    ));
    out.push(Check::new(
        "database_size",
        Status::Ok,
        format!(
            "{} ({} bytes)",
            crate::text::human_bytes(r.db_bytes),
            r.db_bytes
        ),
    ));
    out.push(Check::new(
        "row_level_security",
        Status::Ok,
        match r.rls {
            Some(true) => format!(
                "enabled on tasks ({})",
                crate::text::count(r.policies, "policy", "policies")
            ),
            Some(false) => "not enabled on tasks (informational)".to_string(),
            None => "no tasks table".to_string(),
        },
    ));
    if r.replica {
        let delay = r.replay_delay_s.unwrap_or(0.0);
        // Received and replayed positions first: an old last transaction
        // with nothing left to replay is an idle primary, not a lag.
        let caught_up = r.caught_up == Some(true);
        out.push(Check::new(
            "replication",
            if delay > REPLICATION_WARN_S && !caught_up {
                Status::Warn
            } else {
                Status::Ok
            },
            if caught_up {
                format!(
                    "this server is a replica, caught up (all WAL received is replayed); last replayed transaction {} ago",
                    duration(delay)
                )
            } else {
                format!(
                    "this server is a replica; last replayed transaction {} ago",
                    duration(delay)
                )
            },
        ));
    } else if let Some(replicas) = &r.replicas {
        out.push(Check::new(
            "replication",
            if r.max_lag_s.unwrap_or(0.0) > REPLICATION_WARN_S {
                Status::Warn
            } else {
                Status::Ok
            },
            format!("replay lag in seconds per replica: {replicas}"),
        ));
    }
    out
}

fn transaction_status(seconds: f64) -> Status {
    if seconds > TRANSACTION_FAIL_S {
        Status::Fail
    } else if seconds > TRANSACTION_WARN_S {
        Status::Warn
    } else {
        Status::Ok
    }
}

/// "42 s", "7 min", "3.2 h".
fn duration(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 7200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(transaction_status(10.0), Status::Ok);
        assert_eq!(transaction_status(301.0), Status::Warn);
        assert_eq!(transaction_status(3601.0), Status::Fail);
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(420.0), "7 min");
        assert_eq!(duration(3.2 * 3600.0), "3.2 h");
    }

    /// A replica whose last replayed transaction is old: a lag only when
    /// WAL it received is still waiting to be replayed.
    #[test]
    fn an_idle_primary_is_no_replica_lag() {
        let replica = |caught_up: bool| -> Activity {
            serde_json::from_value(serde_json::json!({
                "deadlocks": 0, "oldest_xact_s": null, "idle_in_xact": 0,
                "idle_in_xact_s": null, "lock_waiters": 0, "lock_wait_s": null,
                "db_bytes": 1, "rls": false, "policies": 0, "replica": true,
                "replay_delay_s": 900.0, "caught_up": caught_up,
                "replicas": null, "max_lag_s": null,
            }))
            .unwrap()
        };
        let status = |a: &Activity| {
            checks(a)
                .into_iter()
                .find(|c| c.name == "replication")
                .unwrap()
        };
        let idle = status(&replica(true));
        assert_eq!(idle.status, Status::Ok, "{}", idle.detail);
        assert!(idle.detail.contains("caught up"));
        assert_eq!(status(&replica(false)).status, Status::Warn);
    }
}
