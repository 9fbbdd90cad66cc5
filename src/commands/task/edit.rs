//! `task edit ID`: change a task's title or description, from flags or,
//! with none on a terminal, in `$VISUAL`/`$EDITOR` ([`super::editor`]).

use clap::Args;

use super::one;
use super::Context;
use crate::commands::scope::{run_scoped, UserScope};
use crate::db::tasks::{self, Edit};
use crate::error::{Error, Result};
use crate::model::UserRef;
use crate::output::TaskRecord;
use crate::validate;

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The task id
    #[arg(value_parser = validate::task_id, add = clap_complete::engine::ArgValueCompleter::new(crate::commands::complete::task_ids))]
    pub id: i32,
    #[command(flatten)]
    pub user: UserScope,
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

pub fn edit(ctx: &Context, args: EditArgs) -> Result<()> {
    let user = args.user.parse()?;
    if args.title.is_none() && args.description.is_none() && !args.clear_description {
        if super::editor::available() {
            return edit_in_editor(ctx, &args, &user);
        }
        return Err(Error::usage("nothing to change")
            .with_hint("pass --title, --description or --clear-description (or run it on a terminal to use $EDITOR)"));
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
    let edited = run_scoped(&mut conn, &user, |c| {
        tasks::edit(c, &user, args.id, &changes)
    })?;
    let task = one(edited, args.id, &args.user)?;
    ctx.emit(&TaskRecord {
        task: &task,
        new: false,
        email: user.email(),
    })
}

/// `task edit ID` on a terminal: the task in `$EDITOR`; unchanged text
/// changes nothing, an empty title aborts (exit 2).
fn edit_in_editor(ctx: &Context, args: &EditArgs, user: &UserRef) -> Result<()> {
    let mut conn = ctx.conn()?;
    let found = run_scoped(&mut conn, user, |c| tasks::show(c, user, args.id))?;
    let task = one(found, args.id, &args.user)?;
    let before = super::editor::template(task.id, &task.title, task.description.as_deref());
    let after = super::editor::edit(&before)?;
    let (title, description) = super::editor::parse(&after);
    if title.is_empty() {
        return Err(Error::usage(
            "aborted: the title is empty; nothing was changed",
        ));
    }
    if after == before
        || (title.as_str(), description.as_deref())
            == (task.title.as_str(), task.description.as_deref())
    {
        eprintln!("No change.");
        return Ok(());
    }
    let changes = Edit {
        title: Some(validate::title(&title)?),
        clear_description: description.is_none(),
        description: description
            .as_deref()
            .map(validate::description)
            .transpose()?
            .flatten(),
    };
    let edited = run_scoped(&mut conn, user, |c| tasks::edit(c, user, args.id, &changes))?;
    let task = one(edited, args.id, &args.user)?;
    ctx.emit(&TaskRecord {
        task: &task,
        new: false,
        email: user.email(),
    })
}
