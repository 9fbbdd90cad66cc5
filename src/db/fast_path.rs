//! The bulk-load fast path of `db seed` and `db restore`: into empty
//! tables, drop the indexes and keys, load the rows, and build them once
//! after the load, inside the load's transaction (bulk index builds beat
//! row-by-row inserts about 2:1, as pg_restore knows). The locks are taken
//! first with a short `lock_timeout`; when another session holds them, the
//! caller loads plainly instead.
//!
//! What this does beyond pg_restore (docs/performance.md, `db restore`):
//! - a restore truncates the (empty) tables in its transaction, so its
//!   COPY may use `FREEZE`: the rows are written frozen and their pages
//!   all-visible, which every index build's heap scan and the foreign key's
//!   check read faster;
//! - the builds get memory sized to the rows (one sorted run per build
//!   participant), with the server's own number of parallel workers.
//! - over those frozen rows, the foreign key's check reads both indexes in
//!   order (a merge anti join) instead of hashing `users` ([`HASH_JOIN_OFF`]).
//!
//! Round trips: [`take`] is a savepoint, the lock timeout, two locks, one
//! query of the tables' state, the catalog query, one drop per object, the
//! truncate (a restore), the release and the lock timeout again; [`rebuild`] is
//! the memory setting and one statement per object, plus two settings around
//! a foreign key's check over truncated tables ([`HASH_JOIN_OFF`]).

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::set_lock_timeout;
use crate::db::PgConn;

/// How long the fast path waits for its table locks before falling back.
const LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// What a bulk load into empty tables may drop and rebuild once after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastPath {
    /// `db seed` into empty tables: the secondary indexes and foreign key
    /// of `tasks` (the seed's users go in first, with `users`' keys in
    /// place).
    TasksSecondary,
    /// `db restore` into empty tables: every index and key of both tables
    /// (as pg_restore builds them after the rows), except keys that tables
    /// other than `tasks` reference; and both tables truncated when that
    /// is allowed (see [`Rebuild::truncated`]).
    Everything,
}

/// One object dropped by [`take`], and the statement that recreates it.
#[derive(QueryableByName)]
pub struct Ddl {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    ord: i32,
    #[diesel(sql_type = Text)]
    drop_sql: String,
    #[diesel(sql_type = Text)]
    create_sql: String,
    /// A foreign key of one column with an index leading with it on both
    /// sides (rebuilt before it): its check may read both indexes in order.
    #[diesel(sql_type = Bool)]
    ordered_check: bool,
}

/// What [`take`] dropped, for [`rebuild`].
pub struct Rebuild {
    ddl: Vec<Ddl>,
    /// Both tables were truncated in this transaction, so COPY may use
    /// `FREEZE`. Only for [`FastPath::Everything`], and only when no other
    /// table's foreign key references them (TRUNCATE would refuse), no
    /// `ON TRUNCATE` trigger would fire, no publication replicates
    /// truncates of them, and the role holds TRUNCATE ([`STATE`]).
    pub truncated: bool,
}

/// What [`take`] found: the fast path, or why the rows go in plainly.
pub enum Taken {
    /// Dropped: [`rebuild`] after the load.
    Dropped(Rebuild),
    /// Rows are present: the plain load is the right one.
    NotEmpty,
    /// Another session held a lock past the short timeout: the plain load
    /// instead (slower, same result; the command says so in a note).
    Locked,
}

impl Taken {
    /// What to rebuild after the load, if anything was dropped.
    pub fn dropped(self) -> Option<Rebuild> {
        match self {
            Taken::Dropped(rebuild) => Some(rebuild),
            Taken::NotEmpty | Taken::Locked => None,
        }
    }
}

/// Takes the locks of the fast path under a short timeout; when the tables
/// are empty, drops what `path` allows and returns what recreates it (for
/// [`rebuild`]).
pub fn take(conn: &mut PgConn, lock_timeout: Duration, path: FastPath) -> QueryResult<Taken> {
    let everything = path == FastPath::Everything;
    let attempt = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        set_lock_timeout(conn, LOCK_TIMEOUT)?;
        diesel::sql_query("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE").execute(conn)?;
        // Re-adding the foreign key takes this lock on users; dropping its
        // keys, the strongest.
        diesel::sql_query(if everything {
            "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"
        } else {
            "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"
        })
        .execute(conn)?;
        let state: State = diesel::sql_query(STATE)
            .bind::<Bool, _>(everything)
            .get_result(conn)?;
        if !state.tasks_empty || (everything && !state.users_empty) {
            return Ok(Taken::NotEmpty);
        }
        // As the catalog defines them (so extra indexes are rebuilt too), in
        // the order they can be dropped: the foreign key, then keys, then
        // plain indexes; they are rebuilt in the reverse order.
        let ddl: Vec<Ddl> = diesel::sql_query(DDL)
            .bind::<Bool, _>(everything)
            .load(conn)?;
        for d in &ddl {
            diesel::sql_query(&d.drop_sql).execute(conn)?;
        }
        let truncated = state.may_truncate;
        if truncated {
            // Empty tables: nothing is lost, and a --replace's deleted rows
            // are not scanned again by every index build.
            diesel::sql_query("TRUNCATE tasks, users").execute(conn)?;
        }
        Ok(Taken::Dropped(Rebuild { ddl, truncated }))
    });
    let restore = |conn: &mut PgConn| set_lock_timeout(conn, lock_timeout);
    match attempt {
        Ok(taken) => {
            restore(conn)?;
            Ok(taken)
        }
        Err(e) if super::is_lock_timeout(&e) => {
            restore(conn)?;
            Ok(Taken::Locked)
        }
        Err(e) => Err(e),
    }
}

/// Recreates what [`take`] dropped, once, after the load of `rows` rows
/// into the larger table (in the reverse order of the drops: indexes and
/// keys before the foreign key). See [`BUILD_MEMORY`] for the memory.
pub fn rebuild(conn: &mut PgConn, rebuild: &Rebuild, rows: u64) -> QueryResult<()> {
    size_builds(conn, rows)?;
    for d in rebuild.ddl.iter().rev() {
        // See HASH_JOIN_OFF: only over frozen rows (all-visible pages).
        let ordered = rebuild.truncated && d.ordered_check;
        if ordered {
            diesel::sql_query(HASH_JOIN_OFF).execute(conn)?;
        }
        diesel::sql_query(&d.create_sql).execute(conn)?;
        if ordered {
            diesel::sql_query(HASH_JOIN_DEFAULT).execute(conn)?;
        }
    }
    Ok(())
}

/// For the check of a foreign key re-added over frozen rows: PostgreSQL
/// plans it as a hash anti join of the referencing index with the
/// referenced table; a merge anti join of the two indexes, both read in
/// order without touching the heap (its pages are all-visible after
/// `COPY … FREEZE`), is faster. Measured 2026-12-03 (1 M tasks, 100 k users,
/// PostgreSQL 15): 111 → 65 ms in a `C.UTF-8` database, 108 → 82 ms in a
/// `de_DE.utf8` one (docs/performance.md). Transaction-local, and set back
/// to the session's default right after the statement. Not when the
/// session has merge joins off (a nested loop would be the plan then).
pub const HASH_JOIN_OFF: &str = concat!(
    "SELECT set_config('enable_hashjoin', 'off', true) ",
    "WHERE current_setting('enable_mergejoin')::boolean"
);
/// Undoes [`HASH_JOIN_OFF`]: the value the session started with.
const HASH_JOIN_DEFAULT: &str = "SET LOCAL enable_hashjoin TO DEFAULT";

/// Sets (`SET LOCAL`) the index builds' memory for `rows` rows: see
/// [`BUILD_MEMORY`]. One round trip.
pub fn size_builds(conn: &mut PgConn, rows: u64) -> QueryResult<()> {
    diesel::sql_query(BUILD_MEMORY)
        .bind::<BigInt, _>(i64::try_from(rows).unwrap_or(i64::MAX))
        .execute(conn)
        .map(|_| ())
}

/// The builds' memory for `$1` rows. The number of parallel
/// workers stays what the server's own settings give a build (at most
/// `max_parallel_maintenance_workers`, and 32 MB of `maintenance_work_mem`
/// for each participant, the leader included: PostgreSQL's rule); only the
/// DBA knows the server's cores (on 2 cores, a third participant made
/// restores slower). Each participant then gets enough to sort its share
/// in one run, 128 bytes a row: never less than the session's setting, at
/// most four times it (so a DBA's memory budget still bounds it) and at
/// most 2 GB. `PGOPTIONS='-c maintenance_work_mem=…'` raises both bounds.
const BUILD_MEMORY: &str = "
    WITH s AS (
        SELECT (SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem') AS kb,
               current_setting('max_parallel_maintenance_workers')::int AS workers)
    SELECT set_config('max_parallel_maintenance_workers',
                      least(workers, greatest(kb / 32768 - 1, 0))::text, true),
           set_config('maintenance_work_mem',
                      least(greatest(kb, $1 / 8), kb * 4, 2097151)::text || 'kB', true)
    FROM s";

/// What [`take`] decides by, once the locks are held.
#[derive(QueryableByName)]
struct State {
    #[diesel(sql_type = Bool)]
    tasks_empty: bool,
    #[diesel(sql_type = Bool)]
    users_empty: bool,
    #[diesel(sql_type = Bool)]
    may_truncate: bool,
}

/// Whether the tables are empty, and (`$1`: [`FastPath::Everything`])
/// whether `TRUNCATE tasks, users` is allowed and changes nothing but the
/// storage: no other table's foreign key references them, no `ON TRUNCATE`
/// trigger, no publication that would send the truncate to subscribers,
/// and the role holds the privilege.
const STATE: &str = "
    SELECT NOT EXISTS (SELECT 1 FROM tasks) AS tasks_empty,
           NOT EXISTS (SELECT 1 FROM users) AS users_empty,
           $1 AND has_table_privilege('tasks', 'TRUNCATE')
              AND has_table_privilege('users', 'TRUNCATE')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint
                              WHERE contype = 'f'
                                AND confrelid IN ('users'::regclass, 'tasks'::regclass)
                                AND conrelid NOT IN ('users'::regclass, 'tasks'::regclass))
              AND NOT EXISTS (SELECT 1 FROM pg_trigger
                              WHERE tgrelid IN ('users'::regclass, 'tasks'::regclass)
                                AND tgtype::int & 32 <> 0)
              AND NOT EXISTS (SELECT 1 FROM pg_publication_tables t
                              JOIN pg_publication p ON p.pubname = t.pubname
                              WHERE p.pubtruncate
                                AND format('%I.%I', t.schemaname, t.tablename)::regclass
                                    IN ('users'::regclass, 'tasks'::regclass)) AS may_truncate";

/// The objects [`take`] drops: `$1` true for [`FastPath::Everything`].
const DDL: &str = "
    SELECT 1 AS ord, format('ALTER TABLE tasks DROP CONSTRAINT %I', f.conname) AS drop_sql,
           format('ALTER TABLE tasks ADD CONSTRAINT %I %s', f.conname,
                  pg_get_constraintdef(f.oid)) AS create_sql,
           cardinality(f.conkey) = 1
             AND EXISTS (SELECT 1 FROM pg_index i
                         WHERE i.indrelid = f.conrelid AND i.indkey[0] = f.conkey[1])
             AND EXISTS (SELECT 1 FROM pg_index i
                         WHERE i.indrelid = f.confrelid AND i.indkey[0] = f.confkey[1])
             AS ordered_check
    FROM pg_constraint f WHERE f.conrelid = 'tasks'::regclass AND f.contype = 'f'
    UNION ALL
    SELECT 2, format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname,
                  pg_get_constraintdef(k.oid)),
           false
    FROM pg_constraint k
    WHERE $1 AND k.conrelid IN ('users'::regclass, 'tasks'::regclass) AND k.contype IN ('p', 'u')
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'
                      AND f.confrelid = k.conrelid AND f.conrelid <> 'tasks'::regclass)
    UNION ALL
    SELECT 3, format('DROP INDEX %I.%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid), false
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE (i.indrelid = 'tasks'::regclass OR ($1 AND i.indrelid = 'users'::regclass))
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    ORDER BY ord";
