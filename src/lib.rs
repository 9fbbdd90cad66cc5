//! `todo`: a command-line client and admin tool for the PostgreSQL database
//! of a multi-user todo application.
//!
//! Data flows one way: argv → [`cli`] (clap) → [`commands`] (validation
//! with [`validate`], policy) → [`db`] (one statement, parameters bound;
//! returns typed rows, never prints) → [`output`] (the only renderer) → exit
//! code ([`error`]). [`local`] runs the embedded PostgreSQL; [`db`] and
//! [`output`] import nothing from [`cli`], [`commands`] or [`validate`].

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod backup_file;
pub mod bounded;
mod cgroup;
pub mod cli;
mod closed_stdout;
pub mod commands;
pub mod config;
pub mod db;
pub mod dotenv;
pub mod error;
pub mod infile;
pub mod local;
pub mod model;
pub mod outfile;
pub mod output;
pub mod sample;
pub mod signals;
pub mod taskfile;
pub mod text;
pub mod url;
pub mod validate;

use std::ffi::OsString;
use std::process::ExitCode;

use crate::error::Error;

/// Parses the command line, runs it, prints any error once and returns the
/// documented exit code.
pub fn main() -> ExitCode {
    // A shell asking for completions (TODO_COMPLETE=bash todo -- …):
    // answer and exit before anything else, with the config's user and
    // database (a broken config file offers nothing from it, never fails).
    if std::env::var_os(commands::COMPLETE_VAR).is_some() {
        config::install(config::load().unwrap_or_default());
        commands::complete::note_shell();
    }
    clap_complete::CompleteEnv::with_factory(<cli::Cli as clap::CommandFactory>::command)
        .var(commands::COMPLETE_VAR)
        .complete();
    let args: Vec<OsString> = std::env::args_os().collect();
    // The config file (SPEC §18), before anything reads a setting. Broken,
    // it stops every command but `todo config` (with which to mend it).
    let fixing = args.get(1).is_some_and(|a| a == "config");
    let settings = match config::load() {
        Ok(c) => c,
        Err(_) if fixing => config::Config::default(),
        Err(err) => {
            err.print(&mut std::io::stderr().lock(), cli::wants_json(&args));
            return ExitCode::from(err.kind.exit_code());
        }
    };
    let wants_json = cli::wants_json(&args);
    let args = match config::expand_alias(args, &settings, cli::is_command) {
        Ok(args) => args,
        Err(err) => {
            err.print(&mut std::io::stderr().lock(), wants_json);
            return ExitCode::from(err.kind.exit_code());
        }
    };
    let default_user = settings.user.clone();
    config::install(settings);
    let cli = match cli::parse(&args, default_user.as_deref()) {
        Ok(cli) => cli,
        Err(err) => return clap_error(err, &args, cli::wants_json(&args)),
    };
    let json = cli.global.json();
    signals::install(json);
    if closed_stdout::is_closed() && !cli.global.quiet {
        let err = Error::usage("standard output is closed; nothing was done")
            .with_hint("redirect it instead (>/dev/null), or pass -q");
        err.print(&mut std::io::stderr().lock(), json);
        return ExitCode::from(err.kind.exit_code());
    }
    let result = commands::run(cli);
    if signals::interrupted() {
        // The signal thread reports and ends the process.
        signals::wait_for_the_end();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind == error::Kind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            err.print(&mut std::io::stderr().lock(), json);
            ExitCode::from(err.kind.exit_code())
        }
    }
}

/// Prints a clap error like every other error: one `error:` line and a
/// `hint:` with the usage (or one JSON object). Help, version, and the help
/// shown for a missing subcommand are printed by clap as they are.
fn clap_error(err: clap::Error, args: &[OsString], json: bool) -> ExitCode {
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
    let err = cli::usage_error(&err, args);
    err.print(&mut std::io::stderr().lock(), json);
    ExitCode::from(err.kind.exit_code())
}
