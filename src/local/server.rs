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
        // A relative directory (TODO_PG_BINDIR=15/bin, a PATH entry) is
        // taken from the current directory now: the server runs elsewhere
        // (`runuser` as root, pg_ctl's own working directory).
        .map(|d| match d.is_relative() {
            true => std::fs::canonicalize(&d).unwrap_or(d),
            false => d,
        })
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
    server_version(bindir)?.split('.').next()?.parse().ok()
}

/// `postgres --version` → `postgres (PostgreSQL) 15.18 (Debian …)` →
/// `15.18`: the version of the server binaries in `bindir`.
pub fn server_version(bindir: &Path) -> Option<String> {
    let out = Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(2).map(str::to_string)
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
    // The server takes defaults from libpq's variables (PGPORT picks its
    // port, PGDATA its directory): none of them may reach it. The cluster
    // is found by its data directory, never by the caller's environment.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
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
/// socket's `.lock`) when that process is a live postmaster of the data
/// directory the file names (its second line); `None` for a missing file
/// or a stale one: the server was killed (a zombie that nobody reaped, as
/// under a container's PID 1 that does not reap, counts as dead), or the
/// pid now belongs to another program, or to a `postgres` of another
/// cluster.
pub fn live_postgres_pid(lock_file: &Path) -> Option<i32> {
    let text = fs::read_to_string(lock_file).ok()?;
    let mut lines = text.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let data_dir = lines.next().map(str::trim).filter(|d| !d.is_empty());
    (pid > 0 && is_live_postmaster(pid, data_dir.map(Path::new))).then_some(pid)
}

/// Whether `pid` is a live (not zombie) `postgres` whose working directory
/// is `data_dir` (a postmaster works in its data directory). Where the
/// working directory cannot be read, the name decides.
#[cfg(target_os = "linux")]
fn is_live_postmaster(pid: i32, data_dir: Option<&Path>) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| runs_postgres(&s))
        // A SIGKILL sent but not yet acted on (`kill -9` returns at once).
        && !fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| sigkill_pending(&s))
        && match (data_dir, fs::read_link(format!("/proc/{pid}/cwd"))) {
            (Some(dir), Ok(cwd)) => fs::canonicalize(dir).is_ok_and(|d| d == cwd),
            _ => true,
        }
}

/// Whether a `/proc/PID/stat` line is that of a `postgres` that is neither
/// a zombie nor exiting: "PID (COMM) STATE PPID PGRP SESSION TTY TPGID
/// FLAGS …", where COMM may hold spaces and parentheses, and FLAGS has
/// PF_EXITING (0x4) once the process has begun to exit, while it still
/// holds its memory and its listening socket (tearing down shared memory
/// takes a while).
#[cfg(target_os = "linux")]
fn runs_postgres(stat: &str) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Some((head, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
    let mut fields = rest.split_whitespace();
    let state = fields.next().unwrap_or("");
    let flags: Option<u64> = fields.nth(5).and_then(|f| f.parse().ok());
    comm == "postgres"
        && !matches!(state, "Z" | "X" | "x")
        && flags.is_some_and(|f| f & PF_EXITING == 0)
}

/// Whether a `/proc/PID/status` text shows a SIGKILL pending (`ShdPnd`
/// for the process, `SigPnd` for its main thread: hexadecimal masks, bit
/// 8 for signal 9).
#[cfg(target_os = "linux")]
fn sigkill_pending(status: &str) -> bool {
    const SIGKILL_BIT: u64 = 1 << 8;
    status.lines().any(|line| {
        line.strip_prefix("ShdPnd:")
            .or_else(|| line.strip_prefix("SigPnd:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & SIGKILL_BIT != 0)
    })
}

/// Elsewhere (no `/proc`): whether the process exists.
#[cfg(not(target_os = "linux"))]
fn is_live_postmaster(pid: i32, _data_dir: Option<&Path>) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Waits (at most `limit`) until no live process works in `data_dir`: the
/// children of a postmaster that was killed outlive it for a moment, and a
/// new postmaster refuses to start while they hold the shared memory.
#[cfg(target_os = "linux")]
pub fn wait_for_orphans(data_dir: &Path, limit: std::time::Duration) {
    let Ok(dir) = fs::canonicalize(data_dir) else {
        return;
    };
    let until = std::time::Instant::now() + limit;
    while std::time::Instant::now() < until {
        let busy = fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let name = e.file_name();
                let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
                    return false;
                };
                // Exiting or not: until it has let go of its working
                // directory it may still hold the shared memory.
                fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd == dir)
                    && fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|comm| comm.trim_end() == "postgres")
            });
        if !busy {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[cfg(not(target_os = "linux"))]
pub fn wait_for_orphans(_data_dir: &Path, _limit: std::time::Duration) {}

/// Removes a lock file whose process is gone, so that the server can start.
pub fn remove_if_stale(lock_file: &Path) -> Result<()> {
    if lock_file.exists() && live_postgres_pid(lock_file).is_none() {
        fs::remove_file(lock_file).map_err(|e| io_error("remove the stale", lock_file, e))?;
    }
    Ok(())
}

/// The lines of a server log that say why the server did not start: the
/// last FATAL or PANIC line (else ERROR, else the last line), after the
/// line that explains it when the server wrote one just before (`invalid
/// value for parameter …`), without their time and process prefixes.
pub fn start_failure(log: &str) -> String {
    const TAGS: [&str; 5] = ["FATAL:", "PANIC:", "ERROR:", "LOG:", "DETAIL:"];
    let strip = |l: &str| {
        TAGS.iter()
            .find_map(|tag| {
                l.find(tag)
                    .map(|i| l[i..].split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .unwrap_or_else(|| l.trim().to_string())
    };
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let fatal = lines
        .iter()
        .rposition(|l| l.contains("FATAL:") || l.contains("PANIC:"))
        .or_else(|| lines.iter().rposition(|l| l.contains("ERROR:")));
    match fatal {
        Some(i) => {
            let cause = i
                .checked_sub(1)
                .and_then(|j| lines.get(j))
                .filter(|l| l.contains("LOG:") || l.contains("ERROR:"));
            match cause {
                Some(c) => format!("{} ({})", strip(lines[i]), strip(c)),
                None => strip(lines[i]),
            }
        }
        None => lines
            .last()
            .map(|l| strip(l))
            .unwrap_or_else(|| "the server wrote no log".into()),
    }
}

pub fn io_error(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error::unexpected(format!("cannot {what} {}: {err}", path.display()))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_that_is_exiting_or_a_zombie_does_not_run() {
        let line = |comm: &str, state: &str, flags: &str| {
            format!("4242 ({comm}) {state} 1 4242 4242 0 -1 {flags} 120 0 0 0 0 0")
        };
        assert!(runs_postgres(&line("postgres", "S", "4194560")));
        assert!(runs_postgres(&line("postgres", "R", "1077936128")));
        // PF_EXITING (0x4) in 4194564 = 0x400104.
        assert!(!runs_postgres(&line("postgres", "R", "4194564")));
        assert!(!runs_postgres(&line("postgres", "Z", "4227084")));
        assert!(!runs_postgres(&line("postgres", "X", "0")));
        assert!(!runs_postgres(&line("postmaster", "S", "0")));
        assert!(!runs_postgres(&line("my (postgres", "S", "0")));
        assert!(
            !runs_postgres("4242 (postgres) S"),
            "no flags: unknown, not running"
        );
        assert!(!runs_postgres("garbage"));
    }

    #[test]
    fn a_pending_sigkill_is_found_in_either_mask() {
        let status = |shd: &str, sig: &str| {
            format!("Name:\tpostgres\nState:\tS (sleeping)\nSigPnd:\t{sig}\nShdPnd:\t{shd}\nSigBlk:\t0000000000000100\n")
        };
        assert!(!sigkill_pending(&status(
            "0000000000000000",
            "0000000000000000"
        )));
        assert!(sigkill_pending(&status(
            "0000000000000100",
            "0000000000000000"
        )));
        assert!(sigkill_pending(&status(
            "0000000000000000",
            "0000000000000100"
        )));
        // SIGTERM (15, bit 14) is not SIGKILL; a blocked mask is not pending.
        assert!(!sigkill_pending(&status(
            "0000000000004000",
            "0000000000000000"
        )));
    }

    #[test]
    fn this_test_process_is_read_as_running_nothing_pending() {
        let me = std::process::id();
        let stat = fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let renamed = stat.replacen(
            &format!(
                "({})",
                fs::read_to_string(format!("/proc/{me}/comm"))
                    .unwrap()
                    .trim_end()
            ),
            "(postgres)",
            1,
        );
        assert!(runs_postgres(&renamed), "{renamed}");
        let status = fs::read_to_string(format!("/proc/{me}/status")).unwrap();
        assert!(!sigkill_pending(&status));
    }
}
