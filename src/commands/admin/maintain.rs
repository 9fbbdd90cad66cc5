//! `db maintain [--dry-run] [--yes] [--lock-timeout SECS]` (SPEC §12).

use std::time::Instant;

use clap::Args;

use crate::commands::{ensure_can_prompt, errors, query, Context};
use crate::db::maintain;
use crate::error::{Error, Kind, Result};
use crate::output::ops::{Maintained, MaintenanceStep};

#[derive(Debug, Args)]
pub struct MaintainArgs {
    /// Print the plan only
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
}

pub fn maintain(ctx: &Context, args: MaintainArgs) -> Result<()> {
    if !args.yes && !args.dry_run {
        ensure_can_prompt("db maintain")?;
    }
    let mut conn = ctx.conn()?;
    let plan = query(&mut conn, maintain::plan)?;
    let planned = |a: &maintain::Action| MaintenanceStep {
        action: a.sql.clone(),
        target: a.target.clone(),
        reason: a.reason.clone(),
        result: "planned".into(),
    };
    if args.dry_run || plan.is_empty() {
        return ctx.emit(&Maintained {
            steps: plan.iter().map(planned).collect(),
        });
    }
    if !args.yes {
        let list: Vec<&str> = plan.iter().map(|a| a.sql.as_str()).collect();
        ctx.confirm(&format!("Run {}?", list.join("; ")), "db maintain")?;
    }
    let mut steps = Vec::new();
    let mut failed = None;
    for action in &plan {
        if let Some(owner) = &action.refused_for {
            // PostgreSQL would skip a VACUUM with only a warning: say so,
            // and fail the command.
            let err = not_permitted(&action.target, owner);
            steps.push(MaintenanceStep {
                result: format!("skipped: {}", err.message),
                ..planned(action)
            });
            failed.get_or_insert(err);
            continue;
        }
        let started = Instant::now();
        let outcome = maintain::run(&mut conn, action, ctx.lock_timeout(10));
        let result = match outcome {
            Ok(()) => format!("done in {:.1} s", started.elapsed().as_secs_f64()),
            Err(e) if crate::db::is_lock_timeout(&e) => format!(
                "skipped: another session held a conflicting lock for more than {} s",
                ctx.lock_timeout(10).as_secs()
            ),
            Err(e) => {
                let err = errors::classify(&mut conn, e);
                let text = format!("failed: {}", err.message);
                failed.get_or_insert(err);
                text
            }
        };
        steps.push(MaintenanceStep {
            result,
            ..planned(action)
        });
    }
    ctx.emit(&Maintained { steps })?;
    match failed {
        Some(err) if err.kind == Kind::Forbidden => Err(Error {
            message: format!("maintenance incomplete: {}", err.message),
            ..err
        }),
        Some(err) => Err(Error {
            message: format!("maintenance failed: {}", err.message),
            ..err
        }),
        None => Ok(()),
    }
}

/// The refusal of an action on `target`, a table or index of `owner`'s
/// that the current role may not maintain.
fn not_permitted(target: &str, owner: &str) -> Error {
    Error::new(
        Kind::Forbidden,
        format!("only the owner of {target} ({owner}) or a superuser may maintain it"),
    )
    .with_hint(format!(
        "run db maintain as {owner} (on PostgreSQL 17 and later, a role granted MAINTAIN on \
         the table may too)"
    ))
}
