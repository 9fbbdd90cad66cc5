//! Lock waits of ordinary commands (SPEC §12): a `user` or `task` command
//! never waits silently behind another session's lock. A thread sleeps
//! through `--lock-timeout` (default 5 s); only if the command is still
//! running then does it look, on a second connection, whether the
//! command's server session is blocked (`pg_blocking_pids` of the pid libpq
//! learned at connect, no query needed), remember who blocks it, and cancel
//! the statement. The command then fails with exit 5 naming the blocker.
//! The unblocked path costs no round trip. Through a transaction pooler the
//! pid libpq knows is the pooler's, no session matches, and the watchdog
//! does nothing (the pooler's and server's own timeouts apply).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Integer, Nullable, Text};

use crate::commands::connect::{self, ConnectOptions, Target};
use crate::db::{libpq, pool};

/// Who blocked the command, once the watchdog cancelled it.
static BLOCKER: Mutex<Option<String>> = Mutex::new(None);

/// The description of the session that blocked the command, if the
/// watchdog cancelled it.
pub fn blocker() -> Option<String> {
    BLOCKER.lock().ok().and_then(|b| b.clone())
}

/// Stops the watchdog when the command ends.
pub struct Guard(Arc<AtomicBool>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Starts watching the command's connection(s).
pub fn start(opts: ConnectOptions, timeout: Duration) -> Guard {
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    // The process ends when the command ends; the thread is not joined.
    let _ = std::thread::Builder::new()
        .name("lock-watchdog".into())
        .spawn(move || watch(opts, timeout, &flag));
    Guard(done)
}

fn sleep_unless_done(done: &AtomicBool, how_long: Duration) -> bool {
    let until = Instant::now() + how_long;
    while Instant::now() < until {
        if done.load(Ordering::Acquire) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !done.load(Ordering::Acquire)
}

fn watch(opts: ConnectOptions, timeout: Duration, done: &AtomicBool) {
    if !sleep_unless_done(done, timeout) {
        return;
    }
    let ours = libpq::backend_pids();
    if ours.is_empty() {
        return;
    }
    let Ok(target) = connect::resolve(&opts, &mut |_| {}) else {
        return;
    };
    let url = match target {
        Target::Url(url) | Target::Local(_, url) => url,
    };
    let Ok(mut conn) = pool::establish(&url, None) else {
        return;
    };
    loop {
        if done.load(Ordering::Acquire) {
            return;
        }
        if let Ok(Some(who)) = blocking(&mut conn, &ours) {
            if let Ok(mut slot) = BLOCKER.lock() {
                *slot = Some(who);
            }
            if !done.load(Ordering::Acquire) {
                libpq::cancel_all();
            }
            return;
        }
        if !sleep_unless_done(done, Duration::from_millis(500)) {
            return;
        }
    }
}

/// The session blocking any of `pids`: "pid 123 (psql, for 7 s: LOCK TABLE …)".
fn blocking(conn: &mut PgConnection, pids: &[i32]) -> QueryResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        pid: i32,
        #[diesel(sql_type = Text)]
        app: String,
        #[diesel(sql_type = Nullable<Double>)]
        secs: Option<f64>,
        #[diesel(sql_type = Nullable<Text>)]
        query: Option<String>,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT b.pid, coalesce(nullif(b.application_name, ''), b.usename::text, '?') AS app,
                extract(epoch FROM now() - coalesce(b.xact_start, b.query_start))::float8 AS secs,
                left(regexp_replace(b.query, '\\s+', ' ', 'g'), 80) AS query
         FROM pg_stat_activity b
         WHERE b.pid IN (SELECT unnest(pg_blocking_pids(p)) FROM unnest($1::int[]) p)
         ORDER BY b.pid LIMIT 1",
    )
    .bind::<Array<Integer>, _>(pids)
    .load(conn)?;
    Ok(rows.into_iter().next().map(|r| {
        let held = r
            .secs
            .map(|s| format!(", for {s:.0} s"))
            .unwrap_or_default();
        let what = r.query.map(|q| format!(": {q}")).unwrap_or_default();
        format!("pid {} ({}{held}{what})", r.pid, r.app)
    }))
}
