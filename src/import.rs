//! Reading tasks from other tools for `task import` (SPEC §15): this
//! tool's own JSON (`task list --json`), CSV with a header naming JSON
//! fields, Taskwarrior's `task export`, and todo.txt. Every record is
//! validated as `task add` validates input; problems are reported with
//! their record number (1-based; for todo.txt and CSV, the line number).

use std::io::BufRead;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use crate::validate;

pub use crate::db::models::NewTask;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// This tool's task array (`task list --json`)
    Json,
    /// A header row naming any of the JSON fields, `title` included
    Csv,
    /// Taskwarrior's `task export`
    Taskwarrior,
    /// todo.txt lines
    Todotxt,
}

impl Source {
    /// What the numbers given with records count: JSON array elements, or
    /// lines (where a record starts) for the line-based formats.
    pub fn counts(self) -> &'static str {
        match self {
            Source::Json | Source::Taskwarrior => "record",
            Source::Csv | Source::Todotxt => "line",
        }
    }

    /// From a file name's extension (`-`, stdin, is JSON).
    pub fn from_name(name: &str) -> Option<Source> {
        if name == "-" {
            return Some(Source::Json);
        }
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Source::Json),
            "csv" => Some(Source::Csv),
            "txt" => Some(Source::Todotxt),
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

/// Reads `input` once, from start to end, handing every record to `each`
/// as soon as it is complete: memory stays bounded by one record whatever
/// the size of the input.
pub fn read(input: &mut dyn BufRead, from: Source, each: &mut Each<'_>) -> Result<(), Stop> {
    match from {
        Source::Json => json(input, false, each),
        Source::Taskwarrior => json(input, true, each),
        Source::Csv => csv(input, each),
        Source::Todotxt => todotxt(input, each),
    }
}

/// Validates a record as `task add` validates its input.
fn checked(record: Record) -> Record {
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

fn timestamp(value: &Value, field: &str) -> Result<Option<NaiveDateTime>, String> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_time(s)
            .map(Some)
            .ok_or_else(|| format!("{field} '{s}' is not a date and time")),
        Some(_) => Err(format!("{field} is not a string")),
    }
}

/// RFC 3339, Taskwarrior's `20260101T120000Z`, or a plain date.
fn parse_time(s: &str) -> Option<NaiveDateTime> {
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

fn unreadable(at: usize, e: &std::io::Error) -> Stop {
    Stop::Input(at, format!("cannot read: {e}"))
}

/// A JSON array read element by element (serde's `SeqAccess`): only the
/// record being read is in memory.
fn json(input: &mut dyn BufRead, taskwarrior: bool, each: &mut Each<'_>) -> Result<(), Stop> {
    use serde::Deserializer as _;
    let mut de = serde_json::Deserializer::from_reader(input);
    let mut failed = None;
    let visitor = Elements {
        taskwarrior,
        each,
        failed: &mut failed,
    };
    let read = de.deserialize_seq(visitor).and_then(|()| de.end());
    if let Some(e) = failed {
        return Err(Stop::Sink(e));
    }
    read.map_err(|e| match e.io_error_kind() {
        Some(_) => Stop::Input(e.line(), format!("cannot read: {e}")),
        None => Stop::Input(e.line(), format!("not valid JSON: {e}")),
    })
}

struct Elements<'a, 'b> {
    taskwarrior: bool,
    each: &'a mut Each<'b>,
    failed: &'a mut Option<std::io::Error>,
}

impl<'de> serde::de::Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of tasks")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            n += 1;
            let record = if self.taskwarrior {
                taskwarrior_task(&value)
            } else {
                own_task(&value)
            };
            if let Err(e) = (self.each)(n, checked(record)) {
                *self.failed = Some(e);
                return Err(serde::de::Error::custom("the import stopped"));
            }
        }
        Ok(())
    }
}

fn string(r: &Value, field: &str) -> Result<Option<String>, String> {
    match r.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{field} is not a string")),
    }
}

fn own_task(r: &Value) -> Record {
    if !r.is_object() {
        return Err("not an object".into());
    }
    let completed = match r.get("completed") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("completed is not true or false".into()),
    };
    Ok(Some(NewTask {
        title: string(r, "title")?.ok_or("no title")?,
        description: string(r, "description")?,
        completed,
        created_at: timestamp(r, "created_at")?,
        updated_at: timestamp(r, "updated_at")?,
    }))
}

/// `description` → title, annotations → description, `completed` → done,
/// `deleted` skipped, entry/modified → times.
fn taskwarrior_task(r: &Value) -> Record {
    if !r.is_object() {
        return Err("not an object".into());
    }
    let status = string(r, "status")?.unwrap_or_else(|| "pending".into());
    if status == "deleted" {
        return Ok(None);
    }
    let notes: Vec<String> = match r.get("annotations") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|a| {
                a.get("description")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(NewTask {
        title: string(r, "description")?.ok_or("no description")?,
        description: Some(notes.join("\n")).filter(|d| !d.is_empty()),
        completed: status == "completed",
        created_at: timestamp(r, "entry")?,
        updated_at: timestamp(r, "modified")?.or(timestamp(r, "end")?),
    }))
}

/// RFC 4180 records read line by line: quoted fields may hold commas,
/// quotes (`""`) and newlines. Each record comes with the line it starts
/// on; blank lines are skipped.
struct CsvRecords<'a> {
    input: &'a mut dyn BufRead,
    buf: String,
    line: usize,
}

impl CsvRecords<'_> {
    fn next(&mut self) -> Result<Option<(usize, Vec<String>)>, Stop> {
        loop {
            let start = self.line + 1;
            let (mut field, mut fields, mut quoted) = (String::new(), Vec::new(), false);
            loop {
                self.buf.clear();
                let read = self.input.read_line(&mut self.buf);
                match read.map_err(|e| unreadable(self.line + 1, &e))? {
                    0 if quoted => {
                        return Err(Stop::Input(start, "a quoted field is not closed".into()))
                    }
                    0 if self.line < start => return Ok(None),
                    0 => break,
                    _ => self.line += 1,
                }
                let mut chars = self.buf.chars().peekable();
                while let Some(c) = chars.next() {
                    match (quoted, c) {
                        (true, '"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        (true, '"') => quoted = false,
                        (true, c) => field.push(c),
                        (false, '"') if field.is_empty() => quoted = true,
                        (false, ',') => fields.push(std::mem::take(&mut field)),
                        (false, '\r' | '\n') => {}
                        (false, c) => field.push(c),
                    }
                }
                if !quoted {
                    break;
                }
            }
            fields.push(field);
            if !(fields.len() == 1 && fields[0].is_empty()) {
                return Ok(Some((start, fields)));
            }
        }
    }
}

fn csv(input: &mut dyn BufRead, each: &mut Each<'_>) -> Result<(), Stop> {
    let mut records = CsvRecords {
        input,
        buf: String::new(),
        line: 0,
    };
    let Some((_, header)) = records.next()? else {
        return Err(Stop::Input(1, "no header line".into()));
    };
    const FIELDS: [&str; 5] = [
        "title",
        "description",
        "completed",
        "created_at",
        "updated_at",
    ];
    let known = ["id", "user_id"];
    if let Some(bad) = header
        .iter()
        .find(|h| !FIELDS.contains(&h.as_str()) && !known.contains(&h.as_str()))
    {
        return Err(Stop::Input(1, format!("unknown column '{bad}'")));
    }
    if !header.iter().any(|h| h == "title") {
        return Err(Stop::Input(1, "the header has no title column".into()));
    }
    while let Some((line, row)) = records.next()? {
        let record = if row.len() != header.len() {
            Err(format!(
                "{} fields, the header has {}",
                row.len(),
                header.len()
            ))
        } else {
            let obj: serde_json::Map<String, Value> = header
                .iter()
                .zip(row)
                .map(|(h, v)| {
                    let value = match (h.as_str(), v.as_str()) {
                        (_, "") => Value::Null,
                        ("completed", "true") => Value::Bool(true),
                        ("completed", "false") => Value::Bool(false),
                        _ => Value::String(v),
                    };
                    (h.clone(), value)
                })
                .collect();
            own_task(&Value::Object(obj))
        };
        each(line, checked(record)).map_err(Stop::Sink)?;
    }
    Ok(())
}

/// `x [done date] [created date] text` for done tasks, `[(A)] [created
/// date] text` for pending ones; blank lines are ignored.
fn todotxt(input: &mut dyn BufRead, each: &mut Each<'_>) -> Result<(), Stop> {
    let mut buf = String::new();
    let mut n = 0;
    loop {
        buf.clear();
        if input
            .read_line(&mut buf)
            .map_err(|e| unreadable(n + 1, &e))?
            == 0
        {
            return Ok(());
        }
        n += 1;
        let line = buf.trim();
        if line.is_empty() {
            continue;
        }
        each(n, checked(Ok(Some(todotxt_task(line))))).map_err(Stop::Sink)?;
    }
}

fn todotxt_task(line: &str) -> NewTask {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let completed = words.first() == Some(&"x");
    if completed {
        words.remove(0);
    }
    if !completed
        && words
            .first()
            .is_some_and(|w| w.len() == 3 && w.starts_with('(') && w.ends_with(')'))
    {
        words.remove(0);
    }
    let mut dates = Vec::new();
    while dates.len() < 2 {
        match words
            .first()
            .and_then(|w| NaiveDate::parse_from_str(w, "%Y-%m-%d").ok())
        {
            Some(d) => {
                dates.push(d.and_hms_opt(0, 0, 0));
                words.remove(0);
            }
            None => break,
        }
    }
    // Done: completion date, then creation date; pending: creation date.
    let (updated_at, created_at) = match (completed, dates.as_slice()) {
        (true, [done, created]) => (*done, *created),
        (true, [done]) => (*done, None),
        (false, [created, ..]) => (None, *created),
        _ => (None, None),
    };
    NewTask {
        title: words.join(" "),
        description: None,
        completed,
        created_at,
        updated_at: updated_at.or(created_at),
    }
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

    fn parse(text: &str, from: Source) -> Parsed {
        let mut p = Parsed::default();
        let mut each = |n, record: Record| {
            match record {
                Ok(Some(t)) => p.tasks.push(t),
                Ok(None) => {}
                Err(e) => p.errors.push((n, e)),
            }
            Ok(())
        };
        let read = read(&mut text.as_bytes(), from, &mut each);
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
            Source::Todotxt,
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
            Source::Csv,
        );
        assert_eq!(p.tasks.len(), 3);
        assert_eq!(p.tasks[0].title, "Buy, milk");
        assert_eq!(p.tasks[0].description.as_deref(), Some("two\nlines"));
        assert_eq!(p.tasks[2].description.as_deref(), Some("a \"quote\""));
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].0, 6);
        let unknown = parse("nope\nx\n", Source::Csv).stop.unwrap();
        assert!(unknown.1.contains("unknown column"), "{unknown:?}");
        let open = parse("title\nok\n\"never closed\n", Source::Csv).stop;
        assert_eq!(open.unwrap().0, 3);
    }

    #[test]
    fn json_streams_records_and_stops_at_bad_syntax() {
        let p = parse(
            r#"[{"title":"a"},{"title":""},{"title":"b","completed":true}]"#,
            Source::Json,
        );
        assert_eq!(p.tasks.len(), 2);
        assert_eq!(p.errors, vec![(2, "the title is empty".to_string())]);
        assert!(p.stop.is_none());
        let p = parse("[{\"title\":\"a\"},\n{\"title\":", Source::Json);
        assert_eq!(p.tasks.len(), 1);
        assert_eq!(p.stop.unwrap().0, 2);
        let p = parse(r#"{"title":"a"}"#, Source::Json);
        assert!(p.stop.unwrap().1.contains("a JSON array of tasks"));
        assert!(parse("[] x", Source::Json).stop.is_some());
    }

    #[test]
    fn names_choose_the_format() {
        assert_eq!(Source::from_name("-"), Some(Source::Json));
        assert_eq!(Source::from_name("a.CSV"), Some(Source::Csv));
        assert_eq!(Source::from_name("todo.txt"), Some(Source::Todotxt));
        assert_eq!(Source::from_name("export"), None);
    }
}
