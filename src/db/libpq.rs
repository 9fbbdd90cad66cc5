//! The open libpq connections, recorded as they are made (see `build.rs`),
//! for what diesel does not do itself.
//!
//! Cancel keys of the open connections, so that an interrupted command
//! stops its statement on the server instead of leaving it queued (a
//! `task add` blocked on a lock would otherwise commit once the lock goes,
//! and a retry would make a duplicate).
//!
//! diesel owns each `PGconn` and does not expose it, so the linker wraps
//! libpq's `PQconnectdb` and `PQfinish` (see `build.rs`): a new connection's
//! `PGcancel` goes into a fixed table, and [`cancel_all`] — safe to call
//! from a signal handler, as `PQcancel` is — sends a cancel request for each.
//! A `PGcancel` is never freed (a handler may be using it when the
//! connection closes); a command opens a handful of connections at most.

use std::os::raw::{c_char, c_int};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use pq_sys::{ConnStatusType, PGcancel, PGconn, PQcancel, PQgetCancel, PQstatus};

const SLOTS: usize = 16;

static CONNS: [AtomicPtr<PGconn>; SLOTS] = [const { AtomicPtr::new(null_mut()) }; SLOTS];
static CANCELS: [AtomicPtr<PGcancel>; SLOTS] = [const { AtomicPtr::new(null_mut()) }; SLOTS];

extern "C" {
    fn __real_PQconnectdb(conninfo: *const c_char) -> *mut PGconn;
    fn __real_PQfinish(conn: *mut PGconn);
}

/// libpq's `PQconnectdb`, recording the new connection's cancel key.
///
/// # Safety
/// As `PQconnectdb`: `conninfo` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn __wrap_PQconnectdb(conninfo: *const c_char) -> *mut PGconn {
    // SAFETY: the caller's contract is PQconnectdb's.
    let conn = unsafe { __real_PQconnectdb(conninfo) };
    // SAFETY: PQstatus and PQgetCancel accept any connection PQconnectdb returned.
    let ok = !conn.is_null() && unsafe { PQstatus(conn) } == ConnStatusType::CONNECTION_OK;
    if ok {
        let cancel = unsafe { PQgetCancel(conn) };
        if !cancel.is_null() {
            for (slot, cancel_slot) in CONNS.iter().zip(&CANCELS) {
                if slot
                    .compare_exchange(null_mut(), conn, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    cancel_slot.store(cancel, Ordering::Release);
                    break;
                }
            }
        }
    }
    conn
}

/// libpq's `PQfinish`, forgetting the connection's cancel key first. While
/// a [`DeferredFinish`] is alive, the connection is only noted, and
/// finished when that ends.
///
/// # Safety
/// As `PQfinish`.
#[no_mangle]
pub unsafe extern "C" fn __wrap_PQfinish(conn: *mut PGconn) {
    for (slot, cancel_slot) in CONNS.iter().zip(&CANCELS) {
        if !conn.is_null() && slot.load(Ordering::Acquire) == conn {
            cancel_slot.store(null_mut(), Ordering::Release);
            slot.store(null_mut(), Ordering::Release);
        }
    }
    if !conn.is_null() && DEFER.load(Ordering::Acquire) && put(&DEFERRED, conn) {
        return;
    }
    // SAFETY: the caller's contract is PQfinish's.
    unsafe { __real_PQfinish(conn) }
}

/// Stores `conn` in a free slot of `slots`; false when all are taken.
pub(super) fn put(slots: &[AtomicPtr<PGconn>], conn: *mut PGconn) -> bool {
    slots.iter().any(|slot| {
        slot.compare_exchange(null_mut(), conn, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

/// Frees the slot of `slots` holding `conn`; false when none does.
pub(super) fn take(slots: &[AtomicPtr<PGconn>], conn: *mut PGconn) -> bool {
    slots.iter().any(|slot| {
        slot.compare_exchange(conn, null_mut(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

static DEFER: AtomicBool = AtomicBool::new(false);
static DEFERRED: [AtomicPtr<PGconn>; SLOTS] = [const { AtomicPtr::new(null_mut()) }; SLOTS];

/// Holds back `PQfinish` (the Terminate message that ends the server
/// session) until this is dropped: see `pool::close`. A connection whose
/// owner was dropped meanwhile is finished then, on the dropping thread.
pub struct DeferredFinish(());

/// Starts holding back `PQfinish`.
pub fn defer_finish() -> DeferredFinish {
    DEFER.store(true, Ordering::Release);
    DeferredFinish(())
}

impl Drop for DeferredFinish {
    fn drop(&mut self) {
        DEFER.store(false, Ordering::Release);
        for slot in &DEFERRED {
            let conn = slot.swap(null_mut(), Ordering::AcqRel);
            if !conn.is_null() {
                // SAFETY: `conn` came to `__wrap_PQfinish` from its owner,
                // which let go of it; it is finished exactly once, here.
                unsafe { __real_PQfinish(conn) }
            }
        }
    }
}

/// Asks the server to cancel whatever each open connection is running.
/// Async-signal-safe: atomics and `PQcancel` only.
pub fn cancel_all() {
    for cancel_slot in &CANCELS {
        let cancel = cancel_slot.load(Ordering::Acquire);
        if !cancel.is_null() {
            let mut errbuf = [0 as c_char; 256];
            // SAFETY: `cancel` came from PQgetCancel and is never freed;
            // PQcancel may be called from a signal handler.
            unsafe { PQcancel(cancel, errbuf.as_mut_ptr(), errbuf.len() as c_int) };
        }
    }
}

/// Finishes a COPY TO whose data has been read. diesel 2.3's
/// `copy_to(…).load_raw()` stops at the end of the data and never fetches
/// the command's final result, which leaves libpq busy (the next statement
/// fails with "another command is already in progress"). This fetches the
/// pending results of the open connections (an idle one has none) and
/// returns the COPY's error, if it failed. Call it on the thread that runs
/// the statements, right after the data ended.
pub fn finish_copy_out() -> Result<(), String> {
    use pq_sys::{ExecStatusType, PQclear, PQerrorMessage, PQgetResult, PQresultStatus};
    let mut failure = None;
    for slot in &CONNS {
        let conn = slot.load(Ordering::Acquire);
        if conn.is_null() {
            continue;
        }
        loop {
            // SAFETY: `conn` is an open connection (PQfinish clears the slot
            // first), used by this thread only; each result is cleared once.
            let result = unsafe { PQgetResult(conn) };
            if result.is_null() {
                break;
            }
            let status = unsafe { PQresultStatus(result) };
            if status == ExecStatusType::PGRES_FATAL_ERROR {
                let message = unsafe { std::ffi::CStr::from_ptr(PQerrorMessage(conn)) };
                failure = Some(message.to_string_lossy().trim().to_string());
            }
            unsafe { PQclear(result) };
            if matches!(
                status,
                ExecStatusType::PGRES_COPY_OUT | ExecStatusType::PGRES_COPY_IN
            ) {
                // Not finished: leave it to its owner.
                break;
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

/// The server process ids of the open connections, as libpq learned them
/// when connecting (no query). Through a pooler they are the pooler's.
pub fn backend_pids() -> Vec<i32> {
    CONNS
        .iter()
        .map(|slot| slot.load(Ordering::Acquire))
        .filter(|conn| !conn.is_null())
        // SAFETY: PQbackendPID only reads a field set when the connection was made.
        .map(|conn| unsafe { pq_sys::PQbackendPID(conn) })
        .filter(|pid| *pid > 0)
        .collect()
}

/// How many connections have a cancel key recorded (for tests).
pub fn recorded() -> usize {
    CANCELS
        .iter()
        .filter(|c| !c.load(Ordering::Acquire).is_null())
        .count()
}
