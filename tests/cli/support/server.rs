//! The main test server: the private cluster (or `TEST_DATABASE_URL`), the
//! roles tests log in as, and the migrated template every test database is
//! cloned from.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use diesel::prelude::*;
use diesel::sql_types::Bool;
use todo::local::Cluster;

use super::{psql, POOLED_APP_ROLE, PW_ROLE, PW_ROLE_PASSWORD, RO_ROLE};

/// The advisory lock that serialises template set-up across processes.
const SETUP_LOCK: i64 = 7_470_001;

pub struct Server {
    /// URL of a database on the server, with `{db}` for the name.
    url_pattern: String,
    pub(super) template: String,
    /// The socket directory, for the private server.
    pub socket_dir: Option<PathBuf>,
    /// The home of the private server (other stand-ins live beside it).
    pub home: Option<PathBuf>,
}

impl Server {
    pub fn url(&self, db: &str) -> String {
        self.url_pattern.replace("{db}", db)
    }

    pub(super) fn admin(&self) -> PgConnection {
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
pub(super) fn embedded_home() -> PathBuf {
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
            todo::db::migrate::run(
                &mut conn,
                todo::db::migrate::Limits::new(std::time::Duration::from_secs(30)),
                &mut |_| {},
            )
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

pub(super) fn exec(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}
