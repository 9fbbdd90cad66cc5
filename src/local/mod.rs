//! The embedded database (SPEC §3): a private PostgreSQL cluster under
//! `$TODO_HOME`, created with the system's `initdb` on first use, started
//! with `pg_ctl` on demand, reachable only through a Unix socket in a 0700
//! directory. This is process and file management, not data access: the
//! data layer (`db`) only ever sees the URL.
//!
//! Layout of a home directory:
//! - `data/`: the cluster (`PG_VERSION` names the server version that made
//!   it). It is built as `data.new-PID` and renamed to `data` only once fully
//!   configured, so an interrupted first use never leaves a half-made cluster
//!   under the name that gets started;
//! - `run/`: the socket directory (mode 0700);
//! - `lock`: taken while creating or starting, so racing commands are safe;
//! - `postgres.log`: the server log;
//! - `ready`: written once the cluster is created, its database made and migrated.
//!
//! Safety: every start passes `listen_addresses=''`, the socket directory
//! and `unix_socket_permissions=0700` on the server's command line (they
//! win over `postgresql.conf`), so no cluster started by this tool listens
//! on TCP or on a socket other local users can reach. A home or socket
//! directory owned by another user, or writable by group or others, is
//! refused. `pg_ctl start` runs its server through `/bin/sh`, so its command
//! line holds only relative paths and a socket directory of plain
//! characters; a home whose path has others (`'`, `$`, spaces, …) gets its
//! socket directory under `/tmp` instead.
//!
//! As root the server runs as the `postgres` system user (initdb and postgres
//! refuse root), and the home directory belongs to that user.
//!
//! The test suite starts its private server with this same code.

mod create;
mod files;
mod server;
mod start;
mod stop;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use files::{check_private_dir, encode, fnv1a};
pub use server::{find_bindir, is_root};
use server::{io_error, live_postgres_pid};

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
    /// Its postmaster is alive but its socket does not accept connections
    /// (starting up, shutting down, or started elsewhere by hand).
    NotAnswering,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::NotCreated => "not created",
            State::Stopped => "stopped",
            State::Running => "running",
            State::NotAnswering => "not answering",
        }
    }
}

/// A local cluster in a home directory.
#[derive(Debug, Clone)]
pub struct Cluster {
    home: PathBuf,
    settings: Vec<(String, String)>,
    hba_lines: Vec<String>,
    /// Server binaries chosen by the caller (else [`find_bindir`]).
    bindir: Option<PathBuf>,
}

impl Cluster {
    pub fn new(home: impl Into<PathBuf>) -> Cluster {
        Cluster {
            home: home.into(),
            settings: Vec::new(),
            hba_lines: Vec::new(),
            bindir: None,
        }
    }

    /// `$TODO_HOME`, else `$XDG_DATA_HOME/todo` or `~/.local/share/todo`;
    /// `/var/lib/todo` as root (the server's user cannot enter /root).
    pub fn default_home() -> Result<PathBuf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(home) = var("TODO_HOME") {
            // A relative TODO_HOME is taken from the current directory once,
            // here: the socket directory in the URL must be absolute (libpq
            // reads `relhome/run` as a host name).
            return std::path::absolute(PathBuf::from(home))
                .map_err(|e| Error::usage(format!("TODO_HOME cannot be used: {e}")));
        }
        if is_root() {
            return Ok(PathBuf::from("/var/lib/todo"));
        }
        // The XDG base directory spec: a relative path is invalid, ignored.
        if let Some(xdg) = var("XDG_DATA_HOME").filter(|x| Path::new(x).is_absolute()) {
            return Ok(PathBuf::from(xdg).join("todo"));
        }
        match var("HOME") {
            Some(home) => Ok(PathBuf::from(home).join(".local/share/todo")),
            None => Err(Error::usage(
                "cannot find a home for the local database: set TODO_HOME or HOME",
            )),
        }
    }

    /// Adds a `postgresql.conf` setting (`value` as the file wants it,
    /// quoted where needed) written when the cluster is created. A setting
    /// named here is not overridden by the safety settings of each start.
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

    /// Runs the server binaries in `dir` (initdb, pg_ctl, postgres)
    /// instead of those [`find_bindir`] would pick.
    pub fn with_bindir(mut self, dir: impl Into<PathBuf>) -> Cluster {
        self.bindir = Some(dir.into());
        self
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn data_dir(&self) -> PathBuf {
        self.home.join("data")
    }

    /// `home/run`, unless that path is too long for a socket or has
    /// characters other than letters, digits and `/._+-`; then a directory
    /// under /tmp named after the home.
    pub fn socket_dir(&self) -> PathBuf {
        let dir = self.home.join("run");
        let text = dir.to_string_lossy();
        let plain = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b));
        if plain && text.len() + "/.s.PGSQL.65535".len() <= MAX_SOCKET_PATH {
            return dir;
        }
        PathBuf::from(format!(
            "/tmp/todo-{:016x}",
            fnv1a(self.home.as_os_str().as_encoded_bytes())
        ))
    }

    fn port(&self) -> &str {
        self.setting("port").unwrap_or("5432")
    }

    fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn socket_file(&self) -> PathBuf {
        self.socket_dir().join(format!(".s.PGSQL.{}", self.port()))
    }

    /// A libpq URL (psql accepts it) for a database of this cluster. It
    /// names the port too, so that `PGPORT` in the environment (which libpq
    /// would otherwise use) cannot send it elsewhere.
    /// [`Cluster::url`] for the tool's own work on the cluster (creating
    /// it, migrating it, `db verify`'s throwaway databases): an empty
    /// `options` keeps libpq from applying `$PGOPTIONS`, which are meant
    /// for the user's commands (a `statement_timeout` there would cut a
    /// CREATE DATABASE short).
    pub fn own_url(&self, database: &str) -> String {
        format!("{}&options=", self.url(database))
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql:///{}?host={}&port={}&user={SUPERUSER}",
            encode(database),
            encode(&self.socket_dir().to_string_lossy()),
            self.port()
        )
    }

    /// The version of the server binaries that run this cluster (`15.18`;
    /// those of its data directory's major version once it is created),
    /// and their directory; `None` when none are found.
    pub fn server(&self) -> Option<(String, PathBuf)> {
        let bindir = self.bindir().ok()?;
        Some((server::server_version(&bindir)?, bindir))
    }

    /// Found by its data directory: running when the postmaster named by
    /// `postmaster.pid` is alive (see [`server::live_postgres_pid`]: a
    /// zombie or a reused pid is dead) and its socket accepts a connection;
    /// alive without an answering socket is [`State::NotAnswering`]; a
    /// `postmaster.pid` left by a killed server is stopped.
    pub fn state(&self) -> Result<State> {
        if !self.data_dir().join("PG_VERSION").exists() {
            return Ok(State::NotCreated);
        }
        if self.postmaster().is_none() {
            return Ok(State::Stopped);
        }
        let answers = std::os::unix::net::UnixStream::connect(self.socket_file()).is_ok();
        Ok(if answers {
            State::Running
        } else {
            State::NotAnswering
        })
    }

    /// The pid of the cluster's live postmaster.
    pub fn postmaster(&self) -> Option<i32> {
        live_postgres_pid(&self.data_dir().join("postmaster.pid"))
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
        self.prepare_dirs()?;
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.home.join("lock"))
            .map_err(|e| io_error("open the lock file in", &self.home, e))?;
        lock.lock()
            .map_err(|e| io_error("lock", &self.home.join("lock"), e))?;

        let ready = self.home.join("ready");
        let mut state = self.state()?;
        if state == State::NotAnswering {
            // Starting (wait for it), or dying: then it is started again.
            state = self.wait_until_answering()?;
        }
        match state {
            State::NotCreated => {
                notice(&format!(
                    "creating the local database in {} (first use)",
                    self.home.display()
                ));
                self.create()?;
            }
            State::Running if ready.exists() => return Ok(()),
            State::Running => {}
            State::Stopped => notice(&format!(
                "starting the local database in {}",
                self.home.display()
            )),
            // Not after the wait, which ends in another state or an error.
            State::NotAnswering => {}
        }
        if matches!(state, State::NotCreated | State::Stopped) {
            self.start()?;
        }
        if !ready.exists() {
            self.create_database()?;
            on_created(&self.own_url(DATABASE))?;
            fs::write(&ready, b"").map_err(|e| io_error("write", &ready, e))?;
        }
        Ok(())
    }

    /// A live postmaster whose socket does not answer yet: give it the time
    /// a start may take, then say what is wrong. The state it reaches
    /// instead (`Stopped` when it died meanwhile).
    fn wait_until_answering(&self) -> Result<State> {
        for _ in 0..100 {
            match self.state()? {
                State::NotAnswering => std::thread::sleep(std::time::Duration::from_millis(50)),
                other => return Ok(other),
            }
        }
        let pid = self.postmaster().unwrap_or_default();
        Err(Error::unavailable(format!(
            "the local database's server (pid {pid}) runs but does not answer on {}",
            self.socket_file().display()
        ))
        .with_hint("stop it with: todo db local stop (then run the command again)"))
    }

    /// Makes the home and socket directories (mode 0700, owned by the
    /// server's user when running as root), or checks existing ones: a
    /// directory owned by another user, or that group or others may write
    /// to, is refused, since whoever controls it controls the socket.
    fn prepare_dirs(&self) -> Result<()> {
        let server_uid = server::server_uid()?;
        for dir in [self.home.clone(), self.socket_dir()] {
            match fs::symlink_metadata(&dir) {
                Err(_) => {
                    fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
                    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                        .map_err(|e| io_error("set permissions on", &dir, e))?;
                    if is_root() {
                        server::chown_to_server_user(&dir)?;
                    }
                }
                Ok(meta) => {
                    let meta = if meta.file_type().is_symlink() && dir == self.home {
                        fs::metadata(&dir).map_err(|e| io_error("read", &dir, e))?
                    } else {
                        meta
                    };
                    check_private_dir(&dir, &meta, server_uid)?;
                    if is_root() && meta.uid() == 0 {
                        server::chown_to_server_user(&dir)?;
                    }
                    if dir != self.home && meta.mode() & 0o077 != 0 {
                        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                            .map_err(|e| io_error("set permissions on", &dir, e))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The server binaries: those of the cluster's version when it exists,
    /// else the newest found.
    pub(super) fn bindir(&self) -> Result<PathBuf> {
        if let Some(dir) = &self.bindir {
            return Ok(dir.clone());
        }
        let wanted = fs::read_to_string(self.data_dir().join("PG_VERSION"))
            .ok()
            .map(|v| v.trim().to_string());
        find_bindir(wanted.as_deref())
    }

    /// No TCP, the private socket directory, a socket only its owner may
    /// use; a setting given with [`Cluster::with_setting`] wins.
    fn safety_settings(&self) -> Vec<(&'static str, String)> {
        let all = [
            ("listen_addresses", String::new()),
            (
                "unix_socket_directories",
                self.socket_dir().to_string_lossy().into_owned(),
            ),
            ("unix_socket_permissions", "0700".to_string()),
            // The port names the socket: always the one the URL uses.
            ("port", self.port().to_string()),
        ];
        all.into_iter()
            .filter(|(k, _)| self.setting(k).is_none())
            .collect()
    }
}
