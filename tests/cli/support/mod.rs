//! Test support: one private PostgreSQL for the whole test run, started with
//! the tool's own embedded-cluster code (`todo::local`), unless
//! `TEST_DATABASE_URL` points at an existing server (a role that may create
//! databases). Each test gets a fresh database cloned from a migrated
//! template, so tests run in parallel and never see each other's rows.
//!
//! Safe across test threads (a `OnceLock`) and test processes (cargo
//! nextest): the cluster is created under the tool's file lock and the
//! template under a server-side advisory lock.
//!
//! The private server lives in `/tmp/todo-test-<hash>` (reachable by the
//! `postgres` user when tests run as root; short enough for a socket path)
//! and keeps running after the tests so the next run starts at once. Stop it
//! with: `TODO_HOME=/tmp/todo-test-<hash> todo db local stop`.

#![allow(dead_code)]

mod bouncer;
mod process;
pub mod run;
mod server;
pub mod servers;
pub use process::*;
pub use run::{Done, Outcome, Run};
pub use server::*;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;

/// A role with a password (scram-sha-256 through the socket) for
/// authentication tests.
pub const PW_ROLE: &str = "todo_pw";
pub const PW_ROLE_PASSWORD: &str = "correct-horse-battery";
/// A login role whose sessions are read-only, for `db health`.
pub const RO_ROLE: &str = "todo_ro";
/// A login role PgBouncer also lets in, for an app role behind the pooler.
pub const POOLED_APP_ROLE: &str = "todo_pooled_app";

/// A task object's fields, in their JSON order (docs/reference.md).
pub const TASK_FIELDS: [&str; 7] = [
    "id",
    "title",
    "description",
    "completed",
    "user_id",
    "created_at",
    "updated_at",
];

/// SQL: a `todo` session of this database waits for a lock.
pub const TODO_WAITS_FOR_A_LOCK: &str = "SELECT EXISTS (SELECT FROM pg_stat_activity
    WHERE application_name = 'todo' AND wait_event_type = 'Lock'
      AND datname = current_database())";

/// A database of its own for one test, dropped at the end.
pub struct TestDb {
    pub name: String,
    /// A working directory without a `.env`, for the commands.
    pub dir: PathBuf,
    _dir: TempDir,
}

impl TestDb {
    /// A fresh database with the schema migrated.
    pub fn migrated() -> TestDb {
        let template = server().template.clone();
        TestDb::create(&template)
    }

    /// A fresh, empty database (no tables).
    pub fn empty() -> TestDb {
        TestDb::create("template0")
    }

    /// A fresh, empty database in the LATIN1 encoding (no tables).
    pub fn latin1() -> TestDb {
        TestDb::create("template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'")
    }

    fn create(template: &str) -> TestDb {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t_{}_{n}", std::process::id());
        let mut admin = server().admin();
        exec(
            &mut admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        exec(
            &mut admin,
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        );
        let tmp = TempDir::new("cwd");
        TestDb {
            name,
            dir: tmp.path().to_path_buf(),
            _dir: tmp,
        }
    }

    pub fn url(&self) -> String {
        server().url(&self.name)
    }

    /// The real `todo` binary, pointed at this database through
    /// `TODO_DATABASE_URL`, with a clean environment and working directory.
    pub fn cmd(&self) -> Run {
        todo_cmd(&self.dir).env("TODO_DATABASE_URL", self.url())
    }

    /// `todo ARGS` on this database, to be run by [`Run::expect`] (the
    /// fluent runner: `db.run(["task", "list"]).user(u).ok()`).
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        self.cmd().args(args)
    }

    /// Runs SQL through psql; returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        psql(&self.url(), sql)
    }

    /// Creates a user with the real binary; returns its id.
    pub fn add_user(&self, email: &str) -> String {
        self.run(["user", "add", email, "-q"])
            .ok()
            .stdout()
            .trim()
            .to_string()
    }

    /// Adds a task for `user` with the real binary; returns its id.
    pub fn add_task(&self, user: &str, title: &str) -> i32 {
        let done = self.run(["task", "add", title, "-q"]).user(user).ok();
        done.stdout().trim().parse().expect("a task id")
    }

    /// `todo` acting as `user` through `$TODO_USER`.
    pub fn as_user(&self, user: &str) -> Run {
        self.cmd().env_user(user)
    }

    /// A single value from SQL, as text.
    pub fn value(&self, sql: &str) -> String {
        self.psql(sql)
    }

    /// Polls `sql` (every 25 ms, for up to 10 s) until it returns `t`.
    pub fn wait_until(&self, sql: &str) -> bool {
        wait_for(std::time::Duration::from_secs(10), || self.psql(sql) == "t")
    }

    /// Waits (up to 10 s) until a `todo` session of this database waits for
    /// a lock; false if none does by then.
    pub fn wait_for_todo_to_block(&self) -> bool {
        self.wait_until(TODO_WAITS_FOR_A_LOCK)
    }

    /// Bloats `tasks` on purpose (30 000 rows, two in three deleted) with
    /// autovacuum kept away, and waits until the statistics show it: what
    /// `db maintain` and `db health`'s vacuum check look for.
    pub fn bloat_tasks(&self) {
        self.psql(
            "ALTER TABLE tasks SET (autovacuum_enabled = false);
             INSERT INTO tasks (title, user_id)
             SELECT 'task ' || i, (SELECT min(id) FROM users) FROM generate_series(1, 30000) i;
             ANALYZE tasks;
             DELETE FROM tasks WHERE id % 3 <> 0;",
        );
        assert!(self.wait_until(
            "SELECT n_dead_tup > 15000 FROM pg_stat_user_tables WHERE relname = 'tasks'"
        ));
    }

    /// SQL that is true while a COPY into this database's `tasks` is under way.
    pub fn copying_tasks(&self) -> String {
        format!(
            "SELECT EXISTS (SELECT FROM pg_stat_progress_copy p JOIN pg_class c ON c.oid = p.relid
             WHERE c.relname = 'tasks' AND p.datname = '{}' AND p.tuples_processed > 1000)",
            self.name
        )
    }

    /// SQL that is true when no other session is connected to this database.
    pub fn idle(&self) -> String {
        format!(
            "SELECT NOT EXISTS (SELECT FROM pg_stat_activity
             WHERE datname = '{}' AND pid <> pg_backend_pid())",
            self.name
        )
    }

    /// Another session (psql) that runs `sql` — typically taking a lock and
    /// sleeping — until dropped. Returns once `ready` (SQL) is true.
    pub fn hold(&self, sql: &str, ready: &str) -> Holder {
        let child = StdCommand::new(psql_path())
            .args(["-X", "-q", "-d", &self.url(), "-c", sql])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let holder = Holder(child);
        assert!(
            self.wait_until(ready),
            "the other session never got its lock"
        );
        holder
    }

    /// Another session reading `tasks` (ACCESS SHARE) until dropped: the
    /// lock the fast path's index drop would wait for.
    pub fn hold_tasks_reader(&self) -> Holder {
        self.hold(
            "BEGIN; LOCK TABLE tasks IN ACCESS SHARE MODE; SELECT pg_sleep(30);",
            &self.locked("tasks"),
        )
    }

    /// SQL that is true when another session holds a granted lock on `table`
    /// of this database (the test databases are copies of one template:
    /// their tables have the same oids, so the database is compared too).
    pub fn locked(&self, table: &str) -> String {
        format!(
            "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE c.relname = '{table}' AND l.granted AND l.pid <> pg_backend_pid()
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&server().url("postgres")) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// Asserts a finished command's exit code; a failure shows its stdout and
/// stderr.
#[track_caller]
pub fn expect_code(out: &impl Outcome, code: i32) {
    assert_eq!(
        out.output().status.code(),
        Some(code),
        "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
        out.stdout(),
        out.stderr()
    );
}

/// A directory under the system's temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "todo-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs SQL with psql (the system client) against `url`.
pub fn psql(url: &str, sql: &str) -> String {
    try_psql(url, sql).unwrap_or_else(|err| panic!("psql failed for {sql}: {err}"))
}

/// Runs SQL with psql; `Err(stderr)` when it fails (for statements that
/// should be refused).
pub fn try_psql(url: &str, sql: &str) -> Result<String, String> {
    let out = StdCommand::new(psql_path())
        .args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("running psql");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// psql from the server's binaries (its directory has the server tools), or
/// from PATH.
pub fn psql_path() -> PathBuf {
    let bindir = todo::local::find_bindir(None).expect("PostgreSQL binaries");
    let beside = bindir.join("psql");
    if beside.exists() {
        return beside;
    }
    let real = std::fs::canonicalize(bindir.join("postgres")).expect("postgres binary");
    real.parent().unwrap().join("psql")
}

/// stdout of a finished command as a string.
pub fn stdout(out: &impl Outcome) -> String {
    out.stdout()
}

/// stderr of a finished command as a string.
pub fn stderr(out: &impl Outcome) -> String {
    out.stderr()
}

/// Parses stdout as JSON.
#[track_caller]
pub fn json(out: &impl Outcome) -> serde_json::Value {
    out.value()
}

/// Asserts that a JSON object's text lists these keys first, in this order,
/// and no others.
pub fn assert_key_order(text: &str, keys: &[&str]) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(v.as_object().unwrap().len(), keys.len(), "{text}");
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("no {k} in {text}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys out of order in {text}"
    );
}
