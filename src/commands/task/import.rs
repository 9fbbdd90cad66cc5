//! `task import FILE|- --user U [--from FORMAT] [--dry-run]` (SPEC §15).
//!
//! One pass over the input, whatever its size: each record is validated
//! and written straight into the COPY of an open transaction (memory stays
//! bounded by one record). A bad record is reported on stderr with its
//! number as soon as it is read; reading goes on so that every bad record
//! is reported, and at the end the COPY is aborted: nothing is imported.
//! Round trips: the user lookup, then BEGIN, the COPY and COMMIT.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::PathBuf;

use clap::Args;

use crate::commands::scope::{scoped, user_not_found, UserScope};
use crate::commands::{query, Context};
use crate::db::task_copy::{insert_stream, TaskRows};
use crate::db::users;
use crate::error::{Error, Result};
use crate::output::ops::Imported;
use crate::taskfile::{read, ImportFormat, Record, Stop};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file, or - for stdin
    pub file: PathBuf,
    #[command(flatten)]
    pub user: UserScope,
    /// The format [default: from the file name: .json, .csv, .txt (todo.txt); json for -]
    #[arg(long, value_enum)]
    pub from: Option<ImportFormat>,
    /// Check the file and count, import nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn import(ctx: &Context, args: ImportArgs) -> Result<()> {
    let user = crate::validate::user_ref(&args.user.user)?;
    let name = args.file.to_string_lossy().into_owned();
    let shown = if name == "-" { "stdin" } else { &name };
    let file = match name.as_str() {
        "-" => None,
        _ => Some(crate::infile::open(&args.file)?),
    };
    let Some(from) = args.from.or_else(|| ImportFormat::from_name(&name)) else {
        return Err(Error::usage(format!("cannot tell the format of {name}"))
            .with_hint("pass --from json, csv, taskwarrior or todotxt"));
    };
    let mut input: Box<dyn BufRead> = if let Some(file) = file {
        Box::new(BufReader::with_capacity(256 * 1024, file))
    } else {
        if std::io::stdin().is_terminal() && !ctx.out.quiet {
            // Typed records are a rare wish: say why nothing happens yet.
            eprintln!("todo: reading the records from the terminal (end with Ctrl-D)");
        }
        Box::new(std::io::stdin().lock())
    };
    let mut conn = ctx.conn()?;
    let found = query(&mut conn, |c| users::find(c, &user))?;
    let account = scoped(found, &user)?
        .ok_or_else(|| user_not_found(&user))?
        .account;
    let mut tally = Tally::default();
    let mut stop = None;
    let mut dropped = crate::taskfile::Dropped::new();
    let mut pass = |rows: Option<&mut TaskRows<'_>>| -> std::io::Result<()> {
        let mut rows = rows;
        let mut each = |n, record| tally.take(from.counts(), n, record, rows.as_deref_mut());
        match read(&mut input, from, &mut each, &mut dropped) {
            Ok(()) => {}
            Err(Stop::Sink(e)) => return Err(e),
            Err(Stop::Input(n, e)) => stop = Some((n, e)),
        }
        match (stop.is_some(), tally.bad) {
            (false, 0) => Ok(()),
            _ => Err(std::io::Error::other("invalid input")),
        }
    };
    let inserted = if args.dry_run {
        // Bad input is in `tally`/`stop`, looked at below.
        let _ = pass(None);
        Ok(0)
    } else {
        let now = chrono::Utc::now().naive_utc();
        let track = matches!(crate::commands::replica::read_url(ctx), Ok(Some(_)));
        // diesel's COPY callback is `Fn`; the reader is not.
        let pass = RefCell::new(pass);
        query(&mut conn, |c| {
            insert_stream(
                c,
                &account.id,
                now,
                &|rows| (pass.borrow_mut())(Some(rows)),
                track,
            )
        })
    };
    if let Some((n, e)) = stop {
        return Err(Error::usage(format!(
            "{shown}, line {n}: {}; nothing imported",
            crate::text::terminal_safe(&e, false)
        )));
    }
    if tally.bad > 0 {
        return Err(Error::usage(format!(
            "{} invalid record{} in {shown} (listed above); nothing imported",
            tally.bad,
            if tally.bad == 1 { "" } else { "s" },
        )));
    }
    let imported = match inserted {
        Ok(_) if args.dry_run => tally.good,
        Ok(n) => n as u64,
        Err(e) => return Err(e),
    };
    if !dropped.is_empty() {
        let list: Vec<String> = dropped
            .iter()
            .map(|(field, n)| format!("{} ({n})", crate::text::terminal_safe(field, false)))
            .collect();
        eprintln!(
            "note: fields this tool has no place for were not kept (records with each): {}",
            list.join(", ")
        );
    }
    ctx.emit(&Imported {
        imported,
        skipped: tally.skipped,
        dry_run: args.dry_run,
    })
}

/// What the records were.
#[derive(Default)]
struct Tally {
    good: u64,
    skipped: u64,
    bad: u64,
}

impl Tally {
    /// Counts a record and writes it to `rows`, or reports it on stderr.
    /// After the first bad record nothing more is written: the import is
    /// going to be aborted, reading goes on only to report the others.
    fn take(
        &mut self,
        unit: &str,
        n: usize,
        record: Record,
        rows: Option<&mut TaskRows<'_>>,
    ) -> std::io::Result<()> {
        match record {
            Ok(Some(task)) => {
                self.good += 1;
                match rows {
                    Some(rows) if self.bad == 0 => rows.push(&task),
                    _ => Ok(()),
                }
            }
            Ok(None) => {
                self.skipped += 1;
                Ok(())
            }
            Err(e) => {
                self.bad += 1;
                eprintln!("{unit} {n}: {}", crate::text::terminal_safe(&e, false));
                Ok(())
            }
        }
    }
}
