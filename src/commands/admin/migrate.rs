//! `db migrate`, `db status`, `db revert`.

use clap::Args;

use crate::commands::errors;
use crate::commands::Context;
use crate::db::migrate::{self, Known, MigrateError};
use crate::db::revert;
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::output::admin::{Applied, MigrationStatus, Reverted};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Adopt an existing schema: check it matches, record the base migration
    /// as applied, then apply the rest
    #[arg(long)]
    pub baseline: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Exit with status 6 when any migration is pending
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct RevertArgs {
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
    /// Allow reverting the base migration while its tables hold rows (deletes them)
    #[arg(long)]
    pub force: bool,
}

fn migrate_error(conn: &mut Conn, err: MigrateError) -> Error {
    match err {
        MigrateError::Db(e) => errors::classify(conn, e),
        MigrateError::Unmanaged => Error::not_ready(
            "tables users/tasks exist, but no todo migration is recorded (another program created them)",
        )
        .with_hint("adopt them with: todo db migrate --baseline"),
        MigrateError::NothingToBaseline => {
            Error::not_ready("nothing to baseline: tables users and tasks do not exist")
                .with_hint("create them with: todo db migrate")
        }
        MigrateError::Mismatch(diffs) => Error::not_ready(format!(
            "the existing schema does not match the expected one ({} difference{}): {}",
            diffs.len(),
            if diffs.len() == 1 { "" } else { "s" },
            diffs.join("; ")
        ))
        .with_hint("fix these differences, then run: todo db migrate --baseline"),
        MigrateError::UnknownVersion(v) => Error::not_ready(format!(
            "the last applied migration {v} is not part of this build of todo"
        ))
        .with_hint("use the (newer) todo that applied it"),
        MigrateError::HasRows => Error::usage(
            "reverting the base migration deletes every user and task; pass --force as well",
        ),
        MigrateError::Changed => Error::conflict(
            "the applied migrations changed while waiting; run the command again",
        ),
        MigrateError::Other(msg) => {
            // diesel_migrations writes "Failed to run VERSION with: MESSAGE";
            // the server's message finds the error's SQLSTATE.
            let (migration, server) = msg.split_once(" with: ").unwrap_or(("", &msg));
            match errors::classify_message(server) {
                Some(mut e) => {
                    let name = migration.trim_start_matches("Failed to run ");
                    if !name.is_empty() {
                        e.message = format!("{} (running migration {name})", e.message);
                    }
                    e
                }
                None => Error::unexpected(msg),
            }
        }
    }
}

pub fn migrate(ctx: &Context, args: MigrateArgs) -> Result<()> {
    let mut conn = ctx.conn()?;
    let timeout = ctx.lock_timeout(10);
    let result = if args.baseline {
        migrate::baseline(&mut conn, timeout)
    } else {
        migrate::run(&mut conn, timeout)
    };
    let applied = result.map_err(|e| migrate_error(&mut conn, e))?;
    ctx.emit(&Applied(
        applied.iter().map(|v| migrate::describe(v)).collect(),
    ))
}

pub fn status(ctx: &Context, args: StatusArgs) -> Result<()> {
    let mut conn = ctx.conn()?;
    let state = migrate::state(&mut conn).map_err(|e| errors::classify(&mut conn, e))?;
    let pending = state.pending();
    if state.unmanaged() {
        eprintln!(
            "warning: tables users/tasks exist but no todo migration is recorded; adopt them with: todo db migrate --baseline"
        );
    }
    let n_pending = pending.len();
    ctx.emit(&MigrationStatus {
        applied: state
            .applied()
            .iter()
            .map(|v| migrate::describe(v))
            .collect(),
        run_on: state.run_on.clone(),
        pending,
    })?;
    if args.check && n_pending > 0 {
        return Err(Error::not_ready(format!(
            "{n_pending} migration{} pending",
            if n_pending == 1 { " is" } else { "s are" }
        ))
        .with_hint("apply them with: todo db migrate"));
    }
    Ok(())
}

pub fn revert(ctx: &Context, args: RevertArgs) -> Result<()> {
    let mut conn = ctx.conn()?;
    let plan = revert::plan(&mut conn)
        .map_err(|e| migrate_error(&mut conn, e))?
        .ok_or_else(|| Error::not_ready("no migration is applied: nothing to revert"))?;
    let drops = match plan.rows {
        Some((users, tasks)) => {
            format!("{} (users: {users} rows, tasks: {tasks} rows)", plan.drops)
        }
        None => plan.drops.to_string(),
    };
    if !ctx.out.quiet {
        eprintln!("Reverting {} {} drops {drops}.", plan.version, plan.name);
    }
    let has_rows = plan.rows.is_some_and(|r| r != (0, 0));
    if has_rows && !args.force {
        return Err(migrate_error(&mut conn, MigrateError::HasRows));
    }
    if !args.yes {
        ctx.confirm(
            &format!("Revert migration {} {}?", plan.version, plan.name),
            "db revert",
        )?;
    }
    let reverted = revert::run(&mut conn, ctx.lock_timeout(10), &plan, args.force)
        .map_err(|e| migrate_error(&mut conn, e))?;
    ctx.emit(&Reverted(Known {
        version: reverted,
        name: plan.name,
    }))
}
