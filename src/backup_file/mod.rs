//! The backup file format (version 1), documented in `docs/backup-format.md`.
//!
//! The whole file is one gzip stream. Decompressed, it is text:
//!
//! ```text
//! todo-backup 1
//! {"format_version":1,"tool_version":…,"migrations":[…],"server_version":…,"taken_at":…}
//! #users id,email,name,created_at,updated_at
//! <the rows of users in COPY text format, one per line>
//! \.
//! #tasks id,title,description,completed,user_id,created_at,updated_at
//! <the rows of tasks>
//! \.
//! {"users":N,"tasks":M,"sha256":{"users":…,"tasks":…}}
//! ```
//!
//! The header and the trailer together are the manifest; the trailer comes
//! last because counts and checksums are known only once the rows have
//! streamed (memory stays bounded at any size: a backup orders a table's
//! rows in memory only up to [`order::BUDGET`]). Each SHA-256 covers a
//! table's row lines exactly as stored. gzip's own CRC catches a truncated
//! or damaged file; the SHA-256s catch a file whose rows were changed.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The first line of every backup.
pub const MAGIC: &str = "todo-backup 1";
pub const FORMAT_VERSION: u32 = 1;

/// The columns of each table, in the order of the rows.
pub const USERS_COLUMNS: &str = "id,email,name,created_at,updated_at";
pub const TASKS_COLUMNS: &str = "id,title,description,completed,user_id,created_at,updated_at";

/// What the file says about itself before the rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    pub tool_version: String,
    /// The migrations applied to the database backed up.
    pub migrations: Vec<String>,
    pub server_version: String,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub taken_at: String,
    /// [`ARCHIVE`] for a purge archive (whose tasks reference users outside
    /// the file); absent in a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The header `kind` of a purge archive.
pub const ARCHIVE: &str = "purge-archive";

impl Header {
    /// Whether the file is a purge archive (archives written before the
    /// `kind` field have no server version).
    pub fn is_archive(&self) -> bool {
        self.kind.as_deref() == Some(ARCHIVE) || self.server_version.is_empty()
    }
}

/// What the file says about its rows, after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    pub users: u64,
    pub tasks: u64,
    pub sha256: Checksums,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    pub users: String,
    pub tasks: String,
}

/// Why a file cannot be read as a backup (exit 2, naming the problem), or
/// why its rows do not match its manifest (`mismatch`: `db verify` exits 7).
#[derive(Debug)]
pub struct FormatError {
    pub message: String,
    pub mismatch: bool,
}

impl FormatError {
    fn unreadable(message: impl Into<String>) -> FormatError {
        FormatError {
            message: message.into(),
            mismatch: false,
        }
    }

    /// Rows that are not what a backup writes (a file changed by hand).
    pub fn corrupt(message: impl Into<String>) -> FormatError {
        FormatError::unreadable(message)
    }

    fn mismatch(message: impl Into<String>) -> FormatError {
        FormatError {
            message: message.into(),
            mismatch: true,
        }
    }
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormatError {}

/// Data follows the backup: its own trailer, or its gzip member.
const TRAILING_DATA: &str =
    "the file is damaged: data after the end of the backup (two files joined?)";

/// An I/O error while reading a backup, as the problem it shows.
pub fn read_error(err: io::Error) -> FormatError {
    if gzip::is_trailing_data(&err) {
        return FormatError::unreadable(TRAILING_DATA);
    }
    match err.kind() {
        io::ErrorKind::UnexpectedEof => FormatError::unreadable("the file is truncated"),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            FormatError::unreadable(format!("the file is corrupt ({err})"))
        }
        _ => FormatError::unreadable(format!("cannot read the file: {err}")),
    }
}

/// The rows of one table passing through: counted and hashed.
#[derive(Default)]
pub struct Section {
    pub rows: u64,
    hasher: Sha256,
}

impl Section {
    pub fn add(&mut self, data: &[u8]) {
        self.rows += data.iter().filter(|b| **b == b'\n').count() as u64;
        self.hasher.update(data);
    }

    pub fn sha256(self) -> String {
        hex(&self.hasher.finalize())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the parts of a backup, in order, to `out` (the gzip encoder).
pub fn write_header(out: &mut dyn Write, header: &Header) -> io::Result<()> {
    writeln!(out, "{MAGIC}")?;
    serde_json::to_writer(&mut *out, header)?;
    out.write_all(b"\n")
}

pub fn write_section_start(out: &mut dyn Write, table: &str, columns: &str) -> io::Result<()> {
    writeln!(out, "#{table} {columns}")
}

pub fn write_section_end(out: &mut dyn Write) -> io::Result<()> {
    out.write_all(b"\\.\n")
}

pub fn write_trailer(out: &mut dyn Write, trailer: &Trailer) -> io::Result<()> {
    serde_json::to_writer(&mut *out, trailer)?;
    out.write_all(b"\n")
}

/// The COPY text line of a task, as `COPY tasks (TASKS_COLUMNS) TO` writes
/// it (used where the rows come from a statement, not from COPY).
pub fn task_line(t: &crate::model::Task) -> String {
    use crate::text::copy_escape_into as text;
    let ts = |v: Option<chrono::NaiveDateTime>| match v {
        Some(v) => v.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
        None => "\\N".to_string(),
    };
    let mut line = t.id.to_string();
    line.push('\t');
    text(&mut line, &t.title);
    line.push('\t');
    match &t.description {
        Some(d) => text(&mut line, d),
        None => line.push_str("\\N"),
    }
    line.push('\t');
    line.push_str(match t.completed {
        Some(true) => "t",
        Some(false) => "f",
        None => "\\N",
    });
    line.push('\t');
    text(&mut line, &t.user_id);
    line.push('\t');
    line.push_str(&ts(t.created_at));
    line.push('\t');
    line.push_str(&ts(t.updated_at));
    line.push('\n');
    line
}

/// Reads a backup part by part from a decompressed stream.
pub struct Reader<R> {
    inner: R,
    line: Vec<u8>,
    /// Rows read so far, both sections.
    rows: u64,
}

impl<R: BufRead> Reader<R> {
    pub fn new(inner: R) -> Reader<R> {
        Reader {
            inner,
            line: Vec::new(),
            rows: 0,
        }
    }

    fn next_line(&mut self) -> Result<&[u8], FormatError> {
        self.line.clear();
        let n = crate::bounded::read_line(&mut self.inner, &mut self.line).map_err(read_error)?;
        if n == 0 || self.line.last() != Some(&b'\n') {
            return Err(FormatError::unreadable("the file is truncated"));
        }
        Ok(&self.line)
    }

    pub fn header(&mut self) -> Result<Header, FormatError> {
        let magic = self.next_line().map_err(|_| not_a_backup())?;
        if magic != format!("{MAGIC}\n").as_bytes() {
            return Err(not_a_backup());
        }
        let line = self.next_line()?;
        let header: Header = serde_json::from_slice(line)
            .map_err(|e| FormatError::unreadable(format!("the file's header is damaged ({e})")))?;
        if header.format_version != FORMAT_VERSION {
            return Err(FormatError::unreadable(format!(
                "backup format version {} is not supported by this todo (it reads version {FORMAT_VERSION})",
                header.format_version
            )));
        }
        Ok(header)
    }

    /// Checks the line that starts `table`'s rows.
    pub fn section_start(&mut self, table: &str, columns: &str) -> Result<(), FormatError> {
        let expected = format!("#{table} {columns}\n");
        if self.next_line()? != expected.as_bytes() {
            return Err(FormatError::unreadable(format!(
                "the file is damaged: expected the {table} section"
            )));
        }
        Ok(())
    }

    /// Copies `table`'s rows to `out` until the section's end, counting and
    /// hashing them, as COPY's binary format for columns of `kinds`
    /// ([`binary`]), header and trailer included; a row no backup writes is
    /// a [`CopyError::File`] naming it. `progress(rows so far)` now and then.
    pub fn copy_rows_binary(
        &mut self,
        out: &mut dyn Write,
        kinds: &[binary::Kind],
        progress: &dyn Fn(u64),
    ) -> Result<Section, CopyError> {
        out.write_all(binary::HEADER).map_err(CopyError::Sink)?;
        let mut tuple = Vec::with_capacity(1024);
        let mut section = Section::default();
        loop {
            let line = self.next_line()?;
            if line == b"\\.\n" {
                progress(self.rows);
                break;
            }
            section.add(line);
            tuple.clear();
            binary::tuple(&self.line, kinds, &mut tuple).map_err(|why| {
                CopyError::File(FormatError::corrupt(format!(
                    "the file holds rows the database cannot read (row {} of its section: {why})",
                    section.rows
                )))
            })?;
            out.write_all(&tuple).map_err(CopyError::Sink)?;
            self.rows += 1;
            if self.rows.is_multiple_of(8192) {
                progress(self.rows);
            }
        }
        out.write_all(binary::TRAILER).map_err(CopyError::Sink)?;
        Ok(section)
    }

    /// Reads the rest of the stream, for its gzip CRC: after a failed load,
    /// tells a damaged file from a database problem.
    pub fn drain(&mut self) -> Result<(), FormatError> {
        io::copy(&mut self.inner, &mut io::sink())
            .map(|_| ())
            .map_err(read_error)
    }

    /// The trailer, and then nothing more (which makes gzip check its CRC;
    /// read through [`gzip::OneMember`], any byte after the gzip member is
    /// refused too).
    pub fn trailer(&mut self) -> Result<Trailer, FormatError> {
        let line = self.next_line()?;
        let trailer: Trailer = serde_json::from_slice(line)
            .map_err(|e| FormatError::unreadable(format!("the file's trailer is damaged ({e})")))?;
        self.line.clear();
        let rest = self
            .inner
            .read_until(b'\n', &mut self.line)
            .map_err(read_error)?;
        if rest != 0 {
            return Err(FormatError::unreadable(TRAILING_DATA));
        }
        Ok(trailer)
    }
}

/// Copying rows out of a backup failed: the file, or where they went.
#[derive(Debug)]
pub enum CopyError {
    File(FormatError),
    Sink(io::Error),
}

impl From<FormatError> for CopyError {
    fn from(e: FormatError) -> Self {
        CopyError::File(e)
    }
}

fn not_a_backup() -> FormatError {
    FormatError::unreadable("not a todo backup (it does not start with the backup format's header)")
}

/// Checks what a backup's rows should be against what was read.
pub fn check(trailer: &Trailer, users: Section, tasks: Section) -> Result<(), FormatError> {
    let (user_rows, task_rows) = (users.rows, tasks.rows);
    if user_rows != trailer.users || task_rows != trailer.tasks {
        return Err(FormatError::mismatch(format!(
            "the file is damaged: it holds {user_rows} users and {task_rows} tasks, its manifest says {} and {}",
            trailer.users, trailer.tasks
        )));
    }
    if users.sha256() != trailer.sha256.users {
        return Err(FormatError::mismatch(
            "the users rows do not match their SHA-256 in the manifest",
        ));
    }
    if tasks.sha256() != trailer.sha256.tasks {
        return Err(FormatError::mismatch(
            "the tasks rows do not match their SHA-256 in the manifest",
        ));
    }
    Ok(())
}

mod archive;
pub mod binary;
pub mod gzip;
pub mod order;
pub use archive::Archive;

#[cfg(test)]
mod tests;
