//! Connection setup without diesel's two round trips (issue 19).
//!
//! `PgConnection::establish` always sends `SET TIME ZONE 'UTC'` and
//! `SET CLIENT_ENCODING TO 'UTF8'`, one round trip each, and diesel offers
//! no other way to open a connection. todo asks for both in the startup
//! packet instead, which costs nothing: `client_encoding=UTF8` in the
//! conninfo ([`super::url`]) and `PGTZ=UTC` in the process environment
//! ([`request_utc`]; libpq sends it as the `timezone` startup parameter,
//! which PgBouncer passes on as a tracked parameter, unlike `options`).
//!
//! The linker wraps libpq's `PQsendQueryParams` and `PQgetResult` (see
//! `build.rs`, like the cancel registry in [`super::libpq`]): when diesel
//! sends exactly one of those two statements and the server has already
//! reported the setting it makes (`PQparameterStatus`: `TimeZone` = `UTC`,
//! `client_encoding` = `UTF8`), nothing is sent and diesel gets an empty
//! "command OK" result. When the server reports anything else (a pooler
//! that dropped the parameter, a user's `client_encoding`), the statement
//! is sent as before: the session is always UTC and UTF-8, which a test
//! checks with `PGTZ=America/New_York`.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::ptr::null_mut;
use std::sync::atomic::AtomicPtr;

use pq_sys::{ExecStatusType, Oid, PGconn, PGresult, PQmakeEmptyPGresult, PQparameterStatus};

use super::libpq::{put, take};

/// The statements diesel's `establish` sends, with the setting each makes.
const SKIPPABLE: [(&[u8], &CStr, &[u8]); 2] = [
    (b"SET TIME ZONE 'UTC'", c"TimeZone", b"UTC"),
    (
        b"SET CLIENT_ENCODING TO 'UTF8'",
        c"client_encoding",
        b"UTF8",
    ),
];

/// Connections whose next `PQgetResult` is the answer to a skipped
/// statement (then `NULL`, as after any statement).
static ANSWERED: [AtomicPtr<PGconn>; 16] = [const { AtomicPtr::new(null_mut()) }; 16];
static DRAINED: [AtomicPtr<PGconn>; 16] = [const { AtomicPtr::new(null_mut()) }; 16];

/// Asks libpq to send `timezone=UTC` at connection start. Call it first
/// thing in `main`, before any thread exists. The whole process gets
/// `PGTZ=UTC`, so children (the editor, `pg_ctl`) inherit it; it only
/// matters to libpq clients, where UTC is what todo wants anyway.
pub fn request_utc() {
    // Called at the start of main, while the process has one thread.
    std::env::set_var("PGTZ", "UTC");
}

extern "C" {
    fn __real_PQsendQueryParams(
        conn: *mut PGconn,
        command: *const c_char,
        n_params: c_int,
        param_types: *const Oid,
        param_values: *const *const c_char,
        param_lengths: *const c_int,
        param_formats: *const c_int,
        result_format: c_int,
    ) -> c_int;
    fn __real_PQgetResult(conn: *mut PGconn) -> *mut PGresult;
}

/// Whether the server already reports what `command` would set.
///
/// # Safety
/// `conn` is an open connection; `command` a NUL-terminated string.
unsafe fn already_set(conn: *mut PGconn, command: *const c_char) -> bool {
    if conn.is_null() || command.is_null() {
        return false;
    }
    // SAFETY: the caller's contract.
    let command = unsafe { CStr::from_ptr(command) }.to_bytes();
    SKIPPABLE.iter().any(|(statement, name, value)| {
        if command != *statement {
            return false;
        }
        // SAFETY: an open connection and a NUL-terminated name.
        let reported = unsafe { PQparameterStatus(conn, name.as_ptr()) };
        // SAFETY: libpq returns NULL or a NUL-terminated string.
        !reported.is_null() && unsafe { CStr::from_ptr(reported) }.to_bytes() == *value
    })
}

/// libpq's `PQsendQueryParams`, except for a setup statement whose setting
/// the server already reports: then nothing is sent.
///
/// # Safety
/// As `PQsendQueryParams`.
#[no_mangle]
pub unsafe extern "C" fn __wrap_PQsendQueryParams(
    conn: *mut PGconn,
    command: *const c_char,
    n_params: c_int,
    param_types: *const Oid,
    param_values: *const *const c_char,
    param_lengths: *const c_int,
    param_formats: *const c_int,
    result_format: c_int,
) -> c_int {
    // SAFETY: the caller's contract is PQsendQueryParams's.
    if n_params == 0 && unsafe { already_set(conn, command) } && put(&ANSWERED, conn) {
        return 1;
    }
    // SAFETY: as above.
    unsafe {
        __real_PQsendQueryParams(
            conn,
            command,
            n_params,
            param_types,
            param_values,
            param_lengths,
            param_formats,
            result_format,
        )
    }
}

thread_local! {
    /// The last few error results this thread received: (primary message,
    /// SQLSTATE). diesel's error keeps the message of its result, which is
    /// the key to find the code again (see [`sqlstate_of`]); a later
    /// ROLLBACK does not lose it.
    static ERRORS: std::cell::RefCell<Vec<(Vec<u8>, [u8; 5])>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// How many error results are remembered.
const REMEMBERED: usize = 8;

/// The SQLSTATE of the error result whose primary message is `message`,
/// the newest first (diesel's errors do not carry the code).
pub fn sqlstate_of(message: &str) -> Option<[u8; 5]> {
    ERRORS.with(|e| {
        e.borrow()
            .iter()
            .rev()
            .find(|(m, _)| m == message.as_bytes())
            .map(|(_, code)| *code)
    })
}

/// Remembers the SQLSTATE of `result` when it is an error.
///
/// # Safety
/// `result` is NULL or a result libpq returned and nobody freed yet.
unsafe fn note_error(result: *mut PGresult) {
    if result.is_null() {
        return;
    }
    // SAFETY: a live result, as the caller promises.
    let status = unsafe { pq_sys::PQresultStatus(result) };
    if !matches!(status, ExecStatusType::PGRES_FATAL_ERROR) {
        return;
    }
    // SAFETY: as above; libpq returns NULL or a NUL-terminated string owned
    // by the result, copied out here.
    let field = |code: u8| unsafe {
        let f = pq_sys::PQresultErrorField(result, c_int::from(code));
        (!f.is_null()).then(|| CStr::from_ptr(f).to_bytes().to_vec())
    };
    let (Some(code), Some(message)) = (field(b'C'), field(b'M')) else {
        return;
    };
    let Ok(code) = <[u8; 5]>::try_from(code.as_slice()) else {
        return;
    };
    ERRORS.with(|e| {
        let mut e = e.borrow_mut();
        if e.len() == REMEMBERED {
            e.remove(0);
        }
        e.push((message, code));
    });
}

/// libpq's `PQgetResult`, answering a skipped statement: "command OK",
/// then `NULL`; it also remembers each error's SQLSTATE ([`sqlstate_of`]).
///
/// # Safety
/// As `PQgetResult`.
#[no_mangle]
pub unsafe extern "C" fn __wrap_PQgetResult(conn: *mut PGconn) -> *mut PGresult {
    if !conn.is_null() && take(&ANSWERED, conn) {
        put(&DRAINED, conn);
        // SAFETY: an open connection; the result is freed by the caller (PQclear).
        return unsafe { PQmakeEmptyPGresult(conn, ExecStatusType::PGRES_COMMAND_OK) };
    }
    if !conn.is_null() && take(&DRAINED, conn) {
        return null_mut();
    }
    // SAFETY: the caller's contract is PQgetResult's.
    let result = unsafe { __real_PQgetResult(conn) };
    // SAFETY: a result just returned by libpq, not yet freed.
    unsafe { note_error(result) };
    result
}
