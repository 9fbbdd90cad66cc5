//! Database errors as the user sees them: the exit code of SPEC §9 and a
//! hint naming what to run (the data layer returns diesel's errors).

use crate::db::PgConn;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::{codes, migrate};
use crate::error::{Error, Kind};

/// Turns a database error into the tool's error. Errors diesel cannot
/// classify are checked for a missing schema with one extra query (only on
/// failure, so successful commands pay nothing).
pub fn classify(conn: &mut PgConn, err: DieselError) -> Error {
    if is_untranslatable(&err) {
        if let DieselError::DatabaseError(_, info) = &err {
            return untranslatable(info.message(), conn.server_encoding().as_deref());
        }
    }
    // COPY FROM refused for a role row-level security applies to (0A000,
    // feature_not_supported): `db seed`, `task import` and restores load
    // with COPY.
    if crate::db::sqlstate(&err).as_deref() == Some("0A000") {
        if let (Ok(tables), DieselError::DatabaseError(_, info)) =
            (crate::db::rls::row_security_hides(conn), &err)
        {
            if !tables.is_empty() {
                return Error::new(
                    Kind::Forbidden,
                    format!("the database refused: {}", info.message()),
                )
                .with_hint(format!(
                    "row-level security applies to this role on {}, and loading rows with COPY \
                     is not allowed under it: run this as the tables' owner or a role with \
                     BYPASSRLS",
                    tables.join(" and ")
                ));
            }
        }
    }
    let known = classify_offline(err);
    if known.kind == Kind::Forbidden {
        return under_row_security(conn, known);
    }
    if known.kind != Kind::Unexpected {
        return known;
    }
    match migrate::has_both_tables(conn) {
        Ok(false) => schema_missing(),
        _ => known,
    }
}

/// A refused permission where row-level security applies to the role: a
/// policy refused the rows (the role writes only the rows of its
/// `app.user_id`), which no grant changes. One query, only on this error
/// (when the connection can still answer).
fn under_row_security(conn: &mut PgConn, err: Error) -> Error {
    match crate::db::rls::row_security_hides(conn) {
        Ok(tables) if !tables.is_empty() => err.with_hint(format!(
            "row-level security applies to this role on {}: it may write only the rows of its \
             app.user_id; run this as the tables' owner or a role with BYPASSRLS",
            tables.join(" and ")
        )),
        _ => err,
    }
}

/// Classifies a database error without asking the server (for errors in
/// the middle of a stream, when the connection is busy): by diesel's kind
/// and the SQLSTATE (see [`crate::db::sqlstate`]).
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
        DatabaseErrorKind::ReadOnlyTransaction => read_only(&message),
        _ => classify_message(&message)
            .unwrap_or_else(|| Error::unexpected(format!("database error: {message}"))),
    }
}

/// A write refused because the server or the transaction is read-only.
fn read_only(message: &str) -> Error {
    Error::new(
        Kind::ReadOnly,
        format!("the database refused a write: {message}"),
    )
    .with_hint(
        "the server is a read-only replica or the session is read-only \
         (default_transaction_read_only); connect to the primary with a role that may write",
    )
}

/// A statement given up behind another session's lock: cancelled by the
/// lock watchdog (which names the blocker) or by the server's
/// `lock_timeout` (exit 5). `code` is the error's SQLSTATE.
fn lock_wait(code: Option<&str>, message: &str) -> Option<Error> {
    match code {
        Some(codes::QUERY_CANCELED) => super::watchdog::blocker().map(|who| {
            Error::unavailable(format!(
                "gave up waiting for a lock held by another session: {who}"
            ))
            .with_hint("retry later, or raise --lock-timeout")
        }),
        Some(codes::LOCK_NOT_AVAILABLE) => Some(
            Error::unavailable(format!("gave up waiting for a lock: {message}")).with_hint(
                "another session holds a conflicting lock; retry later or raise --lock-timeout",
            ),
        ),
        _ => None,
    }
}

/// A brief step of an admin command that could not get its lock within
/// `--lock-timeout` (SPEC §21, exit 5): who held it, and how long it was
/// tried in short tries (each of which kept the application waiting at
/// most the lock budget).
pub fn lock_busy(
    holder: Option<Box<crate::db::brief::Holder>>,
    tries: Option<crate::db::brief::Tries>,
) -> Error {
    let how = match tries {
        Some(t) => format!(
            " ({} tr{} over {:.1} s)",
            t.count,
            if t.count == 1 { "y" } else { "ies" },
            t.waited.as_secs_f64()
        ),
        None => String::new(),
    };
    let message = match holder {
        Some(h) => {
            let on = match (&h.table, &h.mode) {
                (Some(table), Some(mode)) => format!("{mode} on {table}"),
                _ => "the migration lock".to_string(),
            };
            format!(
                "gave up waiting for a lock held by another session: {} holds {on}{how}",
                session(&h)
            )
        }
        None => format!("gave up waiting for a lock{how}"),
    };
    let hint = if tries.is_some() {
        "each try waited at most 0.5 s, so the application was never held up longer; \
         retry later, or raise --lock-timeout"
    } else {
        "the lock waited for blocks no reads or writes of the application; run the command \
         again to complete the work, or raise --lock-timeout"
    };
    Error::unavailable(message).with_hint(hint)
}

/// A session as messages name it: "pid 123 (psql, for 7 s: LOCK TABLE …)".
pub fn session(h: &crate::db::brief::Holder) -> String {
    let held = h
        .secs
        .map(|s| format!(", for {s:.0} s"))
        .unwrap_or_default();
    let what = h
        .query
        .as_deref()
        .map(|q| format!(": {q}"))
        .unwrap_or_default();
    format!("pid {} ({}{held}{what})", h.pid, h.app)
}

/// A migration step that needs a session of its own (a concurrent index
/// build) on a connection through a transaction pooler (SPEC §21, exit 2):
/// nothing was changed.
pub fn pooled(conn: &PgConn, version: &str, step: &str) -> Error {
    let step = crate::text::one_line(step);
    let direct = conn
        .host()
        .filter(|h| h.contains("-pooler"))
        .map(|h| format!(" (for this host: {})", h.replacen("-pooler", "", 1)))
        .unwrap_or_default();
    Error::usage(format!(
        "migration {version} needs a session of its own, which this connection through a \
         pooler does not give ({step}); nothing was changed"
    ))
    .with_hint(format!(
        "connect to the database directly, not through the pooler: pass --direct-url URL or \
         set $DATABASE_URL_UNPOOLED to the direct URL{direct}"
    ))
}

/// [`lock_wait`] for a database error.
pub fn lock_wait_error(err: &DieselError) -> Option<Error> {
    match err {
        DieselError::DatabaseError(_, info) => {
            lock_wait(crate::db::sqlstate(err).as_deref(), info.message())
        }
        _ => None,
    }
}

/// Classifies an error known by its message (the server's primary
/// message, whose SQLSTATE is looked up: the text itself decides nothing):
/// permission refused (exit 8), read-only (5), a lock or statement timeout
/// (5), a lost connection (5). A connection lost without a server error
/// is diesel's `ClosedConnection` kind, classified by
/// [`classify_offline`].
pub fn classify_message(message: &str) -> Option<Error> {
    let code = crate::db::sqlstate_of_message(message);
    let code = code.as_deref();
    if let Some(e) = lock_wait(code, message) {
        return Some(e);
    }
    match code {
        Some(codes::INSUFFICIENT_PRIVILEGE) => Some(
            Error::new(Kind::Forbidden, format!("the database refused: {message}")).with_hint(
                "the role lacks this privilege; the tables' owner can grant it with \
                 todo db roles grant --app ROLE (or --readonly ROLE)",
            ),
        ),
        Some(codes::READ_ONLY) => Some(read_only(message)),
        Some(codes::UNTRANSLATABLE_CHARACTER) => Some(untranslatable(message, None)),
        // statement_timeout, or a cancel from elsewhere.
        Some(codes::QUERY_CANCELED) => Some(
            Error::unavailable(format!("the server cancelled the statement: {message}")).with_hint(
                "a statement_timeout (the role's, the database's or $PGOPTIONS') or \
                     another session cancelled it; retry, or raise the timeout",
            ),
        ),
        // Connection exceptions, and the server shutting down or ending
        // the session (57P01 admin_shutdown, 57P02 crash_shutdown, …).
        Some(c) if c.starts_with("08") || c.starts_with("57P") => Some(Error::unavailable(
            format!("lost the connection to the database: {message}"),
        )),
        _ => None,
    }
}

/// Whether `err` is text the database's encoding cannot store (22P05).
pub fn is_untranslatable(err: &DieselError) -> bool {
    crate::db::sqlstate(err).as_deref() == Some(codes::UNTRANSLATABLE_CHARACTER)
}

/// Input the database cannot store: its encoding (`encoding`, when known)
/// lacks a character of it. Bad input, exit 2.
fn untranslatable(message: &str, encoding: Option<&str>) -> Error {
    let encoding = match encoding {
        Some(e) => format!("the database's encoding, {e},"),
        None => "the database's encoding".to_string(),
    };
    Error::usage(format!(
        "{encoding} cannot store a character of the input: {message}"
    ))
    .with_hint(
        "use only characters that encoding has, or move the data to a database created with \
         ENCODING 'UTF8'",
    )
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

/// A connection that could not be made, with what to do about it.
impl From<crate::db::pool::ConnectError> for Error {
    fn from(e: crate::db::pool::ConnectError) -> Self {
        use crate::db::pool::ConnectError as C;
        let message = e.to_string();
        match e {
            C::InvalidUrl(_) => Error::usage(message).with_hint(
                "see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS for the parameters libpq accepts",
            ),
            C::NoDirectTls { libpq, .. } => {
                Error::usage(message).with_hint(crate::url::no_direct_tls_hint(libpq))
            }
            C::DirectTlsRefused { .. } => Error::usage(message).with_hint(
                "sslnegotiation=direct needs PostgreSQL 17 or later (or a proxy that supports it, \
                 as Neon's does); remove it from the URL for older servers",
            ),
            C::RefusedSetting { .. } => Error::usage(message).with_hint(
                "check the options= of the URL and $PGOPTIONS (each -c name=value is a server setting)",
            ),
            C::Unreachable { .. } => {
                Error::unavailable(message).with_hint("check the URL, the server and your network")
            }
        }
    }
}
