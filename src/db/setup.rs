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

/// libpq's `PQgetResult`, answering a skipped statement: "command OK",
/// then `NULL`.
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
    unsafe { __real_PQgetResult(conn) }
}
