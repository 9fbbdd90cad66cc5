//! The command-line interface: global flags and the command tree. Each
//! command group's arguments live beside its code in `commands/`.

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::output::{Color, Format};

mod usage;
use usage::command_path;
pub use usage::usage_error;

/// `--format`: how results are written (rendered by [`crate::output`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// An aligned table with relative times
    Table,
    /// Tab-separated fields, one record per line, no header
    Plain,
    /// JSON
    Json,
    /// Prometheus text exposition (db health and db stats only)
    Prometheus,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Plain => Format::Plain,
            FormatArg::Json => Format::Json,
            FormatArg::Prometheus => Format::Prometheus,
        }
    }
}

/// `--color`: when to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

impl From<ColorArg> for Color {
    fn from(c: ColorArg) -> Color {
        match c {
            ColorArg::Auto => Color::Auto,
            ColorArg::Always => Color::Always,
            ColorArg::Never => Color::Never,
        }
    }
}

/// Tasks and users in the todo app's PostgreSQL database, from the terminal.
///
/// Connects to the URL given by --database-url, else $TODO_DATABASE_URL,
/// else $DATABASE_URL, else those keys in ./.env, else the config file's
/// `database` (todo config path), else where libpq's PGHOST, PGHOSTADDR,
/// PGSERVICE or PGDATABASE say, as psql does; with --local (or when nothing
/// is configured and you are at a terminal) it uses a private PostgreSQL
/// kept under $TODO_HOME.
#[derive(Debug, Parser)]
#[command(name = "todo", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
    /// The command's path (`task list`), for `--json FIELDS`.
    #[arg(skip)]
    pub path: String,
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

    /// The direct (unpooled) URL of the same database, for admin steps that
    /// need a session of their own, which a transaction pooler does not
    /// give (concurrent index builds); also $DATABASE_URL_UNPOOLED
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "DATABASE_URL_UNPOOLED",
        hide_env_values = true
    )]
    pub direct_url: Option<String>,

    /// Seconds to wait for a connection, 1 to 3600 [default: 5]
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: Option<u64>,

    /// Seconds to wait for a lock held by another session before giving up
    /// (exit 5, naming it) [default: 5 for user and task commands, 10 for
    /// db commands]
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lock_timeout: Option<u64>,

    /// A read replica: read-only commands read there, writes go to the
    /// primary (also $DATABASE_READ_URL)
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "TODO_READ_URL",
        hide_env_values = true
    )]
    pub read_url: Option<String>,

    /// Seconds a read waits for the replica to replay your last write
    /// before reading from the primary, 0 to 3600 [default: 2]
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub replica_wait: Option<u64>,

    /// Output format [default: table on a terminal, plain otherwise]
    #[arg(long, global = true, value_enum)]
    pub format: Option<FormatArg>,

    /// Same as --format json; --json FIELD,FIELD (or --json=FIELD) prints
    /// only those fields of each object, in that order
    #[arg(
        long,
        global = true,
        value_name = "FIELDS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub json: Option<String>,

    /// Filter the JSON output with a jq expression (built in); strings are
    /// printed raw, as `jq -r` does
    #[arg(long, global = true, value_name = "EXPR")]
    pub jq: Option<String>,

    /// Print only ids: the new one for `add`, one per line for lists;
    /// nothing for other successful commands
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Print each SQL statement, its parameters and its duration on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Do not page long lists ($TODO_PAGER, else $PAGER, else less -FRX)
    #[arg(long, global = true)]
    pub no_pager: bool,

    /// When to use colour [default: color in the config file, else auto]
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub color: Option<ColorArg>,
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
    Db(commands::admin::DbCommand),
    /// Settings: the default user, the database, aliases, …
    ///
    /// Example: todo config set user bob@example.com
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Print a shell completion script
    ///
    /// Example: todo completions bash > /etc/bash_completion.d/todo
    Completions {
        /// The shell to generate for
        shell: clap_complete::Shell,
    },
    /// Print the man page, or write every command's page to a directory
    ///
    /// Examples:
    ///   todo man | man -l -
    ///   todo man /usr/local/share/man/man1     (todo.1, todo-task.1, todo-task-add.1, …)
    #[command(verbatim_doc_comment)]
    Man {
        /// Write todo.1 and one page per subcommand here instead
        #[arg(value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// The command tree as shown and parsed. Global options are described
/// once, in `todo --help`; each subcommand's help ends with one line naming
/// them (as gh shows "inherited flags") instead of repeating their help.
/// They still work after any subcommand. Completion uses the plain tree, so
/// that `todo task list --js<TAB>` still completes.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let root = Cli::command();
    let globals: Vec<clap::Arg> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let names: Vec<String> = globals
        .iter()
        .filter_map(|a| {
            let long = format!("--{}", a.get_long()?);
            Some(match a.get_short() {
                Some(short) => format!("-{short}/{long}"),
                None => long,
            })
        })
        .collect();
    let footer = format!("Global options: {} (see todo --help)", names.join(", "));
    root.mut_subcommands(|sub| inherit(sub, &globals, &footer))
}

/// Parses the command line. The plain tree parses exactly like
/// [`command`]'s and is quicker to build (0.3 ms), so [`command`] is built
/// only when clap answers with help, to show that help.
///
/// The tree and the matches are left to the process exit instead of being
/// dropped: freeing hundreds of small allocations was a tenth of the
/// instructions of a `task done` (measured), and nothing is reused.
///
/// `default_user` (the config file's `user`) is the default of every
/// `--user` that `$TODO_USER` sets, below it: given to clap, never written
/// into the process environment (which the editor, the pager and `pg_ctl`
/// inherit).
pub fn parse(args: &[std::ffi::OsString], default_user: Option<&str>) -> Result<Cli, clap::Error> {
    use clap::error::ErrorKind;
    use clap::{CommandFactory, FromArgMatches};
    let args = &json_fields_attached(args);
    // One per invocation, for clap's 'static defaults.
    let default_user: Option<&'static str> =
        default_user.map(|u| &*Box::leak(u.to_string().into_boxed_str()));
    let parse = |tree: clap::Command| {
        let mut tree = match default_user {
            Some(user) => with_default_user(tree, user),
            None => tree,
        };
        let parsed = tree.try_get_matches_from_mut(args).and_then(|matches| {
            let cli = Cli::from_arg_matches(&matches).map(|mut cli| {
                cli.path = matched_path(&matches);
                cli
            });
            std::mem::forget(matches);
            cli
        });
        std::mem::forget(tree);
        parsed
    };
    match parse(Cli::command()) {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            parse(command())
        }
        parsed => parsed,
    }
}

/// `tree` with `user` as the default of each `--user` read from
/// `$TODO_USER`.
fn with_default_user(tree: clap::Command, user: &'static str) -> clap::Command {
    let scoped = tree
        .get_arguments()
        .any(|a| a.get_id() == "user" && a.get_env() == Some(std::ffi::OsStr::new("TODO_USER")));
    let tree = if scoped {
        // Not required any more: clap's check of required arguments does
        // not count a default.
        tree.mut_arg("user", |a| a.required(false).default_value(user))
    } else {
        tree
    };
    tree.mut_subcommands(|sub| with_default_user(sub, user))
}

/// Whether an environment variable's value means "on" as clap's
/// `FalseyValueParser` reads it (`TODO_LOCAL`): anything but empty, `0`,
/// `n`, `no`, `f`, `false` and `off` (any letter case).
pub fn env_is_on(value: &std::ffi::OsStr) -> bool {
    let value = value.to_string_lossy().to_ascii_lowercase();
    !["", "0", "n", "no", "f", "false", "off"].contains(&value.trim())
}

/// `--json FIELDS` as `--json=FIELDS` when the word after `--json` is a
/// field list rather than the command's next argument (see
/// [`crate::output::shape::looks_like_fields`]); clap takes a value of
/// `--json` only after `=`, so that `--json` alone stays a flag. A word
/// where a command word is expected is the command (`todo --json user
/// export bob`, SPEC §5's `--json` before the command), even when it is
/// also a field's name: the fields then need `--json=FIELDS`.
fn json_fields_attached(args: &[std::ffi::OsString]) -> Vec<std::ffi::OsString> {
    // The command's own fields when its words come first, else any
    // command's (asked only when `--json` is followed by a word).
    let known = std::cell::OnceCell::new();
    let fields = || -> &Vec<&'static str> {
        known.get_or_init(|| {
            let path = command_path(args);
            let path = path.strip_prefix("todo ").unwrap_or_default();
            crate::output::fields::of(path)
                .map(|f| f.to_vec())
                .unwrap_or_else(crate::output::fields::all)
        })
    };
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(iter.cloned());
            break;
        }
        let next = iter.peek().and_then(|n| n.to_str());
        match next {
            Some(list)
                if arg == "--json"
                    && crate::output::shape::looks_like_fields(list, fields())
                    && !usage::is_command_word(&out, list) =>
            {
                out.push(format!("--json={list}").into());
                iter.next();
            }
            _ => out.push(arg.clone()),
        }
    }
    out
}

/// `task list` for `todo task list …`: the subcommand names matched.
fn matched_path(matches: &clap::ArgMatches) -> String {
    let mut path = Vec::new();
    let mut at = matches;
    while let Some((name, sub)) = at.subcommand() {
        path.push(name);
        at = sub;
    }
    path.join(" ")
}

/// Adds the global options to `cmd` and its subcommands, hidden (clap
/// then does not copy the shown ones), and the footer naming them.
fn inherit(mut cmd: clap::Command, globals: &[clap::Arg], footer: &str) -> clap::Command {
    for arg in globals {
        cmd = cmd.arg(arg.clone().hide(true));
    }
    let after = match cmd.get_after_help() {
        Some(help) => format!("{help}\n\n{footer}"),
        None => footer.to_string(),
    };
    cmd.after_help(after)
        .mut_subcommands(|sub| inherit(sub, globals, footer))
}

impl Global {
    /// Whether errors should be printed as JSON.
    /// (`--jq` alone keeps errors in words: its output is for the eye
    /// or the next program, its errors for the person.)
    pub fn json(&self) -> bool {
        self.json.is_some() || self.format == Some(FormatArg::Json)
    }

    /// The output settings these flags ask for.
    pub fn output(&self) -> crate::output::Output {
        let format = if self.json.is_some() || self.jq.is_some() {
            Some(Format::Json)
        } else {
            self.format.map(Format::from)
        };
        // --color, else the config file's color, else auto.
        let color = match self.color {
            Some(c) => c.into(),
            None => match crate::config::current().color.as_deref() {
                Some("always") => Color::Always,
                Some("never") => Color::Never,
                _ => Color::Auto,
            },
        };
        crate::output::Output::new(format, self.quiet, color)
    }
}

/// Looks for `--json` or `--format json` in raw arguments, to print a clap
/// error as JSON when parsing itself failed.
pub fn wants_json(args: &[std::ffi::OsString]) -> bool {
    let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    args.iter().enumerate().any(|(i, a)| {
        *a == "--json"
            || a.starts_with("--json=")
            || *a == "--format=json"
            || (*a == "--format" && args.get(i + 1) == Some(&"json"))
    })
}

/// Whether `name` is a top-level command or one of its aliases (an alias
/// of the config file never shadows one).
pub fn is_command(name: &str) -> bool {
    // `help` is clap's own subcommand (`todo help task`), not in the tree.
    name == "help"
        || command()
            .get_subcommands()
            .any(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name))
}
