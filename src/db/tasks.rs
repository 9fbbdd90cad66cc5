//! Task statements. Each is one constant SQL statement that starts with the
//! user lookup (`user_cte!` in [`super::users`]), so a task of another user
//! is never touched and looks exactly like a missing one. Each returns a
//! [`Scoped`] result: how the USER argument matched, and the tasks.
//!
//! Parameters: `$1` is always the USER argument; the others are listed on
//! each statement.

use crate::db::PgConn;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};

use super::models::{ScopedCounts, ScopedRow};
use super::users::user_cte;
use crate::model::{Changed, Counts, Scoped, Task, UserRef};

/// The select list of every scoped statement: the user match count, the ids
/// found (multi-id commands; `$found` is an SQL expression), the task, and
/// the transaction id of a write (for read-your-writes on a replica).
/// `scoped!(read)` is the list of a read-only statement: no ids found, and
/// no transaction id (it would always be NULL; not asking saves the server
/// a function lookup in a new session).
macro_rules! scoped {
    (read) => {
        scoped!("NULL::int[]", "NULL::text")
    };
    ($found:literal) => {
        scoped!($found, "pg_current_xact_id_if_assigned()::text")
    };
    ($found:literal, $xid:literal) => {
        concat!(
            " SELECT u.n AS matches, ",
            rls_unscoped!(),
            " AS rls_unscoped, ",
            $found,
            " AS found, t.id, t.title, t.description, t.completed, t.user_id,",
            " t.created_at, t.updated_at, ",
            $xid,
            " AS xid "
        )
    };
}

/// True when row-level security applies to the connected role and
/// `app.user_id` is not this user's id: the statement saw none of the
/// user's tasks, and [`in_user_scope`] runs it again. False for the table
/// owner (the ordinary path: nothing else happens).
macro_rules! rls_unscoped {
    () => {
        "(row_security_active('tasks')
          AND current_setting('app.user_id', true) IS DISTINCT FROM u.id)"
    };
}

/// Which tasks `list` returns.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `Some(true)` done only, `Some(false)` pending only (NULL counts as pending).
    pub completed: Option<bool>,
    /// Case-insensitive substring of the title or the description.
    pub search: Option<String>,
    pub limit: Option<i64>,
}

/// `$2` title, `$3` description.
pub fn add(
    conn: &mut PgConn,
    user: &UserRef,
    title: &str,
    description: Option<&str>,
) -> QueryResult<Scoped<Option<Task>>> {
    diesel::sql_query(concat!(
        user_cte!(),
        ", t AS (INSERT INTO tasks (title, description, user_id)
                 SELECT $2, $3, id FROM u WHERE n = 1 RETURNING *)",
        scoped!("NULL::int[]"),
        "FROM u LEFT JOIN t ON true"
    ))
    .bind::<Text, _>(user.key())
    .bind::<Text, _>(title)
    .bind::<Nullable<Text>, _>(description)
    .get_result::<ScopedRow>(conn)
    .map(ScopedRow::into_one)
}

/// `list` without `--search`: the page of ids comes from an index-only scan
/// of `idx_tasks_user_created`, then the rows are fetched by primary key,
/// one index probe per id. `OFFSET 0` keeps that fetch a parameterised
/// subquery: as a plain join, on a small table the planner hashes the page
/// against a sequential scan of every task (1.5 ms of the statement's
/// 2 ms at 10 000 tasks, measured).
/// `$2` completed (NULL: any), `$3` limit (NULL: all).
const LIST: &str = concat!(
    user_cte!(),
    scoped!(read),
    "FROM u
     LEFT JOIN LATERAL (
         SELECT k.id FROM tasks k
         WHERE k.user_id = u.id AND u.n = 1
           AND ($2::boolean IS NULL OR coalesce(k.completed, false) = $2)
         ORDER BY k.created_at DESC NULLS LAST, k.id DESC
         LIMIT $3
     ) k ON true
     LEFT JOIN LATERAL (SELECT * FROM tasks WHERE id = k.id OFFSET 0) t ON true
     ORDER BY t.created_at DESC NULLS LAST, t.id DESC"
);

/// `list --search`: title and description must be read anyway. `$2`
/// completed (NULL: any), `$3` the ILIKE pattern, `$4` limit (NULL: all).
const LIST_SEARCH: &str = concat!(
    user_cte!(),
    scoped!(read),
    "FROM u
     LEFT JOIN LATERAL (
         SELECT * FROM tasks
         WHERE user_id = u.id AND u.n = 1
           AND ($2::boolean IS NULL OR coalesce(completed, false) = $2)
           AND (title ILIKE $3 OR description ILIKE $3)
         ORDER BY created_at DESC NULLS LAST, id DESC
         LIMIT $4
     ) t ON true
     ORDER BY t.created_at DESC NULLS LAST, t.id DESC"
);

/// The user's tasks, newest first (NULL `created_at` last), streamed row by
/// row (the first is read before this returns, for the user match).
///
/// Without `--search`, a user with 100 000 tasks lists 50 as fast as a light
/// user: the planner cannot know how many tasks the looked-up user has, and
/// would otherwise read and sort all of them (see migration 3).
pub fn list<'c>(
    conn: &'c mut PgConn,
    user: &UserRef,
    filter: &Filter,
) -> QueryResult<Scoped<Box<dyn Iterator<Item = QueryResult<Task>> + 'c>>> {
    let key = user.key().to_string();
    let rows: Box<dyn Iterator<Item = QueryResult<ScopedRow>> + 'c> = match &filter.search {
        None => Box::new(
            diesel::sql_query(LIST)
                .bind::<Text, _>(key)
                .bind::<Nullable<Bool>, _>(filter.completed)
                .bind::<Nullable<BigInt>, _>(filter.limit)
                .load_iter::<ScopedRow, PgRowByRowLoadingMode>(conn)?,
        ),
        Some(search) => Box::new(
            diesel::sql_query(LIST_SEARCH)
                .bind::<Text, _>(key)
                .bind::<Nullable<Bool>, _>(filter.completed)
                .bind::<Text, _>(like_pattern(search))
                .bind::<Nullable<BigInt>, _>(filter.limit)
                .load_iter::<ScopedRow, PgRowByRowLoadingMode>(conn)?,
        ),
    };
    let scoped = ScopedRow::into_stream(rows)?;
    Ok(Scoped {
        user: scoped.user,
        rls_unscoped: scoped.rls_unscoped,
        value: Box::new(scoped.value),
    })
}

/// `%text%` with LIKE's wildcards in `text` taken literally.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `$2` the task id.
pub fn show(conn: &mut PgConn, user: &UserRef, id: i32) -> QueryResult<Scoped<Option<Task>>> {
    diesel::sql_query(concat!(
        user_cte!(),
        scoped!(read),
        "FROM u LEFT JOIN tasks t ON t.id = $2 AND t.user_id = u.id AND u.n = 1"
    ))
    .bind::<Text, _>(user.key())
    .bind::<Integer, _>(id)
    .get_result::<ScopedRow>(conn)
    .map(ScopedRow::into_one)
}

/// What a multi-id command does to the tasks it found.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    SetCompleted(bool),
    Delete,
}

/// A multi-id statement: `$action` (an UPDATE or DELETE of `tasks`) runs on
/// all of the ids `$2` only if every one is the user's; `f` locks the ones
/// found.
macro_rules! all_or_nothing {
    ($action:literal) => {
        concat!(
            user_cte!(),
            ", f AS (SELECT id FROM tasks
                     WHERE id = ANY($2) AND user_id = (SELECT id FROM u WHERE n = 1) FOR UPDATE),
               t AS (",
            $action,
            " WHERE id IN (SELECT id FROM f) AND (SELECT count(*) FROM f) = cardinality($2)
                     RETURNING *)",
            scoped!("(SELECT array_agg(id) FROM f)"),
            "FROM u LEFT JOIN t ON true ORDER BY array_position($2, t.id)"
        )
    };
}

/// `$2` the ids, `$3` the new `completed`.
const SET_COMPLETED: &str = all_or_nothing!("UPDATE tasks SET completed = $3");
/// `$2` the ids.
const DELETE: &str = all_or_nothing!("DELETE FROM tasks");

/// Applies `change` to all of `ids` (distinct) or, if any is not the user's,
/// to none: the tasks come back only when all were found; `found` lists the
/// ids that exist. One statement, so it is atomic without a transaction.
pub fn change(
    conn: &mut PgConn,
    user: &UserRef,
    ids: &[i32],
    change: Change,
) -> QueryResult<Scoped<Changed>> {
    let rows = match change {
        Change::SetCompleted(completed) => diesel::sql_query(SET_COMPLETED)
            .bind::<Text, _>(user.key())
            .bind::<Array<Integer>, _>(ids)
            .bind::<Bool, _>(completed)
            .load(conn)?,
        Change::Delete => diesel::sql_query(DELETE)
            .bind::<Text, _>(user.key())
            .bind::<Array<Integer>, _>(ids)
            .load(conn)?,
    };
    Ok(ScopedRow::into_changed(rows))
}

/// Deletes all the user's completed tasks.
pub fn delete_done(conn: &mut PgConn, user: &UserRef) -> QueryResult<Scoped<Vec<Task>>> {
    diesel::sql_query(concat!(
        user_cte!(),
        ", t AS (DELETE FROM tasks WHERE user_id = (SELECT id FROM u WHERE n = 1) AND completed
                 RETURNING *)",
        scoped!("NULL::int[]"),
        "FROM u LEFT JOIN t ON true ORDER BY t.created_at DESC NULLS LAST, t.id DESC"
    ))
    .bind::<Text, _>(user.key())
    .load(conn)
    .map(|rows| {
        let changed = ScopedRow::into_changed(rows);
        Scoped {
            user: changed.user,
            rls_unscoped: changed.rls_unscoped,
            value: changed.value.tasks,
        }
    })
}

/// The fields `edit` changes; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub clear_description: bool,
}

/// `$2` the id, `$3` title, `$4` description (NULL: keep), `$5` clear
/// the description.
pub fn edit(
    conn: &mut PgConn,
    user: &UserRef,
    id: i32,
    edit: &Edit,
) -> QueryResult<Scoped<Option<Task>>> {
    diesel::sql_query(concat!(
        user_cte!(),
        ", t AS (UPDATE tasks SET title = coalesce($3, title),
                     description = CASE WHEN $5 THEN NULL ELSE coalesce($4, description) END
                 WHERE id = $2 AND user_id = (SELECT id FROM u WHERE n = 1) RETURNING *)",
        scoped!("NULL::int[]"),
        "FROM u LEFT JOIN t ON true"
    ))
    .bind::<Text, _>(user.key())
    .bind::<Integer, _>(id)
    .bind::<Nullable<Text>, _>(edit.title.as_deref())
    .bind::<Nullable<Text>, _>(edit.description.as_deref())
    .bind::<Bool, _>(edit.clear_description)
    .get_result::<ScopedRow>(conn)
    .map(ScopedRow::into_one)
}

/// Total and done counts (NULL `completed` counts as pending).
pub fn stats(conn: &mut PgConn, user: &UserRef) -> QueryResult<Scoped<Counts>> {
    diesel::sql_query(concat!(
        user_cte!(),
        " SELECT u.n AS matches, ",
        rls_unscoped!(),
        " AS rls_unscoped, count(t.id) AS total,
                 count(t.id) FILTER (WHERE t.completed) AS done
          FROM u LEFT JOIN tasks t ON t.user_id = u.id AND u.n = 1
          GROUP BY u.n, u.id"
    ))
    .bind::<Text, _>(user.key())
    .get_result::<ScopedCounts>(conn)
    .map(ScopedCounts::into_scoped)
}

/// Runs `f` again in a transaction that first sets `app.user_id` to the id
/// of the user USER names (`set_config(…, true)`: transaction-local, safe
/// through a transaction pooler), for a role subject to row-level security.
pub fn in_user_scope<T>(
    conn: &mut PgConn,
    user: &UserRef,
    f: impl FnOnce(&mut PgConn) -> QueryResult<T>,
) -> QueryResult<T> {
    conn.transaction(|conn| {
        set_user_scope(conn, user)?;
        f(conn)
    })
}

/// `SET LOCAL app.user_id` to the id of the user USER names (`$1`).
pub fn set_user_scope(conn: &mut PgConn, user: &UserRef) -> QueryResult<()> {
    diesel::sql_query(concat!(
        "SELECT set_config('app.user_id', coalesce((SELECT min(id) FROM users WHERE ",
        super::users::user_matches!(),
        "), ''), true)"
    ))
    .bind::<Text, _>(user.key())
    .execute(conn)
    .map(|_| ())
}

/// Whether an error is a row-level security policy refusing a write (an
/// INSERT by a role subject to it, before `app.user_id` is set).
pub fn is_rls_refusal(err: &diesel::result::Error) -> bool {
    // 42501 (insufficient_privilege), as a policy's WITH CHECK refuses; a
    // plain missing privilege fails again in the user's scope.
    super::sqlstate(err).as_deref() == Some(super::codes::INSUFFICIENT_PRIVILEGE)
}

/// Runs a scoped statement; when row-level security hid the user's tasks
/// from it (or refused its write), runs it again in the user's scope.
pub fn scoped_run<T>(
    conn: &mut PgConn,
    user: &UserRef,
    f: impl Fn(&mut PgConn) -> QueryResult<Scoped<T>>,
) -> QueryResult<Scoped<T>> {
    match f(conn) {
        Ok(result) if !result.rls_unscoped => Ok(result),
        Ok(_) => in_user_scope(conn, user, f),
        Err(e) if is_rls_refusal(&e) => in_user_scope(conn, user, f),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(super::like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
