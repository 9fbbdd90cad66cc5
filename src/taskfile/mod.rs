//! Reading tasks from other tools for `task import` (SPEC §15): this
//! tool's own JSON (`task list --json`), CSV with a header naming JSON
//! fields, Taskwarrior's `task export`, and todo.txt. Every record is
//! validated as `task add` validates input; problems are reported with
//! their record number (1-based; for todo.txt and CSV, the line number).

use std::io::BufRead;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use crate::validate;

pub use crate::model::NewTask;

mod json;
mod lines;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// This tool's task array (`task list --json`)
    Json,
    /// A header row naming any of the JSON fields, `title` included
    Csv,
    /// Taskwarrior's `task export`
    Taskwarrior,
    /// todo.txt lines
    Todotxt,
}

impl ImportFormat {
    /// What the numbers given with records count: JSON array elements, or
    /// lines (where a record starts) for the line-based formats.
    pub fn counts(self) -> &'static str {
        match self {
            ImportFormat::Json | ImportFormat::Taskwarrior => "record",
            ImportFormat::Csv | ImportFormat::Todotxt => "line",
        }
    }

    /// From a file name's extension (`-`, stdin, is JSON).
    pub fn from_name(name: &str) -> Option<ImportFormat> {
        if name == "-" {
            return Some(ImportFormat::Json);
        }
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(ImportFormat::Json),
            "csv" => Some(ImportFormat::Csv),
            "txt" => Some(ImportFormat::Todotxt),
            _ => None,
        }
    }
}

/// One record as read: a task to import, `None` for a record left out on
/// purpose (Taskwarrior's deleted tasks), or what is wrong with it.
pub type Record = Result<Option<NewTask>, String>;

/// Why reading stopped before the end of the input.
#[derive(Debug)]
pub enum Stop {
    /// The input is not in the format at all (or could not be read): the
    /// line where that was found, and why.
    Input(usize, String),
    /// The receiver of the records failed (the COPY it writes to broke).
    Sink(std::io::Error),
}

/// What [`read`] hands each record to, with its number (1-based; for
/// todo.txt and CSV, the line it starts on).
pub type Each<'a> = dyn FnMut(usize, Record) -> std::io::Result<()> + 'a;

/// Fields of the input that the import could not keep, with how many
/// records had each (Taskwarrior's `due`, `priority`, `project`, `tags`, …).
pub type Dropped = std::collections::BTreeMap<String, u64>;

/// Reads `input` once, from start to end, handing every record to `each`
/// as soon as it is complete: memory stays bounded by one record whatever
/// the size of the input. A UTF-8 byte order mark at the start (as Excel
/// writes) is skipped. Fields that could not be kept are counted in
/// `dropped`.
pub fn read(
    input: &mut dyn BufRead,
    from: ImportFormat,
    each: &mut Each<'_>,
    dropped: &mut Dropped,
) -> Result<(), Stop> {
    skip_bom(input).map_err(|e| unreadable(1, &e))?;
    match from {
        ImportFormat::Json => json::read(input, None, each),
        ImportFormat::Taskwarrior => json::read(input, Some(dropped), each),
        ImportFormat::Csv => lines::csv(input, each),
        ImportFormat::Todotxt => lines::todotxt(input, each),
    }
}

/// Validates a record as `task add` validates its input.
pub(super) fn checked(record: Record) -> Record {
    let Some(mut t) = record? else {
        return Ok(None);
    };
    t.title = validate::title(&t.title).map_err(|e| e.message)?;
    t.description = match t.description.as_deref() {
        Some(d) => validate::description(d).map_err(|e| e.message)?,
        None => None,
    };
    Ok(Some(t))
}

pub(super) fn timestamp(value: &Value, field: &str) -> Result<Option<NaiveDateTime>, String> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_time(s)
            .map(Some)
            .ok_or_else(|| format!("{field} '{s}' is not a date and time")),
        Some(_) => Err(format!("{field} is not a string")),
    }
}

/// RFC 3339, Taskwarrior's `20260101T120000Z`, or a plain date.
pub(super) fn parse_time(s: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ") {
        return Some(t);
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// Consumes a UTF-8 byte order mark at the start of `input`, if any.
fn skip_bom(input: &mut dyn BufRead) -> std::io::Result<()> {
    const BOM: &[u8] = b"\xef\xbb\xbf";
    let mut seen = 0;
    // The mark may arrive split across reads (a pipe).
    while seen < BOM.len() {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        let n = (BOM.len() - seen).min(buf.len());
        if buf[..n] != BOM[seen..seen + n] {
            return if seen == 0 {
                Ok(())
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the file starts with part of a byte order mark",
                ))
            };
        }
        input.consume(n);
        seen += n;
    }
    Ok(())
}

pub(super) fn unreadable(at: usize, e: &std::io::Error) -> Stop {
    Stop::Input(at, format!("cannot read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Parsed {
        tasks: Vec<NewTask>,
        errors: Vec<(usize, String)>,
        stop: Option<(usize, String)>,
    }

    fn parse(text: &str, from: ImportFormat) -> Parsed {
        let mut p = Parsed::default();
        let mut each = |n, record: Record| {
            match record {
                Ok(Some(t)) => p.tasks.push(t),
                Ok(None) => {}
                Err(e) => p.errors.push((n, e)),
            }
            Ok(())
        };
        let read = read(&mut text.as_bytes(), from, &mut each, &mut Dropped::new());
        match read {
            Ok(()) => {}
            Err(Stop::Input(n, e)) => p.stop = Some((n, e)),
            Err(Stop::Sink(e)) => panic!("{e}"),
        }
        p
    }

    #[test]
    fn todotxt_lines() {
        let p = parse(
            "x 2026-01-02 2026-01-01 Pay rent +home\n(A) 2026-01-03 Call mum @phone\n\nPlain task\n",
            ImportFormat::Todotxt,
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.tasks.len(), 3);
        assert!(p.tasks[0].completed);
        assert_eq!(p.tasks[0].title, "Pay rent +home");
        assert_eq!(p.tasks[0].created_at, parse_time("2026-01-01"));
        assert_eq!(p.tasks[0].updated_at, parse_time("2026-01-02"));
        assert_eq!(p.tasks[1].title, "Call mum @phone");
        assert!(!p.tasks[1].completed);
    }

    #[test]
    fn csv_quotes_and_errors_with_line_numbers() {
        let p = parse(
            "title,completed,description\r\n\"Buy, milk\",true,\"two\nlines\"\r\nok,false,\n\n,false,x\nlast,true,\"a \"\"quote\"\"\"",
            ImportFormat::Csv,
        );
        assert_eq!(p.tasks.len(), 3);
        assert_eq!(p.tasks[0].title, "Buy, milk");
        assert_eq!(p.tasks[0].description.as_deref(), Some("two\nlines"));
        assert_eq!(p.tasks[2].description.as_deref(), Some("a \"quote\""));
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].0, 6);
        let unknown = parse("nope\nx\n", ImportFormat::Csv).stop.unwrap();
        assert!(unknown.1.contains("unknown column"), "{unknown:?}");
        let open = parse("title\nok\n\"never closed\n", ImportFormat::Csv).stop;
        assert_eq!(open.unwrap().0, 3);
    }

    #[test]
    fn json_streams_records_and_stops_at_bad_syntax() {
        let p = parse(
            r#"[{"title":"a"},{"title":""},{"title":"b","completed":true}]"#,
            ImportFormat::Json,
        );
        assert_eq!(p.tasks.len(), 2);
        assert_eq!(p.errors, vec![(2, "the title is empty".to_string())]);
        assert!(p.stop.is_none());
        let p = parse("[{\"title\":\"a\"},\n{\"title\":", ImportFormat::Json);
        assert_eq!(p.tasks.len(), 1);
        assert_eq!(p.stop.unwrap().0, 2);
        let p = parse(r#"{"title":"a"}"#, ImportFormat::Json);
        assert!(p.stop.unwrap().1.contains("a JSON array of tasks"));
        assert!(parse("[] x", ImportFormat::Json).stop.is_some());
    }

    #[test]
    fn names_choose_the_format() {
        assert_eq!(ImportFormat::from_name("-"), Some(ImportFormat::Json));
        assert_eq!(ImportFormat::from_name("a.CSV"), Some(ImportFormat::Csv));
        assert_eq!(
            ImportFormat::from_name("todo.txt"),
            Some(ImportFormat::Todotxt)
        );
        assert_eq!(ImportFormat::from_name("export"), None);
    }
}
