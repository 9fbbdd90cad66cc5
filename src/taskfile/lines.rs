//! Line-based formats: CSV with a header of JSON field names, and todo.txt.

use std::io::BufRead;

use chrono::NaiveDate;
use serde_json::Value;

use super::json::own_task;
use super::{checked, unreadable, Each, NewTask, Stop};

/// RFC 4180 records read line by line: quoted fields may hold commas,
/// quotes (`""`) and newlines. Each record comes with the line it starts
/// on; blank lines are skipped. Kept by hand rather than the `csv` crate
/// (House II weighed it): that reader ends a quoted field that is still
/// open at the end of the input as if it were closed, so a truncated file
/// would import its last record cut short, where this one refuses it (line
/// number given); a byte order mark is skipped before any format
/// ([`super::read`]), and each record is bounded ([`crate::bounded`]).
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
            let mut record_bytes = 0;
            loop {
                self.buf.clear();
                let read = crate::bounded::read_line_string(self.input, &mut self.buf);
                match read.map_err(|e| unreadable(self.line + 1, &e))? {
                    0 if quoted => {
                        return Err(Stop::Input(start, "a quoted field is not closed".into()))
                    }
                    0 if self.line < start => return Ok(None),
                    0 => break,
                    n => {
                        self.line += 1;
                        // A quoted field over many lines is one record.
                        record_bytes += n;
                        if record_bytes > crate::bounded::MAX_RECORD {
                            return Err(unreadable(start, &crate::bounded::too_long()));
                        }
                    }
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

pub(super) fn csv(input: &mut dyn BufRead, each: &mut Each<'_>) -> Result<(), Stop> {
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
pub(super) fn todotxt(input: &mut dyn BufRead, each: &mut Each<'_>) -> Result<(), Stop> {
    let mut buf = String::new();
    let mut n = 0;
    loop {
        buf.clear();
        if crate::bounded::read_line_string(input, &mut buf).map_err(|e| unreadable(n + 1, &e))?
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
