//! Cancel tokens of the open connections (libpq's `PGcancel`), so that
//! Ctrl-C, SIGTERM, the lock watchdog and a stream dropped early can ask
//! the server to cancel a running statement: an interrupted `task add`
//! blocked on a lock would otherwise commit once the lock goes, and a
//! retry would make a duplicate; `task list | head -1` would read a
//! million rows nobody wants.
//!
//! A cancel request is a connection of its own to the server, made by
//! `PQcancel`, which has no timeout of its own: it runs on a thread of its
//! own and is waited for at most [`CANCEL_WAIT`], so an unreachable server
//! never hangs Ctrl-C. The registry's lock is held only to copy the tokens
//! out (each shared, freed when its connection and every cancel using it
//! are done). The signal handler does not call this (it may not lock): it
//! wakes a thread that does (see [`crate::signals`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::raw::RawConn;

/// How long a cancel request is waited for before the caller goes on.
pub const CANCEL_WAIT: Duration = Duration::from_secs(3);

/// A token, with the server process it cancels for.
struct Token {
    cancel: *mut pq_sys::PGcancel,
    backend_pid: i32,
}

// SAFETY: libpq allows PQcancel from any thread, and PQcancel only reads
// the PGcancel; it is freed once, in Drop, when no thread holds it.
unsafe impl Send for Token {}
unsafe impl Sync for Token {}

impl Token {
    /// Sends the cancel request (blocking: see [`cancel_bounded`]).
    fn send(&self) {
        let mut errbuf = [0 as std::ffi::c_char; 256];
        // SAFETY: a live token (freed only when the last Arc goes) and a
        // buffer of the size given.
        unsafe { pq_sys::PQcancel(self.cancel, errbuf.as_mut_ptr(), errbuf.len() as i32) };
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        // SAFETY: the token came from PQgetCancel and is freed once.
        unsafe { pq_sys::PQfreeCancel(self.cancel) };
    }
}

static TOKENS: Mutex<Vec<(u64, Arc<Token>)>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A connection's token: removed from the registry when dropped.
pub struct Registration {
    id: u64,
    token: Option<Arc<Token>>,
}

/// Records the cancel token of a new connection.
pub(super) fn register(conn: &RawConn) -> Registration {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: a live connection; the token (if any) is freed in its Drop.
    let cancel = unsafe { pq_sys::PQgetCancel(conn.as_ptr()) };
    let token = (!cancel.is_null()).then(|| {
        Arc::new(Token {
            cancel,
            backend_pid: conn.backend_pid(),
        })
    });
    if let (Some(token), Ok(mut tokens)) = (&token, TOKENS.lock()) {
        tokens.push((id, token.clone()));
    }
    Registration { id, token }
}

impl Registration {
    /// Asks the server to cancel what this connection runs (waited for at
    /// most [`CANCEL_WAIT`]); whether the request was sent in that time.
    pub fn cancel(&self) -> bool {
        cancel_bounded(self.token.iter().cloned().collect())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut tokens) = TOKENS.lock() {
            tokens.retain(|(id, _)| *id != self.id);
        }
    }
}

/// Asks the server to cancel whatever each open connection is running (a
/// connection that runs nothing is not affected), waiting at most
/// [`CANCEL_WAIT`].
pub fn cancel_all() -> bool {
    let tokens: Vec<Arc<Token>> = TOKENS
        .lock()
        .map(|t| t.iter().map(|(_, token)| token.clone()).collect())
        .unwrap_or_default();
    cancel_bounded(tokens)
}

/// Sends the cancel requests on a thread and waits for it at most
/// [`CANCEL_WAIT`]; a thread still connecting then is left to finish on
/// its own (it holds its tokens).
fn cancel_bounded(tokens: Vec<Arc<Token>>) -> bool {
    if tokens.is_empty() {
        return true;
    }
    let (done, wait) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("cancel".into())
        .spawn(move || {
            for token in &tokens {
                token.send();
            }
            let _ = done.send(());
        });
    spawned.is_ok() && wait.recv_timeout(CANCEL_WAIT).is_ok()
}

/// The server process ids of the open connections (learned at connect,
/// no query). Through a pooler they are the pooler's.
pub fn backend_pids() -> Vec<i32> {
    TOKENS
        .lock()
        .map(|t| {
            t.iter()
                .map(|(_, t)| t.backend_pid)
                .filter(|p| *p > 0)
                .collect()
        })
        .unwrap_or_default()
}

/// How many connections have a token recorded (for tests).
pub fn recorded() -> usize {
    TOKENS.lock().map(|t| t.len()).unwrap_or(0)
}
