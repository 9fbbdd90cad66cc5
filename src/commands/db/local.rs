//! `db local status|start|stop|url`.

use std::io::Write;

use clap::Subcommand;
use serde_json::json;

use crate::cli::Format;
use crate::commands::Context;
use crate::db as database;
use crate::error::Result;
use crate::local::{self, Cluster};
use crate::output::{json_line, plain_line};

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
    let mut out = ctx.stdout();
    let message = match cmd {
        LocalCommand::Url => {
            writeln!(out, "{}", cluster.url(local::DATABASE))?;
            out.flush()?;
            return Ok(());
        }
        LocalCommand::Status => None,
        LocalCommand::Start => {
            database::start_local(&cluster, &mut |msg| eprintln!("todo: {msg}"))?;
            Some("running")
        }
        LocalCommand::Stop => Some(if cluster.stop()? {
            "stopped"
        } else {
            "not running"
        }),
    };
    let state = cluster.state()?;
    if ctx.out.quiet {
        return Ok(());
    }
    let home = cluster.home().display().to_string();
    let url = cluster.url(local::DATABASE);
    match ctx.out.format {
        Format::Json => json_line(
            &mut out,
            &json!({ "state": state.as_str(), "home": home, "url": url }),
        )?,
        Format::Plain => plain_line(&mut out, &[Some(state.as_str()), Some(&home), Some(&url)])?,
        Format::Table => match message {
            Some(msg) => writeln!(out, "Local database in {home}: {msg}")?,
            None => {
                writeln!(out, "state: {}", state.as_str())?;
                writeln!(out, "home:  {home}")?;
                writeln!(out, "url:   {url}")?;
            }
        },
    }
    out.flush()?;
    Ok(())
}
