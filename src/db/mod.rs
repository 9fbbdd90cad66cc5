//! Everything that talks to PostgreSQL: connections, statements, COPY,
//! migrations, health measurements. Functions here return diesel's
//! `QueryResult` (or a module error), never print, and name no command or
//! flag; the command layer decides where to connect, turns failures into
//! [`crate::error::Error`] with its wording (`commands::errors`), and
//! renders results (`output`).

pub mod backup;
pub mod columns;
pub mod conformance;
pub mod health;
pub mod import;
pub mod libpq;
pub mod maintain;
pub mod migrate;
pub mod models;
pub mod pool;
pub mod purge;
pub mod replica;
pub mod revert;
pub mod rls;
pub mod schema;
pub mod seed;
pub mod setup;
pub mod stats;
pub mod tasks;
pub mod tls;
pub mod url;
pub mod users;

pub use pool::{Conn, Pool, StatementLog};

/// Whether a database error is SQLSTATE 55P03 (`lock_timeout` expired).
/// diesel exposes no SQLSTATE, so this is the one place that reads the
/// server's message for it.
pub fn is_lock_timeout(message: &str) -> bool {
    message.contains("due to lock timeout")
}
