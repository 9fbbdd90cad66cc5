//! Read replicas with read-your-writes (SPEC §14), on real streaming
//! replication: a hot standby of a private primary that applies every
//! commit 3 s late (`support::servers::replication`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::servers::{replication, Replication};
use crate::support::{psql, stderr, stdout, todo_cmd, try_psql, TempDir};

const USER: &str = "r@example.com";

/// A fresh database on the primary, migrated, with one user, once the
/// standby has replayed it; and a state directory of its own.
struct ReplicaDb {
    name: String,
    state: TempDir,
    dir: TempDir,
    r: &'static Replication,
}

impl ReplicaDb {
    fn new() -> ReplicaDb {
        static N: AtomicUsize = AtomicUsize::new(0);
        let r = replication();
        let name = format!(
            "replica_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        psql(
            &r.primary_url("postgres"),
            &format!("CREATE DATABASE {name}"),
        );
        let db = ReplicaDb {
            name,
            state: TempDir::new("replica-state"),
            dir: TempDir::new("replica"),
            r,
        };
        let primary = db.primary();
        for args in [vec!["db", "migrate", "-q"], vec!["user", "add", USER, "-q"]] {
            let _out = todo_cmd(&db.dir)
                .env("DATABASE_URL", &primary)
                .args(args)
                .expect(0);
        }
        db.wait_for_standby("SELECT count(*) FROM users", "1");
        db
    }

    fn primary(&self) -> String {
        self.r.primary_url(&self.name)
    }

    fn standby(&self) -> String {
        self.r.standby_url(&self.name)
    }

    /// Waits (up to 30 s) until `sql` answers `expected` on the standby.
    fn wait_for_standby(&self, sql: &str, expected: &str) {
        let start = Instant::now();
        loop {
            if try_psql(&self.standby(), sql).as_deref() == Ok(expected) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the standby never answered {expected} to {sql}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `todo` with the primary, the replica, this state directory and user.
    fn cmd(&self) -> crate::support::Run {
        todo_cmd(&self.dir)
            .env("TODO_DATABASE_URL", self.primary())
            .env("TODO_READ_URL", self.standby())
            .env("XDG_STATE_HOME", self.state.path())
            .env("TODO_USER", USER)
    }

    /// The `connected to …` lines of a `-v` run.
    fn connections(err: &str) -> Vec<&str> {
        err.lines()
            .filter(|l| l.contains(": connected to "))
            .collect()
    }
}

impl Drop for ReplicaDb {
    fn drop(&mut self) {
        let _ = try_psql(
            &self.r.primary_url("postgres"),
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

#[test]
fn add_then_list_shows_the_task_every_time_despite_the_delay() {
    let db = ReplicaDb::new();
    for i in 0..3 {
        let title = format!("written {i}");
        db.cmd().args(["task", "add", &title, "-q"]).ok();
        let out = db.cmd().args(["task", "list", "-v"]).expect(0);
        assert!(stdout(&out).contains(&title), "{}", stdout(&out));
        // The standby is 3 s behind, the wait 2 s: read from the primary.
        let err = stderr(&out);
        assert!(err.contains("has not replayed your last write"), "{err}");
        assert_eq!(ReplicaDb::connections(&err).len(), 2, "{err}");
    }
}

#[test]
fn a_longer_wait_reads_the_write_from_the_replica_then_checks_no_more() {
    let db = ReplicaDb::new();
    db.cmd().args(["task", "add", "Replayed", "-q"]).ok();
    let started = Instant::now();
    let out = db
        .cmd()
        .args(["task", "list", "-v", "--replica-wait", "20"])
        .expect(0);
    assert!(stdout(&out).contains("Replayed"), "{}", stdout(&out));
    let err = stderr(&out);
    let connected = ReplicaDb::connections(&err);
    assert_eq!(connected.len(), 1, "{err}");
    assert!(connected[0].contains("standby"), "{err}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the replica showed the write before its apply delay"
    );
    // Replayed: the record is dropped, the next read asks nothing more.
    let out = db.cmd().args(["task", "stats", "-v"]).expect(0);
    let err = stderr(&out);
    assert!(!err.contains("pg_visible_in_snapshot"), "{err}");
    assert_eq!(ReplicaDb::connections(&err).len(), 1, "{err}");
}

#[test]
fn a_read_with_no_pending_write_is_served_by_the_replica_alone() {
    let db = ReplicaDb::new();
    let sessions = || {
        psql(
            &db.standby(),
            &format!(
                "SELECT sessions FROM pg_stat_database WHERE datname = '{}'",
                db.name
            ),
        )
        .parse::<i64>()
        .unwrap()
    };
    let before = sessions();
    // The primary cannot even be reached: only the standby can answer.
    let out = db
        .cmd()
        .env(
            "TODO_DATABASE_URL",
            "postgresql:///nowhere?host=/nonexistent-todo-dir",
        )
        .args(["user", "show", USER])
        .expect(0);
    assert!(stdout(&out).contains(USER), "{}", stdout(&out));
    // On the standby's side: one session for the psql above, one for todo
    // (statistics reach the view when a session ends). Polling would count
    // its own sessions too, so this one waits once for the counter.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(sessions() - before, 2);
    // Writes still go to the primary.
    let _out = db
        .cmd()
        .env(
            "TODO_DATABASE_URL",
            "postgresql:///nowhere?host=/nonexistent-todo-dir",
        )
        .args(["task", "add", "Nowhere"])
        .expect(5);
}

#[test]
fn a_replica_that_is_down_falls_back_to_the_primary_with_a_notice() {
    let db = ReplicaDb::new();
    db.cmd().args(["task", "add", "Fallback", "-q"]).ok();
    let out = db
        .cmd()
        .env(
            "TODO_READ_URL",
            "postgresql:///down?host=/nonexistent-todo-dir",
        )
        .args(["task", "list"])
        .expect(0);
    assert!(stdout(&out).contains("Fallback"), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("reading from the primary"), "{err}");
}

#[test]
fn health_shows_lag_per_replica_on_the_primary_and_replay_delay_on_the_replica() {
    let db = ReplicaDb::new();
    let out = todo_cmd(&db.dir)
        .env("DATABASE_URL", db.primary())
        .args(["db", "health"])
        .expect(0);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("replication"))
        .map(String::from)
        .unwrap_or_default();
    assert!(line.contains("todo_test_standby: "), "{}", stdout(&out));
    let out = todo_cmd(&db.dir)
        .env("DATABASE_URL", db.standby())
        .args(["db", "health"])
        .expect(0);
    // Behind ("a replica; last replayed …") or caught up ("a replica,
    // caught up (…); last replayed …"), depending on when it is measured.
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("replication"))
        .unwrap_or_default();
    assert!(
        line.contains("this server is a replica") && line.contains("last replayed transaction"),
        "{text}"
    );
}

/// A recorded write older than an hour is not waited for (a primary since
/// restored elsewhere must not slow every read): here one that can never
/// be replayed.
#[test]
fn a_record_older_than_an_hour_is_ignored() {
    let db = ReplicaDb::new();
    db.cmd().args(["task", "add", "Old write", "-q"]).ok();
    let file = db.state.join("todo/last-write");
    let text = std::fs::read_to_string(&file).unwrap();
    let fields: Vec<&str> = text.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 3, "{text}");
    let old: u64 = fields[2].parse::<u64>().unwrap() - 7200;
    std::fs::write(&file, format!("{}\t99999999999\t{old}\n", fields[0])).unwrap();
    let started = Instant::now();
    let out = db
        .cmd()
        .args(["task", "stats", "-v", "--replica-wait", "20"])
        .expect(0);
    let err = stderr(&out);
    assert!(!err.contains("pg_visible_in_snapshot"), "{err}");
    assert_eq!(ReplicaDb::connections(&err).len(), 1, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
