//! Files the tool writes user data into (`db backup -o`, `db purge
//! --archive`), by the rules of SPEC §17:
//!
//! - created mode 0600 (they hold every user's data);
//! - an existing regular file is never replaced without `--force` (exit 4);
//! - a FIFO, a character or block device, or any other non-regular file is
//!   written directly, as `-o -` writes to stdout: never renamed over (as
//!   root, renaming over `/dev/null` would break the machine);
//! - a regular file is written under a temporary name beside the target
//!   (`.NAME.partial-PID`) and moved to the final name only when complete,
//!   so a killed command never leaves a file under the final name; the
//!   temporary file is removed on any error and on Ctrl-C/SIGTERM, and
//!   leftovers of a `kill -9` for the same target are removed by the next
//!   run (it says so);
//! - a write error (disk full, broken pipe, I/O error) names the file and is
//!   exit 2 (the destination), never exit 1.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::signals::{remove_on_signal, CleanupGuard};

/// Where the bytes go.
enum Dest {
    Stdout(io::Stdout),
    /// A FIFO, a device: written in place, never renamed over.
    Direct(File),
    /// A regular file: `temp`, renamed to the target when committed.
    Temp {
        file: File,
        temp: PathBuf,
        _guard: CleanupGuard,
    },
}

/// An output file being written. Dropped without [`OutFile::commit`], its
/// temporary file is removed.
pub struct OutFile {
    dest: Dest,
    path: PathBuf,
    force: bool,
    /// The first write error, kept so that the command can name the
    /// destination whatever layer the error passed through.
    failed: Option<io::Error>,
}

/// Whether `path` names stdout.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// What `path` is now: None when it does not exist (a dangling symbolic
/// link counts as existing: it is not followed and not replaced).
fn existing(path: &Path) -> Option<fs::FileType> {
    match fs::metadata(path) {
        Ok(m) => Some(m.file_type()),
        Err(_) => fs::symlink_metadata(path).ok().map(|m| m.file_type()),
    }
}

/// Whether what is written to `path` cannot be read back from it: stdout,
/// a FIFO, a device (a `--verify` there would read nothing, or hang).
pub fn is_stream(path: &Path) -> bool {
    is_stdout(path) || existing(path).is_some_and(|t| is_special(&t))
}

fn is_special(t: &fs::FileType) -> bool {
    t.is_fifo() || t.is_char_device() || t.is_block_device() || t.is_socket()
}

/// The error for an existing file without `--force` (exit 4).
pub fn exists_error(path: &Path) -> Error {
    Error::conflict(format!("{} already exists", path.display()))
        .with_hint("choose another name, or pass --force to replace it")
}

/// The error for a file that cannot be written (exit 2, naming it).
pub fn write_error(path: &Path, err: &io::Error) -> Error {
    Error::usage(format!("cannot write {}: {err}", shown(path)))
}

fn shown(path: &Path) -> String {
    if is_stdout(path) {
        "standard output".into()
    } else {
        path.display().to_string()
    }
}

/// Opens a file that is written where it is, batch by batch, and must keep
/// what it got if the command dies (a purge archive): a new file is
/// created 0600; an existing regular file is refused (exit 4) unless
/// `force` (then removed and created anew, 0600); a FIFO or device is
/// written directly.
/// Returns the file and whether it is a regular file (only those can be
/// synced to disk).
pub fn open_in_place(path: &Path, force: bool) -> Result<(File, bool)> {
    let open_error = |e: io::Error| Error::usage(format!("cannot create {}: {e}", path.display()));
    match existing(path) {
        Some(t) if is_special(&t) => OpenOptions::new()
            .write(true)
            .open(path)
            .map(|f| (f, false))
            .map_err(open_error),
        Some(t) if t.is_dir() => Err(crate::infile::is_a_directory(path)),
        Some(_) if !force => Err(exists_error(path)),
        Some(_) => {
            fs::remove_file(path).map_err(open_error)?;
            open_in_place(path, false)
        }
        None => OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map(|f| (f, true))
            .map_err(open_error),
    }
}

impl OutFile {
    /// Opens `path` for writing by the rules above (`-` is stdout). `note`
    /// is told about leftovers of earlier runs that were removed.
    pub fn create(path: &Path, force: bool, note: &mut dyn FnMut(&str)) -> Result<OutFile> {
        let dest = if is_stdout(path) {
            Dest::Stdout(io::stdout())
        } else {
            match existing(path) {
                Some(t) if is_special(&t) => Dest::Direct(
                    OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(|e| write_error(path, &e))?,
                ),
                Some(t) if t.is_dir() => return Err(crate::infile::is_a_directory(path)),
                Some(_) if !force => return Err(exists_error(path)),
                _ => {
                    remove_leftovers(path, note);
                    let temp = partial_name(path, std::process::id());
                    let file = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&temp)
                        .map_err(|e| {
                            // Named as the user named it: the temporary
                            // name is the tool's business.
                            Error::usage(format!("cannot create {}: {e}", path.display()))
                        })?;
                    let guard = remove_on_signal(&temp);
                    Dest::Temp {
                        file,
                        temp,
                        _guard: guard,
                    }
                }
            }
        };
        Ok(OutFile {
            dest,
            path: path.to_path_buf(),
            force,
            failed: None,
        })
    }

    /// Whether writing failed because the reader of standard output went
    /// away (`todo task export | head`).
    pub fn reader_gone(&self) -> bool {
        matches!(self.dest, Dest::Stdout(_))
            && self
                .failed
                .as_ref()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The error to report when writing failed: the destination's own
    /// error when there was one (exit 2), else `other`.
    pub fn error_or(&mut self, other: Error) -> Error {
        match self.failed.take() {
            Some(e) => write_error(&self.path, &e),
            None => other,
        }
    }

    /// Makes the file durable and gives it its final name; a regular target
    /// that appeared meanwhile is not replaced without `--force`.
    pub fn commit(mut self) -> Result<()> {
        let path = self.path.clone();
        match &mut self.dest {
            Dest::Stdout(out) => out.flush().map_err(|e| write_error(&path, &e)),
            Dest::Direct(file) => file.flush().map_err(|e| write_error(&path, &e)),
            Dest::Temp { file, temp, .. } => {
                file.sync_all().map_err(|e| write_error(&path, &e))?;
                place(temp, &path, self.force)?;
                sync_parent(&path);
                Ok(())
            }
        }
    }
}

/// Moves the complete `temp` to `path`: `rename` with `force`, else a hard
/// link (which fails if `path` exists: no race with another writer) and
/// the temporary name removed; where hard links are not supported, a
/// rename after checking that `path` does not exist.
fn place(temp: &Path, path: &Path, force: bool) -> Result<()> {
    let rename = || fs::rename(temp, path).map_err(|e| write_error(path, &e));
    if force {
        return rename();
    }
    match fs::hard_link(temp, path) {
        Ok(()) => {
            let _ = fs::remove_file(temp);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists_error(path)),
        Err(_) if existing(path).is_none() => rename(),
        Err(_) => Err(exists_error(path)),
    }
}

fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        // After a commit the temporary name is gone already (renamed or
        // unlinked after the hard link).
        if let Dest::Temp { temp, .. } = &self.dest {
            let _ = fs::remove_file(temp);
        }
    }
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = match &mut self.dest {
            Dest::Stdout(out) => out.write(buf),
            Dest::Direct(file) | Dest::Temp { file, .. } => file.write(buf),
        };
        self.keep(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = match &mut self.dest {
            Dest::Stdout(out) => out.flush(),
            Dest::Direct(file) | Dest::Temp { file, .. } => file.flush(),
        };
        self.keep(result)
    }
}

impl OutFile {
    fn keep<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            if self.failed.is_none() {
                self.failed = Some(io::Error::new(e.kind(), e.to_string()));
            }
        }
        result
    }
}

/// `.NAME.partial-PID` beside `path`.
fn partial_name(path: &Path, pid: u32) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    path.with_file_name(format!(".{name}.partial-{pid}"))
}

/// Removes `.NAME.partial-PID` files of `path` whose process is gone (a
/// run killed with `kill -9`), telling `note`.
fn remove_leftovers(path: &Path, note: &mut dyn FnMut(&str)) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.partial-");
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && !process_alive(pid) && fs::remove_file(entry.path()).is_ok() {
            note(&format!(
                "removed {}, left by an interrupted run (process {pid})",
                entry.path().display()
            ));
        }
    }
}

fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names_sit_beside_the_target() {
        assert_eq!(
            partial_name(Path::new("dir/b.todo"), 42),
            PathBuf::from("dir/.b.todo.partial-42")
        );
    }
}
