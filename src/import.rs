//! Reading tasks from other tools for `task import` (SPEC §15): this
//! tool's own JSON (`task list --json`), CSV with a header naming JSON
//! fields, Taskwarrior's `task export`, and todo.txt. Every record is
//! validated as `task add` validates input; problems are reported with
//! their record number (1-based; for todo.txt and CSV, the line number).

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

/// What a file holds.
#[derive(Debug, Default)]
pub struct Parsed {
    pub tasks: Vec<NewTask>,
    /// Records left out on purpose (Taskwarrior's deleted tasks).
    pub skipped: usize,
    /// (record number, what is wrong).
    pub errors: Vec<(usize, String)>,
}

pub fn parse(text: &str, from: Source) -> Parsed {
    match from {
        Source::Json => json(text, false),
        Source::Taskwarrior => json(text, true),
        Source::Csv => csv(text),
        Source::Todotxt => todotxt(text),
    }
}

/// Validates and adds one record.
fn add(out: &mut Parsed, n: usize, record: Result<Option<NewTask>, String>) {
    let checked = record.and_then(|task| match task {
        None => Ok(None),
        Some(mut t) => {
            t.title = validate::title(&t.title).map_err(|e| e.message)?;
            t.description = match t.description.as_deref() {
                Some(d) => validate::description(d).map_err(|e| e.message)?,
                None => None,
            };
            Ok(Some(t))
        }
    });
    match checked {
        Ok(Some(t)) => out.tasks.push(t),
        Ok(None) => out.skipped += 1,
        Err(e) => out.errors.push((n, e)),
    }
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

fn json(text: &str, taskwarrior: bool) -> Parsed {
    let mut out = Parsed::default();
    let records: Vec<Value> = match serde_json::from_str(text) {
        Ok(Value::Array(records)) => records,
        Ok(_) => {
            out.errors
                .push((1, "expected a JSON array of tasks".into()));
            return out;
        }
        Err(e) => {
            out.errors.push((e.line(), format!("not valid JSON: {e}")));
            return out;
        }
    };
    for (i, r) in records.iter().enumerate() {
        let record = if taskwarrior {
            taskwarrior_task(r)
        } else {
            own_task(r)
        };
        add(&mut out, i + 1, record);
    }
    out
}

fn string(r: &Value, field: &str) -> Result<Option<String>, String> {
    match r.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{field} is not a string")),
    }
}

fn own_task(r: &Value) -> Result<Option<NewTask>, String> {
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
fn taskwarrior_task(r: &Value) -> Result<Option<NewTask>, String> {
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

/// RFC 4180 records: quoted fields may hold commas, quotes (`""`) and
/// newlines. Each record comes with the line it starts on.
/// A CSV record: the line it starts on, and its fields.
type Record = (usize, Vec<String>);

fn csv_records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let (mut field, mut fields) = (String::new(), Vec::new());
    let (mut quoted, mut line, mut start) = (false, 1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                records.push((start, std::mem::take(&mut fields)));
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err((start, "a quoted field is not closed".into()));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push((start, fields));
    }
    Ok(records
        .into_iter()
        .filter(|(_, f)| !(f.len() == 1 && f[0].is_empty()))
        .collect())
}

fn csv(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let records = match csv_records(text) {
        Ok(r) => r,
        Err((n, e)) => {
            out.errors.push((n, e));
            return out;
        }
    };
    let Some(((_, header), rows)) = records.split_first() else {
        out.errors.push((1, "no header line".into()));
        return out;
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
        out.errors.push((1, format!("unknown column '{bad}'")));
        return out;
    }
    if !header.iter().any(|h| h == "title") {
        out.errors
            .push((1, "the header has no title column".into()));
        return out;
    }
    for (line, row) in rows {
        if row.len() != header.len() {
            out.errors.push((
                *line,
                format!("{} fields, the header has {}", row.len(), header.len()),
            ));
            continue;
        }
        let obj: serde_json::Map<String, Value> = header
            .iter()
            .zip(row)
            .map(|(h, v)| {
                let value = match (h.as_str(), v.as_str()) {
                    (_, "") => Value::Null,
                    ("completed", "true") => Value::Bool(true),
                    ("completed", "false") => Value::Bool(false),
                    _ => Value::String(v.clone()),
                };
                (h.clone(), value)
            })
            .collect();
        add(&mut out, *line, own_task(&Value::Object(obj)));
    }
    out
}

/// `x [done date] [created date] text` for done tasks, `[(A)] [created
/// date] text` for pending ones; blank lines are ignored.
fn todotxt(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
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
        add(
            &mut out,
            i + 1,
            Ok(Some(NewTask {
                title: words.join(" "),
                description: None,
                completed,
                created_at,
                updated_at: updated_at.or(created_at),
            })),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "title,completed,description\n\"Buy, milk\",true,\"two\nlines\"\nok,false,\n,false,x\n",
            Source::Csv,
        );
        assert_eq!(p.tasks.len(), 2);
        assert_eq!(p.tasks[0].title, "Buy, milk");
        assert_eq!(p.tasks[0].description.as_deref(), Some("two\nlines"));
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].0, 5);
        assert!(parse("nope\nx\n", Source::Csv).errors[0]
            .1
            .contains("unknown column"));
    }

    #[test]
    fn names_choose_the_format() {
        assert_eq!(Source::from_name("-"), Some(Source::Json));
        assert_eq!(Source::from_name("a.CSV"), Some(Source::Csv));
        assert_eq!(Source::from_name("todo.txt"), Some(Source::Todotxt));
        assert_eq!(Source::from_name("export"), None);
    }
}
