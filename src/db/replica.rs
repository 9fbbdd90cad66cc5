//! Read replicas (SPEC §14), the data side: which transaction the last
//! write of this process committed, and whether a replica has replayed it.
//!
//! Every write statement returns `pg_current_xact_id_if_assigned()` in its
//! own result (no extra round trip; NULL when it changed nothing), and the
//! data layer notes it here; the command layer persists it for the next
//! invocation. On a replica, `pg_visible_in_snapshot(xid, pg_current_snapshot())`
//! is true once that transaction's commit has been replayed there.

use crate::db::PgConn;
use std::sync::Mutex;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

static LAST_WRITE: Mutex<Option<String>> = Mutex::new(None);

/// Notes the transaction id (`xid8` as text) of a committed write.
pub fn note_write(xid: Option<&str>) {
    if let (Some(xid), Ok(mut last)) = (xid, LAST_WRITE.lock()) {
        *last = Some(xid.to_string());
    }
}

/// The last write noted in this process, if any.
pub fn last_write() -> Option<String> {
    LAST_WRITE.lock().ok().and_then(|last| last.clone())
}

/// Whether the transaction `xid` is visible on this server (a replica has
/// replayed its commit). One round trip.
pub fn replayed(conn: &mut PgConn, xid: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        visible: bool,
    }
    let row: Row = diesel::sql_query(
        "SELECT pg_visible_in_snapshot($1::xid8, pg_current_snapshot()) AS visible",
    )
    .bind::<Text, _>(xid)
    .get_result(conn)?;
    Ok(row.visible)
}

/// The transaction id of the current transaction, assigning one: for a
/// write inside an explicit transaction (COPY) whose statement cannot
/// return it.
pub fn current_xid(conn: &mut PgConn) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        xid: String,
    }
    let row: Row =
        diesel::sql_query("SELECT pg_current_xact_id()::text AS xid").get_result(conn)?;
    Ok(row.xid)
}
