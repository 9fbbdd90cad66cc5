//! `db migrate`, `db status`, `db revert`.

use clap::Args;

use super::progress::Progress;
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

    /// Show what the pending migrations will do (each step's statement,
    /// lock, what it blocks, an estimate from the table's size, whether it
    /// runs in a transaction) and change nothing
    #[arg(long)]
    pub plan: bool,
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
        MigrateError::InMigration {
            version,
            name,
            error,
        } => {
            let mut e = errors::classify(conn, error);
            e.message = format!("{} (running migration {version} {name})", e.message);
            e
        }
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
        MigrateError::MigrationLocked => errors::lock_busy(None, None),
        MigrateError::Changed => Error::conflict(
            "the applied migrations changed while waiting; run the command again",
        ),
        MigrateError::LockBusy { holder, tries } => errors::lock_busy(holder, tries),
        MigrateError::Pooled { version, step } => errors::pooled(conn, &version, &step),
    }
}

/// The limits of a migration run: `--lock-timeout` (default 10 s) and the
/// lock budget of each try of a brief step.
fn limits(ctx: &Context) -> migrate::Limits {
    migrate::Limits::new(ctx.lock_timeout(10))
}

pub fn migrate(ctx: &Context, args: MigrateArgs) -> Result<()> {
    let mut conn = ctx.session_conn()?;
    if args.plan {
        return plan(ctx, &mut conn, args.baseline);
    }
    let mut progress = Progress::new(ctx);
    let mut observe = |event: migrate::Event| progress.event(event);
    let result = if args.baseline {
        migrate::baseline(&mut conn, limits(ctx), &mut observe)
    } else {
        migrate::run(&mut conn, limits(ctx), &mut observe)
    };
    let applied = result.map_err(|e| migrate_error(&mut conn, e))?;
    ctx.emit(&Applied(
        applied.iter().map(|v| migrate::describe(v)).collect(),
    ))
}

/// `db migrate --plan`: reads only.
fn plan(ctx: &Context, conn: &mut Conn, baseline: bool) -> Result<()> {
    let state = migrate::state(conn).map_err(|e| errors::classify(conn, e))?;
    let pending = if baseline && !state.applied().iter().any(|v| v == migrate::BASE_VERSION) {
        let mut applied = state.applied().to_vec();
        applied.push(migrate::BASE_VERSION.to_string());
        migrate::pending(&applied)
    } else {
        if state.unmanaged() {
            return Err(migrate_error(conn, MigrateError::Unmanaged));
        }
        state.pending()
    };
    let plan = migrate::plan::plan(conn, &pending).map_err(|e| errors::classify(conn, e))?;
    ctx.emit(&crate::output::admin::MigrationPlan(plan))
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
    // Only with migrations pending can one be part-way or running: the
    // up-to-date case keeps its two round trips.
    let leftovers = if pending.is_empty() {
        Default::default()
    } else {
        let versions: Vec<String> = pending.iter().map(|k| k.version.clone()).collect();
        migrate::online::leftovers(&mut conn, &versions)
            .map_err(|e| errors::classify(&mut conn, e))?
    };
    ctx.emit(&MigrationStatus {
        leftovers,
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
    let mut conn = ctx.session_conn()?;
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
        // Reverting the base migration with rows drops the data itself
        // (SPEC §21): no online form exists, the prompt says so.
        let offline = if has_rows {
            " This is an offline operation: the application's users and tasks are dropped."
        } else {
            ""
        };
        ctx.confirm(
            &format!("Revert migration {} {}?{offline}", plan.version, plan.name),
            "db revert",
        )?;
    }
    let mut progress = Progress::new(ctx);
    let mut observe = |event: migrate::Event| progress.event(event);
    let reverted = revert::run(&mut conn, limits(ctx), &plan, args.force, &mut observe)
        .map_err(|e| migrate_error(&mut conn, e))?;
    ctx.emit(&Reverted(Known {
        version: reverted,
        name: plan.name,
    }))
}
