//! Database errors as the user sees them: the exit code of SPEC §9 and a
//! hint naming what to run (the data layer returns diesel's errors).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::migrate;
use crate::error::{Error, Kind};

/// Messages of errors that mean the connection is gone.
const CONNECTION_LOST: &[&str] = &[
    "terminating connection",
    "server closed the connection",
    "could not receive data from server",
    "could not send data to server",
    "no connection to the server",
    "connection to server was lost",
    "SSL connection has been closed",
    "SSL SYSCALL error",
];

/// Turns a database error into the tool's error. Errors diesel cannot
/// classify are checked for a missing schema with one extra query (only on
/// failure, so successful commands pay nothing).
pub fn classify(conn: &mut PgConnection, err: DieselError) -> Error {
    let known = classify_offline(err);
    if known.kind != Kind::Unexpected {
        return known;
    }
    match migrate::has_both_tables(conn) {
        Ok(false) => schema_missing(),
        _ => known,
    }
}

/// Classifies a database error without asking the server (for errors in
/// the middle of a stream, when the connection is busy).
pub fn classify_offline(err: DieselError) -> Error {
    let DieselError::DatabaseError(kind, info) = &err else {
        return match err {
            DieselError::NotFound => Error::not_found("not found"),
            other => Error::unexpected(other.to_string()),
        };
    };
    let message = info.message().to_string();
    match kind {
        DatabaseErrorKind::ClosedConnection => {
            Error::unavailable(format!("lost the connection to the database: {message}"))
        }
        DatabaseErrorKind::UniqueViolation => Error::conflict(message),
        // A task written for a user that another session deleted between
        // the lookup and the insert (the statement saw it, the commit not).
        DatabaseErrorKind::ForeignKeyViolation => {
            Error::not_found("the user was deleted by another session")
        }
        _ => classify_message(&message)
            .unwrap_or_else(|| Error::unexpected(format!("database error: {message}"))),
    }
}

/// A statement given up behind another session's lock: cancelled by the
/// lock watchdog (which names the blocker) or by the server's
/// `lock_timeout` (exit 5).
pub fn lock_wait(message: &str) -> Option<Error> {
    if message.contains("canceling statement due to user request") {
        if let Some(who) = super::watchdog::blocker() {
            return Some(
                Error::unavailable(format!(
                    "gave up waiting for a lock held by another session: {who}"
                ))
                .with_hint("retry later, or raise --lock-timeout"),
            );
        }
    }
    if crate::db::is_lock_timeout(message) {
        return Some(
            Error::unavailable(format!("gave up waiting for a lock: {message}")).with_hint(
                "another session holds a conflicting lock; retry later or raise --lock-timeout",
            ),
        );
    }
    None
}

/// [`lock_wait`] for a database error.
pub fn lock_wait_error(err: &DieselError) -> Option<Error> {
    match err {
        DieselError::DatabaseError(_, info) => lock_wait(info.message()),
        _ => None,
    }
}

/// Recognises errors by their message: a lost connection or a lock or
/// statement timeout (exit 5).
pub fn classify_message(message: &str) -> Option<Error> {
    if let Some(e) = lock_wait(message) {
        return Some(e);
    }
    if CONNECTION_LOST.iter().any(|p| message.contains(p)) {
        return Some(Error::unavailable(format!(
            "lost the connection to the database: {message}"
        )));
    }
    if message.contains("statement timeout") {
        return Some(Error::unavailable(message.to_string()));
    }
    None
}

/// The error for a database without the tool's tables.
pub fn schema_missing() -> Error {
    Error::not_ready("the database has no todo schema (tables users and tasks are missing)")
        .with_hint("create it with: todo db migrate")
}

/// For transactions run by the command layer: a database error classified
/// without asking the server.
impl From<DieselError> for Error {
    fn from(err: DieselError) -> Self {
        classify_offline(err)
    }
}

/// Refusing to copy tables whose rows row-level security filters.
pub fn row_security(what: &str, tables: &[String]) -> Error {
    Error::usage(format!(
        "cannot {what} completely: row-level security applies to this role on {} (rows may be hidden)",
        tables.join(" and ")
    ))
    .with_hint(
        "connect as the tables' owner or a role with BYPASSRLS (ALTER ROLE name BYPASSRLS)",
    )
}
