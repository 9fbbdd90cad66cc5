//! The command-line interface: global flags and the command tree. Each
//! command group's arguments live beside its code in `commands/`.

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::output::{Color, Format};

/// Tasks and users in the todo app's PostgreSQL database, from the terminal.
///
/// Connects to the URL given by --database-url, else $TODO_DATABASE_URL,
/// else $DATABASE_URL, else those keys in ./.env; with --local (or when
/// nothing is configured and you are at a terminal) it uses a private
/// PostgreSQL kept under $TODO_HOME.
#[derive(Debug, Parser)]
#[command(name = "todo", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after any subcommand.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// PostgreSQL URL (postgresql://user@host:port/db?sslmode=require).
    /// Prefer $DATABASE_URL or ./.env: arguments are visible in `ps`
    #[arg(long, global = true, value_name = "URL", conflicts_with = "local")]
    pub database_url: Option<String>,

    /// Use the embedded local database, whatever URL is configured
    #[arg(
        long,
        global = true,
        env = "TODO_LOCAL",
        value_parser = clap::builder::FalseyValueParser::new(),
        hide_env_values = true
    )]
    pub local: bool,

    /// Seconds to wait for a connection, 1 to 3600 [default: 5]
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: Option<u64>,

    /// Output format [default: table on a terminal, plain otherwise]
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,

    /// Same as --format json
    #[arg(long, global = true)]
    pub json: bool,

    /// Print only ids for `add`, nothing for other successful commands
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Print each SQL statement, its parameters and its duration on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, show and delete users
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Add, list, complete, edit and remove a user's tasks
    #[command(subcommand)]
    Task(commands::task::TaskCommand),
    /// Database administration: migrations, seed data, health, the local database
    #[command(subcommand)]
    Db(commands::db::DbCommand),
    /// Print a shell completion script
    ///
    /// Example: todo completions bash > /etc/bash_completion.d/todo
    Completions {
        /// The shell to generate for
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    ///
    /// Example: todo man > /usr/local/share/man/man1/todo.1
    #[command(hide = true)]
    Man,
}

impl Global {
    /// Whether errors should be printed as JSON.
    pub fn json(&self) -> bool {
        self.json || self.format == Some(Format::Json)
    }

    /// The output settings these flags ask for.
    pub fn output(&self) -> crate::output::Output {
        let format = if self.json {
            Some(Format::Json)
        } else {
            self.format
        };
        crate::output::Output::new(format, self.quiet, self.color)
    }
}

/// Looks for `--json` or `--format json` in raw arguments, to print a clap
/// error as JSON when parsing itself failed.
pub fn wants_json(args: &[std::ffi::OsString]) -> bool {
    let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    args.iter().enumerate().any(|(i, a)| {
        *a == "--json"
            || *a == "--format=json"
            || (*a == "--format" && args.get(i + 1) == Some(&"json"))
    })
}
