//! `db local status|start|stop|url`.

use std::io::Write;

use clap::Subcommand;

use crate::commands::connect;
use crate::commands::Context;
use crate::error::Result;
use crate::local::{self, Cluster};
use crate::output::admin::LocalStatus;

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Show whether it exists and runs, where it lives, and its URL
    Status,
    /// Create (on first use) and start it
    Start,
    /// Stop it
    Stop,
    /// Print its connection URL (psql accepts it)
    Url,
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
        LocalCommand::Stop => Some(if cluster.stop()? {
            "stopped"
        } else {
            "not running"
        }),
    };
    ctx.emit(&LocalStatus {
        state: cluster.state()?.as_str(),
        home: cluster.home().display().to_string(),
        url: cluster.url(local::DATABASE),
        done,
    })
}
