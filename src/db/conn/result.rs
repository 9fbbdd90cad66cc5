//! A statement's result (`PGresult`) as a safe type, and the errors it
//! reports, with their SQLSTATE.

use std::ffi::{c_int, CStr};
use std::ptr::NonNull;

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};
use pq_sys as pq;

use super::raw::RawConn;

/// A statement's result.
pub struct PgResult {
    pub(super) ptr: NonNull<pq::PGresult>,
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
