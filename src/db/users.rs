//! User statements. Each function is one constant SQL statement with its
//! parameters bound.

use crate::db::PgConn;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use super::models::{scoped_user, DeletedRow, MaybeUser};
use crate::model::{DeletedUser, Scoped, User, UserRef};

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

/// Counts of a user's tasks, for the `c` lateral join: NULL when
/// row-level security applies to the connected role and `app.user_id` is
/// not this user (the role would see a false 0).
macro_rules! counts {
    () => {
        "CROSS JOIN LATERAL (SELECT count(*) AS total, \
         count(*) FILTER (WHERE completed) AS done FROM tasks WHERE user_id = u.id) c0 \
         CROSS JOIN LATERAL (SELECT CASE WHEN NOT hidden THEN c0.total END AS total, \
         CASE WHEN NOT hidden THEN c0.done END AS done FROM (SELECT row_security_active('tasks') \
         AND current_setting('app.user_id', true) IS DISTINCT FROM u.id AS hidden) h) c"
    };
}

/// What `add` did.
#[derive(Debug)]
pub enum Added {
    User(User),
    /// An account with this email in any letter case exists.
    EmailTaken,
    /// An account with this id exists.
    IdTaken,
}

/// Inserts a user (`$1` id, `$2` email, lower-cased by the server, `$3`
/// name) unless the email in any letter case or the id is taken; says which.
/// Two concurrent inserts of the same email or id can still both pass the
/// check: the loser gets a unique violation.
pub fn add(conn: &mut PgConn, id: &str, email: &str, name: Option<&str>) -> QueryResult<Added> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        email_taken: bool,
        #[diesel(sql_type = Bool)]
        id_taken: bool,
        #[diesel(embed)]
        user: MaybeUser,
        #[diesel(sql_type = Nullable<Text>)]
        xid: Option<String>,
    }
    let row: Row = diesel::sql_query(
        "WITH taken AS (
            SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($2)) AS email_taken,
                   EXISTS (SELECT 1 FROM users WHERE id = $1) AS id_taken),
         ins AS (
            INSERT INTO users (id, email, name) SELECT $1, lower($2), $3 FROM taken
            WHERE NOT email_taken AND NOT id_taken
            RETURNING id, email, name, created_at, updated_at)
         SELECT taken.email_taken, taken.id_taken,
                ins.id, ins.email, ins.name, ins.created_at, ins.updated_at,
                pg_current_xact_id_if_assigned()::text AS xid
         FROM taken LEFT JOIN ins ON true",
    )
    .bind::<Text, _>(id)
    .bind::<Text, _>(email)
    .bind::<Nullable<Text>, _>(name)
    .get_result(conn)?;
    super::replica::note_write(row.xid.as_deref());
    Ok(match row {
        Row {
            email_taken: true, ..
        } => Added::EmailTaken,
        Row { id_taken: true, .. } => Added::IdTaken,
        Row { user, .. } => Added::User(User {
            account: user.into_account().ok_or(diesel::result::Error::NotFound)?,
            total: Some(0),
            done: Some(0),
        }),
    })
}

/// The natural order of emails (seed-user-2 before seed-user-10), the key
/// of `idx_users_email_natural_key` (migration 5): the text before the
/// first run of digits, that run as a number, the email, the id. `$p` is
/// the table's qualifier (`"u."`, or `""`).
macro_rules! natural_order {
    ($p:literal) => {
        concat!(
            "substring(",
            $p,
            "email FROM '^\\D*') COLLATE \"C\", ",
            "(substring(",
            $p,
            "email FROM '\\d+'))::numeric, ",
            $p,
            "email COLLATE \"C\", ",
            $p,
            "id"
        )
    };
}

/// Users in the natural order of their emails, with task counts, streamed
/// row by row.
pub fn list(
    conn: &mut PgConn,
    limit: Option<i64>,
) -> QueryResult<impl Iterator<Item = QueryResult<User>> + '_> {
    diesel::sql_query(concat!(
        "SELECT u.id, u.email, u.name, u.created_at, u.updated_at, c.total, c.done
         FROM (SELECT * FROM users ORDER BY ",
        natural_order!(""),
        " LIMIT $1) u ",
        counts!(),
        " ORDER BY ",
        natural_order!("u.")
    ))
    .bind::<Nullable<BigInt>, _>(limit)
    .load_iter::<User, PgRowByRowLoadingMode>(conn)
}

/// The statement of [`find`], with `$extra` columns.
macro_rules! find_sql {
    ($extra:expr) => {
        concat!(
            "SELECT u.id, u.email, u.name, u.created_at, u.updated_at, c.total, c.done",
            $extra,
            " FROM (SELECT * FROM users WHERE ",
            user_matches!(),
            " ORDER BY id LIMIT 2) u ",
            counts!()
        )
    };
}

/// The user matching USER, with task counts (two are read: more than one
/// is ambiguous).
pub fn find(conn: &mut PgConn, user: &UserRef) -> QueryResult<Scoped<Option<User>>> {
    diesel::sql_query(find_sql!(""))
        .bind::<Text, _>(user.key())
        .load(conn)
        .map(scoped_user)
}

/// [`find`] for `user export`, in the same statement: the tables whose
/// rows row-level security filters for the connected role (an export must
/// not be silently shortened, SPEC §17).
pub fn find_for_export(
    conn: &mut PgConn,
    user: &UserRef,
) -> QueryResult<(Scoped<Option<User>>, Vec<String>)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(embed)]
        user: User,
        #[diesel(sql_type = Text)]
        row_security: String,
    }
    let rows: Vec<Row> = diesel::sql_query(find_sql!(concat!(
        ", ",
        super::rls::row_security_tables!(),
        " AS row_security"
    )))
    .bind::<Text, _>(user.key())
    .load(conn)?;
    let hidden = rows
        .first()
        .map(|r| super::rls::split_tables(&r.row_security))
        .unwrap_or_default();
    Ok((
        scoped_user(rows.into_iter().map(|r| r.user).collect()),
        hidden,
    ))
}

/// Deletes the user matching USER (when exactly one does); its tasks go by
/// cascade. Reports how many users matched and how many tasks went. For a
/// role subject to row-level security on `users` (which may delete only
/// the row `app.user_id` names), the statement runs again in the user's
/// scope, as task commands do.
pub fn delete(conn: &mut PgConn, user: &UserRef) -> QueryResult<Scoped<Option<DeletedUser>>> {
    super::tasks::scoped_run(conn, user, |conn| {
        diesel::sql_query(concat!(
            user_cte!(),
            ",
             d AS (DELETE FROM users WHERE id = (SELECT id FROM u WHERE n = 1) RETURNING *)
             SELECT u.n AS matches, d.id, d.email, d.name, d.created_at, d.updated_at,
                    (SELECT count(*) FROM tasks WHERE user_id = d.id) AS tasks_deleted,
                    pg_current_xact_id_if_assigned()::text AS xid,
                    (row_security_active('users')
                     AND current_setting('app.user_id', true) IS DISTINCT FROM u.id) AS rls_unscoped
             FROM u LEFT JOIN d ON true"
        ))
        .bind::<Text, _>(user.key())
        .get_result::<DeletedRow>(conn)
        .map(DeletedRow::into_scoped)
    })
}
