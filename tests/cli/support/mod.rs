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
pub mod run;
pub mod servers;
pub use run::{Done, Outcome, Run};

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use diesel::prelude::*;
use diesel::sql_types::Bool;
use todo::local::Cluster;

/// A role with a password (scram-sha-256 through the socket) for
/// authentication tests.
pub const PW_ROLE: &str = "todo_pw";
pub const PW_ROLE_PASSWORD: &str = "correct-horse-battery";
/// A login role whose sessions are read-only, for `db health`.
pub const RO_ROLE: &str = "todo_ro";
/// A login role PgBouncer also lets in, for an app role behind the pooler.
pub const POOLED_APP_ROLE: &str = "todo_pooled_app";

/// The advisory lock that serialises template set-up across processes.
const SETUP_LOCK: i64 = 7_470_001;

pub struct Server {
    /// URL of a database on the server, with `{db}` for the name.
    url_pattern: String,
    template: String,
    /// The socket directory, for the private server.
    pub socket_dir: Option<PathBuf>,
    /// The home of the private server (other stand-ins live beside it).
    pub home: Option<PathBuf>,
}

impl Server {
    pub fn url(&self, db: &str) -> String {
        self.url_pattern.replace("{db}", db)
    }

    fn admin(&self) -> PgConnection {
        PgConnection::establish(&self.url("postgres"))
            .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"))
    }
}

/// The test server, started (and its template migrated) on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (url_pattern, socket_dir, home) = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => (with_database(&url, "{db}"), None, None),
            _ => private_server(),
        };
        let mut server = Server {
            url_pattern,
            template: format!("todo_tpl_{:x}", migrations_hash()),
            socket_dir,
            home,
        };
        setup(&mut server);
        server
    })
}

/// `/tmp/todo-test-<hash>`: this checkout's and server version's name for
/// what the test run keeps between runs (the private server lives there;
/// other stand-ins beside it).
fn run_home() -> PathBuf {
    let mut h = DefaultHasher::new();
    env!("CARGO_TARGET_TMPDIR").hash(&mut h);
    "harness-v3".hash(&mut h);
    server_bindir().hash(&mut h);
    PathBuf::from(format!(
        "/tmp/todo-test-{:012x}",
        h.finish() & 0xffff_ffff_ffff
    ))
}

/// The embedded database of commands that use one without being pointed at
/// it (`db verify`, `backup --verify`): one per run home, never the
/// machine's own (`/var/lib/todo` as root, which another version's run may
/// have made).
fn embedded_home() -> PathBuf {
    let mut home = run_home().into_os_string();
    home.push("-embedded");
    PathBuf::from(home)
}

/// The major version of the test server (15 for 15.18).
pub fn server_major() -> u32 {
    static MAJOR: OnceLock<u32> = OnceLock::new();
    *MAJOR.get_or_init(|| {
        let num = psql(&server().url("postgres"), "SHOW server_version_num");
        num.trim().parse::<u32>().expect("server_version_num") / 10_000
    })
}

fn private_server() -> (String, Option<PathBuf>, Option<PathBuf>) {
    let home = run_home();
    let cluster = cluster(&home)
        .with_setting("fsync", "off")
        .with_setting("synchronous_commit", "off")
        .with_setting("full_page_writes", "off")
        .with_setting("max_connections", "300")
        .with_setting("shared_preload_libraries", "'plpgsql, pg_stat_statements'")
        .with_setting("password_encryption", "'scram-sha-256'")
        .with_hba_line(&format!("local all {PW_ROLE} scram-sha-256"));
    cluster
        .ensure_running(&mut |msg| eprintln!("test server: {msg}"), &mut |_| Ok(()))
        .unwrap_or_else(|e| {
            panic!(
                "cannot start the private PostgreSQL for the tests: {e}{}\n\
                 (install the server binaries: apt-get install postgresql; \
                 or set TEST_DATABASE_URL to an existing server)",
                e.hint
                    .as_ref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default()
            )
        });
    (
        cluster.url("{db}").replace("%7Bdb%7D", "{db}"),
        Some(cluster.socket_dir()),
        Some(home),
    )
}

/// `TODO_TEST_PG_BIN`: the server binaries every test server and embedded
/// database of this run uses (`scripts/test --pg 18` sets it), else the
/// system's newest.
pub fn server_bindir() -> Option<PathBuf> {
    std::env::var_os("TODO_TEST_PG_BIN")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// A cluster in `home` run by [`server_bindir`]'s binaries.
pub fn cluster(home: impl Into<PathBuf>) -> Cluster {
    let cluster = Cluster::new(home);
    match server_bindir() {
        Some(dir) => cluster.with_bindir(dir),
        None => cluster,
    }
}

/// Replaces the database name in a `postgres://…/db?…` URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let authority = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    format!("{authority}/{db}{query}")
}

/// Changes when any migration file changes, so a stale template is never used.
fn migrations_hash() -> u64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<PathBuf> = walk(&dir);
    files.sort();
    let mut h = DefaultHasher::new();
    for f in files {
        f.strip_prefix(&dir).unwrap().hash(&mut h);
        std::fs::read(&f).unwrap().hash(&mut h);
    }
    h.finish()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn setup(server: &mut Server) {
    let mut admin = server.admin();
    exec(
        &mut admin,
        &format!("SELECT pg_advisory_lock({SETUP_LOCK})"),
    );
    exec(
        &mut admin,
        &format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PW_ROLE}') THEN
                 CREATE ROLE {PW_ROLE} LOGIN PASSWORD '{PW_ROLE_PASSWORD}';
               END IF;
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{POOLED_APP_ROLE}') THEN
                 CREATE ROLE {POOLED_APP_ROLE} LOGIN;
               END IF;
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{RO_ROLE}') THEN
                 CREATE ROLE {RO_ROLE} LOGIN;
                 ALTER ROLE {RO_ROLE} SET default_transaction_read_only = on;
               END IF;
             END $$"
        ),
    );
    let exists: bool = diesel::select(diesel::dsl::sql::<Bool>(&format!(
        "EXISTS (SELECT FROM pg_database WHERE datname = '{}')",
        server.template
    )))
    .get_result(&mut admin)
    .unwrap();
    if !exists {
        let building = format!("{}_building", server.template);
        exec(
            &mut admin,
            &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
        );
        exec(
            &mut admin,
            &format!("CREATE DATABASE {building} TEMPLATE template0"),
        );
        {
            let url = todo::url::DbUrl::parse(&server.url(&building), None, 5).unwrap();
            let mut conn = todo::db::pool::establish(&url, None).unwrap();
            todo::db::migrate::run(&mut conn, std::time::Duration::from_secs(30))
                .expect("migrating the template database");
        }
        exec(
            &mut admin,
            &format!("ALTER DATABASE {building} RENAME TO {}", server.template),
        );
    }
    exec(
        &mut admin,
        &format!("SELECT pg_advisory_unlock({SETUP_LOCK})"),
    );
}

fn exec(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

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

    /// SQL that is true when another session holds a granted lock on `table`.
    pub fn locked(&self, table: &str) -> String {
        format!(
            "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             WHERE c.relname = '{table}' AND l.granted AND l.pid <> pg_backend_pid())"
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

/// The environment every `todo` under test gets: nothing of the
/// developer's (no `DATABASE_URL`, `TODO_*`, `PG*`, `NO_COLOR`, locale),
/// only `PATH` (to find PostgreSQL's binaries) and `CI=true`, as CI runs it;
/// `TODO_PG_BINDIR` when the run's servers are another version's
/// ([`server_bindir`]), so that embedded databases run that version too;
/// and `TODO_HOME` ([`embedded_home`]) unless a test gives its own.
const KEPT: [&str; 1] = ["PATH"];

/// `program` with the test environment, run in `dir`.
pub fn command_in_test_env(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> StdCommand {
    let mut cmd = StdCommand::new(program);
    cmd.env_clear();
    for key in KEPT {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    if let Some(bindir) = server_bindir() {
        cmd.env("TODO_PG_BINDIR", bindir);
    }
    cmd.env("TODO_HOME", embedded_home());
    cmd.env("CI", "true").current_dir(dir);
    cmd
}

/// Polls `condition` every 25 ms until it holds (true) or `timeout` passes
/// (false): for what happens some time after a command, never a fixed sleep.
pub fn wait_for(timeout: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// `todo` with the test environment, run in `dir`, for the fluent runner
/// (`todo_cmd(dir).args([...]).expect(0)`).
pub fn todo_cmd(dir: &Path) -> Run {
    let cmd = assert_cmd::Command::from_std(command_in_test_env(
        assert_cmd::cargo::cargo_bin("todo"),
        dir,
    ));
    Run::new(cmd, std::iter::empty::<&str>())
}

/// The same as a `std::process::Command`, for tests that spawn `todo` and
/// act while it runs (signals, races); stdout and stderr are captured.
pub fn todo_process(dir: &Path) -> StdCommand {
    let mut cmd = command_in_test_env(assert_cmd::cargo::cargo_bin("todo"), dir);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// `sh -c SCRIPT` with `$0` the `todo` binary and the test environment,
/// for what needs a shell (closed descriptors, pipes into `head`).
pub fn todo_in_shell(dir: &Path, script: &str) -> StdCommand {
    let mut cmd = command_in_test_env("sh", dir);
    cmd.arg("-c")
        .arg(script)
        .arg(assert_cmd::cargo::cargo_bin("todo"));
    cmd
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

/// Starts `todo ARGS` with `url` as `DATABASE_URL`, without waiting; stdout
/// and stderr are captured.
pub fn spawn_todo(dir: &Path, url: &str, args: &[&str]) -> std::process::Child {
    todo_process(dir)
        .args(args)
        .env("DATABASE_URL", url)
        .spawn()
        .unwrap()
}

/// Runs `n` copies of `todo ARGS` at once (`{i}` in an argument becomes the
/// copy's number) and returns their outputs.
pub fn run_concurrently(
    dir: &Path,
    n: usize,
    url: &str,
    args: &[&str],
) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("{i}", &i.to_string()))
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            spawn_todo(dir, url, &args)
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// A background session; killed when dropped.
pub struct Holder(std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh `TODO_HOME`; the cluster in it is stopped and removed at the end.
pub struct LocalHome {
    pub path: PathBuf,
}

impl LocalHome {
    pub fn new(tag: &str) -> LocalHome {
        let path = PathBuf::from(format!("/tmp/todo-lt-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        LocalHome { path }
    }

    pub fn cmd(&self) -> Run {
        todo_cmd(&std::env::temp_dir()).env("TODO_HOME", &self.path)
    }

    /// Runs `todo ARGS` in this home and asserts it succeeds.
    pub fn ok(&self, args: &[&str]) {
        self.run(args.iter().copied()).ok();
    }

    /// `todo ARGS` in this home, for the fluent runner.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        self.cmd().args(args)
    }

    pub fn url(&self) -> String {
        stdout(&self.cmd().args(["db", "local", "url"]).output())
            .trim()
            .to_string()
    }
}

impl Drop for LocalHome {
    fn drop(&mut self) {
        let _ = self.cmd().args(["db", "local", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.path);
        // A long or unusual home has its socket directory under /tmp.
        let socket_dir = todo::local::Cluster::new(&self.path).socket_dir();
        if !socket_dir.starts_with(&self.path) {
            let _ = std::fs::remove_dir_all(socket_dir);
        }
    }
}

/// Runs `todo ARGS` on a pseudo-terminal (util-linux `script`), typing
/// `answer` once the prompt shows; returns (exit code, everything the
/// terminal showed).
pub fn on_a_terminal(db: &TestDb, args: &str, answer: &str) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let mut child = crate::support::command_in_test_env("script", &db.dir)
        // A pseudo-terminal starts with no size; give it one, as a window
        // has (a pager such as `less -F` needs it to quit on a short list).
        .args([
            "-qec",
            &format!("stty cols 120 rows 40; {} {args}", bin.display()),
            "/dev/null",
        ])
        .env("TODO_DATABASE_URL", db.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !String::from_utf8_lossy(&screen).contains("[y/N]") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => screen.extend(bytes),
            Err(_) => break,
        }
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    screen.extend(rx.try_iter().flatten());
    (status.code(), String::from_utf8_lossy(&screen).into_owned())
}
