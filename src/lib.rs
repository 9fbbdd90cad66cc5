//! `todo`: a command-line client and admin tool for the PostgreSQL database
//! of a multi-user todo application. See SPEC.md for the contract.
//!
//! Data flows one way: argv → [`cli`] → [`commands`] → [`db`] → [`output`]
//! → exit code ([`error`]).

pub mod cli;
pub mod commands;
pub mod db;
pub mod error;
pub mod output;
pub mod sample;
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
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.message == error::BROKEN_PIPE => ExitCode::SUCCESS,
        Err(err) => {
            err.print(&mut std::io::stderr().lock(), json);
            ExitCode::from(err.kind.exit_code())
        }
    }
}

fn clap_error(err: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    );
    if json && !informational {
        let rendered = err.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first);
        Error::usage(message)
            .with_hint("see `todo --help`")
            .print(&mut std::io::stderr().lock(), true);
        return ExitCode::from(2);
    }
    // clap prints help on stdout and errors on stderr; usage errors exit 2.
    let _ = err.print();
    ExitCode::from(if informational { 0 } else { 2 })
}
