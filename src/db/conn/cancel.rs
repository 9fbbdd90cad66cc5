//! Cancel tokens of the open connections (libpq's `PGcancel`), so that
//! Ctrl-C, SIGTERM and the lock watchdog can ask the server to cancel a
//! running statement: an interrupted `task add` blocked on a lock would
//! otherwise commit once the lock goes, and a retry would make a duplicate.
//! The signal handler does not call this (it may not lock): it wakes a
//! thread that does (see [`crate::signals`]).

use std::sync::Mutex;

use super::raw::RawConn;

/// A token, with the server process it cancels for.
struct Token {
    id: u64,
    cancel: *mut pq_sys::PGcancel,
    backend_pid: i32,
}

// SAFETY: a PGcancel is used only under the registry's lock; libpq allows
// PQcancel from any thread.
unsafe impl Send for Token {}

static TOKENS: Mutex<Vec<Token>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Removes the connection's token when dropped.
pub struct Registration {
    id: u64,
}

/// Records the cancel token of a new connection.
pub(super) fn register(conn: &RawConn) -> Registration {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: a live connection; the token (if any) is freed in Drop.
    let cancel = unsafe { pq_sys::PQgetCancel(conn.as_ptr()) };
    if !cancel.is_null() {
        if let Ok(mut tokens) = TOKENS.lock() {
            tokens.push(Token {
                id,
                cancel,
                backend_pid: conn.backend_pid(),
            });
        }
    }
    Registration { id }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Ok(mut tokens) = TOKENS.lock() else {
            return;
        };
        if let Some(i) = tokens.iter().position(|t| t.id == self.id) {
            let token = tokens.swap_remove(i);
            // SAFETY: the token came from PQgetCancel and is freed once,
            // under the lock that every use holds.
            unsafe { pq_sys::PQfreeCancel(token.cancel) };
        }
    }
}

/// Asks the server to cancel whatever each open connection is running
/// (a connection that runs nothing is not affected).
pub fn cancel_all() {
    let Ok(tokens) = TOKENS.lock() else {
        return;
    };
    for token in tokens.iter() {
        let mut errbuf = [0 as std::ffi::c_char; 256];
        // SAFETY: a live token (freed only under this lock) and a buffer of
        // the size given.
        unsafe { pq_sys::PQcancel(token.cancel, errbuf.as_mut_ptr(), errbuf.len() as i32) };
    }
}

/// The server process ids of the open connections (learned at connect,
/// no query). Through a pooler they are the pooler's.
pub fn backend_pids() -> Vec<i32> {
    TOKENS
        .lock()
        .map(|t| t.iter().map(|t| t.backend_pid).filter(|p| *p > 0).collect())
        .unwrap_or_default()
}

/// How many connections have a token recorded (for tests).
pub fn recorded() -> usize {
    TOKENS.lock().map(|t| t.len()).unwrap_or(0)
}
