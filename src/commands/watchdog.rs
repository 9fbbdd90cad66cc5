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

use crate::db::PgConn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::commands::connect::{self, ConnectOptions, Target};
use crate::db::conn::cancel;
use crate::db::pool;

/// Who blocked the command, once the watchdog cancelled it.
static BLOCKER: Mutex<Option<String>> = Mutex::new(None);

/// The description of the session that blocked the command, if the
/// watchdog cancelled it.
pub fn blocker() -> Option<String> {
    BLOCKER.lock().ok().and_then(|b| b.clone())
}

/// Stops the watchdog when the command ends. A watchdog still asleep is
/// woken and joined, so that no thread outlives the command: a thread alive
/// at exit must be scheduled once more to die before the process is reaped,
/// and on a busy machine that waits behind the server ending the session
/// (measured: up to 3 ms on two cores). A watchdog already at work (the
/// command ran past `--lock-timeout`) is left to the process exit.
pub struct Guard {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    done: AtomicBool,
    working: AtomicBool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.state.done.store(true, Ordering::SeqCst);
        let Some(thread) = self.thread.take() else {
            return;
        };
        thread.thread().unpark();
        // Either this sees `working`, or the watchdog sees `done` after
        // setting it and returns at once (both SeqCst).
        if !self.state.working.load(Ordering::SeqCst) {
            let _ = thread.join();
        }
    }
}

/// Starts watching the command's connection(s).
pub fn start(opts: ConnectOptions, timeout: Duration) -> Guard {
    let state = Arc::new(State::default());
    let shared = Arc::clone(&state);
    let thread = std::thread::Builder::new()
        .name("lock-watchdog".into())
        .spawn(move || watch(opts, timeout, &shared))
        .ok();
    Guard { state, thread }
}

/// Sleeps until `how_long` has passed (true) or the command ended (false).
fn sleep_unless_done(done: &AtomicBool, how_long: Duration) -> bool {
    let until = Instant::now() + how_long;
    loop {
        if done.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::park_timeout(until - now);
    }
}

fn watch(opts: ConnectOptions, timeout: Duration, state: &State) {
    let done = &state.done;
    if !sleep_unless_done(done, timeout) {
        return;
    }
    state.working.store(true, Ordering::SeqCst);
    if done.load(Ordering::SeqCst) {
        return;
    }
    let ours = cancel::backend_pids();
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
                cancel::cancel_all();
            }
            return;
        }
        if !sleep_unless_done(done, Duration::from_millis(500)) {
            return;
        }
    }
}

/// The session blocking any of `pids`: "pid 123 (psql, for 7 s: LOCK TABLE …)".
fn blocking(conn: &mut PgConn, pids: &[i32]) -> QueryResult<Option<String>> {
    Ok(crate::db::brief::blocking(conn, pids)?.map(|h| super::errors::session(&h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No watchdog thread outlives its command: dropping the guard wakes
    /// the sleeping thread and joins it (its share of the state is gone).
    #[test]
    fn dropping_the_guard_ends_a_sleeping_watchdog() {
        let opts = ConnectOptions {
            database_url: None,
            local: false,
            connect_timeout: None,
            interactive: false,
            log: None,
        };
        let guard = start(opts, Duration::from_secs(3600));
        let state = Arc::clone(&guard.state);
        drop(guard);
        assert_eq!(Arc::strong_count(&state), 1);
        assert!(!state.working.load(Ordering::SeqCst));
    }
}
