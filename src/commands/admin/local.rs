//! `db local status|start|stop|url`.

use std::io::Write;

use clap::Subcommand;

use crate::commands::connect;
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::local::{self, Cluster};
use crate::output::admin::LocalStatus;

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Show whether it exists and runs, where it lives, and its URL
    ///
    /// Exits 3 when it is not running (as `pg_ctl status` does).
    Status,
    /// Create (on first use) and start it
    Start,
    /// Stop it
    Stop,
    /// Print its connection URL (psql accepts it)
    Url,
    /// Stop it and delete it with all its data (asks on a terminal, naming
    /// the directory; --yes otherwise)
    ///
    /// Example: todo db local destroy --yes
    #[command(verbatim_doc_comment)]
    Destroy(ConfirmArgs),
    /// Destroy it, then create it anew, empty and migrated
    ///
    /// Example: todo db local reset --yes && todo --local db seed
    #[command(verbatim_doc_comment)]
    Reset(ConfirmArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ConfirmArgs {
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
}

pub fn local(ctx: &Context, cmd: LocalCommand) -> Result<()> {
    let cluster = Cluster::new(Cluster::default_home()?);
    let done = match cmd {
        LocalCommand::Url => {
            let mut out = ctx.stdout();
            writeln!(out, "{}", cluster.url(local::DATABASE))?;
            out.flush()?;
            return Ok(());
        }
        LocalCommand::Status => None,
        LocalCommand::Start => {
            connect::start_local(&cluster, &mut |msg| eprintln!("todo: {msg}"))?;
            Some("running")
        }
        LocalCommand::Destroy(ref args) | LocalCommand::Reset(ref args) => {
            let reset = matches!(cmd, LocalCommand::Reset(_));
            let what = if reset {
                "db local reset"
            } else {
                "db local destroy"
            };
            if !args.yes {
                crate::commands::ensure_can_prompt(what)?;
                crate::commands::confirm(
                    &format!(
                        "Delete the local database in {} and all its data?",
                        cluster.home().display()
                    ),
                    what,
                )?;
            }
            cluster.destroy()?;
            if reset {
                connect::start_local(&cluster, &mut |msg| eprintln!("todo: {msg}"))?;
                Some("reset")
            } else {
                Some("destroyed")
            }
        }
        LocalCommand::Stop => Some(if cluster.stop()? {
            "stopped"
        } else {
            "not running"
        }),
    };
    let state = cluster.state()?;
    let server = cluster.server();
    ctx.emit(&LocalStatus {
        state: state.as_str(),
        home: cluster.home().display().to_string(),
        url: cluster.url(local::DATABASE),
        version: server.as_ref().map(|(version, _)| version.clone()),
        bindir: server.map(|(_, bindir)| bindir.display().to_string()),
        done,
    })?;
    // `status` answers in its exit code too, as `pg_ctl status` does: 3
    // when the server is not running.
    if matches!(cmd, LocalCommand::Status) && state != local::State::Running {
        return Err(
            Error::not_found(format!("the local database is {}", state.as_str()))
                .with_hint("start it with: todo db local start"),
        );
    }
    Ok(())
}
