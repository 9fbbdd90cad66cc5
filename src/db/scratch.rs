//! Scratch databases: a database made for one job (restoring a backup to
//! verify it) and dropped afterwards.
//!
//! `CREATE DATABASE` and `DROP DATABASE` take no bind parameters: the name
//! is bound to the server's `format('%I')` ([`super::run_ddl`]). It is made
//! here from a fixed prefix and a number, never from input, and a
//! [`Scratch`] can only come from [`create`].

use super::PgConn;
use diesel::QueryResult;

/// A scratch database this process made.
#[derive(Debug)]
pub struct Scratch {
    name: String,
}

impl Scratch {
    /// The database's name (to connect to it).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Creates the scratch database numbered `n` (the process id), dropping a
/// leftover of the same name first (a verification killed before its end).
/// Four round trips.
pub fn create(conn: &mut PgConn, n: u32) -> QueryResult<Scratch> {
    let scratch = Scratch {
        name: format!("todo_verify_{n}"),
    };
    drop_named(conn, &scratch.name)?;
    super::run_ddl(conn, "CREATE DATABASE %I", &scratch.name)?;
    Ok(scratch)
}

/// Drops a scratch database (its sessions are ended). Two round trips.
pub fn drop(conn: &mut PgConn, scratch: Scratch) -> QueryResult<()> {
    drop_named(conn, &scratch.name)
}

fn drop_named(conn: &mut PgConn, name: &str) -> QueryResult<()> {
    super::run_ddl(conn, "DROP DATABASE IF EXISTS %I WITH (FORCE)", name).map(|_| ())
}
