//! `db migrate`, `db status`, `db revert`.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use crate::cli::Format;
use crate::commands::{confirm, Context};
use crate::db::migrate::{self, MigrateError};
use crate::db::{self as database, Conn};
use crate::error::{Error, Result};
use crate::output::{json_line, plain_line, table};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Adopt an existing schema: check it matches, record the base migration
    /// as applied, then apply the rest
    #[arg(long)]
    pub baseline: bool,
    /// Seconds to wait for a lock before giving up
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
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
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lock_timeout: u64,
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

pub fn migrate(ctx: &Context, args: MigrateArgs) -> Result<()> {
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

pub fn status(ctx: &Context, args: StatusArgs) -> Result<()> {
    let mut conn = ctx.conn()?;
    let read = |conn: &mut Conn| -> diesel::QueryResult<(Option<Vec<String>>, bool)> {
        Ok((migrate::applied(conn)?, migrate::has_tables(conn)?))
    };
    let (applied, has_tables) = read(&mut conn).map_err(|e| database::classify(&mut conn, e))?;
    let applied = applied.unwrap_or_default();
    let pending = migrate::pending(&applied);
    if migrate::unmanaged(&applied, has_tables) {
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

pub fn revert(ctx: &Context, args: RevertArgs) -> Result<()> {
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
