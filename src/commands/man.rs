//! `todo man [DIR]`: the manual pages, generated from the command tree
//! (clap_mangen) with ENVIRONMENT and EXIT STATUS sections of our own:
//! `todo(1)` on stdout, or the whole set — `todo.1`, `todo-task.1`,
//! `todo-task-add.1`, … — written to DIR.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap_mangen::Man;

use super::Context;
use crate::error::{Error, Result};

/// The environment variables the tool reads.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "TODO_DATABASE_URL, DATABASE_URL",
        "The PostgreSQL URL, in this order (then the same keys in ./.env). Without one, the embedded database is used at a terminal; elsewhere it is an error (exit 5).",
    ),
    (
        "TODO_READ_URL, DATABASE_READ_URL",
        "A read replica: read-only commands read there, writes go to the primary.",
    ),
    ("TODO_LOCAL", "1: use the embedded local database (as --local)."),
    ("TODO_USER", "The user of task commands (as --user)."),
    (
        "TODO_HOME",
        "Where the embedded database lives (default $XDG_DATA_HOME/todo or ~/.local/share/todo; /var/lib/todo as root).",
    ),
    (
        "XDG_STATE_HOME",
        "Where the last write is recorded for read-your-writes on a replica (default ~/.local/state).",
    ),
    ("VISUAL, EDITOR", "The editor of task edit with no flags (default vi)."),
    ("NO_COLOR", "Set and not empty: no colour."),
    (
        "CI",
        "Set: not interactive (no implicit embedded database, no prompts).",
    ),
];

/// The exit codes (SPEC §9).
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success (also when a reader closes the pipe early)."),
    ("1", "Unexpected error."),
    ("2", "Bad input or usage; nothing was sent to the database."),
    (
        "3",
        "Not found (a user, a task, another user's task); db local status: not running.",
    ),
    (
        "4",
        "Conflict (an email or id that exists; a non-empty database for restore).",
    ),
    (
        "5",
        "Database unavailable (cannot connect, lock timeout, missing server binaries).",
    ),
    (
        "6",
        "Database not ready (no schema, pending migrations; with db status --check).",
    ),
    (
        "7",
        "db health found a failure; db verify found a bad backup.",
    ),
    (
        "8",
        "Permission refused by the server (or a db maintain step the role may not run).",
    ),
    (
        "9",
        "The command did its work, then its --jq filter failed on the output: do not run it again.",
    ),
    (
        "130, 143",
        "Interrupted by SIGINT or SIGTERM (the running statement is cancelled).",
    ),
];

pub fn man(ctx: &Context, dir: Option<PathBuf>) -> Result<()> {
    let mut root = crate::cli::command().disable_help_subcommand(true);
    root.build();
    match dir {
        None => {
            let mut out = ctx.stdout();
            page(&root, true, &mut out)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::usage(format!("cannot create {}: {e}", dir.display())))?;
            let mut written = 0;
            write_all(&root, true, &dir, &mut written)?;
            if !ctx.out.quiet {
                eprintln!("Wrote {written} manual pages to {}.", dir.display());
            }
        }
    }
    Ok(())
}

fn write_all(cmd: &clap::Command, root: bool, dir: &Path, written: &mut usize) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_all(sub, false, dir, written)?;
    }
    let path = dir.join(Man::new(cmd.clone()).get_filename());
    let mut file = std::fs::File::create(&path)
        .map_err(|e| Error::usage(format!("cannot write {}: {e}", path.display())))?;
    page(cmd, root, &mut file)?;
    *written += 1;
    Ok(())
}

/// One page: clap_mangen's sections, then ours.
fn page(cmd: &clap::Command, root: bool, out: &mut dyn Write) -> Result<()> {
    let man = Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(out)?;
    }
    if cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some() {
        man.render_extra_section(out)?;
    }
    section(out, "ENVIRONMENT", ENVIRONMENT)?;
    section(out, "EXIT STATUS", EXIT_STATUS)?;
    if !root {
        writeln!(out, ".SH \"SEE ALSO\"\n\\fBtodo\\fR(1)")?;
    } else {
        man.render_version_section(out)?;
    }
    Ok(())
}

fn section(out: &mut dyn Write, title: &str, items: &[(&str, &str)]) -> Result<()> {
    writeln!(out, ".SH \"{title}\"")?;
    for (name, text) in items {
        writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff(name), roff(text))?;
    }
    Ok(())
}

/// Text safe in roff: backslashes doubled, a leading dot or quote escaped.
fn roff(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}
