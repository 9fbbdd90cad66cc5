//! Read replicas (SPEC §14), the policy: where a read-only command reads,
//! and read-your-writes across invocations by the same OS user.
//!
//! - The replica's URL: `--read-url`, else `$TODO_READ_URL`, else
//!   `$DATABASE_READ_URL` (environment only; same URL forms as the primary).
//! - Read-only commands (`task list|show|stats`, `user list|show|export`,
//!   `db stats`, `db backup`) read there; everything else, and every write,
//!   goes to the primary.
//! - Read-your-writes: when a replica is configured, each write records the
//!   id of the transaction it committed (the write statement itself returns
//!   it: no extra round trip) in `$XDG_STATE_HOME/todo/last-write` (else
//!   `~/.local/state/todo/last-write`), one line per primary, kept for an
//!   hour. A read then
//!   asks the replica whether that transaction is visible
//!   (`pg_visible_in_snapshot`, one round trip to the replica, only while a
//!   write is pending) and polls every 50 ms for at most `--replica-wait`
//!   seconds (default 2); once it is, the record is dropped, so later reads
//!   cost nothing extra. Past the wait, the read goes to the primary (a
//!   notice under `--verbose`). The primary is never contacted on the read
//!   path when the replica has caught up.
//! - A replica that cannot be reached or refuses: the read goes to the
//!   primary with a one-line notice on stderr.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::db::{replica, Conn, Pool};
use crate::error::{Error, Result};
use crate::url::DbUrl;

use super::Context;

/// Seconds a read waits for the replica to replay the last write.
pub const DEFAULT_WAIT_SECS: u64 = 2;

/// The configured replica URL, if any.
pub fn read_url(ctx: &Context) -> Result<Option<DbUrl>> {
    use super::connect::{parse_url, url_var};
    let raw = match &ctx.global.read_url {
        Some(url) => Some((url.clone(), "--read-url")),
        None => url_var("DATABASE_READ_URL")?
            .filter(|url| !url.is_empty())
            .map(|url| (url, "$DATABASE_READ_URL"))
            .or_else(|| {
                crate::config::current()
                    .read_url
                    .clone()
                    .map(|url| (url, "read_url in the config file"))
            }),
    };
    raw.map(|(raw, source)| parse_url(&raw, source, ctx.global.connect_timeout))
        .transpose()
}

/// A connection for a read-only command: the replica's when one is
/// configured, reachable and has replayed this user's last write in time;
/// else the primary's.
pub fn read_conn(ctx: &Context) -> Result<Conn> {
    let Some(url) = read_url(ctx)? else {
        return ctx.conn();
    };
    let primary = primary_key(ctx)?;
    match replica_conn(ctx, &url, &primary) {
        Ok(Some(conn)) => Ok(conn),
        Ok(None) => ctx.conn(),
        Err(e) => {
            eprintln!(
                "todo: the replica {} cannot be used ({}); reading from the primary",
                url.display(),
                e.message.lines().next().unwrap_or_default().trim()
            );
            ctx.conn()
        }
    }
}

/// `Ok(None)`: the replica has not replayed the last write in time.
fn replica_conn(ctx: &Context, url: &DbUrl, primary: &str) -> Result<Option<Conn>> {
    let pool = match ctx.read_pool.get() {
        Some(pool) => pool,
        None => {
            let opts = ctx.connect_options();
            let pool = Pool::open(url, 1, opts.timeout(), opts.log)?;
            ctx.read_pool.get_or_init(|| pool)
        }
    };
    let mut conn = pool.get()?;
    let Some(xid) = recall(primary) else {
        return Ok(Some(conn));
    };
    let wait = Duration::from_secs(ctx.global.replica_wait.unwrap_or(DEFAULT_WAIT_SECS));
    let deadline = Instant::now() + wait;
    loop {
        let replayed = replica::replayed(&mut conn, &xid)
            .map_err(|e| Error::unavailable(url.mask(&e.to_string())))?;
        if replayed {
            forget(primary, &xid);
            return Ok(Some(conn));
        }
        let now = Instant::now();
        if now >= deadline {
            if ctx.global.verbose {
                eprintln!(
                    "todo: the replica has not replayed your last write after {} s; reading from the primary",
                    wait.as_secs()
                );
            }
            return Ok(None);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

/// After a command: records the transaction its write committed, when a
/// replica is configured. A failure to record is a warning.
pub fn remember_write(ctx: &Context) {
    let Some(xid) = replica::last_write() else {
        return;
    };
    if !matches!(read_url(ctx), Ok(Some(_))) {
        return;
    }
    let Ok(primary) = primary_key(ctx) else {
        return;
    };
    if let Err(e) = store(&primary, Some(&xid)) {
        eprintln!("todo: warning: cannot record the last write for the replica: {e}");
    }
}

/// Which primary the state belongs to: its masked `user@host:port/db`.
fn primary_key(ctx: &Context) -> Result<String> {
    let target = super::connect::resolve(&ctx.connect_options(), &mut |_| {})?;
    Ok(target
        .url()
        .display()
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect())
}

fn state_file() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = match var("XDG_STATE_HOME").filter(|p| p.is_absolute()) {
        Some(state) => state.join("todo"),
        None => var("HOME")?.join(".local/state/todo"),
    };
    Some(dir.join("last-write"))
}

/// How long a recorded write is waited for: past it the record is ignored
/// (a replica an hour behind is an incident `db health` reports; a record
/// of a primary that was since restored elsewhere must not slow every read).
const RECORD_TTL_SECS: u64 = 3600;

fn epoch_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Each primary's last write: `KEY\tXID\tUNIX-SECONDS` lines.
fn entries() -> Vec<(String, String, u64)> {
    let Some(text) = state_file().and_then(|f| std::fs::read_to_string(f).ok()) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut fields = l.split('\t');
            let (key, xid) = (fields.next()?, fields.next()?);
            let at = fields.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            Some((key.to_string(), xid.to_string(), at))
        })
        .collect()
}

fn recall(primary: &str) -> Option<String> {
    let now = epoch_secs();
    entries()
        .into_iter()
        .find(|(k, _, at)| k == primary && now.saturating_sub(*at) <= RECORD_TTL_SECS)
        .map(|(_, x, _)| x)
}

/// Drops the record when it is still `xid` (a newer write keeps its own).
fn forget(primary: &str, xid: &str) {
    if recall(primary).as_deref() == Some(xid) {
        let _ = store(primary, None);
    }
}

/// Writes (or with `None` removes) `primary`'s record, atomically.
fn store(primary: &str, xid: Option<&str>) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::DirBuilderExt;
    let file = state_file().ok_or_else(|| std::io::Error::other("no HOME or XDG_STATE_HOME"))?;
    let dir = file.parent().unwrap_or(&file).to_path_buf();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let mut lines: Vec<(String, String, u64)> = entries()
        .into_iter()
        .filter(|(k, _, _)| k != primary)
        .collect();
    if let Some(xid) = xid {
        lines.push((primary.to_string(), xid.to_string(), epoch_secs()));
    }
    let tmp = dir.join(format!(".last-write.{}", std::process::id()));
    let mut out = std::fs::File::create(&tmp)?;
    for (k, x, at) in &lines {
        writeln!(out, "{k}\t{x}\t{at}")?;
    }
    out.sync_all()?;
    std::fs::rename(&tmp, &file)
}
