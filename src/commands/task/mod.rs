//! `todo task …`: everyday task work, always as one user (`--user` or
//! `$TODO_USER`).

use std::collections::BTreeSet;
use std::io::IsTerminal;

use clap::{Args, Subcommand};

mod edit;
pub mod editor;
mod export;
mod import;

use super::scope::{run_scoped, stream_tasks, UserScope};
use super::{ensure_can_prompt, Context};
use crate::db::tasks::{self, Change, Filter};
use crate::error::{Error, Result};
use crate::model::Task;
use crate::output::TaskRecord;
use crate::validate;

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task
    ///
    /// Unquoted words join into one title. Examples:
    ///   todo task add Buy oat milk --user bob@example.com
    ///   todo task add "Buy milk" --user bob@example.com --description "2 litres"
    #[command(verbatim_doc_comment)]
    Add(AddArgs),
    /// List tasks, newest first
    ///
    /// Examples:
    ///   todo task list --user bob@example.com --pending
    ///   todo task list --search milk --limit 10 --json
    #[command(verbatim_doc_comment, visible_alias = "ls")]
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
    #[command(verbatim_doc_comment, visible_alias = "complete")]
    Done(IdsArgs),
    /// Mark tasks pending again
    ///
    /// Example: todo task undo 3 --user bob@example.com
    #[command(verbatim_doc_comment)]
    #[command(visible_alias = "reopen")]
    Undo(IdsArgs),
    /// Change a task's title or description
    ///
    /// With no --title, --description or --clear-description, on a
    /// terminal: opens $VISUAL or $EDITOR (else vi) with the title on the
    /// first line, a blank line, then the description. Saved unchanged,
    /// nothing changes; an empty title aborts.
    ///
    /// Example: todo task edit 42 --title "Buy oat milk" --clear-description
    ///          todo task edit 42      # in $EDITOR
    #[command(verbatim_doc_comment)]
    Edit(edit::EditArgs),
    /// Delete tasks, or all completed tasks with --done
    ///
    /// With ids: all or none (exit 3 naming the missing ids); more than one
    /// id asks for confirmation on a terminal (--yes skips it; scripts are
    /// not asked). With --done: asks on a terminal, otherwise needs --yes.
    ///
    /// Examples:
    ///   todo task rm 3 4 --user bob@example.com
    ///   todo task rm --done --yes --user bob@example.com
    #[command(verbatim_doc_comment, visible_alias = "delete")]
    Rm(RmArgs),
    /// Import tasks from a file: this tool's JSON, CSV, Taskwarrior, todo.txt
    ///
    /// All records or none, in one transaction (COPY); every bad record is
    /// reported with its number first. Completion and created/updated times
    /// are kept when the source has them; Taskwarrior's deleted tasks are
    /// skipped. The format comes from the file name (.json, .csv, .txt)
    /// unless --from says; - (stdin) is JSON.
    ///
    /// Examples:
    ///   task export | todo task import - --from taskwarrior --user bob@example.com
    ///   todo task list --json --user a@x.org | todo task import - --user b@x.org
    #[command(verbatim_doc_comment)]
    Import(import::ImportArgs),
    /// Export a user's tasks as JSON, CSV, Taskwarrior or todo.txt
    ///
    /// In the formats task import reads, so that export → import into
    /// another user (or another database) keeps every field the format can
    /// carry. The format comes from the file name of -o (.json, .csv, .txt)
    /// unless --to says; stdout is JSON. A file is created mode 0600, and an
    /// existing one is replaced only with --force.
    ///
    /// Examples:
    ///   todo task export --user bob@example.com -o bob.csv
    ///   todo task export --to taskwarrior --user bob@example.com | task import
    #[command(verbatim_doc_comment)]
    Export(export::ExportArgs),
    /// Count a user's tasks: total, pending, done
    ///
    /// Example: todo task stats --user bob@example.com --json
    #[command(verbatim_doc_comment)]
    Stats(UserScope),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The title (1–255 characters); unquoted words are joined with spaces
    #[arg(required = true, value_name = "TITLE", num_args = 1..)]
    pub title: Vec<String>,
    #[command(flatten)]
    pub user: UserScope,
    /// A longer description (up to 1000 characters, newlines allowed)
    #[arg(long, short)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub user: UserScope,
    #[command(flatten)]
    pub which: WhichTasks,
    /// Show at most N tasks
    #[arg(long, short = 'n', value_name = "N", value_parser = validate::limit)]
    pub limit: Option<i64>,
}

/// Which of the user's tasks a listing shows (`task list`, `task export`).
#[derive(Debug, Args)]
pub struct WhichTasks {
    /// Only pending tasks
    #[arg(long, conflicts_with = "done")]
    pub pending: bool,
    /// Only completed tasks
    #[arg(long)]
    pub done: bool,
    /// Only tasks whose title or description contains TEXT (any letter case)
    #[arg(long, short, value_name = "TEXT")]
    pub search: Option<String>,
}

impl WhichTasks {
    /// The statement's filter, with at most `limit` tasks.
    pub fn filter(self, limit: Option<i64>) -> Filter {
        Filter {
            completed: match (self.pending, self.done) {
                (true, _) => Some(false),
                (_, true) => Some(true),
                _ => None,
            },
            search: self.search.filter(|s| !s.is_empty()),
            limit,
        }
    }
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The task id
    #[arg(value_parser = validate::task_id, add = clap_complete::engine::ArgValueCompleter::new(crate::commands::complete::task_ids))]
    pub id: i32,
    #[command(flatten)]
    pub user: UserScope,
}

#[derive(Debug, Args)]
pub struct IdsArgs {
    /// One or more task ids
    #[arg(required = true, value_parser = validate::task_id, add = clap_complete::engine::ArgValueCompleter::new(crate::commands::complete::task_ids))]
    pub ids: Vec<i32>,
    #[command(flatten)]
    pub user: UserScope,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Task ids to delete
    #[arg(value_parser = validate::task_id, required_unless_present = "done", conflicts_with = "done", add = clap_complete::engine::ArgValueCompleter::new(crate::commands::complete::task_ids))]
    pub ids: Vec<i32>,
    #[command(flatten)]
    pub user: UserScope,
    /// Delete all the user's completed tasks
    #[arg(long)]
    pub done: bool,
    /// Do not ask for confirmation
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
        TaskCommand::Edit(args) => edit::edit(ctx, args),
        TaskCommand::Rm(args) if args.done => rm_done(ctx, args),
        TaskCommand::Rm(args) => {
            confirm_bulk_rm(ctx, &args)?;
            change(
                ctx,
                IdsArgs {
                    ids: args.ids,
                    user: args.user,
                },
                Change::Delete,
            )
        }
        TaskCommand::Stats(args) => stats(ctx, args),
        TaskCommand::Import(args) => import::import(ctx, args),
        TaskCommand::Export(args) => export::export(ctx, args),
    }
}

fn task_not_found(ids: &[i32], user: &UserScope) -> Error {
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

fn add(ctx: &Context, args: AddArgs) -> Result<()> {
    let user = args.user.parse()?;
    // `todo task add Buy oat milk`, as Taskwarrior takes it.
    let title = validate::title(&args.title.join(" "))?;
    let description = args
        .description
        .as_deref()
        .map(validate::description)
        .transpose()?
        .flatten();
    let mut conn = ctx.conn()?;
    let added = run_scoped(&mut conn, &user, |c| {
        tasks::add(c, &user, &title, description.as_deref())
    })?;
    let task = added.ok_or_else(|| Error::unexpected("the new task was not returned"))?;
    ctx.emit(&TaskRecord {
        task: &task,
        new: true,
        email: user.email(),
    })
}

fn list(ctx: &Context, args: ListArgs) -> Result<()> {
    let user = args.user.parse()?;
    let filter = args.which.filter(args.limit);
    let mut conn = ctx.read_conn()?;
    stream_tasks(&mut conn, &user, &filter, &mut |rows| {
        ctx.sink().emit_task_list(rows)
    })
}

fn show(ctx: &Context, args: IdArgs) -> Result<()> {
    let user = args.user.parse()?;
    let mut conn = ctx.read_conn()?;
    let found = run_scoped(&mut conn, &user, |c| tasks::show(c, &user, args.id))?;
    let task = one(found, args.id, &args.user)?;
    ctx.emit(&TaskRecord {
        task: &task,
        new: false,
        email: user.email(),
    })
}

/// The task of a single-task statement, or the right error.
pub(super) fn one(found: Option<Task>, id: i32, arg: &UserScope) -> Result<Task> {
    found.ok_or_else(|| task_not_found(&[id], arg))
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
    let changed = run_scoped(&mut conn, &user, |c| tasks::change(c, &user, &ids, change))?;
    let missing: Vec<i32> = ids
        .iter()
        .copied()
        .filter(|id| !changed.found.contains(id))
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
    let n = changed.tasks.len();
    ctx.sink()
        .emit_tasks(&mut changed.tasks.into_iter().map(Ok))?;
    if matches!(change, Change::Delete) {
        ctx.note(&deleted_note(n));
    }
    Ok(())
}

/// `task rm` of more than one task asks first on a terminal, as
/// Taskwarrior does for bulk deletes; one id is deleted at once, and
/// scripts (no terminal on stdin) are never asked. `--yes` skips it.
fn confirm_bulk_rm(ctx: &Context, args: &RmArgs) -> Result<()> {
    let distinct: BTreeSet<i32> = args.ids.iter().copied().collect();
    if args.yes || distinct.len() < 2 || !std::io::stdin().is_terminal() {
        return Ok(());
    }
    let user = args.user.parse()?;
    let list: Vec<String> = distinct.iter().map(i32::to_string).collect();
    ctx.confirm(
        &format!(
            "Delete {} tasks ({}) of {user}?",
            list.len(),
            list.join(", ")
        ),
        "task rm",
    )
}

/// "Deleted 2 tasks.", as `user rm` says what it deleted.
fn deleted_note(n: usize) -> String {
    format!("Deleted {n} task{}.", if n == 1 { "" } else { "s" })
}

fn rm_done(ctx: &Context, args: RmArgs) -> Result<()> {
    let user = args.user.parse()?;
    if !args.yes {
        ensure_can_prompt("task rm --done")?;
    }
    let mut conn = ctx.conn()?;
    if !args.yes {
        let counts = run_scoped(&mut conn, &user, |c| tasks::stats(c, &user))?;
        if counts.done == 0 {
            eprintln!("No completed tasks to delete.");
            return ctx.sink().emit_tasks(&mut std::iter::empty());
        }
        ctx.confirm(
            &format!(
                "Delete {} completed task{} of {user}?",
                counts.done,
                if counts.done == 1 { "" } else { "s" }
            ),
            "task rm --done",
        )?;
    }
    let deleted = run_scoped(&mut conn, &user, |c| tasks::delete_done(c, &user))?;
    let n = deleted.len();
    ctx.sink().emit_tasks(&mut deleted.into_iter().map(Ok))?;
    ctx.note(&deleted_note(n));
    Ok(())
}

fn stats(ctx: &Context, args: UserScope) -> Result<()> {
    let user = args.parse()?;
    let mut conn = ctx.read_conn()?;
    let counts = run_scoped(&mut conn, &user, |c| tasks::stats(c, &user))?;
    ctx.emit(&counts)
}
