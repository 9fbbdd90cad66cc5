//! `todo db …`: migrations and the embedded local database.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;

use super::{confirm, Context};
use crate::cli::Format;
use crate::db::health::{self, Check, Report, Status};
use crate::db::local::{self, Cluster};
use crate::db::migrate::{self, MigrateError};
use crate::db::seed;
use crate::db::{self as database, Conn};
use crate::error::Kind;
use crate::error::{Error, Result};
use crate::output::{json_line, plain_line, table, write_health};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations
    ///
    /// All pending migrations run in one transaction holding an advisory
    /// lock, so concurrent runs are safe and each migration applies once.
    ///
    /// Examples:
    ///   todo db migrate
    ///   todo db migrate --baseline    # adopt tables the web backend created
    #[command(verbatim_doc_comment)]
    Migrate(MigrateArgs),
    /// Show applied and pending migrations
    ///
    /// Example: todo db status --check || todo db migrate
    #[command(verbatim_doc_comment)]
    Status(StatusArgs),
    /// Revert the last applied migration
    ///
    /// Shows what it drops (with row counts) and asks for confirmation;
    /// without a terminal, pass --yes. Reverting the base migration while its
    /// tables hold rows also needs --force.
    ///
    /// Example: todo db revert --yes
    #[command(verbatim_doc_comment)]
    Revert(RevertArgs),
    /// Load deterministic sample data, or remove it with --clean
    ///
    /// Creates seed-user-1..N@seed.example with M tasks each (realistic
    /// titles, a mix of done and pending, dated in the 8 weeks before
    /// 2026-01-01). Existing seed users are left alone; only missing ones
    /// are added, so re-running adds nothing. Other rows are never touched.
    /// One transaction: an interrupted seed leaves nothing behind.
    ///
    /// Examples:
    ///   todo db seed
    ///   todo db seed --users 100000 --tasks-per-user 10 --seed 7
    ///   todo db seed --clean
    #[command(verbatim_doc_comment)]
    Seed(SeedArgs),
    /// Check the database and print a report: OK / WARN / FAIL per check
    ///
    /// Checks: connection and round trip, server version, pending
    /// migrations, schema conformance, connections in use, transaction-id
    /// wraparound, tasks_id_seq headroom, dead tuples and vacuum of tasks,
    /// cache hit ratio, unused indexes. Never writes; works for a read-only
    /// role. Exit 5 unreachable, 6 schema missing, 7 a check failed, else 0.
    ///
    /// Example: todo db health --json
    #[command(verbatim_doc_comment)]
    Health,
    /// The embedded local database (used with --local)
    ///
    /// A private PostgreSQL under $TODO_HOME (default ~/.local/share/todo,
    /// /var/lib/todo as root), reachable only through a Unix socket.
    ///
    /// Example: psql "$(todo db local url)"
    #[command(verbatim_doc_comment)]
    #[command(subcommand)]
    Local(LocalCommand),
}

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

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Show whether it exists and runs, where it lives, and its URL
    Status,
    /// Create (on first use) and start it
    Start,
    /// Stop it
    Stop,
    /// Print its connection URL (psql accepts it)
    Url,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Adopt an existing schema: check it matches, record the base migration
    /// as applied, then apply the rest
    #[arg(long)]
    pub baseline: bool,
    /// Seconds to wait for a lock before giving up
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,
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
    /// Seconds to wait for a lock before giving up
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,
}

pub fn run(ctx: &Context, cmd: DbCommand) -> Result<()> {
    match cmd {
        DbCommand::Migrate(args) => migrate_cmd(ctx, args),
        DbCommand::Status(args) => status(ctx, args),
        DbCommand::Revert(args) => revert(ctx, args),
        DbCommand::Seed(args) if args.clean => seed_clean(ctx, args),
        DbCommand::Seed(args) => seed_cmd(ctx, args),
        DbCommand::Health => health(ctx),
        DbCommand::Local(cmd) => local(ctx, cmd),
    }
}

fn migrate_error(conn: &mut Conn, err: MigrateError) -> Error {
    match err {
        MigrateError::Db(e) => database::classify(conn, e),
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
            database::classify_message(&msg).unwrap_or_else(|| Error::unexpected(msg))
        }
    }
}

fn migrate_cmd(ctx: &Context, args: MigrateArgs) -> Result<()> {
    let mut conn = ctx.conn()?;
    let timeout = Duration::from_secs(args.lock_timeout);
    let result = if args.baseline {
        migrate::baseline(&mut conn, timeout)
    } else {
        migrate::run(&mut conn, timeout)
    };
    let applied = result.map_err(|e| migrate_error(&mut conn, e))?;
    if ctx.out.quiet {
        return Ok(());
    }
    let mut out = ctx.stdout();
    match ctx.out.format {
        Format::Json => json_line(&mut out, &json!({ "applied": applied }))?,
        Format::Plain => {
            for version in &applied {
                plain_line(&mut out, &[Some(version)])?;
            }
        }
        Format::Table => {
            let known = migrate::known();
            if applied.is_empty() {
                writeln!(out, "Nothing to migrate: the database is up to date.")?;
            }
            for version in &applied {
                let name = known
                    .iter()
                    .find(|k| &k.version == version)
                    .map(|k| k.name.as_str());
                writeln!(out, "Applied {version} {}", name.unwrap_or(""))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn status(ctx: &Context, args: StatusArgs) -> Result<()> {
    let mut conn = ctx.conn()?;
    let read = |conn: &mut Conn| -> diesel::QueryResult<(Option<Vec<String>>, bool)> {
        Ok((migrate::applied(conn)?, migrate::has_tables(conn)?))
    };
    let (applied, has_tables) = read(&mut conn).map_err(|e| database::classify(&mut conn, e))?;
    let applied = applied.unwrap_or_default();
    let pending = migrate::pending(&applied);
    if !applied.iter().any(|v| v == migrate::BASE_VERSION) && has_tables {
        eprintln!(
            "warning: tables users/tasks exist but no todo migration is recorded; adopt them with: todo db migrate --baseline"
        );
    }

    if !ctx.out.quiet {
        let known = migrate::known();
        let name_of = |v: &str| {
            known
                .iter()
                .find(|k| k.version == v)
                .map(|k| k.name.clone())
                .unwrap_or_else(|| "(not in this build)".into())
        };
        let mut out = ctx.stdout();
        match ctx.out.format {
            Format::Json => json_line(
                &mut out,
                &json!({
                    "applied": applied,
                    "pending": pending.iter().map(|k| &k.version).collect::<Vec<_>>(),
                }),
            )?,
            Format::Plain => {
                for v in &applied {
                    plain_line(&mut out, &[Some(v), Some(&name_of(v)), Some("applied")])?;
                }
                for k in &pending {
                    plain_line(
                        &mut out,
                        &[Some(&k.version), Some(&k.name), Some("pending")],
                    )?;
                }
            }
            Format::Table => {
                let mut t = table(&["Version", "Name", "State"], ctx.out.color);
                for v in &applied {
                    t.add_row(vec![v.clone(), name_of(v), "applied".into()]);
                }
                for k in &pending {
                    t.add_row(vec![k.version.clone(), k.name.clone(), "pending".into()]);
                }
                writeln!(out, "{t}")?;
                writeln!(out, "{} applied, {} pending", applied.len(), pending.len())?;
            }
        }
        out.flush()?;
    }
    if args.check && !pending.is_empty() {
        return Err(Error::not_ready(format!(
            "{} migration{} pending",
            pending.len(),
            if pending.len() == 1 { " is" } else { "s are" }
        ))
        .with_hint("apply them with: todo db migrate"));
    }
    Ok(())
}

fn revert(ctx: &Context, args: RevertArgs) -> Result<()> {
    let mut conn = ctx.conn()?;
    let plan = migrate::revert_plan(&mut conn)
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
        confirm(
            &format!("Revert migration {} {}?", plan.version, plan.name),
            "db revert",
        )?;
    }
    let reverted = migrate::revert(
        &mut conn,
        Duration::from_secs(args.lock_timeout),
        &plan,
        args.force,
    )
    .map_err(|e| migrate_error(&mut conn, e))?;
    if ctx.out.quiet {
        return Ok(());
    }
    let mut out = ctx.stdout();
    match ctx.out.format {
        Format::Json => json_line(&mut out, &json!({ "reverted": reverted }))?,
        Format::Plain => plain_line(&mut out, &[Some(&reverted)])?,
        Format::Table => writeln!(out, "Reverted {reverted} {}", plan.name)?,
    }
    out.flush()?;
    Ok(())
}

fn local(ctx: &Context, cmd: LocalCommand) -> Result<()> {
    let cluster = Cluster::new(Cluster::default_home()?);
    let mut out = ctx.stdout();
    let message = match cmd {
        LocalCommand::Url => {
            writeln!(out, "{}", cluster.url(local::DATABASE))?;
            out.flush()?;
            return Ok(());
        }
        LocalCommand::Status => None,
        LocalCommand::Start => {
            database::start_local(&cluster, &mut |msg| eprintln!("todo: {msg}"))?;
            Some("running")
        }
        LocalCommand::Stop => Some(if cluster.stop()? {
            "stopped"
        } else {
            "not running"
        }),
    };
    let state = cluster.state()?;
    if ctx.out.quiet {
        return Ok(());
    }
    let home = cluster.home().display().to_string();
    let url = cluster.url(local::DATABASE);
    match ctx.out.format {
        Format::Json => json_line(
            &mut out,
            &json!({ "state": state.as_str(), "home": home, "url": url }),
        )?,
        Format::Plain => plain_line(&mut out, &[Some(state.as_str()), Some(&home), Some(&url)])?,
        Format::Table => match message {
            Some(msg) => writeln!(out, "Local database in {home}: {msg}")?,
            None => {
                writeln!(out, "state: {}", state.as_str())?;
                writeln!(out, "home:  {home}")?;
                writeln!(out, "url:   {url}")?;
            }
        },
    }
    out.flush()?;
    Ok(())
}

/// Runs shown with a progress bar on a terminal.
const PROGRESS_MIN_TASKS: u64 = 50_000;

fn seed_cmd(ctx: &Context, args: SeedArgs) -> Result<()> {
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

fn seed_clean(ctx: &Context, args: SeedArgs) -> Result<()> {
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

fn health(ctx: &Context) -> Result<()> {
    let target = match database::resolve(&ctx.connect_options()) {
        Ok(target) => target.url().display().to_string(),
        Err(e) if e.kind == Kind::Unavailable => String::new(),
        Err(e) => return Err(e),
    };
    let started = Instant::now();
    let (report, unreachable) = match ctx.conn() {
        Ok(mut conn) => (health::run(&mut conn, &target, started.elapsed()), None),
        Err(e) => {
            let check = Check {
                name: "connection",
                status: Status::Fail,
                detail: e.message.clone(),
            };
            (
                Report {
                    checks: vec![check],
                    schema_missing: false,
                },
                Some(e),
            )
        }
    };
    if !ctx.out.quiet {
        let mut out = ctx.stdout();
        write_health(&mut out, ctx.out, &report)?;
        out.flush()?;
    }
    if let Some(e) = unreachable {
        return Err(e);
    }
    if report.schema_missing {
        return Err(database::schema_missing());
    }
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.name)
        .collect();
    if !failed.is_empty() {
        return Err(Error::new(
            Kind::HealthFailed,
            format!("health check failed: {}", failed.join(", ")),
        ));
    }
    Ok(())
}
