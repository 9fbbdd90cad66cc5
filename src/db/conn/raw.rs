//! A libpq connection and its results, as safe Rust: the only `unsafe`
//! code of [`super::PgConn`]. Every statement is sent with
//! `PQsendQueryParams` (unnamed: one round trip, no prepared statement
//! left on the server, safe through transaction poolers), parameters and
//! results in binary format, as diesel's `Pg` backend encodes and decodes
//! them.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::NonNull;

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};
use pq_sys as pq;

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
    /// returns the last one, or its first error (which wins).
    pub fn finish_statement(&mut self) -> Result<Option<PgResult>, DieselError> {
        let mut last = None;
        let mut failed = None;
        while let Some(result) = self.next_result() {
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

/// A statement's result.
pub struct PgResult {
    ptr: NonNull<pq::PGresult>,
}

// SAFETY: a PGresult is immutable once returned and owns its memory.
unsafe impl Send for PgResult {}

impl Drop for PgResult {
    fn drop(&mut self) {
        // SAFETY: the result is ours and freed once.
        unsafe { pq::PQclear(self.ptr.as_ptr()) }
    }
}

impl PgResult {
    pub fn status(&self) -> pq::ExecStatusType {
        // SAFETY: a live result.
        unsafe { pq::PQresultStatus(self.ptr.as_ptr()) }
    }

    /// The result, or the error it reports (classified by SQLSTATE).
    pub fn check(self, conn: &RawConn) -> Result<PgResult, DieselError> {
        use pq::ExecStatusType::*;
        match self.status() {
            PGRES_COMMAND_OK | PGRES_TUPLES_OK | PGRES_SINGLE_TUPLE | PGRES_COPY_IN
            | PGRES_COPY_OUT | PGRES_EMPTY_QUERY => Ok(self),
            _ => Err(self.error(conn)),
        }
    }

    fn field(&self, code: u8) -> Option<String> {
        // SAFETY: a live result; libpq returns NULL or a string the result
        // owns, copied out here.
        let f = unsafe { pq::PQresultErrorField(self.ptr.as_ptr(), c_int::from(code)) };
        (!f.is_null()).then(|| unsafe { CStr::from_ptr(f) }.to_string_lossy().into_owned())
    }

    /// The error this result reports.
    fn error(&self, conn: &RawConn) -> DieselError {
        let info = ErrorInfo {
            sqlstate: self.field(b'C').unwrap_or_default(),
            message: self.field(b'M').unwrap_or_else(|| conn.error_message()),
            details: self.field(b'D'),
            hint: self.field(b'H'),
            table: self.field(b't'),
            column: self.field(b'c'),
            constraint: self.field(b'n'),
            position: self.field(b'P').and_then(|p| p.parse().ok()),
        };
        let kind = if !conn.is_ok() {
            DatabaseErrorKind::ClosedConnection
        } else {
            kind_of(&info.sqlstate)
        };
        super::sqlstate::remember(&info.message, &info.sqlstate);
        DieselError::DatabaseError(kind, Box::new(info))
    }

    pub fn rows(&self) -> usize {
        // SAFETY: a live result.
        unsafe { pq::PQntuples(self.ptr.as_ptr()) }.max(0) as usize
    }

    pub fn columns(&self) -> usize {
        // SAFETY: a live result.
        unsafe { pq::PQnfields(self.ptr.as_ptr()) }.max(0) as usize
    }

    /// The value at (row, column) in binary; None for NULL.
    pub fn value(&self, row: usize, column: usize) -> Option<&[u8]> {
        let (r, c) = (row as c_int, column as c_int);
        // SAFETY: indexes checked by the callers against rows()/columns();
        // the bytes live as long as the result (borrowed from `self`).
        unsafe {
            if pq::PQgetisnull(self.ptr.as_ptr(), r, c) != 0 {
                return None;
            }
            let ptr = pq::PQgetvalue(self.ptr.as_ptr(), r, c);
            let len = pq::PQgetlength(self.ptr.as_ptr(), r, c).max(0) as usize;
            Some(std::slice::from_raw_parts(ptr.cast(), len))
        }
    }

    /// A column's name.
    pub fn column_name(&self, column: usize) -> Option<&str> {
        // SAFETY: a live result; NULL for a column out of range, else a
        // string the result owns.
        let name = unsafe { pq::PQfname(self.ptr.as_ptr(), column as c_int) };
        (!name.is_null()).then(|| unsafe { CStr::from_ptr(name) }.to_str().ok())?
    }

    /// A column's type OID.
    pub fn column_type(&self, column: usize) -> u32 {
        // SAFETY: a live result (0 for a column out of range).
        unsafe { pq::PQftype(self.ptr.as_ptr(), column as c_int) }
    }

    /// Rows affected by INSERT, UPDATE, DELETE, COPY, … (0 for others).
    pub fn affected(&self) -> usize {
        // SAFETY: a live result; libpq returns a string it owns ("" when
        // the command reports no count).
        let text = unsafe { CStr::from_ptr(pq::PQcmdTuples(self.ptr.as_ptr())) };
        text.to_str().ok().and_then(|t| t.parse().ok()).unwrap_or(0)
    }
}

/// diesel's kind for a SQLSTATE (the ones diesel itself tells apart).
fn kind_of(sqlstate: &str) -> DatabaseErrorKind {
    match sqlstate {
        "23505" => DatabaseErrorKind::UniqueViolation,
        "23503" => DatabaseErrorKind::ForeignKeyViolation,
        "40001" => DatabaseErrorKind::SerializationFailure,
        "25006" => DatabaseErrorKind::ReadOnlyTransaction,
        "23502" => DatabaseErrorKind::NotNullViolation,
        "23514" => DatabaseErrorKind::CheckViolation,
        "23001" => DatabaseErrorKind::RestrictViolation,
        "23P01" => DatabaseErrorKind::ExclusionViolation,
        c if c.starts_with("08") => DatabaseErrorKind::ClosedConnection,
        _ => DatabaseErrorKind::Unknown,
    }
}

/// What the server said about an error.
#[derive(Debug)]
struct ErrorInfo {
    sqlstate: String,
    message: String,
    details: Option<String>,
    hint: Option<String>,
    table: Option<String>,
    column: Option<String>,
    constraint: Option<String>,
    position: Option<i32>,
}

impl DatabaseErrorInformation for ErrorInfo {
    fn message(&self) -> &str {
        &self.message
    }
    fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }
    fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    fn table_name(&self) -> Option<&str> {
        self.table.as_deref()
    }
    fn column_name(&self) -> Option<&str> {
        self.column.as_deref()
    }
    fn constraint_name(&self) -> Option<&str> {
        self.constraint.as_deref()
    }
    fn statement_position(&self) -> Option<i32> {
        self.position
    }
}
