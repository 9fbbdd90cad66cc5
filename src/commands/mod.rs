//! Commands: each takes parsed arguments, calls the data layer and writes
//! the result through `output`. Nothing below this layer prints.

pub mod db;

use std::io::{BufRead, BufWriter, IsTerminal, Write};

use clap::CommandFactory;

use crate::cli::{Cli, Command, Global};
use crate::db::{ConnectOptions, Pool};
use crate::error::{Error, Result};
use crate::output::Output;

/// What every command gets: the global flags and the output settings.
pub struct Context {
    pub global: Global,
    pub out: Output,
}

impl Context {
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            database_url: self.global.database_url.clone(),
            local: self.global.local,
            connect_timeout: self.global.connect_timeout,
        }
    }

    /// Connects (lazily called by the commands that need it), with at most
    /// `size` connections.
    pub fn pool(&self, size: u32) -> Result<Pool> {
        crate::db::open(&self.connect_options(), size, &mut |msg| {
            eprintln!("todo: {msg}");
        })
    }

    /// Buffered stdout.
    pub fn stdout(&self) -> BufWriter<std::io::StdoutLock<'static>> {
        BufWriter::new(std::io::stdout().lock())
    }
}

/// Asks a yes/no question on the terminal. Without a terminal on stdin,
/// fails with a hint to pass `--yes` (exit 2).
pub fn confirm(question: &str, what: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::needs_yes(what));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Error::usage("aborted: not confirmed"))
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let ctx = Context {
        out: Output::from_global(&cli.global),
        global: cli.global,
    };
    match cli.command {
        Command::Db(cmd) => db::run(&ctx, cmd),
        Command::Completions { shell } => {
            let mut out = ctx.stdout();
            clap_complete::generate(shell, &mut Cli::command(), "todo", &mut out);
            out.flush()?;
            Ok(())
        }
    }
}
