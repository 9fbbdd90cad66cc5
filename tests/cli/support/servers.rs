//! Stand-ins for production set-ups, started once per test run (and shared
//! by test processes, like the main server): a PostgreSQL that accepts only
//! TLS with SCRAM passwords on 127.0.0.1, a primary with its hot standby,
//! and (in `bouncer.rs`) a PgBouncer in transaction mode in front of the
//! main server (`scripts/test` installs pgbouncer when it is missing).

use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use todo::local::{is_root, Cluster};

pub use super::bouncer::pgbouncer;
use super::{server, PW_ROLE, PW_ROLE_PASSWORD};

/// The database on the TLS server that tests use (owned by `PW_ROLE`).
pub const TLS_DB: &str = "tls_app";

pub(super) fn base() -> String {
    server()
        .home
        .clone()
        .expect("these tests need the private server (unset TEST_DATABASE_URL)")
        .to_string_lossy()
        .into_owned()
}

/// Serialises set-up across test processes.
pub(super) fn setup_lock(name: &str) -> File {
    let file = File::create(format!("{}-{name}.lock", base())).unwrap();
    file.lock().unwrap();
    file
}

pub(super) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port chosen once and remembered in `file`.
fn remembered_port(file: &Path) -> u16 {
    if let Ok(text) = fs::read_to_string(file) {
        if let Ok(port) = text.trim().parse() {
            return port;
        }
    }
    let port = free_port();
    fs::write(file, port.to_string()).unwrap();
    port
}

pub(super) fn chown_to_postgres(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

pub(super) fn run_as_server(program: &str) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", program]);
        cmd
    } else {
        Command::new(program)
    }
}

pub struct TlsServer {
    pub port: u16,
}

impl TlsServer {
    /// `postgresql://user:password@127.0.0.1:port/db?query`.
    pub fn url(&self, password: &str, query: &str) -> String {
        format!(
            "postgresql://{PW_ROLE}:{password}@127.0.0.1:{}/{TLS_DB}?{query}",
            self.port
        )
    }

    pub fn good_url(&self) -> String {
        self.url(PW_ROLE_PASSWORD, "sslmode=require&channel_binding=require")
    }
}

/// A server with a self-signed certificate that accepts only `hostssl`
/// connections with `scram-sha-256` on 127.0.0.1.
pub fn tls_server() -> &'static TlsServer {
    static TLS: OnceLock<TlsServer> = OnceLock::new();
    TLS.get_or_init(|| {
        let _lock = setup_lock("tls");
        let certs = PathBuf::from(format!("{}-tls-certs", base()));
        if !certs.join("server.key").exists() {
            fs::create_dir_all(&certs).unwrap();
            let out = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "365",
                    "-subj",
                    "/CN=localhost",
                ])
                .arg("-keyout")
                .arg(certs.join("server.key"))
                .arg("-out")
                .arg(certs.join("server.crt"))
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            fs::set_permissions(certs.join("server.key"), fs::Permissions::from_mode(0o600))
                .unwrap();
            for f in ["", "server.key", "server.crt"] {
                chown_to_postgres(&certs.join(f));
            }
        }
        let port = remembered_port(&certs.join("port"));
        let cluster = super::cluster(format!("{}-tls", base()))
            .with_setting("fsync", "off")
            .with_setting("listen_addresses", "'127.0.0.1'")
            .with_setting("port", &port.to_string())
            .with_setting("ssl", "on")
            .with_setting(
                "ssl_cert_file",
                &format!("'{}'", certs.join("server.crt").display()),
            )
            .with_setting(
                "ssl_key_file",
                &format!("'{}'", certs.join("server.key").display()),
            )
            .with_setting("password_encryption", "'scram-sha-256'")
            .with_hba_line("hostssl all all 127.0.0.1/32 scram-sha-256")
            .with_hba_line("host all all 0.0.0.0/0 reject");
        cluster
            .ensure_running(&mut |msg| eprintln!("tls server: {msg}"), &mut |_| Ok(()))
            .unwrap_or_else(|e| panic!("cannot start the TLS test server: {e}"));
        let admin = cluster.url("postgres");
        let exists = super::psql(
            &admin,
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{TLS_DB}'"),
        );
        if exists == "0" {
            super::psql(
                &admin,
                &format!(
                    "DO $$ BEGIN
                       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PW_ROLE}') THEN
                         CREATE ROLE {PW_ROLE} LOGIN PASSWORD '{PW_ROLE_PASSWORD}';
                       END IF;
                     END $$"
                ),
            );
            super::psql(&admin, &format!("CREATE DATABASE {TLS_DB} OWNER {PW_ROLE}"));
        }
        // Always: a server kept from an earlier run gets new migrations.
        let server = TlsServer { port };
        let url = todo::url::DbUrl::parse(&server.good_url(), None, 5).unwrap();
        let mut conn = todo::db::pool::establish(&url, None).expect("TLS + SCRAM connection");
        todo::db::migrate::run(
            &mut conn,
            todo::db::migrate::Limits::new(Duration::from_secs(30)),
            &mut |_| {},
        )
        .expect("migrating tls_app");
        server
    })
}

/// A primary and its hot standby (streaming replication), for the read
/// replica tests: the standby applies each commit 3 s late
/// (`recovery_min_apply_delay`), so lag is real and deterministic.
pub struct Replication {
    primary: Cluster,
    standby: Cluster,
}

impl Replication {
    /// A URL of `db` on the primary.
    pub fn primary_url(&self, db: &str) -> String {
        self.primary.url(db)
    }

    /// A URL of `db` on the standby.
    pub fn standby_url(&self, db: &str) -> String {
        self.standby.url(db)
    }
}

/// The newest `pg_basebackup` of the server binaries.
fn pg_basebackup() -> PathBuf {
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.flatten()
                .map(|d| d.path().join("bin/pg_basebackup"))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| PathBuf::from("pg_basebackup"))
}

/// `postgres --version` of `bin` (`…/pg_basebackup` or `…/postgres`) → 15.
fn major_of(program: &Path) -> Option<u32> {
    let out = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .nth(2)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The replication cluster `name` (`primary`, `standby`): of the run's
/// server version when the system's `pg_basebackup` can copy it (it refuses
/// newer servers), else of the system's (in a home of its own).
fn replication_cluster(name: &str) -> Cluster {
    let copyable = super::server_bindir()
        .is_none_or(|bin| major_of(&pg_basebackup()) >= major_of(&bin.join("postgres")));
    if copyable {
        super::cluster(format!("{}-{name}", base()))
    } else {
        Cluster::new(format!("{}-{name}-system", base()))
    }
}

pub fn replication() -> &'static Replication {
    static REPLICATION: OnceLock<Replication> = OnceLock::new();
    REPLICATION.get_or_init(|| {
        let _lock = setup_lock("replication");
        let primary = replication_cluster("primary")
            .with_setting("fsync", "off")
            .with_setting("full_page_writes", "off");
        primary
            .ensure_running(&mut |msg| eprintln!("primary: {msg}"), &mut |_| Ok(()))
            .unwrap_or_else(|e| panic!("cannot start the replication primary: {e}"));
        let standby = replication_cluster("standby");
        let home = standby.home().to_path_buf();
        if !home.join("data").exists() {
            let _ = fs::remove_dir_all(&home);
            fs::create_dir_all(&home).unwrap();
            fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
            chown_to_postgres(&home);
            let out = run_as_server(&pg_basebackup().to_string_lossy())
                .arg("-D")
                .arg(home.join("data"))
                .args(["-R", "-X", "stream", "-c", "fast", "-U", "postgres", "-h"])
                .arg(primary.socket_dir())
                .output()
                .expect("pg_basebackup");
            assert!(
                out.status.success(),
                "pg_basebackup: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let auto = home.join("data/postgresql.auto.conf");
            let mut conf = fs::read_to_string(&auto).unwrap();
            conf.push_str("recovery_min_apply_delay = '3s'\ncluster_name = 'todo_test_standby'\n");
            fs::write(&auto, conf).unwrap();
            // The primary's `todo` database came with the copy.
            fs::write(home.join("ready"), b"").unwrap();
        }
        standby
            .ensure_running(&mut |msg| eprintln!("standby: {msg}"), &mut |_| Ok(()))
            .unwrap_or_else(|e| panic!("cannot start the standby: {e}"));
        Replication { primary, standby }
    })
}
