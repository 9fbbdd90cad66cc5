//! `db backup`, `db restore` and `db verify` (SPEC §11).

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use sha2::{Digest, Sha256};

use crate::backup_file::gzip::OneMember;
use crate::backup_file::{self, FormatError, Header, Reader};
use crate::commands::{ensure_can_prompt, errors, Context};
use crate::db::backup::{self as data, Counts, RestoreError};
use crate::db::migrate;
use crate::error::{Error, Result};
use crate::outfile::{self, OutFile};
use crate::output::backup::{BackedUp, Restored};

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
    /// Replace FILE if it exists (a backup never overwrites one otherwise);
    /// with -o -, write to stdout even when it is a terminal
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `todo db backup` (or a purge archive with
    /// --append); `-` reads standard input
    pub file: PathBuf,
    /// Delete the users and tasks the database holds first (in the same
    /// transaction); asks on a terminal, needs --yes otherwise
    #[arg(long, conflicts_with = "append")]
    pub replace: bool,
    /// Add the file's rows to those the database holds, keeping their ids
    /// (a purge archive brings purged tasks back); any id or email already
    /// present, or a task whose user is missing, is a conflict (exit 4) and
    /// nothing is added
    #[arg(long)]
    pub append: bool,
    /// Do not ask for confirmation (with --replace)
    #[arg(long, short)]
    pub yes: bool,
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
    if to_stdout && std::io::stdout().is_terminal() && !args.force {
        // As gzip: compressed bytes on a screen are garbage (and may leave
        // the terminal in a strange state); the redirect was forgotten.
        return Err(Error::usage(
            "a backup is compressed binary data: it is not written to a terminal",
        )
        .with_hint("redirect it (todo db backup -o - > FILE), or name a file with -o FILE (--force writes it to the terminal anyway)"));
    }
    if args.verify && outfile::is_stream(&path) {
        // Verifying reads the file back: a stream cannot be, and reading a
        // FIFO again would wait for a writer that never comes.
        return Err(Error::usage(format!(
            "--verify reads the backup back from its file, which {} is not",
            if to_stdout { "stdout" } else { "a FIFO or device" }
        ))
        .with_hint("write a file (--verify -o FILE), or verify the stream: todo db backup -o - | tee FILE | todo db verify -"));
    }
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
    let verified = if args.verify {
        // A file shown to be bad is removed: it would only be found, and
        // trusted, when it is needed. One that could not be checked (the
        // local server did not start) stays, and the command fails.
        let bad = match super::verify::verify_file(&path)? {
            Ok(_) => None,
            Err(super::verify::Bad::Mismatch(why)) => Some(super::verify::mismatch(&path, why)),
            Err(super::verify::Bad::Unreadable(err)) => Some(err),
        };
        if let Some(err) = bad {
            let removed = std::fs::remove_file(&path);
            return Err(Error {
                message: format!(
                    "{}; {}",
                    err.message,
                    match removed {
                        Ok(()) => "the file was removed".to_string(),
                        Err(e) => format!("it could not be removed: {e}"),
                    }
                ),
                ..err
            });
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
type FileReader = Reader<BufReader<OneMember<BufReader<File>>>>;

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
    let mut gz = crate::backup_file::gzip::Writer::new(out)?;
    let counts = write(&mut gz)?;
    let mut out = gz.finish()?;
    out.flush()?;
    Ok((counts, out))
}

/// Opens a backup and reads its header (exit 2 naming the problem); a
/// backup from a newer schema is exit 6.
pub(super) fn open(path: &Path) -> Result<(FileReader, Header)> {
    let file = crate::infile::open_or_stdin(path)?;
    // A backup is one gzip member followed by nothing (SPEC §17): the
    // trailer check reads on after the trailer, and OneMember refuses any
    // byte left in the file after the member.
    let mut reader = Reader::new(BufReader::with_capacity(
        1 << 20,
        OneMember::new(BufReader::with_capacity(1 << 20, file)),
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
            crate::infile::shown(path),
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

pub(super) fn file_error(path: &Path, e: FormatError) -> Error {
    Error::usage(format!("{}: {e}", crate::infile::shown(path)))
}

/// Migrates an empty database; a database with pending migrations is not
/// ready for a restore.
pub(super) fn ensure_migrated(conn: &mut crate::db::PgConn) -> Result<()> {
    let state = migrate::state(conn).map_err(|e| errors::classify(conn, e))?;
    if state.applied().is_empty() && !state.has_tables {
        migrate::run(
            conn,
            migrate::Limits::new(Duration::from_secs(10)),
            &mut |_| {},
        )
        .map_err(|e| Error::unexpected(format!("cannot migrate the database: {e}")))?;
        return Ok(());
    }
    if state.unmanaged() || !state.pending().is_empty() {
        return Err(Error::not_ready("the database is not fully migrated")
            .with_hint("run todo db migrate (or todo db migrate --baseline) first"));
    }
    Ok(())
}

pub(super) fn restore_error(path: &Path, conn: &mut crate::db::PgConn, e: RestoreError) -> Error {
    match e {
        RestoreError::File(e) => file_error(path, e),
        RestoreError::NotEmpty => Error::conflict("the database already holds users or tasks")
            .with_hint(
                "pass --replace to delete them in the same transaction (with --yes in scripts)",
            ),
        RestoreError::Conflicts(c) => conflicts(&c),
        RestoreError::Referenced(tables) => referenced(&tables),
        RestoreError::Db(e) => errors::classify(conn, e),
    }
}

/// `--replace` refused: other tables' rows reference the users and tasks
/// it would delete (SPEC §22, exit 4), each table with its count.
pub(super) fn referenced(tables: &[crate::db::references::Referencing]) -> Error {
    let list: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "{} ({})",
                t.table,
                crate::text::count(t.rows, "row", "rows")
            )
        })
        .collect();
    Error::conflict(format!(
        "db restore --replace deletes every user and task, and rows of other tables reference \
         them: {}; nothing was changed",
        list.join(", ")
    ))
    .with_hint(
        "those rows belong to other programs (the auth service's sessions and accounts, the \
         backend's tables): add the backup's rows with --append instead, or restore into an \
         empty database",
    )
}

/// `--append` refused: each kind of clash with its count and first few.
fn conflicts(c: &crate::db::append::Conflicts) -> Error {
    let mut parts = Vec::new();
    if c.users > 0 {
        parts.push(format!(
            "{} already in the database ({})",
            crate::text::count(c.users, "user is", "users are"),
            c.users_first
        ));
    }
    if c.tasks > 0 {
        parts.push(format!(
            "{} already in the database (ids {})",
            crate::text::count(c.tasks, "task is", "tasks are"),
            c.tasks_first
        ));
    }
    if c.missing_users > 0 {
        parts.push(format!(
            "tasks name {} neither the database nor the file holds ({})",
            crate::text::count(c.missing_users, "user", "users"),
            c.missing_first
        ));
    }
    Error::conflict(format!("cannot append: {}; nothing was added", parts.join("; ")))
        .with_hint("append only rows the database does not hold (a purge archive of this database, or a backup of another)")
}

pub fn restore(ctx: &Context, args: RestoreArgs) -> Result<()> {
    let mut started = Instant::now();
    let (mut reader, _header) = open(&args.file)?;
    if args.replace && !args.yes {
        ensure_can_prompt("db restore --replace")?;
    }
    let mut conn = ctx.conn()?;
    ensure_migrated(&mut conn)?;
    if args.replace && !args.yes {
        let c = data::count_rows(&mut conn).map_err(|e| errors::classify(&mut conn, e))?;
        // Refused before asking (the restore checks again in its
        // transaction): other tables' rows reference what it would delete.
        let referencing = crate::db::references::referencing(&mut conn)
            .map_err(|e| errors::classify(&mut conn, e))?;
        if c.users + c.tasks > 0 && !referencing.is_empty() {
            return Err(referenced(&referencing));
        }
        if c.users + c.tasks > 0 {
            // The time reported is the restore's, not the user's at the
            // prompt.
            let asked = Instant::now();
            let answered = ctx.confirm(
                &format!(
                    "Replace the {} and {} in the database with the backup? This is an offline \
                     operation: the application's reads and writes of users and tasks wait until \
                     it ends.",
                    crate::text::count(c.users as i64, "user", "users"),
                    crate::text::count(c.tasks as i64, "task", "tasks")
                ),
                "db restore --replace",
            );
            started += asked.elapsed();
            answered?;
        }
    }
    let bar = spinner(
        ctx,
        if args.append {
            "appending"
        } else {
            "restoring"
        },
    );
    let progress = |rows| bar.set_position(rows);
    // `indexes_kept`: the restore wanted to drop and rebuild them and could
    // not; an append never drops them (it adds to rows in place).
    let restored = if args.append {
        crate::db::append::append(&mut conn, &mut reader, ctx.lock_timeout(10), &progress)
            .map(|counts| (counts, false))
    } else {
        data::restore(
            &mut conn,
            &mut reader,
            args.replace,
            false,
            ctx.lock_timeout(10),
            &progress,
        )
        .map(|loaded| (loaded.counts, loaded.indexes_kept))
    };
    bar.finish_and_clear();
    let (counts, indexes_kept) = restored.map_err(|e| restore_error(&args.file, &mut conn, e))?;
    ctx.emit(&Restored {
        users: counts.users,
        tasks: counts.tasks,
        elapsed_ms: started.elapsed().as_millis() as u64,
        indexes_kept,
    })
}
