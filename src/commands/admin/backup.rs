//! `db backup`, `db restore` and `db verify` (SPEC §11).

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::backup_file::{self, FormatError, Header, Reader};
use crate::commands::{connect, ensure_can_prompt, errors, Context};
use crate::db::backup::{self as data, Counts, RestoreError};
use crate::db::{conformance, migrate, pool, scratch};
use crate::error::{Error, Kind, Result};
use crate::local::Cluster;
use crate::outfile::{self, OutFile};
use crate::output::backup::{BackedUp, Restored, Verified};
use crate::url::DbUrl;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write: a file, or - for stdout [default:
    /// todo-backup-YYYYMMDDTHHMMSSZ.todo in the current directory]
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Then check the file with `db verify` (restored into a throwaway
    /// database on the embedded local server)
    #[arg(long)]
    pub verify: bool,
    /// Replace FILE if it exists (a backup never overwrites one otherwise)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `todo db backup`
    pub file: PathBuf,
    /// Delete the users and tasks the database holds first (in the same
    /// transaction); asks on a terminal, needs --yes otherwise
    #[arg(long)]
    pub replace: bool,
    /// Do not ask for confirmation (with --replace)
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A file written by `todo db backup`
    pub file: PathBuf,
}

/// A writer that counts and hashes what passes through (the file's bytes).
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn spinner(ctx: &Context, what: &'static str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() || ctx.out.quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Some(style) =
        crate::output::progress::style(&format!("{{spinner}} {what} {{human_pos}} rows  {{rate}}"))
    {
        bar.set_style(style);
    }
    bar
}

/// A backup's failure as the user sees it: row-level security hiding rows
/// is exit 2 with what to connect as (SPEC §17).
fn backup_error(conn: &mut crate::db::PgConn, e: data::BackupError) -> Error {
    match e {
        data::BackupError::RowSecurity(tables) => errors::row_security("back up", &tables),
        data::BackupError::Db(e) => errors::classify(conn, e),
    }
}

pub fn backup(ctx: &Context, args: BackupArgs) -> Result<()> {
    let started = Instant::now();
    let now = chrono::Utc::now();
    let taken_at = now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let path = args.output.unwrap_or_else(|| {
        PathBuf::from(format!("todo-backup-{}.todo", now.format("%Y%m%dT%H%M%SZ")))
    });
    let to_stdout = outfile::is_stdout(&path);
    let mut out = OutFile::create(&path, args.force, &mut |m| eprintln!("todo: {m}"))?;
    let bar = spinner(ctx, "backing up");
    let progress = |rows: u64| bar.set_position(rows);
    let mut conn = ctx.read_conn()?;
    let mut write = |out: &mut dyn Write| -> Result<Counts> {
        data::backup(
            &mut conn,
            out,
            env!("CARGO_PKG_VERSION"),
            &taken_at,
            &progress,
        )
        .map_err(|e| backup_error(&mut conn, e))
    };
    let written = compressed(
        std::io::BufWriter::with_capacity(1 << 20, &mut out),
        &mut write,
    )
    .and_then(|(counts, hashing)| {
        let sha256 = backup_file::hex(&hashing.hasher.clone().finalize());
        let bytes = hashing.bytes;
        hashing
            .inner
            .into_inner()
            .map_err(|e| Error::unexpected(e.into_error().to_string()))?;
        Ok((counts, bytes, sha256))
    });
    let (counts, bytes, sha256) = written.map_err(|e| out.error_or(e))?;
    out.commit()?;
    bar.finish_and_clear();
    let verified = if args.verify && !to_stdout {
        if let Err(why) = verify_file(&path)? {
            return Err(mismatch(&path, why));
        }
        Some(true)
    } else {
        None
    };
    let report = BackedUp {
        file: path.display().to_string(),
        users: counts.users,
        tasks: counts.tasks,
        bytes,
        sha256,
        elapsed_ms: started.elapsed().as_millis() as u64,
        verified,
    };
    if to_stdout {
        // stdout is the backup: nothing may follow it there.
        return crate::output::emit(&mut std::io::stderr().lock(), ctx.out, &report);
    }
    ctx.emit(&report)
}

/// A backup file being read.
type FileReader = Reader<BufReader<MultiGzDecoder<BufReader<File>>>>;

/// Runs `write` into a gzip stream over `inner`, counting and hashing the
/// compressed bytes; returns the counts and the finished writer.
fn compressed<W: Write>(
    inner: W,
    write: &mut dyn FnMut(&mut dyn Write) -> Result<Counts>,
) -> Result<(Counts, Hashing<W>)> {
    let out = Hashing {
        inner,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut gz = GzEncoder::new(out, flate2::Compression::fast());
    let counts = write(&mut gz)?;
    let mut out = gz.finish()?;
    out.flush()?;
    Ok((counts, out))
}

/// Opens a backup and reads its header (exit 2 naming the problem); a
/// backup from a newer schema is exit 6.
fn open(path: &Path) -> Result<(FileReader, Header)> {
    let file = File::open(path)
        .map_err(|e| Error::usage(format!("cannot open {}: {e}", path.display())))?;
    // A backup is one gzip member followed by nothing (SPEC §17). Reading
    // on across members makes anything after the first one visible to the
    // trailer check, which refuses it: a second member's data, or junk
    // that is not gzip at all.
    let mut reader = Reader::new(BufReader::with_capacity(
        1 << 20,
        MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file)),
    ));
    let header = reader.header().map_err(|e| file_error(path, e))?;
    let known = migrate::known();
    let newer: Vec<&String> = header
        .migrations
        .iter()
        .filter(|v| !known.iter().any(|k| &k.version == *v))
        .collect();
    if !newer.is_empty() {
        return Err(Error::not_ready(format!(
            "{} comes from a newer schema than this todo knows (migration {})",
            path.display(),
            newer
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("restore it with a newer todo"));
    }
    Ok((reader, header))
}

fn file_error(path: &Path, e: FormatError) -> Error {
    Error::usage(format!("{}: {e}", path.display()))
}

/// Migrates an empty database; a database with pending migrations is not
/// ready for a restore.
fn ensure_migrated(conn: &mut crate::db::PgConn) -> Result<()> {
    let state = migrate::state(conn).map_err(|e| errors::classify(conn, e))?;
    if state.applied().is_empty() && !state.has_tables {
        migrate::run(conn, Duration::from_secs(10))
            .map_err(|e| Error::unexpected(format!("cannot migrate the database: {e}")))?;
        return Ok(());
    }
    if state.unmanaged() || !state.pending().is_empty() {
        return Err(Error::not_ready("the database is not fully migrated")
            .with_hint("run todo db migrate (or todo db migrate --baseline) first"));
    }
    Ok(())
}

fn restore_error(path: &Path, conn: &mut crate::db::PgConn, e: RestoreError) -> Error {
    match e {
        RestoreError::File(e) => file_error(path, e),
        RestoreError::NotEmpty => Error::conflict("the database already holds users or tasks")
            .with_hint(
                "pass --replace to delete them in the same transaction (with --yes in scripts)",
            ),
        RestoreError::Db(e) => errors::classify(conn, e),
    }
}

pub fn restore(ctx: &Context, args: RestoreArgs) -> Result<()> {
    let started = Instant::now();
    let (mut reader, _header) = open(&args.file)?;
    if args.replace && !args.yes {
        ensure_can_prompt("db restore --replace")?;
    }
    let mut conn = ctx.conn()?;
    ensure_migrated(&mut conn)?;
    if args.replace && !args.yes {
        let c = data::count_rows(&mut conn).map_err(|e| errors::classify(&mut conn, e))?;
        if c.users + c.tasks > 0 {
            ctx.confirm(
                &format!(
                    "Replace the {} users and {} tasks in the database with the backup?",
                    c.users, c.tasks
                ),
                "db restore --replace",
            )?;
        }
    }
    let bar = spinner(ctx, "restoring");
    let restored = data::restore(
        &mut conn,
        &mut reader,
        args.replace,
        false,
        ctx.lock_timeout(10),
        &|rows| bar.set_position(rows),
    );
    bar.finish_and_clear();
    let (counts, _) = restored.map_err(|e| restore_error(&args.file, &mut conn, e))?;
    ctx.emit(&Restored {
        users: counts.users,
        tasks: counts.tasks,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

pub fn verify(ctx: &Context, args: VerifyArgs) -> Result<()> {
    let checked = verify_file(&args.file)?;
    let (users, tasks) = match &checked {
        Ok(counts) => (counts.users, counts.tasks),
        Err(_) => (0, 0),
    };
    ctx.emit(&Verified {
        file: args.file.display().to_string(),
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
fn verify_file(path: &Path) -> Result<std::result::Result<Counts, String>> {
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
        let (counts, placeholders) = match data::restore(
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
fn mismatch(path: &Path, why: String) -> Error {
    Error::new(
        Kind::VerifyFailed,
        format!("{} does not verify: {why}", path.display()),
    )
}
