//! Everything that talks to PostgreSQL. Functions here return diesel's
//! `QueryResult` (or a module error) and never print; the command layer turns
//! failures into [`crate::error::Error`] with [`classify`].

pub mod cancel;
pub mod conformance;
pub mod health;
pub mod migrate;
pub mod models;
pub mod pool;
pub mod schema;
pub mod seed;
pub mod tasks;
pub mod url;
pub mod users;

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::error::{Error, Kind, Result};
pub use pool::{Conn, Pool};
use url::DbUrl;

/// Seconds libpq waits for a connection unless told otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 5;

/// How the user asked to connect (global flags).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub database_url: Option<String>,
    pub local: bool,
    pub connect_timeout: Option<u64>,
}

impl ConnectOptions {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(
            self.connect_timeout
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
                .max(1),
        )
    }
}

/// Where a command connects.
pub enum Target {
    Url(DbUrl),
    Local(crate::local::Cluster, DbUrl),
}

impl Target {
    pub fn url(&self) -> &DbUrl {
        match self {
            Target::Url(url) | Target::Local(_, url) => url,
        }
    }
}

/// Applies SPEC §2: `--local`, else the configured URL, else the embedded
/// database in interactive use, else an error (exit 5). `notice` receives a
/// warning for each line of `./.env` that could not be parsed.
pub fn resolve(opts: &ConnectOptions, notice: &mut dyn FnMut(&str)) -> Result<Target> {
    if opts.local {
        return local_target(opts);
    }
    let env = |key: &str| match std::env::var(key) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::usage(format!("${key} is not valid UTF-8"))
                .with_hint("percent-encode non-ASCII characters in the URL"))
        }
    };
    let found = url::configured(opts.database_url.as_deref(), env, Path::new(".env"))?;
    for line in &found.dotenv_bad_lines {
        notice(&format!(
            "warning: line {line} of ./.env cannot be parsed and was skipped"
        ));
    }
    match found.url {
        Some((raw, source)) => {
            let url =
                DbUrl::parse(&raw, opts.connect_timeout, DEFAULT_CONNECT_TIMEOUT).map_err(|e| {
                    Error {
                        message: format!("{} (from {source})", e.message),
                        ..e
                    }
                })?;
            Ok(Target::Url(url))
        }
        None if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() => {
            local_target(opts)
        }
        None => Err(Error::unavailable("no database configured").with_hint(
            "set DATABASE_URL (or TODO_DATABASE_URL, or put it in ./.env), \
             or pass --local to use the embedded database",
        )),
    }
}

fn local_target(opts: &ConnectOptions) -> Result<Target> {
    let cluster = crate::local::Cluster::new(crate::local::Cluster::default_home()?);
    let url = DbUrl::parse(
        &cluster.url(crate::local::DATABASE),
        opts.connect_timeout,
        DEFAULT_CONNECT_TIMEOUT,
    )?;
    Ok(Target::Local(cluster, url))
}

/// Opens the pool for a command (at most `size` connections). The embedded
/// database is created, migrated and started on demand; `notice` receives a
/// line when that happens.
pub fn open(opts: &ConnectOptions, size: u32, notice: &mut dyn FnMut(&str)) -> Result<Pool> {
    match resolve(opts, notice)? {
        Target::Url(url) => Pool::open(&url, size, opts.timeout()),
        Target::Local(cluster, url) => match Pool::open(&url, size, opts.timeout()) {
            Ok(pool) => Ok(pool),
            Err(_) => {
                start_local(&cluster, notice)?;
                Pool::open(&url, size, opts.timeout())
            }
        },
    }
}

/// Creates (and migrates) or starts the embedded cluster if needed.
pub fn start_local(cluster: &crate::local::Cluster, notice: &mut dyn FnMut(&str)) -> Result<()> {
    let mut migrate = |raw: &str| -> Result<()> {
        let url = DbUrl::parse(raw, None, DEFAULT_CONNECT_TIMEOUT)?;
        let mut conn = pool::establish(&url)?;
        migrate::run(&mut conn, Duration::from_secs(10))
            .map(|_| ())
            .map_err(|e| Error::unexpected(format!("cannot migrate the local database: {e}")))
    };
    cluster.ensure_running(notice, &mut migrate)
}

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

/// Recognises errors by their message: a lost connection or a lock or
/// statement timeout (exit 5).
pub fn classify_message(message: &str) -> Option<Error> {
    if CONNECTION_LOST.iter().any(|p| message.contains(p)) {
        return Some(Error::unavailable(format!(
            "lost the connection to the database: {message}"
        )));
    }
    if message.contains("lock timeout") {
        return Some(
            Error::unavailable(format!("gave up waiting for a lock: {message}")).with_hint(
                "another session holds a conflicting lock; retry later or raise --lock-timeout",
            ),
        );
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
