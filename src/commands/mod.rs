//! Commands: each takes parsed arguments, validates them, calls the data
//! layer, maps its errors to the tool's (`errors`) and hands a typed result
//! to `output` through [`Context::emit`]. This layer decides policy (where to
//! connect, prompts, notices on stderr); nothing below it prints.

pub mod admin;
pub mod complete;
pub mod config;
pub mod connect;
pub mod errors;
pub mod man;
pub mod replica;
pub mod scope;
pub mod task;
pub mod user;
pub mod watchdog;

use std::cell::OnceCell;
use std::io::{BufRead, IsTerminal, Write};

use crate::cli::{Cli, Command, Global};
use crate::db::{Conn, Pool};
use crate::error::{Error, Result};
use crate::output::Output;
use connect::ConnectOptions;

/// What every command gets: the global flags and the output settings.
pub struct Context {
    pub global: Global,
    pub out: Output,
    pool: OnceCell<Pool>,
    /// The read replica's pool, when a read-only command opened it.
    read_pool: OnceCell<Pool>,
}

impl Context {
    pub fn connect_options(&self) -> ConnectOptions {
        let log: Option<crate::db::StatementLog> = if self.global.verbose {
            Some(std::sync::Arc::new(|line: &str| eprintln!("todo: {line}")))
        } else {
            None
        };
        ConnectOptions {
            database_url: self.global.database_url.clone(),
            local: self.global.local,
            connect_timeout: self.global.connect_timeout,
            interactive: connect::interactive(),
            log,
        }
    }

    /// `--lock-timeout`, else this command's default (seconds).
    pub fn lock_timeout(&self, default_secs: u64) -> std::time::Duration {
        std::time::Duration::from_secs(self.global.lock_timeout.unwrap_or(default_secs))
    }

    /// The command's pool of one connection, opened on first use.
    pub fn pool(&self) -> Result<&Pool> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let pool = connect::open(&self.connect_options(), 1, &mut |msg| {
            eprintln!("todo: {msg}");
        })?;
        Ok(self.pool.get_or_init(|| pool))
    }

    /// The connection of an admin command that may need a session of its
    /// own (SPEC §21): `--direct-url` / `$DATABASE_URL_UNPOOLED` when given
    /// (the same database without the pooler), else [`Context::conn`].
    pub fn session_conn(&self) -> Result<Conn> {
        if let (Some(url), None) = (&self.global.direct_url, self.pool.get()) {
            let mut opts = self.connect_options();
            opts.database_url = Some(url.clone());
            opts.local = false;
            let pool = connect::open(&opts, 1, &mut |msg| eprintln!("todo: {msg}"))?;
            let _ = self.pool.set(pool);
        }
        self.conn()
    }

    /// Asks before a destructive change, naming the database it would
    /// change as `user@host:port/db` (as `dropdb -i` names its database),
    /// so that a prompt on the wrong server is noticed.
    pub fn confirm(&self, question: &str, what: &str) -> Result<()> {
        let db = self.pool()?.url().display().to_string();
        confirm(&format!("{question} [database {db}]"), what)
    }

    /// The command's connection.
    pub fn conn(&self) -> Result<Conn> {
        Ok(self.pool()?.get()?)
    }

    /// The connection of a read-only command: the replica's when one is
    /// configured and has caught up (see [`replica`]), else the primary's.
    pub fn read_conn(&self) -> Result<Conn> {
        replica::read_conn(self)
    }

    /// Where results go: format, -q, notes and paging (see
    /// [`crate::output::Sink`]).
    pub fn sink(&self) -> crate::output::Sink {
        crate::output::Sink {
            out: self.out,
            no_pager: self.global.no_pager,
        }
    }

    /// Writes the command's result (see [`crate::output::Sink::emit`]).
    pub fn emit(&self, item: &dyn crate::output::Render) -> Result<()> {
        self.sink().emit(item)
    }

    /// A remark after a result (see [`crate::output::Sink::note`]).
    pub fn note(&self, text: &str) {
        self.sink().note(text)
    }

    /// Buffered stdout.
    pub fn stdout(&self) -> std::io::BufWriter<std::io::StdoutLock<'static>> {
        self.sink().stdout()
    }
}

/// Fails (exit 2, hint `--yes`) when a confirmation would be needed but
/// stdin is not a terminal. Called before any database work.
pub fn ensure_can_prompt(what: &str) -> Result<()> {
    if std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(Error::needs_yes(what))
    }
}

/// Runs a data-layer function, classifying its database errors.
pub fn query<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut crate::db::PgConn) -> diesel::QueryResult<T>,
) -> Result<T> {
    f(conn).map_err(|e| errors::classify(conn, e))
}

/// Runs `f` in one transaction whose lock waits last at most the lock
/// budget, tried again until `--lock-timeout` (default 10 s) has passed
/// (SPEC §21, [`crate::db::brief`]): for admin statements that take a
/// strong lock on `users` or `tasks` briefly. Gives up with exit 5 naming
/// the session that held a lock on them.
pub fn brief<T>(
    ctx: &Context,
    conn: &mut Conn,
    f: impl FnMut(&mut crate::db::PgConn) -> diesel::QueryResult<T>,
) -> Result<T> {
    use crate::db::brief::{self, LockWait};
    brief::retry(conn, brief::BUDGET, ctx.lock_timeout(10), f).map_err(|(e, tries)| {
        if e.is_lock_timeout() {
            let holder = brief::holder(conn, &["users", "tasks"]).ok().flatten();
            errors::lock_busy(holder.map(Box::new), Some(tries))
        } else {
            errors::classify(conn, e)
        }
    })
}

/// Asks a yes/no question on the terminal. Without a terminal on stdin,
/// fails with a hint to pass `--yes` (exit 2).
pub fn confirm(question: &str, what: &str) -> Result<()> {
    ensure_can_prompt(what)?;
    eprint!("{} [y/N] ", crate::text::terminal_safe(question, false));
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
    let mut out = cli.global.output();
    out.shape = shape(&cli)?;
    let ctx = Context {
        out,
        global: cli.global,
        pool: OnceCell::new(),
        read_pool: OnceCell::new(),
    };
    // Checked before any work: the other commands have no metrics to show.
    let has_metrics = matches!(
        cli.command,
        Command::Db(admin::DbCommand::Health | admin::DbCommand::Stats)
    );
    if ctx.out.format == crate::output::Format::Prometheus && !has_metrics {
        return Err(crate::output::prometheus_unsupported());
    }
    let result = dispatch(&ctx, cli.command).map_err(|err| filter_failed(err, &cli.path));
    // Also after a failure: a write that committed is remembered.
    replica::remember_write(&ctx);
    result
}

/// Commands that change nothing: a `--jq` filter that fails on their
/// output is bad input (exit 2), as it always was. After any other command
/// the work is done when the filter runs, so the failure says so (exit 9,
/// kind `output_filter`): a script must not retry the command.
const READS_ONLY: &[&str] = &[
    "user list",
    "user show",
    "user export",
    "task list",
    "task show",
    "task stats",
    "task export",
    "db status",
    "db health",
    "db stats",
    "db wait",
    "db verify",
    "db rls status",
    "db roles status",
    "db local status",
    "config list",
];

/// A `--jq` failure after `path` ran (see [`READS_ONLY`]).
fn filter_failed(err: Error, path: &str) -> Error {
    if err.kind != crate::error::Kind::OutputFilter {
        return err;
    }
    if READS_ONLY.contains(&path) {
        return Error {
            kind: crate::error::Kind::Usage,
            ..err
        };
    }
    Error {
        message: format!("todo {path} completed, then {}", err.message),
        hint: Some("its changes are made: do not run it again; fix the filter".to_string()),
        ..err
    }
}

/// `--json FIELDS` and `--jq`, checked before any work (exit 2): the
/// fields against those the command prints, the filter by parsing it.
fn shape(cli: &Cli) -> Result<Option<&'static crate::output::shape::Shape>> {
    let g = &cli.global;
    if g.json.is_none() && g.jq.is_none() {
        return Ok(None);
    }
    if g.quiet {
        return Err(
            Error::usage("-q prints ids only: it cannot be used with --jq or --json")
                .with_hint("leave out -q, or --json"),
        );
    }
    if let Some(format) = g.format.filter(|f| *f != crate::cli::FormatArg::Json) {
        return Err(Error::usage(format!(
            "--json and --jq print JSON: they cannot be used with --format {}",
            clap::ValueEnum::to_possible_value(&format)
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        )));
    }
    let available = crate::output::fields::of(&cli.path);
    if g.jq.is_some() && available.is_none() {
        // A filter that would never run is refused, not ignored.
        return Err(Error::usage(format!(
            "todo {} prints no JSON for --jq to filter",
            cli.path
        ))
        .with_hint("--jq is for commands that print JSON (see todo COMMAND --help)"));
    }
    let shape =
        crate::output::shape::Shape::new(g.json.as_deref(), available, &cli.path, g.jq.as_deref())?;
    // One per invocation, for the process's life.
    Ok(shape.map(|s| &*Box::leak(Box::new(s))))
}

fn dispatch(ctx: &Context, command: Command) -> Result<()> {
    match command {
        Command::User(cmd) => {
            let _watch = watchdog::start(ctx.connect_options(), ctx.lock_timeout(5));
            user::run(ctx, cmd)
        }
        Command::Task(cmd) => {
            let _watch = watchdog::start(ctx.connect_options(), ctx.lock_timeout(5));
            task::run(ctx, cmd)
        }
        Command::Db(cmd) => admin::run(ctx, cmd),
        Command::Completions { shell } => {
            // The registration script of dynamic completion: the shell
            // calls `todo` back (TODO_COMPLETE=SHELL) for candidates.
            let mut script = Vec::new();
            registration(shell, &mut script)?;
            let mut out = ctx.stdout();
            out.write_all(&script)?;
            out.flush()?;
            Ok(())
        }
        Command::Man { dir } => man::man(ctx, dir),
        Command::Config(cmd) => config::run(ctx, cmd),
    }
}

/// The script that registers dynamic completion for `shell`.
fn registration(shell: clap_complete::Shell, out: &mut Vec<u8>) -> Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| Error::usage(format!("no dynamic completion for {name}")))?;
    // The shell calls `todo` from PATH back for candidates.
    completer.write_registration(COMPLETE_VAR, "todo", "todo", "todo", out)?;
    Ok(())
}

/// The environment variable through which a shell asks for candidates.
pub const COMPLETE_VAR: &str = "TODO_COMPLETE";
