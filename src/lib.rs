//! `todo`: a command-line client and admin tool for the PostgreSQL database
//! of a multi-user todo application. See SPEC.md for the contract.
//!
//! Data flows one way: argv → [`cli`] → [`commands`] → [`db`] → [`output`]
//! → exit code ([`error`]).

pub mod cli;
mod closed_stdout;
pub mod commands;
pub mod db;
pub mod dotenv;
pub mod error;
pub mod local;
pub mod output;
pub mod sample;
pub mod signals;
pub mod text;
pub mod validate;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::error::Error;

/// Parses the command line, runs it, prints any error once and returns the
/// documented exit code.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return clap_error(err, cli::wants_json(&args)),
    };
    let json = cli.global.json();
    signals::install(json);
    if closed_stdout::is_closed() && !cli.global.quiet {
        let err = Error::usage("standard output is closed; nothing was done")
            .with_hint("redirect it instead (>/dev/null), or pass -q");
        err.print(&mut std::io::stderr().lock(), json);
        return ExitCode::from(err.kind.exit_code());
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.message == error::BROKEN_PIPE => ExitCode::SUCCESS,
        Err(err) => {
            err.print(&mut std::io::stderr().lock(), json);
            ExitCode::from(err.kind.exit_code())
        }
    }
}

/// Prints a clap error like every other error: one `error:` line and a
/// `hint:` with the usage (or one JSON object). Help, version, and the help
/// shown for a missing subcommand are printed by clap as they are.
fn clap_error(err: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand if !json => {
            let _ = err.print();
            return ExitCode::from(2);
        }
        _ => {}
    }
    let (message, usage) = clap_message(&err.render().to_string());
    let mut hint = match usage {
        Some(usage) => format!("usage: {usage}"),
        None => "see `todo --help`".to_string(),
    };
    if message.contains("--user <USER>") {
        hint.push_str(" (or set TODO_USER)");
    }
    let err = Error::usage(message).with_hint(hint);
    err.print(&mut std::io::stderr().lock(), json);
    ExitCode::from(err.kind.exit_code())
}

/// Clap's rendered error as one line, and its usage line.
fn clap_message(rendered: &str) -> (String, Option<String>) {
    let mut message = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        match line.strip_prefix("Usage: ") {
            Some(u) => usage = Some(u.to_string()),
            None => message.push(line.strip_prefix("error: ").unwrap_or(line)),
        }
    }
    (message.join(" "), usage)
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_errors_become_one_line_and_a_usage() {
        let rendered = "error: the following required arguments were not provided:\n  --user <USER>\n\n\
                        Usage: todo task list --user <USER>\n\nFor more information, try '--help'.\n";
        let (message, usage) = super::clap_message(rendered);
        assert_eq!(
            message,
            "the following required arguments were not provided: --user <USER>"
        );
        assert_eq!(usage.as_deref(), Some("todo task list --user <USER>"));
    }
}
