//! Everything about acting as one user: the `--user` argument, the
//! errors for a user that is missing or ambiguous, and running a scoped
//! statement (again in the user's row-level security scope when needed).
//! Used by the task and user commands and by `db purge --user`.

use clap::Args;

use super::{errors, query};
use crate::db::tasks::{self, Filter};
use crate::error::{Error, Result};
use crate::model::{Scoped, Task, UserMatch, UserRef};
use crate::validate;

/// The `--user` of task commands (default `$TODO_USER`): every task
/// operation is scoped to that user in the same statement.
#[derive(Debug, Clone, Args)]
pub struct UserScope {
    /// The user: an email (any letter case) or a user id
    #[arg(
        long,
        short,
        env = "TODO_USER",
        value_name = "USER",
        hide_env_values = true,
        add = clap_complete::engine::ArgValueCompleter::new(super::complete::users)
    )]
    pub user: String,
}

impl UserScope {
    pub fn parse(&self) -> Result<UserRef> {
        validate::user_ref(&self.user)
    }
}

/// The error for a USER that matches no user.
pub fn user_not_found(user: &UserRef) -> Error {
    let err = Error::not_found(format!("user {user} not found"));
    match user {
        UserRef::Email(email) => {
            err.with_hint(format!("create the user with: todo user add {email}"))
        }
        UserRef::Id(_) => err.with_hint("list users with: todo user list"),
    }
}

/// The value of a statement scoped to a USER argument, or the error for
/// an unknown (exit 3) or ambiguous (exit 4) user.
pub fn scoped<T>(result: Scoped<T>, user: &UserRef) -> Result<T> {
    match result.user {
        UserMatch::One => Ok(result.value),
        UserMatch::None => Err(user_not_found(user)),
        UserMatch::Ambiguous => Err(Error::conflict(format!(
            "user {user} is ambiguous: several accounts have this email in different letter case"
        ))
        .with_hint("name the user by id instead (see: todo user list)")),
    }
}

/// Runs a scoped statement (again in the user's row-level-security scope
/// when needed) and checks the user match.
pub fn run_scoped<T>(
    conn: &mut crate::db::Conn,
    user: &UserRef,
    f: impl Fn(&mut crate::db::PgConn) -> diesel::QueryResult<crate::model::Scoped<T>>,
) -> Result<T> {
    let result = query(conn, |c| tasks::scoped_run(c, user, f))?;
    scoped(result, user)
}

/// A sink for a stream of tasks.
pub type TaskSink<'a> = dyn FnMut(&mut dyn Iterator<Item = Result<Task>>) -> Result<()> + 'a;

/// Streams the user's tasks to `emit`: errors before the first row are
/// classified with the connection (schema probe), later ones only by their
/// message. When row-level security hid the tasks (a role subject to it),
/// lists again in the user's scope, streaming inside that transaction.
pub fn stream_tasks(
    conn: &mut crate::db::PgConn,
    user: &UserRef,
    filter: &Filter,
    emit: &mut TaskSink<'_>,
) -> Result<()> {
    let failed = match tasks::list(conn, user, filter) {
        Ok(rows) if !rows.rls_unscoped => {
            let rows = scoped(rows, user)?;
            return emit(&mut rows.map(|row| row.map_err(errors::classify_offline)));
        }
        Ok(_) => None,
        Err(e) => Some(e),
    };
    match failed {
        // Search text the database's encoding cannot store matches no
        // task: the list is empty, once the user is known to exist.
        Some(e) if filter.search.is_some() && errors::is_untranslatable(&e) => {
            let exists = Filter {
                search: None,
                limit: Some(0),
                ..filter.clone()
            };
            stream_tasks(conn, user, &exists, emit)
        }
        Some(e) => Err(errors::classify(conn, e)),
        None => diesel::Connection::transaction::<_, Error, _>(conn, |c| {
            tasks::set_user_scope(c, user)?;
            let rows = scoped(tasks::list(c, user, filter)?, user)?;
            emit(&mut rows.map(|row| row.map_err(errors::classify_offline)))
        }),
    }
}
