//! `task export` (SPEC §19): a user's tasks in a format `task import`
//! reads, to stdout or a file.
//!
//! Round trips: one (the user lookup folded into the streamed listing), as
//! `task list`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::commands::scope::{stream_tasks, UserScope};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::outfile::{self, OutFile};
use crate::output::export;
use crate::taskfile::ImportFormat;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub user: UserScope,
    /// The format [default: from the file name of -o (.json, .csv, .txt for
    /// todo.txt; another name needs --to), json for stdout]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub to: Option<ImportFormat>,
    /// Write to FILE (created mode 0600; - is stdout, the default)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub which: super::WhichTasks,
}

pub fn export(ctx: &Context, args: ExportArgs) -> Result<()> {
    let user = args.user.parse()?;
    let path = args.output.unwrap_or_else(|| PathBuf::from("-"));
    // As `task import --from`: stdout is JSON, a file name tells its
    // format, and a name that does not is refused before anything is read.
    let name = path.to_string_lossy().into_owned();
    if name != "-" && path.is_dir() {
        return Err(crate::infile::is_a_directory(&path));
    }
    let Some(to) = args.to.or_else(|| ImportFormat::from_name(&name)) else {
        return Err(Error::usage(format!("cannot tell the format of {name}"))
            .with_hint("pass --to json, csv, taskwarrior or todotxt"));
    };
    // `--json FIELDS` / `--jq` shape the JSON export (as task list's).
    if ctx.out.shape.is_some() && to != ImportFormat::Json {
        return Err(
            Error::usage("--json FIELDS and --jq shape JSON: they need --to json")
                .with_hint("leave them out to export another format"),
        );
    }
    let filter = args.which.filter(None);
    let mut out = OutFile::create(&path, args.force, &mut |m| eprintln!("todo: {m}"))?;
    let mut conn = ctx.read_conn()?;
    let mut exported = export::Exported::default();
    // No statement timeout cuts a long export short (as pg_dump's).
    let written = crate::db::untimed(&mut conn, crate::db::Begin::ReadOnly, |conn| {
        stream_tasks(conn, &user, &filter, &mut |rows| {
            let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut out);
            exported = match ctx.out.shape {
                Some(_) => export::Exported {
                    tasks: crate::output::write_tasks(&mut buffered, ctx.out, rows)? as u64,
                    descriptions_dropped: 0,
                },
                None => export::write(&mut buffered, to, rows)?,
            };
            buffered.flush()?;
            Ok(())
        })
    });
    // The reader of stdout gone (`| head`): it had what it wanted, quietly,
    // as for `task list` (docs/reference.md, "Exit codes").
    if written.is_err() && out.reader_gone() {
        return Err(Error::new(crate::error::Kind::BrokenPipe, "broken pipe"));
    }
    written.map_err(|e| out.error_or(e))?;
    out.commit()?;
    if exported.descriptions_dropped > 0 {
        eprintln!(
            "warning: todo.txt has no descriptions: {} not exported",
            crate::text::count(
                exported.descriptions_dropped as i64,
                "description",
                "descriptions"
            )
        );
    }
    if !outfile::is_stdout(&path) && !ctx.out.quiet {
        eprintln!(
            "Exported {} to {}.",
            crate::text::count(exported.tasks as i64, "task", "tasks"),
            path.display()
        );
    }
    Ok(())
}
