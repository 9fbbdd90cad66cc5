//! `db seed` and `db seed --clean`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::cli::Format;
use crate::commands::Context;
use crate::db::{self as database, seed};
use crate::error::Result;
use crate::output::{json_line, plain_line};

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
    /// Seconds to wait for a table lock before giving up
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,
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
    let total = args.users * args.tasks_per_user;
    let bar = if std::io::stderr().is_terminal() && !ctx.out.quiet && total >= PROGRESS_MIN_TASKS {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} seeding {bar:40} {human_pos}/{human_len} tasks  {per_sec}  eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut conn = ctx.conn()?;
    let result = seed::run(
        &mut conn,
        plan,
        Duration::from_secs(args.lock_timeout),
        &|n| bar.set_position(n),
    );
    bar.finish_and_clear();
    let outcome = result.map_err(|e| database::classify(&mut conn, e))?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if ctx.out.quiet {
        return Ok(());
    }
    let nothing = outcome.users_created == 0;
    let note = format!(
        "Nothing to seed: seed users 1..{} already exist (they are left as they are).",
        args.users
    );
    let mut out = ctx.stdout();
    match ctx.out.format {
        Format::Json => json_line(
            &mut out,
            &json!({
                "users_created": outcome.users_created,
                "tasks_created": outcome.tasks_created,
                "elapsed_ms": elapsed_ms,
            }),
        )?,
        Format::Plain => {
            let f =
                [outcome.users_created, outcome.tasks_created, elapsed_ms].map(|n| n.to_string());
            plain_line(&mut out, &[Some(&f[0]), Some(&f[1]), Some(&f[2])])?;
            if nothing {
                eprintln!("{note}");
            }
        }
        Format::Table if nothing => writeln!(out, "{note}")?,
        Format::Table => {
            writeln!(
                out,
                "Seeded {} users and {} tasks in {:.1} s (seed {}{}).",
                outcome.users_created,
                outcome.tasks_created,
                elapsed_ms as f64 / 1000.0,
                args.seed,
                if outcome.users_existing > 0 {
                    format!("; {} seed users already existed", outcome.users_existing)
                } else {
                    String::new()
                }
            )?;
            writeln!(
                out,
                "Try: todo task list --user {}",
                crate::sample::email(1)
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn clean(ctx: &Context, args: SeedArgs) -> Result<()> {
    let started = Instant::now();
    let mut conn = ctx.conn()?;
    let (users, tasks) = seed::clean(&mut conn, Duration::from_secs(args.lock_timeout))
        .map_err(|e| database::classify(&mut conn, e))?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if ctx.out.quiet {
        return Ok(());
    }
    let mut out = ctx.stdout();
    match ctx.out.format {
        Format::Json => json_line(
            &mut out,
            &json!({ "users_deleted": users, "tasks_deleted": tasks, "elapsed_ms": elapsed_ms }),
        )?,
        Format::Plain => {
            let f = [users.to_string(), tasks.to_string(), elapsed_ms.to_string()];
            plain_line(&mut out, &[Some(&f[0]), Some(&f[1]), Some(&f[2])])?;
        }
        Format::Table => writeln!(out, "Removed {users} seed users and {tasks} tasks.")?,
    }
    out.flush()?;
    Ok(())
}
