//! PgBouncer 1.18 in `pool_mode = transaction` with 5 server connections
//! per database, in front of the main test server: started once per run
//! home and shared by the run's test processes (and kept for the next run,
//! like the main server).
//!
//! A PgBouncer is used only once it is proven to be this run's: a query
//! through it must reach the main server's data directory. A port that
//! another program took, a bouncer left by an earlier run in front of a
//! server that is gone, or one that died at start are replaced, and a
//! bouncer that cannot be started fails the test with its log.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::servers::{base, chown_to_postgres, free_port, run_as_server, setup_lock};
use super::{server, try_psql, POOLED_APP_ROLE};

pub struct Bouncer {
    pub port: u16,
}

impl Bouncer {
    /// A URL for database `db` of the main server, through PgBouncer.
    pub fn url(&self, db: &str) -> String {
        self.url_as("postgres", db)
    }

    /// The same, as `role` (one PgBouncer knows: postgres, POOLED_APP_ROLE).
    pub fn url_as(&self, role: &str, db: &str) -> String {
        format!("postgresql://{role}@127.0.0.1:{}/{db}", self.port)
    }
}

/// The run's PgBouncer, started when none of its own answers.
pub fn pgbouncer() -> &'static Bouncer {
    static BOUNCER: OnceLock<Bouncer> = OnceLock::new();
    BOUNCER.get_or_init(|| {
        let _lock = setup_lock("bouncer");
        let dir = PathBuf::from(format!("{}-bouncer", base()));
        fs::create_dir_all(&dir).unwrap();
        chown_to_postgres(&dir);
        let expected = super::psql(&server().url("postgres"), "SHOW data_directory");
        let port_file = dir.join("port");
        let mut port = fs::read_to_string(&port_file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or_else(free_port);
        if serves(port, &expected) {
            return Bouncer { port };
        }
        let mut failures = Vec::new();
        for _ in 0..3 {
            stop_ours(&dir);
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Somebody else listens there: not ours to stop.
                port = free_port();
            }
            fs::write(&port_file, port.to_string()).unwrap();
            match start(&dir, port, &expected) {
                Ok(()) => return Bouncer { port },
                Err(why) => failures.push(format!("port {port}: {why}")),
            }
            port = free_port();
        }
        panic!(
            "cannot start PgBouncer for the pooler tests:\n{}\n--- {}/pgbouncer.log (end):\n{}",
            failures.join("\n"),
            dir.display(),
            log_tail(&dir)
        );
    })
}

/// Whether a query through 127.0.0.1:`port` reaches the main server.
fn serves(port: u16, data_directory: &str) -> bool {
    let url = format!("postgresql://postgres@127.0.0.1:{port}/postgres?connect_timeout=3");
    try_psql(&url, "SHOW data_directory").is_ok_and(|dir| dir == data_directory)
}

/// Writes the configuration, starts PgBouncer on `port` and waits (10 s at
/// most) until it serves the main server.
fn start(dir: &Path, port: u16, data_directory: &str) -> Result<(), String> {
    let socket = server().socket_dir.clone().unwrap();
    let ini = format!(
        "[databases]\n* = host={} port=5432\n\n[pgbouncer]\n\
         listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
         auth_type = trust\nauth_file = {dir}/userlist.txt\n\
         pool_mode = transaction\ndefault_pool_size = 5\nmax_client_conn = 1000\n\
         logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
        socket.display(),
        dir = dir.display()
    );
    fs::write(dir.join("pgbouncer.ini"), ini).unwrap();
    fs::write(
        dir.join("userlist.txt"),
        format!("\"postgres\" \"\"\n\"{POOLED_APP_ROLE}\" \"\"\n"),
    )
    .unwrap();
    for f in ["pgbouncer.ini", "userlist.txt"] {
        chown_to_postgres(&dir.join(f));
    }
    let out = run_as_server("pgbouncer")
        .arg("-d")
        .arg(dir.join("pgbouncer.ini"))
        .output()
        .expect("pgbouncer (apt-get install pgbouncer; scripts/test installs it)");
    if !out.status.success() {
        return Err(format!(
            "pgbouncer -d exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if serves(port, data_directory) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("it did not serve the test server within 10 s".into())
}

/// Stops the PgBouncer this directory's pidfile names, if it is one.
fn stop_ours(dir: &Path) {
    let pidfile = dir.join("pgbouncer.pid");
    let pid = fs::read_to_string(&pidfile)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok());
    if let Some(pid) = pid {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("pgbouncer") {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let _ = fs::remove_file(pidfile);
}

/// The last 20 lines of PgBouncer's log.
fn log_tail(dir: &Path) -> String {
    let log = fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
