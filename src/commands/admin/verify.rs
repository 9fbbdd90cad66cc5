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
    let checked = verify_file(&args.file)?;
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

/// Restores `path` into a throwaway database on the embedded local server
/// and checks it: `Err` when unreadable (exit 2), `Ok(Err(why))` when the
/// rows or the schema are not what the manifest says (exit 7). The
/// configured database is never touched.
pub(super) fn verify_file(path: &Path) -> Result<std::result::Result<Counts, String>> {
    let (mut reader, header) = open(path)?;
    let cluster = Cluster::new(Cluster::default_home()?);
    connect::start_local(&cluster, &mut |msg| eprintln!("todo: {msg}"))?;
    let admin_url = DbUrl::parse(
        &cluster.url("postgres"),
        None,
        connect::DEFAULT_CONNECT_TIMEOUT,
    )?;
    let mut admin = pool::establish(&admin_url, None)?;
    let throwaway = scratch::create(&mut admin, std::process::id())
        .map_err(|e| Error::unexpected(format!("cannot create a database to verify in: {e}")))?;
    let url = DbUrl::parse(
        &cluster.url(throwaway.name()),
        None,
        connect::DEFAULT_CONNECT_TIMEOUT,
    )?;
    let result = (|| -> Result<std::result::Result<Counts, String>> {
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
            Err(RestoreError::File(e)) if e.mismatch => return Ok(Err(e.message)),
            Err(e) => return Err(restore_error(path, &mut conn, e)),
        };
        let diffs = conformance::base_schema_differences(&mut conn)
            .map_err(|e| errors::classify(&mut conn, e))?;
        if !diffs.is_empty() {
            return Ok(Err(format!("schema: {}", diffs.join("; "))));
        }
        let mut stored = data::count_rows(&mut conn).map_err(|e| errors::classify(&mut conn, e))?;
        stored.users -= placeholders.min(stored.users);
        if stored != counts {
            return Ok(Err("row counts differ after the restore".into()));
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
