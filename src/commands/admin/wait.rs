//! `db wait [--timeout SECS] [--migrated]` (SPEC §12): for CI job ordering.

use std::time::{Duration, Instant};

use clap::Args;

use crate::commands::connect::{self, Target};
use crate::commands::{errors, Context};
use crate::db::{migrate, pool};
use crate::error::{Error, Kind, Result};
use crate::output::ops::Ready;
use crate::url::DbUrl;

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Give up after SECS seconds (exit 5, or 6 with --migrated)
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Also wait until no migration is pending
    #[arg(long)]
    pub migrated: bool,
}

/// How often a new attempt is made.
const POLL: Duration = Duration::from_millis(250);

/// Connects again and again until the server answers (and, with
/// `--migrated`, has no pending migration) or the time is up. Each attempt
/// is one connection with a connect timeout of at most the time left (but
/// libpq's reliable minimum of 2 s); the last one starts at the deadline.
pub fn wait(ctx: &Context, args: WaitArgs) -> Result<()> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
    let opts = ctx.connect_options();
    let url = match connect::resolve(&opts, &mut |msg| eprintln!("todo: {msg}"))? {
        Target::Url(url) => url,
        Target::Local(cluster, url) => {
            connect::start_local(&cluster, &mut |msg| eprintln!("todo: {msg}"))?;
            url
        }
    };
    let mut last: Error;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match attempt(&url, left, args.migrated) {
            Ok(()) => {
                return ctx.emit(&Ready {
                    elapsed_ms: started.elapsed().as_millis() as u64,
                })
            }
            Err(e) if e.kind == Kind::Unavailable || e.kind == Kind::NotReady => last = e,
            Err(e) => return Err(e),
        }
        // The last attempt starts at the deadline, not up to a poll
        // before it: "gave up after N s" is then true.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(POLL.min(left));
    }
    Err(Error {
        message: format!("gave up after {} s: {}", args.timeout, last.message),
        ..last
    })
}

fn attempt(url: &DbUrl, left: Duration, migrated: bool) -> Result<()> {
    // libpq's connect_timeout is whole seconds, at least 2 to be reliable.
    let secs = left.as_secs().clamp(2, 10);
    let url = DbUrl::parse(url.libpq(), Some(secs), secs)?;
    let mut conn = pool::establish(&url, None)?;
    if migrated {
        let state = migrate::state(&mut conn).map_err(|e| errors::classify(&mut conn, e))?;
        let pending = state.pending();
        if !pending.is_empty() {
            return Err(Error::not_ready(format!(
                "{} pending",
                crate::text::count(pending.len() as i64, "migration", "migrations")
            ))
            .with_hint("apply them with: todo db migrate"));
        }
    }
    Ok(())
}
