//! `db purge --done-before WHEN` (SPEC §12).

use std::path::PathBuf;
use std::time::Instant;

use chrono::{Months, NaiveDate, NaiveDateTime, Utc};
use clap::Args;

use crate::backup_file::{Archive, Header, FORMAT_VERSION};
use crate::commands::scope::{scoped, user_not_found};
use crate::commands::{ensure_can_prompt, errors, query, Context};
use crate::db::{migrate, purge, tasks, users};
use crate::error::{Error, Result};
use crate::model::UserRef;
use crate::outfile;
use crate::output::ops::Purged;
use crate::validate;

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Delete completed tasks last updated before WHEN: an age (90d, 12w,
    /// 6m, 1y) or a date or time (2026-01-01, 2026-01-01T00:00:00Z)
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub done_before: NaiveDateTime,
    /// Only this user's tasks (an email or a user id; not $TODO_USER:
    /// a purge of every user must not shrink to one by an exported variable)
    #[arg(long, short, value_name = "USER")]
    pub user: Option<String>,
    /// First write each batch's rows to FILE (the backup format), synced to
    /// disk before the batch commits; FILE must not exist (see --force)
    #[arg(long, value_name = "FILE")]
    pub archive: Option<PathBuf>,
    /// Replace the --archive file if it exists
    #[arg(long)]
    pub force: bool,
    /// Tasks per batch, each batch its own short transaction
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub batch: i64,
    /// Only count what would be deleted
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
}

/// `90d`, `12w`, `6m`, `1y` before now, or an RFC 3339 date / date-time (UTC).
pub fn parse_when(raw: &str) -> std::result::Result<NaiveDateTime, String> {
    parse_when_at(raw, Utc::now().naive_utc())
}

fn parse_when_at(raw: &str, now: NaiveDateTime) -> std::result::Result<NaiveDateTime, String> {
    let raw = raw.trim();
    let bad = || {
        format!(
            "'{raw}' is not an age (90d, 12w, 6m, 1y) or a date (2026-01-01, 2026-01-01T00:00:00Z)"
        )
    };
    if let Some(unit) = raw.chars().last().filter(|c| "dwmy".contains(*c)) {
        let n: u32 = raw[..raw.len() - 1].parse().map_err(|_| bad())?;
        let ago = match unit {
            'd' => now.checked_sub_signed(chrono::Duration::days(i64::from(n))),
            'w' => now.checked_sub_signed(chrono::Duration::weeks(i64::from(n))),
            'm' => now.checked_sub_months(Months::new(n)),
            _ => n
                .checked_mul(12)
                .and_then(|m| now.checked_sub_months(Months::new(m))),
        };
        return ago.ok_or_else(bad);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc).naive_utc());
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(bad)
}

/// Round trips: the user lookup (`--user`), the count, then per batch one
/// DELETE (two more inside a transaction with `--archive`, or when
/// row-level security needs the user's scope).
pub fn purge(ctx: &Context, args: PurgeArgs) -> Result<()> {
    let mut started = Instant::now();
    if !args.yes && !args.dry_run {
        ensure_can_prompt("db purge")?;
    }
    let cutoff = args.done_before;
    if cutoff > Utc::now().naive_utc() {
        eprintln!(
            "warning: --done-before {} is in the future: every completed task matches",
            cutoff.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    if let Some(path) = &args.archive {
        // Checked before anything is deleted; opened (created) later.
        if !args.force && path.is_file() {
            return Err(outfile::exists_error(path));
        }
    }
    let mut conn = ctx.conn()?;
    let user_id = match &args.user {
        Some(raw) => {
            let user = validate::user_ref(raw)?;
            let found = query(&mut conn, |c| users::find(c, &user))?;
            let found = scoped(found, &user)?.ok_or_else(|| user_not_found(&user))?;
            Some(found.account.id)
        }
        None => None,
    };
    let user = user_id.as_deref();
    let mut counted = query(&mut conn, |c| {
        in_scope(c, None, |c| purge::count(c, cutoff, user))
    })?;
    // Row-level security (SPEC §17): one user's tasks are counted and
    // deleted in that user's scope (`app.user_id`), as task commands do;
    // all users' cannot be, so the count is unknown and deleting is refused.
    let scope = match (&user_id, counted.row_security) {
        (Some(id), true) => {
            let scope = UserRef::Id(id.clone());
            counted = query(&mut conn, |c| {
                in_scope(c, Some(&scope), |c| purge::count(c, cutoff, user))
            })?;
            Some(scope)
        }
        (None, true) if args.dry_run => {
            eprintln!("warning: row-level security hides other users' tasks from this role: how many would be deleted is unknown");
            return ctx.emit(&Purged {
                deleted: None,
                archived: 0,
                batches: 0,
                elapsed_ms: started.elapsed().as_millis() as u64,
                dry_run: true,
            });
        }
        (None, true) => {
            return Err(Error::usage(
                "cannot purge every user's tasks: row-level security hides tasks from this role",
            )
            .with_hint(
                "connect as the tables' owner or a BYPASSRLS role, or purge one user with --user",
            ))
        }
        (_, false) => None,
    };
    let matching = counted.n;
    if args.dry_run || matching == 0 {
        return ctx.emit(&Purged {
            deleted: Some(if args.dry_run { matching } else { 0 }),
            archived: 0,
            batches: 0,
            elapsed_ms: started.elapsed().as_millis() as u64,
            dry_run: args.dry_run,
        });
    }
    if !args.yes {
        // The time reported is the purge's, not the user's at the prompt.
        let asked = Instant::now();
        let answered = ctx.confirm(
            &format!(
                "Delete {matching} completed task{} last updated before {}?",
                if matching == 1 { "" } else { "s" },
                cutoff.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            "db purge",
        );
        started += asked.elapsed();
        answered?;
    }
    let mut archive = match &args.archive {
        Some(path) => Some(open_archive(&mut conn, path, args.force)?),
        None => None,
    };
    let scope = scope.as_ref();
    let (mut deleted, mut batches) = (0i64, 0u64);
    let mut after = None;
    loop {
        let batch = match archive.as_mut() {
            None => query(&mut conn, |c| {
                in_scope(c, scope, |c| {
                    purge::delete_batch(c, cutoff, user, args.batch, after)
                })
            })?,
            Some((path, archive)) => {
                let mut keep = |rows: &[crate::model::Task]| -> std::result::Result<(), Keep> {
                    archive.append(rows).map_err(Keep::File)
                };
                match in_scope(&mut conn, scope, |c| {
                    purge::delete_batch_keeping(c, cutoff, user, args.batch, after, &mut keep)
                }) {
                    Ok(batch) => batch,
                    Err(Keep::File(e)) => return Err(outfile::write_error(path, &e)),
                    Err(Keep::Db(e)) => return Err(errors::classify(&mut conn, e)),
                }
            }
        };
        deleted += batch.deleted;
        batches += 1;
        after = batch.last.or(after);
        if batch.deleted < args.batch {
            break;
        }
    }
    let archived = match archive {
        Some((path, a)) => a.finish().map_err(|e| outfile::write_error(&path, &e))?,
        None => 0,
    };
    ctx.emit(&Purged {
        deleted: Some(deleted),
        archived,
        batches,
        elapsed_ms: started.elapsed().as_millis() as u64,
        dry_run: false,
    })
}

/// Runs `f` in the user's row-level security scope when there is one (a
/// transaction that sets `app.user_id` first), else as it is.
fn in_scope<T, E: From<diesel::result::Error>>(
    conn: &mut crate::db::PgConn,
    scope: Option<&UserRef>,
    f: impl FnOnce(&mut crate::db::PgConn) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    // Each statement in a transaction of its own that no statement
    // timeout of the role's cuts short (as pg_dump's session).
    crate::db::untimed(conn, crate::db::Begin::ReadWrite, |c| {
        if let Some(user) = scope {
            tasks::set_user_scope(c, user)?;
        }
        f(c)
    })
}

/// Creates the archive (SPEC §17: 0600, an existing file only with
/// --force, a FIFO or device written directly) and writes its header.
fn open_archive(
    conn: &mut crate::db::PgConn,
    path: &std::path::Path,
    force: bool,
) -> Result<(PathBuf, Archive)> {
    let header = Header {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        migrations: migrate::state(conn)
            .map_err(|e| errors::classify(conn, e))?
            .applied
            .unwrap_or_default(),
        server_version: String::new(),
        taken_at: Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        kind: Some(crate::backup_file::ARCHIVE.into()),
    };
    let (file, regular) = outfile::open_in_place(path, force)?;
    let archive =
        Archive::new(file, regular, &header).map_err(|e| outfile::write_error(path, &e))?;
    Ok((path.to_path_buf(), archive))
}

/// Why an archived batch failed.
enum Keep {
    File(std::io::Error),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Keep {
    fn from(e: diesel::result::Error) -> Self {
        Keep::Db(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_accepts_ages_and_dates() {
        let now = NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(parse_when_at("90d", now).unwrap().date(), day(2026, 8, 27));
        assert_eq!(parse_when_at("2w", now).unwrap().date(), day(2026, 11, 11));
        assert_eq!(parse_when_at("6m", now).unwrap().date(), day(2026, 5, 25));
        assert_eq!(parse_when_at("1y", now).unwrap().date(), day(2025, 11, 25));
        assert_eq!(
            parse_when_at("2026-01-01", now).unwrap(),
            day(2026, 1, 1).and_hms_opt(0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_when_at("2026-01-01T02:00:00+02:00", now).unwrap(),
            day(2026, 1, 1).and_hms_opt(0, 0, 0).unwrap()
        );
        for bad in ["", "d", "-5d", "5x", "yesterday", "2026-13-01"] {
            assert!(parse_when_at(bad, now).is_err(), "{bad}");
        }
    }
}
