//! The embedded database (SPEC §3): a private PostgreSQL cluster under
//! `$TODO_HOME`, created with the system's `initdb` on first use, started
//! with `pg_ctl` on demand, reachable only through a Unix socket in a 0700
//! directory.
//!
//! Layout of a home directory:
//! - `data/`: the cluster (`PG_VERSION` names the server version that made it);
//! - `run/`: the socket directory (mode 0700);
//! - `lock`: taken while creating or starting, so racing commands are safe;
//! - `postgres.log`: the server log;
//! - `ready`: written once the cluster is created, its database made and migrated.
//!
//! As root the server runs as the `postgres` system user (initdb and postgres
//! refuse root), and the home directory belongs to that user.
//!
//! The test suite starts its private server with this same code.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::{Error, Result};

/// The database created inside the cluster for the tool's tables.
pub const DATABASE: &str = "todo";
/// The cluster's superuser, which the tool connects as.
pub const SUPERUSER: &str = "postgres";
/// Unix socket paths are limited to about 107 bytes.
const MAX_SOCKET_PATH: usize = 100;

/// Whether a cluster exists and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    NotCreated,
    Stopped,
    Running,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::NotCreated => "not created",
            State::Stopped => "stopped",
            State::Running => "running",
        }
    }
}

/// A local cluster in a home directory.
#[derive(Debug, Clone)]
pub struct Cluster {
    home: PathBuf,
    settings: Vec<(String, String)>,
    hba_lines: Vec<String>,
}

impl Cluster {
    pub fn new(home: impl Into<PathBuf>) -> Cluster {
        Cluster {
            home: home.into(),
            settings: Vec::new(),
            hba_lines: Vec::new(),
        }
    }

    /// `$TODO_HOME`, else `$XDG_DATA_HOME/todo` or `~/.local/share/todo`;
    /// `/var/lib/todo` as root (the server's user cannot enter /root).
    pub fn default_home() -> Result<PathBuf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(home) = var("TODO_HOME") {
            return Ok(PathBuf::from(home));
        }
        if is_root() {
            return Ok(PathBuf::from("/var/lib/todo"));
        }
        if let Some(xdg) = var("XDG_DATA_HOME") {
            return Ok(PathBuf::from(xdg).join("todo"));
        }
        match var("HOME") {
            Some(home) => Ok(PathBuf::from(home).join(".local/share/todo")),
            None => Err(Error::usage(
                "cannot find a home for the local database: set TODO_HOME or HOME",
            )),
        }
    }

    /// Adds a `postgresql.conf` setting written when the cluster is created.
    pub fn with_setting(mut self, key: &str, value: &str) -> Cluster {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// Adds a `pg_hba.conf` line placed before the default rules when the
    /// cluster is created.
    pub fn with_hba_line(mut self, line: &str) -> Cluster {
        self.hba_lines.push(line.into());
        self
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn data_dir(&self) -> PathBuf {
        self.home.join("data")
    }

    /// `home/run`, unless that makes the socket path too long; then a
    /// directory under /tmp named after the home.
    pub fn socket_dir(&self) -> PathBuf {
        let dir = self.home.join("run");
        if dir.as_os_str().len() + "/.s.PGSQL.5432".len() <= MAX_SOCKET_PATH {
            return dir;
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.home.hash(&mut h);
        PathBuf::from(format!("/tmp/todo-{:016x}", h.finish()))
    }

    /// A libpq URL (psql accepts it) for a database of this cluster.
    pub fn url(&self, database: &str) -> String {
        let port = self
            .settings
            .iter()
            .find(|(k, _)| k == "port")
            .map(|(_, v)| format!("&port={v}"))
            .unwrap_or_default();
        format!(
            "postgresql:///{}?host={}&user={SUPERUSER}{port}",
            encode(database),
            encode(&self.socket_dir().to_string_lossy())
        )
    }

    pub fn state(&self) -> Result<State> {
        if !self.data_dir().join("PG_VERSION").exists() {
            return Ok(State::NotCreated);
        }
        let bindir = self.bindir()?;
        let out = self.run_as_server(&bindir.join("pg_ctl"), &["status", "-D", &self.data()])?;
        Ok(if out.status.success() {
            State::Running
        } else {
            State::Stopped
        })
    }

    /// Creates the cluster if needed and starts it if it is not running.
    /// `notice` receives a one-line message when either happens;
    /// `on_created(url)` runs once, under the lock, after the cluster and its
    /// database are made (to migrate it). Safe when several processes race.
    pub fn ensure_running(
        &self,
        notice: &mut dyn FnMut(&str),
        on_created: &mut dyn FnMut(&str) -> Result<()>,
    ) -> Result<()> {
        // Fail before creating anything when the server cannot be run.
        self.bindir()?;
        self.prepare_home()?;
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.home.join("lock"))
            .map_err(|e| io_error("open the lock file in", &self.home, e))?;
        lock.lock()
            .map_err(|e| io_error("lock", &self.home.join("lock"), e))?;

        let ready = self.home.join("ready");
        if !self.data_dir().join("PG_VERSION").exists() {
            notice(&format!(
                "creating the local database in {} (first use)",
                self.home.display()
            ));
            self.initdb()?;
        } else if self.state()? == State::Running {
            if ready.exists() {
                return Ok(());
            }
        } else {
            notice(&format!(
                "starting the local database in {}",
                self.home.display()
            ));
        }
        if self.state()? != State::Running {
            self.start()?;
        }
        if !ready.exists() {
            self.create_database()?;
            on_created(&self.url(DATABASE))?;
            fs::write(&ready, b"").map_err(|e| io_error("write", &ready, e))?;
        }
        Ok(())
    }

    /// Stops the server if it runs; returns whether it was running.
    pub fn stop(&self) -> Result<bool> {
        if self.state()? != State::Running {
            return Ok(false);
        }
        let bindir = self.bindir()?;
        let out = self.run_as_server(
            &bindir.join("pg_ctl"),
            &["stop", "-D", &self.data(), "-m", "fast", "-w"],
        )?;
        if !out.status.success() {
            return Err(Error::unexpected(format!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(true)
    }

    fn data(&self) -> String {
        self.data_dir().to_string_lossy().into_owned()
    }

    /// Makes the home and socket directories: mode 0700, and owned by the
    /// server's user when running as root (also when they already exist,
    /// e.g. made by `mktemp -d`).
    fn prepare_home(&self) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        for dir in [self.home.clone(), self.socket_dir()] {
            if !dir.exists() {
                fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| io_error("set permissions on", &dir, e))?;
            }
            let owned_by_root = fs::metadata(&dir).map(|m| m.uid() == 0).unwrap_or(false);
            if is_root() && owned_by_root {
                chown_to_server_user(&dir)?;
            }
        }
        Ok(())
    }

    /// The server binaries: those of the cluster's version when it exists,
    /// else the newest found.
    fn bindir(&self) -> Result<PathBuf> {
        let wanted = fs::read_to_string(self.data_dir().join("PG_VERSION"))
            .ok()
            .map(|v| v.trim().to_string());
        find_bindir(wanted.as_deref())
    }

    fn initdb(&self) -> Result<()> {
        let data = self.data_dir();
        if data.exists() {
            // A previous initdb was interrupted: start again.
            fs::remove_dir_all(&data).map_err(|e| io_error("remove", &data, e))?;
        }
        let bindir = find_bindir(None)?;
        let out = self.run_as_server(
            &bindir.join("initdb"),
            &[
                "-D",
                &self.data(),
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "--no-instructions",
            ],
        )?;
        if !out.status.success() {
            return Err(Error::unexpected(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let mut conf = format!(
            "\n# written by todo\nlisten_addresses = ''\nunix_socket_directories = '{}'\nunix_socket_permissions = 0700\n",
            self.socket_dir().display()
        );
        for (key, value) in &self.settings {
            conf.push_str(&format!("{key} = {value}\n"));
        }
        append(&data.join("postgresql.conf"), &conf)?;
        if !self.hba_lines.is_empty() {
            let hba = data.join("pg_hba.conf");
            let old = fs::read_to_string(&hba).map_err(|e| io_error("read", &hba, e))?;
            let new = format!("{}\n{old}", self.hba_lines.join("\n"));
            fs::write(&hba, new).map_err(|e| io_error("write", &hba, e))?;
        }
        Ok(())
    }

    fn start(&self) -> Result<()> {
        let bindir = self.bindir()?;
        let log = self.home.join("postgres.log");
        let out = self.run_as_server(
            &bindir.join("pg_ctl"),
            &[
                "start",
                "-D",
                &self.data(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
            ],
        )?;
        if !out.status.success() {
            let tail = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(Error::unavailable(format!(
                "cannot start the local database in {}: {}",
                self.home.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("; ")
            ))
            .with_hint(format!("see {}", log.display())));
        }
        Ok(())
    }

    fn create_database(&self) -> Result<()> {
        use diesel::prelude::*;
        let mut conn = PgConnection::establish(&self.url("postgres")).map_err(|e| {
            Error::unavailable(format!("cannot connect to the local database: {e}"))
        })?;
        let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "EXISTS (SELECT 1 FROM pg_database WHERE datname = 'todo')",
        ))
        .get_result(&mut conn)
        .map_err(|e| Error::unexpected(format!("local database: {e}")))?;
        if !exists {
            diesel::sql_query("CREATE DATABASE todo")
                .execute(&mut conn)
                .map_err(|e| Error::unexpected(format!("cannot create the database: {e}")))?;
        }
        Ok(())
    }

    fn run_as_server(&self, program: &Path, args: &[&str]) -> Result<Output> {
        let mut cmd = if is_root() {
            let mut c = Command::new(runuser());
            c.args(["-u", SUPERUSER, "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            .current_dir(&self.home)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::unexpected(format!("cannot run {}: {e}", program.display())))
    }
}

/// Finds the PostgreSQL server binaries: in `$TODO_PG_BINDIR` when set,
/// else on PATH, through `pg_config --bindir`, or under
/// `/usr/lib/postgresql/*/bin`. With `major`, only that version; otherwise
/// the newest.
pub fn find_bindir(major: Option<&str>) -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("TODO_PG_BINDIR").filter(|d| !d.is_empty()) {
        // An explicit choice: only that directory.
        candidates.push(PathBuf::from(dir));
    } else {
        default_candidates(&mut candidates);
    }
    let mut found: Vec<(u32, PathBuf)> = candidates
        .into_iter()
        .filter(|d| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| d.join(b).is_file())
        })
        .filter_map(|d| server_major(&d).map(|v| (v, d)))
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    let pick = match major {
        Some(m) => found.into_iter().find(|(v, _)| v.to_string() == m),
        None => found.into_iter().next(),
    };
    pick.map(|(_, d)| d).ok_or_else(|| {
        let message = match major {
            Some(m) => format!(
                "PostgreSQL {m} server binaries not found; the local database was created by version {m}"
            ),
            None => "the local database needs the PostgreSQL server binaries (initdb, pg_ctl, postgres), and none were found".to_string(),
        };
        Error::unavailable(message)
            .with_hint("install them (apt-get install postgresql) or set DATABASE_URL to use an existing server")
    })
}

/// PATH, then `pg_config --bindir`, then `/usr/lib/postgresql/*/bin`.
fn default_candidates(candidates: &mut Vec<PathBuf>) {
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).filter(|d| d.join("initdb").is_file()));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        candidates.extend(entries.flatten().map(|e| e.path().join("bin")));
    }
}

/// `postgres --version` → `postgres (PostgreSQL) 15.18 (Debian …)` → 15.
fn server_major(bindir: &Path) -> Option<u32> {
    let out = Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(2)?;
    version.split('.').next()?.parse().ok()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The uid and gid of the server's system user (`postgres`).
fn server_user_ids() -> Result<(u32, u32)> {
    let name = std::ffi::CString::new(SUPERUSER).map_err(|e| Error::unexpected(e.to_string()))?;
    // SAFETY: `name` is a valid C string; getpwnam returns NULL or a pointer
    // to a static record that stays valid until the next getpw* call, and
    // both fields are copied out at once.
    let ids = unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some(((*pw).pw_uid, (*pw).pw_gid))
        }
    };
    ids.ok_or_else(|| {
        Error::unavailable(format!(
            "running as root, the local database needs the '{SUPERUSER}' system user to run the server"
        ))
        .with_hint("install PostgreSQL (apt-get install postgresql), which creates it")
    })
}

fn chown_to_server_user(path: &Path) -> Result<()> {
    let (uid, gid) = server_user_ids()?;
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| io_error("change the owner of", path, e))
}

/// `runuser`, from PATH or its usual places.
fn runuser() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("runuser"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| {
            ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("runuser"))
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| io_error("write", path, e))
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error::unexpected(format!("cannot {what} {}: {err}", path.display()))
}

/// Percent-encodes everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
