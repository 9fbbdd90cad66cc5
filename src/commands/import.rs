//! `task import FILE|- --user U [--from FORMAT] [--dry-run]` (SPEC §15).

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::task::UserArg;
use super::user::{scoped, user_not_found};
use super::{query, Context};
use crate::db::{import, users};
use crate::error::{Error, Result};
use crate::import::{parse, Source};
use crate::output::ops::Imported;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file, or - for stdin
    pub file: PathBuf,
    #[command(flatten)]
    pub user: UserArg,
    /// The format [default: from the file name: .json, .csv, .txt (todo.txt); json for -]
    #[arg(long, value_enum)]
    pub from: Option<Source>,
    /// Check the file and count, import nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// How many bad records an error lists.
const SHOWN: usize = 10;

pub fn import(ctx: &Context, args: ImportArgs) -> Result<()> {
    let user = validate_user(&args.user)?;
    let name = args.file.to_string_lossy().into_owned();
    let from = match args.from.or_else(|| Source::from_name(&name)) {
        Some(f) => f,
        None => {
            return Err(Error::usage(format!("cannot tell the format of {name}"))
                .with_hint("pass --from json, csv, taskwarrior or todotxt"))
        }
    };
    let mut text = String::new();
    let read = if name == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(&args.file).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| Error::usage(format!("cannot read {name}: {e}")))?;
    let parsed = parse(&text, from);
    if !parsed.errors.is_empty() {
        let list: Vec<String> = parsed
            .errors
            .iter()
            .take(SHOWN)
            .map(|(n, e)| format!("record {n}: {e}"))
            .collect();
        let more = parsed.errors.len().saturating_sub(SHOWN);
        return Err(Error::usage(format!(
            "{} invalid record{} in {name}, nothing imported: {}{}",
            parsed.errors.len(),
            if parsed.errors.len() == 1 { "" } else { "s" },
            list.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        )));
    }
    let mut conn = ctx.conn()?;
    let found = query(&mut conn, |c| users::find(c, &user))?;
    let account = scoped(found, &user)?
        .ok_or_else(|| user_not_found(&user))?
        .account;
    let imported = if args.dry_run {
        parsed.tasks.len()
    } else {
        let now = chrono::Utc::now().naive_utc();
        query(&mut conn, |c| {
            import::insert_all(c, &account.id, &parsed.tasks, now)
        })?
    };
    ctx.emit(&Imported {
        imported: imported as u64,
        skipped: parsed.skipped as u64,
        dry_run: args.dry_run,
    })
}

fn validate_user(arg: &UserArg) -> Result<crate::db::models::UserRef> {
    crate::validate::user_ref(&arg.user)
}
