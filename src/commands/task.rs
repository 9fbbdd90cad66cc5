//! `todo task …`: everyday task work, always as one user (`--user` or
//! `$TODO_USER`).

use std::collections::BTreeSet;
use std::io::Write;

use clap::{Args, Subcommand};

use super::user::check_matches;
use super::{confirm, ensure_can_prompt, query, Context};
use crate::db::models::{Counts, ScopedRow, Task};
use crate::db::tasks::{self, Change, Edit, Filter};
use crate::error::{Error, Result};
use crate::output::{write_counts, write_task, write_tasks};
use crate::validate::{self, UserRef};

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task
    ///
    /// Example: todo task add "Buy milk" --user bob@example.com --description "2 litres"
    #[command(verbatim_doc_comment)]
    Add(AddArgs),
    /// List tasks, newest first
    ///
    /// Examples:
    ///   todo task list --user bob@example.com --pending
    ///   todo task list --search milk --limit 10 --json
    #[command(verbatim_doc_comment)]
    List(ListArgs),
    /// Show one task with its description
    ///
    /// Example: todo task show 42 --user bob@example.com
    #[command(verbatim_doc_comment)]
    Show(IdArgs),
    /// Mark tasks completed (already completed ones stay so)
    ///
    /// All ids or none: if one is not found, nothing changes (exit 3).
    ///
    /// Example: todo task done 3 4 5 --user bob@example.com
    #[command(verbatim_doc_comment)]
    Done(IdsArgs),
    /// Mark tasks pending again
    ///
    /// Example: todo task undo 3 --user bob@example.com
    #[command(verbatim_doc_comment)]
    #[command(visible_alias = "reopen")]
    Undo(IdsArgs),
    /// Change a task's title or description
    ///
    /// Example: todo task edit 42 --title "Buy oat milk" --clear-description
    #[command(verbatim_doc_comment)]
    Edit(EditArgs),
    /// Delete tasks, or all completed tasks with --done
    ///
    /// With ids: all or none (exit 3 naming the missing ids). With --done:
    /// asks for confirmation on a terminal, otherwise needs --yes.
    ///
    /// Examples:
    ///   todo task rm 3 4 --user bob@example.com
    ///   todo task rm --done --yes --user bob@example.com
    #[command(verbatim_doc_comment)]
    Rm(RmArgs),
    /// Count a user's tasks: total, pending, done
    ///
    /// Example: todo task stats --user bob@example.com --json
    #[command(verbatim_doc_comment)]
    Stats(UserArg),
}

#[derive(Debug, Clone, Args)]
pub struct UserArg {
    /// The user: an email (any letter case) or a user id
    #[arg(
        long,
        short,
        env = "TODO_USER",
        value_name = "USER",
        hide_env_values = true
    )]
    pub user: String,
}

impl UserArg {
    fn parse(&self) -> Result<UserRef> {
        UserRef::parse(&self.user)
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The title (1–255 characters)
    pub title: String,
    #[command(flatten)]
    pub user: UserArg,
    /// A longer description (up to 1000 characters, newlines allowed)
    #[arg(long, short)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub user: UserArg,
    /// Only pending tasks
    #[arg(long, conflicts_with = "done")]
    pub pending: bool,
    /// Only completed tasks
    #[arg(long)]
    pub done: bool,
    /// Only tasks whose title or description contains TEXT (any letter case)
    #[arg(long, short, value_name = "TEXT")]
    pub search: Option<String>,
    /// Show at most N tasks
    #[arg(long, short = 'n', value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: Option<i64>,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The task id
    #[arg(value_parser = validate::task_id)]
    pub id: i32,
    #[command(flatten)]
    pub user: UserArg,
}

#[derive(Debug, Args)]
pub struct IdsArgs {
    /// One or more task ids
    #[arg(required = true, value_parser = validate::task_id)]
    pub ids: Vec<i32>,
    #[command(flatten)]
    pub user: UserArg,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The task id
    #[arg(value_parser = validate::task_id)]
    pub id: i32,
    #[command(flatten)]
    pub user: UserArg,
    /// New title
    #[arg(long, short)]
    pub title: Option<String>,
    /// New description
    #[arg(long, short, conflicts_with = "clear_description")]
    pub description: Option<String>,
    /// Remove the description
    #[arg(long)]
    pub clear_description: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Task ids to delete
    #[arg(value_parser = validate::task_id, required_unless_present = "done", conflicts_with = "done")]
    pub ids: Vec<i32>,
    #[command(flatten)]
    pub user: UserArg,
    /// Delete all the user's completed tasks
    #[arg(long)]
    pub done: bool,
    /// Do not ask for confirmation (with --done)
    #[arg(long, short)]
    pub yes: bool,
}

pub fn run(ctx: &Context, cmd: TaskCommand) -> Result<()> {
    match cmd {
        TaskCommand::Add(args) => add(ctx, args),
        TaskCommand::List(args) => list(ctx, args),
        TaskCommand::Show(args) => show(ctx, args),
        TaskCommand::Done(args) => change(ctx, args, Change::SetCompleted(true)),
        TaskCommand::Undo(args) => change(ctx, args, Change::SetCompleted(false)),
        TaskCommand::Edit(args) => edit(ctx, args),
        TaskCommand::Rm(args) if args.done => rm_done(ctx, args),
        TaskCommand::Rm(args) => change(
            ctx,
            IdsArgs {
                ids: args.ids,
                user: args.user,
            },
            Change::Delete,
        ),
        TaskCommand::Stats(args) => stats(ctx, args),
    }
}

fn task_not_found(ids: &[i32], user: &UserArg) -> Error {
    let list: Vec<String> = ids.iter().map(i32::to_string).collect();
    let message = match ids {
        [_] => format!("task {} not found", list[0]),
        _ => format!("tasks {} not found", list.join(", ")),
    };
    Error::not_found(message).with_hint(format!(
        "list the tasks with: todo task list --user {}",
        user.user.trim()
    ))
}

/// The task of a single-task statement, or the right error.
fn one(row: ScopedRow, user: &UserRef, id: i32, arg: &UserArg) -> Result<Task> {
    check_matches(row.matches, user)?;
    row.task().ok_or_else(|| task_not_found(&[id], arg))
}

fn print_task(ctx: &Context, task: &Task, id_when_quiet: bool) -> Result<()> {
    let mut out = ctx.stdout();
    if ctx.out.quiet {
        if id_when_quiet {
            writeln!(out, "{}", task.id)?;
        }
    } else {
        write_task(&mut out, ctx.out, task)?;
    }
    out.flush()?;
    Ok(())
}

fn print_tasks(ctx: &Context, tasks: Vec<Task>) -> Result<()> {
    if ctx.out.quiet {
        return Ok(());
    }
    let mut out = ctx.stdout();
    write_tasks(&mut out, ctx.out, tasks.into_iter().map(Ok))?;
    out.flush()?;
    Ok(())
}

fn add(ctx: &Context, args: AddArgs) -> Result<()> {
    let user = args.user.parse()?;
    let title = validate::title(&args.title)?;
    let description = args
        .description
        .as_deref()
        .map(validate::description)
        .transpose()?
        .flatten();
    let mut conn = ctx.conn()?;
    let row = query(&mut conn, |c| {
        tasks::add(c, &user, &title, description.as_deref())
    })?;
    check_matches(row.matches, &user)?;
    let task = row
        .task()
        .ok_or_else(|| Error::unexpected("the new task was not returned"))?;
    print_task(ctx, &task, true)
}

fn list(ctx: &Context, args: ListArgs) -> Result<()> {
    let user = args.user.parse()?;
    let filter = Filter {
        completed: match (args.pending, args.done) {
            (true, _) => Some(false),
            (_, true) => Some(true),
            _ => None,
        },
        search: args.search.filter(|s| !s.is_empty()),
        limit: args.limit,
    };
    let mut conn = ctx.conn()?;
    // Database errors before the first row are classified with the
    // connection (schema probe); later ones only by their message.
    let outcome = (|| -> diesel::QueryResult<Result<()>> {
        let mut rows = tasks::list(&mut conn, &user, &filter)?;
        let Some(first) = rows.next().transpose()? else {
            return Ok(Err(Error::unexpected("no result row")));
        };
        if let Err(e) = check_matches(first.matches, &user) {
            return Ok(Err(e));
        }
        if ctx.out.quiet {
            return Ok(Ok(()));
        }
        let rest = rows.filter_map(|row| match row {
            Ok(row) => row.task().map(Ok),
            Err(e) => Some(Err(crate::db::classify_offline(e))),
        });
        let tasks = first.task().map(Ok).into_iter().chain(rest);
        let mut out = ctx.stdout();
        Ok(write_tasks(&mut out, ctx.out, tasks).and_then(|_| Ok(out.flush()?)))
    })();
    outcome.unwrap_or_else(|e| Err(crate::db::classify(&mut conn, e)))
}

fn show(ctx: &Context, args: IdArgs) -> Result<()> {
    let user = args.user.parse()?;
    let mut conn = ctx.conn()?;
    let row = query(&mut conn, |c| tasks::show(c, &user, args.id))?;
    let task = one(row, &user, args.id, &args.user)?;
    print_task(ctx, &task, false)
}

fn change(ctx: &Context, args: IdsArgs, change: Change) -> Result<()> {
    let user = args.user.parse()?;
    // Distinct ids, in the order given.
    let mut seen = BTreeSet::new();
    let ids: Vec<i32> = args
        .ids
        .iter()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect();
    let mut conn = ctx.conn()?;
    let rows = query(&mut conn, |c| tasks::change(c, &user, &ids, change))?;
    let Some(first) = rows.first() else {
        return Err(Error::unexpected("no result row"));
    };
    check_matches(first.matches, &user)?;
    let found = first.found.clone().unwrap_or_default();
    let missing: Vec<i32> = ids
        .iter()
        .copied()
        .filter(|id| !found.contains(id))
        .collect();
    if !missing.is_empty() {
        let err = task_not_found(&missing, &args.user);
        return Err(if missing.len() < ids.len() {
            Error {
                message: format!("{}; nothing was changed", err.message),
                ..err
            }
        } else {
            err
        });
    }
    print_tasks(ctx, rows.into_iter().filter_map(ScopedRow::task).collect())
}

fn edit(ctx: &Context, args: EditArgs) -> Result<()> {
    let user = args.user.parse()?;
    if args.title.is_none() && args.description.is_none() && !args.clear_description {
        return Err(Error::usage("nothing to change")
            .with_hint("pass --title, --description or --clear-description"));
    }
    let changes = Edit {
        title: args.title.as_deref().map(validate::title).transpose()?,
        description: args
            .description
            .as_deref()
            .map(validate::description)
            .transpose()?
            .flatten(),
        // An empty --description clears it too.
        clear_description: args.clear_description
            || args
                .description
                .as_deref()
                .is_some_and(|d| d.trim().is_empty()),
    };
    let mut conn = ctx.conn()?;
    let row = query(&mut conn, |c| tasks::edit(c, &user, args.id, &changes))?;
    let task = one(row, &user, args.id, &args.user)?;
    print_task(ctx, &task, false)
}

fn rm_done(ctx: &Context, args: RmArgs) -> Result<()> {
    let user = args.user.parse()?;
    if !args.yes {
        ensure_can_prompt("task rm --done")?;
    }
    let mut conn = ctx.conn()?;
    if !args.yes {
        let counts = query(&mut conn, |c| tasks::stats(c, &user))?;
        check_matches(counts.matches, &user)?;
        if counts.done == 0 {
            eprintln!("No completed tasks to delete.");
            return print_tasks(ctx, Vec::new());
        }
        confirm(
            &format!(
                "Delete {} completed task{} of {user}?",
                counts.done,
                if counts.done == 1 { "" } else { "s" }
            ),
            "task rm --done",
        )?;
    }
    let rows = query(&mut conn, |c| tasks::delete_done(c, &user))?;
    let matches = rows.first().map_or(0, |r| r.matches);
    check_matches(matches, &user)?;
    print_tasks(ctx, rows.into_iter().filter_map(ScopedRow::task).collect())
}

fn stats(ctx: &Context, args: UserArg) -> Result<()> {
    let user = args.parse()?;
    let mut conn = ctx.conn()?;
    let counts = query(&mut conn, |c| tasks::stats(c, &user))?;
    check_matches(counts.matches, &user)?;
    if ctx.out.quiet {
        return Ok(());
    }
    let mut out = ctx.stdout();
    write_counts(&mut out, ctx.out, Counts::new(counts.total, counts.done))?;
    out.flush()?;
    Ok(())
}
