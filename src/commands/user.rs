//! `todo user …`: create, list, show and delete users.

use clap::{Args, Subcommand};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::scope::{scoped, stream_tasks, user_not_found};
use super::{ensure_can_prompt, query, Context};
use crate::commands::errors;
use crate::db::tasks;
use crate::db::users::{self, Added};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::model::{User, UserRef};
use crate::output::UserRecord;
use crate::validate;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user
    ///
    /// The email is stored lower-cased; an existing account with the same
    /// email in any letter case is a conflict (exit 4). The id is a new UUID
    /// unless --id is given.
    ///
    /// Examples:
    ///   todo user add bob@example.com --name "Bob Smith"
    ///   id=$(todo user add bob@example.com -q)
    #[command(verbatim_doc_comment)]
    Add(AddArgs),
    /// List users with their task counts
    ///
    /// Example: todo user list --limit 20
    #[command(verbatim_doc_comment, visible_alias = "ls")]
    List(ListArgs),
    /// Show one user with task counts
    ///
    /// Example: todo user show bob@example.com
    #[command(verbatim_doc_comment)]
    Show(UserIdent),
    /// Delete a user and all their tasks
    ///
    /// Asks for confirmation (showing the number of tasks) on a terminal;
    /// otherwise needs --yes.
    ///
    /// Example: todo user rm bob@example.com --yes
    #[command(verbatim_doc_comment, visible_alias = "delete")]
    Rm(RmArgs),
    /// Export everything stored about one user, as JSON
    ///
    /// {"user":{…},"tasks":[…]} with every task, newest first, streamed at
    /// any size (right of access and portability). Always JSON. Two
    /// statements: the user, then their tasks.
    ///
    /// Example: todo user export bob@example.com > bob.json
    #[command(verbatim_doc_comment)]
    Export(UserIdent),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The email address
    pub email: String,
    /// Display name
    #[arg(long)]
    pub name: Option<String>,
    /// Use this id instead of a new UUID (may not contain '@')
    #[arg(long)]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Show at most N users
    #[arg(long, short = 'n', value_name = "N", value_parser = validate::limit)]
    pub limit: Option<i64>,
}

#[derive(Debug, Args)]
pub struct UserIdent {
    /// An email (any letter case) or a user id
    #[arg(value_name = "USER")]
    pub user: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// An email (any letter case) or a user id
    #[arg(value_name = "USER")]
    pub user: String,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
}

pub fn run(ctx: &Context, cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add(args) => add(ctx, args),
        UserCommand::List(args) => list(ctx, args),
        UserCommand::Show(args) => show(ctx, args),
        UserCommand::Rm(args) => rm(ctx, args),
        UserCommand::Export(args) => export(ctx, args),
    }
}

fn add(ctx: &Context, args: AddArgs) -> Result<()> {
    let email = validate::email(&args.email)?;
    let name = args
        .name
        .as_deref()
        .map(validate::name)
        .transpose()?
        .flatten();
    let id = match &args.id {
        Some(id) => validate::user_id(id)?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let mut conn = ctx.conn()?;
    let taken = || {
        Error::conflict(format!("email {email} is already registered"))
            .with_hint(format!("see the account with: todo user show {email}"))
    };
    let id_taken = || Error::conflict(format!("user id {id} is already taken"));
    // A concurrent insert of the same email or id can win between the
    // statement's check and its insert (a unique violation): run it once
    // more, when the winner's row is visible, to say which was taken.
    let mut attempt = users::add(&mut conn, &id, &email, name.as_deref());
    if let Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) = attempt {
        attempt = users::add(&mut conn, &id, &email, name.as_deref());
    }
    let user = match attempt {
        Ok(Added::User(user)) => user,
        Ok(Added::EmailTaken) => return Err(taken()),
        Ok(Added::IdTaken) => return Err(id_taken()),
        Err(e) => return Err(errors::classify(&mut conn, e)),
    };
    ctx.emit(&UserRecord {
        user: &user,
        new: true,
    })
}

fn list(ctx: &Context, args: ListArgs) -> Result<()> {
    let mut conn = ctx.read_conn()?;
    // As in `task list`: an error before the first row is classified with
    // the connection (schema probe), later ones by their message.
    let failed = match users::list(&mut conn, args.limit) {
        Err(e) => e,
        Ok(mut rows) => match rows.next().transpose() {
            Err(e) => e,
            Ok(first) => {
                let hidden = std::cell::Cell::new(false);
                let rest = rows.map(|row| row.map_err(errors::classify_offline));
                let all = first.map(Ok).into_iter().chain(rest).inspect(|u| {
                    if matches!(u, Ok(u) if u.counts().is_none()) {
                        hidden.set(true);
                    }
                });
                ctx.sink().emit_users(all)?;
                if hidden.get() {
                    eprintln!("{}", ROW_SECURITY_HID_COUNTS);
                }
                return Ok(());
            }
        },
    };
    Err(errors::classify(&mut conn, failed))
}

/// Said on stderr when row-level security hid task counts (SPEC §17).
pub const ROW_SECURITY_HID_COUNTS: &str = "warning: row-level security hides other users' tasks \
     from this role: their task counts are unknown (null in JSON, ? in tables)";

/// Finds exactly one user. When row-level security hid the user's tasks
/// from the counts (a role subject to it), they are counted again in the
/// user's scope (`app.user_id` set, as task commands do): true figures,
/// never a false 0.
fn find_one(conn: &mut Conn, user: &UserRef) -> Result<User> {
    let found = query(conn, |c| users::find(c, user))?;
    let found = scoped(found, user)?.ok_or_else(|| user_not_found(user))?;
    if found.counts().is_some() {
        return Ok(found);
    }
    let by_id = UserRef::Id(found.account.id.clone());
    let again = query(conn, |c| {
        tasks::in_user_scope(c, &by_id, |c| users::find(c, &by_id))
    })?;
    Ok(scoped(again, &by_id)?.unwrap_or(found))
}

fn show(ctx: &Context, args: UserIdent) -> Result<()> {
    let user = validate::user_ref(&args.user)?;
    let found = find_one(&mut ctx.read_conn()?, &user)?;
    ctx.emit(&UserRecord {
        user: &found,
        new: false,
    })
}

fn rm(ctx: &Context, args: RmArgs) -> Result<()> {
    let mut user = validate::user_ref(&args.user)?;
    if !args.yes {
        ensure_can_prompt("user rm")?;
        let found = find_one(&mut ctx.conn()?, &user)?;
        let tasks = match found.counts() {
            Some(c) => format!(
                "their {} task{}",
                c.total,
                if c.total == 1 { "" } else { "s" }
            ),
            None => "all their tasks (row-level security hides how many)".into(),
        };
        ctx.confirm(
            &format!(
                "Delete user {} ({}) and {tasks}?",
                found.account.email, found.account.id,
            ),
            "user rm",
        )?;
        // Delete exactly the account that was confirmed.
        user = UserRef::Id(found.account.id);
    }
    let mut conn = ctx.conn()?;
    let deleted = query(&mut conn, |c| users::delete(c, &user))?;
    let deleted = scoped(deleted, &user)?.ok_or_else(|| user_not_found(&user))?;
    ctx.emit(&deleted)
}

/// Round trips: BEGIN (one snapshot, no statement timeout: a long export
/// is not cut short, as pg_dump's is not), the user (with the row-level
/// security check), the tasks, COMMIT.
fn export(ctx: &Context, args: UserIdent) -> Result<()> {
    let user = validate::user_ref(&args.user)?;
    let mut conn = ctx.read_conn()?;
    crate::db::untimed(&mut conn, crate::db::Begin::Snapshot, |conn| {
        let (found, hidden) =
            users::find_for_export(conn, &user).map_err(|e| errors::classify(conn, e))?;
        // An export is everything stored about the user (SPEC §17):
        // never one that row-level security may have shortened.
        if !hidden.is_empty() {
            return Err(errors::row_security("export the user", &hidden));
        }
        let found = scoped(found, &user)?.ok_or_else(|| user_not_found(&user))?;
        let by_id = UserRef::Id(found.account.id.clone());
        stream_tasks(conn, &by_id, &tasks::Filter::default(), &mut |rows| {
            ctx.sink().emit_export(&found.account, rows)
        })
    })
}
