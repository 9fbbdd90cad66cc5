//! `db seed` and `db seed --clean`.

use std::io::IsTerminal;
use std::time::Instant;

use clap::Args;

use crate::commands::errors;
use crate::commands::Context;
use crate::db::seed;
use crate::error::Result;
use crate::output::admin::{SeedCleaned, Seeded};

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Number of seed users
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    pub users: u64,
    /// Tasks for each new seed user
    #[arg(long, value_name = "M", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub tasks_per_user: u64,
    /// Seed of the generator: the same seed and sizes give the same rows
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Remove the seed users and their tasks (nothing else)
    #[arg(long, conflicts_with_all = ["users", "tasks_per_user", "seed"])]
    pub clean: bool,
}

/// Runs shown with a progress bar on a terminal.
const PROGRESS_MIN_TASKS: u64 = 50_000;

pub fn seed(ctx: &Context, args: SeedArgs) -> Result<()> {
    let started = Instant::now();
    let plan = seed::Plan {
        users: args.users,
        tasks_per_user: args.tasks_per_user,
        seed: args.seed,
    };
    // Shown once the work is known: the tasks of the missing seed users.
    let bar = indicatif::ProgressBar::hidden();
    if let Some(style) = crate::output::progress::style(
        "{spinner} seeding {bar:40} {human_pos}/{human_len} tasks  {rate}  eta {eta}",
    ) {
        bar.set_style(style);
    }
    let show = std::io::stderr().is_terminal() && !ctx.out.quiet;
    let mut conn = ctx.conn()?;
    let result = seed::run(&mut conn, plan, ctx.lock_timeout(10), &|n, total| {
        if bar.length() != Some(total) {
            bar.set_length(total);
            if show && total >= PROGRESS_MIN_TASKS {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
        }
        bar.set_position(n)
    });
    bar.finish_and_clear();
    let outcome = result.map_err(|e| errors::classify(&mut conn, e))?;
    ctx.emit(&Seeded {
        users_created: outcome.users_created,
        tasks_created: outcome.tasks_created,
        users_existing: outcome.users_existing,
        elapsed_ms: started.elapsed().as_millis() as u64,
        seed: args.seed,
        users_requested: args.users,
        example_user: crate::sample::email(outcome.first_created.unwrap_or(1)),
        indexes_kept: outcome.indexes_kept,
    })
}

pub fn clean(ctx: &Context, _args: SeedArgs) -> Result<()> {
    let started = Instant::now();
    let mut conn = ctx.conn()?;
    let cleaned =
        seed::clean(&mut conn, ctx.lock_timeout(10)).map_err(|e| errors::classify(&mut conn, e))?;
    let (users, tasks) = match cleaned {
        seed::Cleaned::Removed { users, tasks } => (users, tasks),
        // Refused as `db backup` refuses: a count of rows it could not
        // see would be a false one.
        seed::Cleaned::RowSecurity(hidden) => {
            return Err(errors::row_security("remove the seed data", &hidden))
        }
    };
    ctx.emit(&SeedCleaned {
        users,
        tasks,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}
