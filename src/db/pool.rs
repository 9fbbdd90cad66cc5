//! Connections (SPEC §2): one r2d2 pool per command, sized for a CLI, that
//! opens only the connections the command uses, lazily.
//!
//! r2d2 retries a failed connect until its timeout and loses the reason, so
//! the first connection is established here directly (a wrong password or an
//! unknown database fails at once, with the server's reason) and handed to the
//! pool on its first `connect()`.

use crate::db::PgConn;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::{CacheSize, InstrumentationEvent};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, PooledConnection};

use crate::url::DbUrl;

/// Where `--verbose` sends a line per connection and per statement (with
/// its duration; never a connection string).
pub type StatementLog = Arc<dyn Fn(&str) + Send + Sync>;

/// Opens a connection with named prepared statements turned off (they cost a
/// round trip in a one-shot CLI and break transaction-mode poolers).
pub fn establish(url: &DbUrl, log: Option<&StatementLog>) -> Result<PgConn, ConnectError> {
    let mut conn = PgConn::establish(url.libpq()).map_err(|e| connect_error(url, &e))?;
    conn.set_prepared_statement_cache_size(CacheSize::Disabled);
    if let Some(log) = log {
        log(&format!("connected to {}", url.display()));
        let log = Arc::clone(log);
        let mut started = Instant::now();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartQuery { .. } => started = Instant::now(),
            InstrumentationEvent::FinishQuery { query, error, .. } => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                let failed = if error.is_some() { ", failed" } else { "" };
                let text = query.to_string();
                let text = crate::text::one_line(&text);
                log(&format!("sql ({ms:.2} ms{failed}): {text}"));
            }
            _ => {}
        });
    }
    Ok(conn)
}

/// Why a connection could not be made. The messages are masked (no
/// password); what to do about each is the command layer's to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// libpq cannot use the connection string: nothing was sent.
    InvalidUrl(String),
    /// The URL asks for `sslnegotiation`, which this libpq (major version
    /// given) does not know.
    NoDirectTls { reason: String, libpq: i32 },
    /// A server (before PostgreSQL 17) hung up on a direct TLS handshake:
    /// retrying cannot help.
    DirectTlsRefused { target: String, reason: String },
    /// The server refused a setting the session asked for at start-up
    /// (`options` in the URL, or `PGOPTIONS`): the URL itself is fine.
    RefusedSetting { target: String, reason: String },
    /// The server could not be reached, or refused the session.
    Unreachable { target: String, reason: String },
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::InvalidUrl(reason) | ConnectError::NoDirectTls { reason, .. } => {
                write!(f, "invalid database URL: {reason}")
            }
            ConnectError::DirectTlsRefused { target, reason }
            | ConnectError::Unreachable { target, reason } => {
                write!(f, "cannot connect to {target}: {reason}")
            }
            ConnectError::RefusedSetting { target, reason } => {
                write!(f, "{target} refused a setting of the connection: {reason}")
            }
        }
    }
}

impl std::error::Error for ConnectError {}

fn connect_error(url: &DbUrl, err: &ConnectionError) -> ConnectError {
    let reason = match err {
        ConnectionError::BadConnection(msg) => msg.trim().to_string(),
        ConnectionError::InvalidConnectionUrl(msg) => {
            return ConnectError::InvalidUrl(url.mask(msg.trim()))
        }
        other => other.to_string(),
    };
    let (target, masked) = (url.display().to_string(), url.mask(&reason));
    // libpq's own (client-side) messages: no server was asked, so there is
    // no SQLSTATE to tell them by.
    if url.libpq().contains("sslnegotiation=direct") && reason.contains("SSL") {
        return ConnectError::DirectTlsRefused {
            target,
            reason: masked,
        };
    }
    // The server's own refusal (a FATAL): a setting sent at start-up.
    if reason.contains("FATAL:") && reason.contains("parameter \"") {
        return ConnectError::RefusedSetting {
            target,
            reason: masked,
        };
    }
    if is_conninfo_error(&reason) {
        if url.libpq().contains("sslnegotiation") {
            return ConnectError::NoDirectTls {
                reason: masked,
                libpq: crate::db::conn::libpq_version() / 10000,
            };
        }
        return ConnectError::InvalidUrl(masked);
    }
    ConnectError::Unreachable {
        target,
        reason: masked,
    }
}

/// libpq's messages for a connection string it cannot use (a bad parameter
/// name or value): the user's input is wrong (exit 2), no server was asked.
fn is_conninfo_error(message: &str) -> bool {
    const PREFIXES: [&str; 10] = [
        "invalid URI query parameter",
        "invalid connection option",
        "invalid integer value",
        "invalid port number",
        "invalid percent-encoded token",
        "missing \"=\" after",
        "unterminated quoted string",
        "unexpected character",
        "could not match ",
        "end of string reached when looking for matching",
    ];
    // libpq may put "connection to server … failed: " before them.
    let invalid_value = message.contains("invalid ") && message.contains(" value");
    invalid_value || PREFIXES.iter().any(|p| message.contains(p))
}

/// Hands out the pre-established first connection, then opens new ones.
pub struct Manager {
    url: DbUrl,
    first: Mutex<Option<PgConn>>,
    log: Option<StatementLog>,
}

impl ManageConnection for Manager {
    type Connection = PgConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<PgConn, ConnectError> {
        let first = self.first.lock().ok().and_then(|mut slot| slot.take());
        match first {
            Some(conn) => Ok(conn),
            None => establish(&self.url, self.log.as_ref()),
        }
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), ConnectError> {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(|e| ConnectError::Unreachable {
                target: self.url.display().to_string(),
                reason: self.url.mask(&e.to_string()),
            })
    }

    fn has_broken(&self, _conn: &mut PgConn) -> bool {
        false
    }
}

pub type Conn = PooledConnection<Manager>;

/// A database handle for one command.
pub struct Pool {
    pool: r2d2::Pool<Manager>,
    url: DbUrl,
}

impl Pool {
    /// The URL the pool connects to.
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// Connects once (failing fast with the server's reason) and builds a pool
    /// of at most `size` connections around that connection.
    pub fn open(
        url: &DbUrl,
        size: u32,
        timeout: Duration,
        log: Option<StatementLog>,
    ) -> Result<Pool, ConnectError> {
        let first = establish(url, log.as_ref())?;
        let manager = Manager {
            url: url.clone(),
            first: Mutex::new(Some(first)),
            log,
        };
        // r2d2 opens connections on its scheduler threads; a CLI needs one
        // (the default starts three), and no reaper timers.
        let scheduler = Arc::new(scheduled_thread_pool::ScheduledThreadPool::new(1));
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(0))
            .test_on_check_out(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .thread_pool(scheduler)
            .connection_timeout(timeout)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        Ok(Pool {
            pool,
            url: url.clone(),
        })
    }

    /// Checks out a connection.
    pub fn get(&self) -> Result<Conn, ConnectError> {
        self.pool.get().map_err(|e| ConnectError::Unreachable {
            target: self.url.display().to_string(),
            reason: self.url.mask(&e.to_string()),
        })
    }
}
