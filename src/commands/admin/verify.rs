//! `db verify FILE`: a backup or purge archive restored into a throwaway
//! database on the embedded local server and checked (SPEC §11); also
//! `db backup --verify`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::backup::{ensure_migrated, open, restore_error};
use crate::commands::{connect, errors, Context};
use crate::db::backup::{self as data, Counts, RestoreError};
use crate::db::{conformance, pool, scratch};
use crate::error::{Error, Kind, Result};
use crate::local::Cluster;
use crate::output::backup::Verified;
use crate::url::DbUrl;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A file written by `todo db backup` or `db purge --archive`; `-`
    /// reads standard input
    pub file: PathBuf,
}

pub fn verify(ctx: &Context, args: VerifyArgs) -> Result<()> {
    let checked = match verify_file(&args.file)? {
        Ok(counts) => Ok(counts),
        Err(Bad::Mismatch(why)) => Err(why),
        Err(Bad::Unreadable(err)) => return Err(err),
    };
    let (users, tasks) = match &checked {
        Ok(counts) => (counts.users, counts.tasks),
        Err(_) => (0, 0),
    };
    ctx.emit(&Verified {
        file: crate::infile::shown(&args.file).into_owned(),
        users,
        tasks,
        ok: checked.is_ok(),
    })?;
    checked.map(|_| ()).map_err(|why| mismatch(&args.file, why))
}

/// What is wrong with a backup file that does not verify.
pub(super) enum Bad {
    /// The rows or the schema are not what the manifest says (exit 7).
    Mismatch(String),
    /// The file cannot be read as a backup: not one, damaged, cut short
    /// (exit 2).
    Unreadable(Error),
}

/// Restores `path` into a throwaway database on the embedded local server
/// and checks it: `Ok(Err(bad))` when the file is bad, `Err` when it could
/// not be checked (the local server cannot start, …). The configured
/// database is never touched.
pub(super) fn verify_file(path: &Path) -> Result<std::result::Result<Counts, Bad>> {
    let (mut reader, header) = match open(path) {
        Ok(opened) => opened,
        Err(err) if err.kind == Kind::Usage => return Ok(Err(Bad::Unreadable(err))),
        Err(err) => return Err(err),
    };
    let cluster = Cluster::new(Cluster::default_home()?);
    connect::start_local(&cluster, &mut |msg| eprintln!("todo: {msg}"))?;
    // The throwaway database is the tool's own: no `$PGOPTIONS` meant for
    // the user's server.
    let admin_url = DbUrl::parse(
        &cluster.own_url("postgres"),
        None,
        connect::DEFAULT_CONNECT_TIMEOUT,
    )?;
    let mut admin = pool::establish(&admin_url, None)?;
    let throwaway = scratch::create(&mut admin, std::process::id())
        .map_err(|e| Error::unexpected(format!("cannot create a database to verify in: {e}")))?;
    let url = DbUrl::parse(
        &cluster.own_url(throwaway.name()),
        None,
        connect::DEFAULT_CONNECT_TIMEOUT,
    )?;
    let result = (|| -> Result<std::result::Result<Counts, Bad>> {
        let mut conn = pool::establish(&url, None)?;
        ensure_migrated(&mut conn)?;
        // A purge archive's tasks reference users outside the file by
        // design: placeholders stand in for them (SPEC §19).
        let data::Loaded {
            counts,
            placeholders,
            ..
        } = match data::restore(
            &mut conn,
            &mut reader,
            false,
            header.is_archive(),
            Duration::from_secs(10),
            &|_| {},
        ) {
            Ok(restored) => restored,
            Err(RestoreError::File(e)) if e.mismatch => return Ok(Err(Bad::Mismatch(e.message))),
            Err(e @ RestoreError::File(_)) => {
                return Ok(Err(Bad::Unreadable(restore_error(path, &mut conn, e))))
            }
            Err(e) => return Err(restore_error(path, &mut conn, e)),
        };
        let diffs = conformance::base_schema_differences(&mut conn)
            .map_err(|e| errors::classify(&mut conn, e))?;
        if !diffs.is_empty() {
            return Ok(Err(Bad::Mismatch(format!("schema: {}", diffs.join("; ")))));
        }
        let mut stored = data::count_rows(&mut conn).map_err(|e| errors::classify(&mut conn, e))?;
        stored.users -= placeholders.min(stored.users);
        if stored != counts {
            return Ok(Err(Bad::Mismatch(
                "row counts differ after the restore".into(),
            )));
        }
        Ok(Ok(counts))
    })();
    // Best effort: a leftover is dropped by the next verification.
    let _ = scratch::drop(&mut admin, throwaway);
    result
}

/// The error when a backup does not match its manifest (exit 7).
pub(super) fn mismatch(path: &Path, why: String) -> Error {
    Error::new(
        Kind::VerifyFailed,
        format!("{} does not verify: {why}", crate::infile::shown(path)),
    )
}
