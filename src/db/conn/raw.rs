//! A libpq connection and its results, as safe Rust: the only `unsafe`
//! code of [`super::PgConn`]. Every statement is sent with
//! `PQsendQueryParams` (unnamed: one round trip, no prepared statement
//! left on the server, safe through transaction poolers), parameters and
//! results in binary format, as diesel's `Pg` backend encodes and decodes
//! them.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::NonNull;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use pq_sys as pq;

pub use super::result::PgResult;

/// An open connection. Dropping it ends the session (`PQfinish`).
pub struct RawConn {
    ptr: NonNull<pq::PGconn>,
}

// SAFETY: a PGconn may move between threads as long as one thread uses it
// at a time, which `&mut self` on every use guarantees (libpq is built
// thread-safe).
unsafe impl Send for RawConn {}

/// libpq prints the server's NOTICEs on stderr by default: say nothing.
extern "C" fn ignore_notice(_arg: *mut c_void, _message: *const c_char) {}

impl RawConn {
    /// Connects with a libpq connection string (URL or `key=value`);
    /// `Err` is libpq's message.
    pub fn connect(conninfo: &str) -> Result<RawConn, String> {
        let conninfo =
            CString::new(conninfo).map_err(|_| "the URL holds a NUL byte".to_string())?;
        // SAFETY: a NUL-terminated string; libpq returns NULL only when out
        // of memory, else a connection to be freed with PQfinish.
        let ptr = unsafe { pq::PQconnectdb(conninfo.as_ptr()) };
        let Some(ptr) = NonNull::new(ptr) else {
            return Err("out of memory".into());
        };
        let conn = RawConn { ptr };
        // SAFETY: a live connection.
        if unsafe { pq::PQstatus(conn.ptr.as_ptr()) } != pq::ConnStatusType::CONNECTION_OK {
            return Err(conn.error_message());
        }
        // SAFETY: a live connection and a processor that ignores its input.
        unsafe {
            pq::PQsetNoticeProcessor(conn.ptr.as_ptr(), Some(ignore_notice), std::ptr::null_mut())
        };
        Ok(conn)
    }

    pub(super) fn as_ptr(&self) -> *mut pq::PGconn {
        self.ptr.as_ptr()
    }

    /// libpq's last error message for the connection.
    pub fn error_message(&self) -> String {
        // SAFETY: a live connection; libpq returns a string it owns (maybe
        // empty), copied out here.
        let msg = unsafe { CStr::from_ptr(pq::PQerrorMessage(self.ptr.as_ptr())) };
        msg.to_string_lossy().trim_end().to_string()
    }

    /// A setting the server reported (`TimeZone`, `server_version`, …).
    pub fn parameter_status(&self, name: &CStr) -> Option<String> {
        // SAFETY: a live connection and a NUL-terminated name; the result is
        // NULL or a string libpq owns, copied out here.
        let value = unsafe { pq::PQparameterStatus(self.ptr.as_ptr(), name.as_ptr()) };
        (!value.is_null()).then(|| {
            unsafe { CStr::from_ptr(value) }
                .to_string_lossy()
                .into_owned()
        })
    }

    /// The host this session is connected to (a name, an address or a
    /// socket directory), as libpq reports it.
    pub fn host(&self) -> Option<String> {
        // SAFETY: a live connection; the result is NULL or a string libpq
        // owns, copied out here.
        let value = unsafe { pq::PQhost(self.ptr.as_ptr()) };
        (!value.is_null()).then(|| {
            unsafe { CStr::from_ptr(value) }
                .to_string_lossy()
                .into_owned()
        })
    }

    /// The server process serving this session.
    pub fn backend_pid(&self) -> i32 {
        // SAFETY: a live connection.
        unsafe { pq::PQbackendPID(self.ptr.as_ptr()) }
    }

    /// Whether the session is inside a transaction block, failed or not.
    pub fn transaction_status(&self) -> pq::PGTransactionStatusType {
        // SAFETY: a live connection.
        unsafe { pq::PQtransactionStatus(self.ptr.as_ptr()) }
    }

    /// Whether the connection is still usable.
    pub fn is_ok(&self) -> bool {
        // SAFETY: a live connection.
        unsafe { pq::PQstatus(self.ptr.as_ptr()) == pq::ConnStatusType::CONNECTION_OK }
    }

    /// Sends one statement with its parameters (binary, with their type
    /// OIDs); `binary` asks for binary results. `single_row`: the rows come
    /// one result each ([`RawConn::next_result`]).
    pub fn send(
        &mut self,
        sql: &str,
        types: &[u32],
        values: &[Option<Vec<u8>>],
        binary: bool,
        single_row: bool,
    ) -> Result<(), DieselError> {
        let sql = CString::new(sql).map_err(|e| DieselError::SerializationError(Box::new(e)))?;
        let pointers: Vec<*const c_char> = values
            .iter()
            .map(|v| match v {
                Some(v) => v.as_ptr().cast(),
                None => std::ptr::null(),
            })
            .collect();
        let lengths: Vec<c_int> = values
            .iter()
            .map(|v| v.as_ref().map_or(0, |v| v.len() as c_int))
            .collect();
        let formats = vec![1 as c_int; values.len()];
        let count = c_int::try_from(values.len())
            .map_err(|e| DieselError::SerializationError(Box::new(e)))?;
        // SAFETY: a live connection; the arrays have `count` elements each
        // and, like the values they point to, outlive the call (libpq copies
        // what it sends).
        let sent = unsafe {
            pq::PQsendQueryParams(
                self.ptr.as_ptr(),
                sql.as_ptr(),
                count,
                types.as_ptr(),
                pointers.as_ptr(),
                lengths.as_ptr(),
                formats.as_ptr(),
                c_int::from(binary),
            )
        };
        if sent == 0 {
            return Err(self.send_error());
        }
        // SAFETY: a live connection, right after a successful send.
        if single_row && unsafe { pq::PQsetSingleRowMode(self.ptr.as_ptr()) } == 0 {
            return Err(self.send_error());
        }
        Ok(())
    }

    /// Sends a statement without parameters (text results), as `PQexec`
    /// would but without waiting (several statements may be in `sql`).
    pub fn send_simple(&mut self, sql: &str) -> Result<(), DieselError> {
        let sql = CString::new(sql).map_err(|e| DieselError::SerializationError(Box::new(e)))?;
        // SAFETY: a live connection and a NUL-terminated string.
        if unsafe { pq::PQsendQuery(self.ptr.as_ptr(), sql.as_ptr()) } == 0 {
            return Err(self.send_error());
        }
        Ok(())
    }

    fn send_error(&self) -> DieselError {
        let kind = if self.is_ok() {
            DatabaseErrorKind::UnableToSendCommand
        } else {
            DatabaseErrorKind::ClosedConnection
        };
        DieselError::DatabaseError(kind, Box::new(self.error_message()))
    }

    /// The next result of the statement in progress; None once it is done.
    pub fn next_result(&mut self) -> Option<PgResult> {
        // SAFETY: a live connection; the result (if any) is ours to free.
        let ptr = unsafe { pq::PQgetResult(self.ptr.as_ptr()) };
        NonNull::new(ptr).map(|ptr| PgResult { ptr })
    }

    /// Reads the results of the statement in progress to its end and
    /// returns the last one, or its first error (which wins). A COPY met
    /// on the way is ended (COPY IN aborted, COPY OUT read out: libpq
    /// would otherwise return the same COPY state forever) and is an error.
    pub fn finish_statement(&mut self) -> Result<Option<PgResult>, DieselError> {
        use pq::ExecStatusType::*;
        let mut last = None;
        let mut failed = None;
        while let Some(result) = self.next_result() {
            let unexpected = match result.status() {
                PGRES_COPY_IN => {
                    let _ = self.put_copy_end(Some("the COPY was not expected"));
                    true
                }
                PGRES_COPY_OUT => {
                    while let Ok(Some(_)) = self.get_copy_data() {}
                    true
                }
                // Replication's COPY BOTH: nothing to do but give up the
                // connection's statement (it cannot be finished here).
                PGRES_COPY_BOTH => {
                    return Err(DieselError::DatabaseError(
                        DatabaseErrorKind::Unknown,
                        Box::new("an unexpected COPY BOTH (replication) result".to_string()),
                    ))
                }
                _ => false,
            };
            if unexpected {
                failed.get_or_insert(DieselError::DatabaseError(
                    DatabaseErrorKind::Unknown,
                    Box::new("the statement started a COPY that was not expected".to_string()),
                ));
                continue;
            }
            match result.check(self) {
                Ok(r) => last = Some(r),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(last),
        }
    }

    /// Sends COPY data (`PQputCopyData`).
    pub fn put_copy_data(&mut self, data: &[u8]) -> Result<(), String> {
        let len = c_int::try_from(data.len()).map_err(|e| e.to_string())?;
        // SAFETY: a live connection in COPY IN; `data` has `len` bytes.
        match unsafe { pq::PQputCopyData(self.ptr.as_ptr(), data.as_ptr().cast(), len) } {
            1 => Ok(()),
            _ => Err(self.error_message()),
        }
    }

    /// Ends COPY IN: `error` aborts it with that message.
    pub fn put_copy_end(&mut self, error: Option<&str>) -> Result<(), String> {
        let error = error.map(|e| CString::new(e.replace('\0', " ")).unwrap_or_default());
        let ptr = error.as_ref().map_or(std::ptr::null(), |e| e.as_ptr());
        // SAFETY: a live connection in COPY IN; `ptr` is NULL or a
        // NUL-terminated string.
        match unsafe { pq::PQputCopyEnd(self.ptr.as_ptr(), ptr) } {
            1 => Ok(()),
            _ => Err(self.error_message()),
        }
    }

    /// The next row of COPY OUT: Ok(Some(bytes)), Ok(None) at its end.
    pub fn get_copy_data(&mut self) -> Result<Option<CopyBuffer>, String> {
        let mut buf: *mut c_char = std::ptr::null_mut();
        // SAFETY: a live connection in COPY OUT; blocking mode (async 0).
        let n = unsafe { pq::PQgetCopyData(self.ptr.as_ptr(), &mut buf, 0) };
        match n {
            -1 => Ok(None),
            n if n > 0 => match NonNull::new(buf) {
                Some(ptr) => Ok(Some(CopyBuffer {
                    ptr,
                    len: n as usize,
                })),
                None => Err("COPY returned no data".into()),
            },
            _ => Err(self.error_message()),
        }
    }
}

impl Drop for RawConn {
    fn drop(&mut self) {
        // SAFETY: the connection is ours and not used after this.
        unsafe { pq::PQfinish(self.ptr.as_ptr()) }
    }
}

/// One row of COPY OUT, freed with `PQfreemem`.
pub struct CopyBuffer {
    ptr: NonNull<c_char>,
    len: usize,
}

impl CopyBuffer {
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: libpq gave `len` bytes at `ptr`, alive until freed in Drop.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast(), self.len) }
    }
}

impl Drop for CopyBuffer {
    fn drop(&mut self) {
        // SAFETY: a buffer from PQgetCopyData, freed once.
        unsafe { pq::PQfreemem(self.ptr.as_ptr().cast()) }
    }
}
