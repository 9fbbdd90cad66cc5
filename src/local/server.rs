//! Running the PostgreSQL server programs: finding the binaries, running
//! them as the server's system user, and telling a live postmaster from a
//! stale `postmaster.pid`. No program is ever run through a shell with a
//! path from the environment in its command line.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::{Error, Result};

use super::SUPERUSER;

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

/// The effective uid of this process.
pub fn euid() -> u32 {
    // SAFETY: as above.
    unsafe { libc::geteuid() }
}

/// The uid and gid of the server's system user (`postgres`).
pub fn server_user_ids() -> Result<(u32, u32)> {
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

/// The uid the server runs as: ours, or `postgres` when we are root.
pub fn server_uid() -> Result<u32> {
    if is_root() {
        Ok(server_user_ids()?.0)
    } else {
        Ok(euid())
    }
}

pub fn chown_to_server_user(path: &Path) -> Result<()> {
    let (uid, gid) = server_user_ids()?;
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| io_error("change the owner of", path, e))
}

/// Runs `program args` in `dir`, as the server's user when we are root
/// (`runuser` executes it directly, without a shell).
pub fn run_as_server(dir: &Path, program: &Path, args: &[&str]) -> Result<Output> {
    let mut cmd = if is_root() {
        let mut c = Command::new(runuser());
        c.args(["-u", SUPERUSER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::unexpected(format!("cannot run {}: {e}", program.display())))
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

/// The pid recorded in a PostgreSQL lock file (`postmaster.pid`, or a
/// socket's `.lock`) when that process is alive and is a `postgres`; `None`
/// for a missing file or a stale one (the server was killed, the machine
/// restarted, and the pid may now belong to another program).
pub fn live_postgres_pid(lock_file: &Path) -> Option<i32> {
    let text = fs::read_to_string(lock_file).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    if pid <= 0 {
        return None;
    }
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (comm.trim() == "postgres").then_some(pid)
}

/// Removes a lock file whose process is gone, so that the server can start.
pub fn remove_if_stale(lock_file: &Path) -> Result<()> {
    if lock_file.exists() && live_postgres_pid(lock_file).is_none() {
        fs::remove_file(lock_file).map_err(|e| io_error("remove the stale", lock_file, e))?;
    }
    Ok(())
}

pub fn io_error(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error::unexpected(format!("cannot {what} {}: {err}", path.display()))
}
