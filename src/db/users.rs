//! User statements. Each function is one constant SQL statement with its
//! parameters bound.

use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::models::{scoped_user, DeletedRow, DeletedUser, Scoped, User, UserRef};

/// The condition matching a USER argument bound as `$1`: an email when it
/// contains `@` (compared as `lower(email) = lower($1)`: the server folds
/// case on both sides, `lower(email)` is indexed, and rows other programs
/// wrote in mixed case are found), and always an id (ids
/// written by other programs may contain `@`; an email that is also another
/// user's id is then ambiguous). Statements are planned with their
/// parameter values, so PostgreSQL folds the `strpos` test away: an id is
/// one index scan, an email two (BitmapOr).
macro_rules! user_matches {
    () => {
        "((strpos($1, '@') > 0 AND lower(email) = lower($1)) OR id = $1)"
    };
}

/// `u(n, id)`: how many users match `$1` and, when exactly one, its id.
/// Every task statement starts with it, so the ownership check happens in
/// the same statement as the work.
macro_rules! user_cte {
    () => {
        concat!(
            "WITH u AS (SELECT count(*) AS n, min(id) AS id FROM users WHERE ",
            $crate::db::users::user_matches!(),
            ")"
        )
    };
}
pub(crate) use {user_cte, user_matches};

/// Counts of a user's tasks, for the `c` lateral join.
macro_rules! counts {
    () => {
        "CROSS JOIN LATERAL (SELECT count(*) AS total, \
         count(*) FILTER (WHERE completed) AS done FROM tasks WHERE user_id = u.id) c"
    };
}

/// Inserts a user, email lower-cased by the server, unless an account with
/// the same email in any letter case exists (then `None`).
pub fn add(
    conn: &mut PgConnection,
    id: &str,
    email: &str,
    name: Option<&str>,
) -> QueryResult<Option<User>> {
    diesel::sql_query(
        "WITH ins AS (
            INSERT INTO users (id, email, name) SELECT $1, lower($2), $3
            WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($2))
            RETURNING id, email, name, created_at, updated_at)
         SELECT id, email, name, created_at, updated_at, 0::bigint AS total, 0::bigint AS done
         FROM ins",
    )
    .bind::<Text, _>(id)
    .bind::<Text, _>(email)
    .bind::<Nullable<Text>, _>(name)
    .get_result(conn)
    .optional()
}

/// Users ordered by email, with task counts, streamed row by row.
pub fn list(
    conn: &mut PgConnection,
    limit: Option<i64>,
) -> QueryResult<impl Iterator<Item = QueryResult<User>> + '_> {
    diesel::sql_query(concat!(
        "SELECT u.id, u.email, u.name, u.created_at, u.updated_at, c.total, c.done
         FROM (SELECT * FROM users ORDER BY email, id LIMIT $1) u ",
        counts!(),
        " ORDER BY u.email, u.id"
    ))
    .bind::<Nullable<BigInt>, _>(limit)
    .load_iter::<User, PgRowByRowLoadingMode>(conn)
}

/// The user matching USER, with task counts (two are read: more than one
/// is ambiguous).
pub fn find(conn: &mut PgConnection, user: &UserRef) -> QueryResult<Scoped<Option<User>>> {
    diesel::sql_query(concat!(
        "SELECT u.id, u.email, u.name, u.created_at, u.updated_at, c.total, c.done
         FROM (SELECT * FROM users WHERE ",
        user_matches!(),
        " ORDER BY id LIMIT 2) u ",
        counts!()
    ))
    .bind::<Text, _>(user.key())
    .load(conn)
    .map(scoped_user)
}

/// Deletes the user matching USER (when exactly one does); its tasks go by
/// cascade. Reports how many users matched and how many tasks went.
pub fn delete(conn: &mut PgConnection, user: &UserRef) -> QueryResult<Scoped<Option<DeletedUser>>> {
    diesel::sql_query(concat!(
        user_cte!(),
        ",
         d AS (DELETE FROM users WHERE id = (SELECT id FROM u WHERE n = 1) RETURNING *)
         SELECT u.n AS matches, d.id, d.email, d.name, d.created_at, d.updated_at,
                (SELECT count(*) FROM tasks WHERE user_id = d.id) AS tasks_deleted
         FROM u LEFT JOIN d ON true"
    ))
    .bind::<Text, _>(user.key())
    .get_result::<DeletedRow>(conn)
    .map(DeletedRow::into_scoped)
}
