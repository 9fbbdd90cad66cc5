//! `task export` (SPEC §19): a user's tasks in each format `task import`
//! reads, written as the rows arrive (memory does not grow with the list).
//! What each format carries, and so what survives export → import:
//!
//! - `json`: everything (`task list --json`'s objects);
//! - `csv`: title, description, completed, created_at, updated_at (times in
//!   RFC 3339 with microseconds), and the id (import ignores it);
//! - `taskwarrior`: title (`description`), description (one annotation),
//!   completed (`status`), created (`entry`), updated (`modified`, and `end`
//!   for completed tasks); times to the second, as Taskwarrior keeps them;
//! - `todotxt`: title, completed (`x`), the creation date and, for a
//!   completed task, the completion date (the updated date); dates only,
//!   no description (todo.txt has none: the export says how many it
//!   could not carry). A title todo.txt would read otherwise (starting with
//!   `x `, a `(A)` priority or a date) is kept as it is only when a
//!   creation date precedes it.

use std::io::Write;

use super::records::TaskJson;
use crate::error::Result;
use crate::model::Task;
use crate::taskfile::ImportFormat;

/// What an export wrote: how many tasks, and how many lost their
/// description (todo.txt).
#[derive(Debug, Default)]
pub struct Exported {
    pub tasks: u64,
    pub descriptions_dropped: u64,
}

/// Writes `tasks` to `out` in `to`.
pub fn write(
    out: &mut dyn Write,
    to: ImportFormat,
    tasks: &mut dyn Iterator<Item = Result<Task>>,
) -> Result<Exported> {
    let mut done = Exported::default();
    match to {
        ImportFormat::Json | ImportFormat::Taskwarrior => {
            out.write_all(b"[")?;
            for task in tasks {
                let task = task?;
                if done.tasks > 0 {
                    out.write_all(b",\n")?;
                }
                match to {
                    ImportFormat::Json => serde_json::to_writer(&mut *out, &TaskJson::from(&task))?,
                    _ => serde_json::to_writer(&mut *out, &taskwarrior(&task))?,
                }
                done.tasks += 1;
            }
            out.write_all(b"]\n")?;
        }
        ImportFormat::Csv => {
            out.write_all(b"id,title,description,completed,created_at,updated_at\n")?;
            for task in tasks {
                let task = task?;
                let fields = [
                    task.id.to_string(),
                    csv_field(&task.title),
                    task.description
                        .as_deref()
                        .map(csv_field)
                        .unwrap_or_default(),
                    task.is_done().to_string(),
                    super::rfc3339(task.created_at).unwrap_or_default(),
                    super::rfc3339(task.updated_at).unwrap_or_default(),
                ];
                writeln!(out, "{}", fields.join(","))?;
                done.tasks += 1;
            }
        }
        ImportFormat::Todotxt => {
            for task in tasks {
                let task = task?;
                writeln!(out, "{}", todotxt(&task))?;
                done.tasks += 1;
                if task.description.is_some() {
                    done.descriptions_dropped += 1;
                }
            }
        }
    }
    out.flush()?;
    Ok(done)
}

/// A CSV field, quoted when it holds a comma, a quote, a line break or
/// surrounding spaces (doubling quotes), as the import reads it.
fn csv_field(value: &str) -> String {
    let plain = !value.contains([',', '"', '\n', '\r']) && value.trim() == value;
    if plain {
        value.to_string()
    } else {
        format!("\"{}\"", value.replace('"', "\"\""))
    }
}

/// Taskwarrior's time format (`20260101T120000Z`).
fn tw_time(t: Option<chrono::NaiveDateTime>) -> Option<String> {
    t.map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
}

/// One task as Taskwarrior's `task export` writes it (a fresh uuid: ours
/// are numbers).
fn taskwarrior(task: &Task) -> serde_json::Value {
    let mut record = serde_json::json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "description": task.title,
        "status": if task.is_done() { "completed" } else { "pending" },
    });
    let fields = [
        ("entry", tw_time(task.created_at)),
        ("modified", tw_time(task.updated_at)),
        ("end", tw_time(task.updated_at).filter(|_| task.is_done())),
    ];
    for (key, value) in fields {
        if let Some(v) = value {
            record[key] = v.into();
        }
    }
    if let Some(d) = &task.description {
        record["annotations"] = serde_json::json!([{
            "entry": tw_time(task.created_at.or(task.updated_at)),
            "description": d,
        }]);
    }
    record
}

/// One todo.txt line: `x DONE CREATED title` or `CREATED title`.
fn todotxt(task: &Task) -> String {
    let date = |t: Option<chrono::NaiveDateTime>| t.map(|t| t.format("%Y-%m-%d").to_string());
    let title = crate::text::one_line(&task.title);
    let mut words = Vec::new();
    if task.is_done() {
        words.push("x".to_string());
        // A completion date needs a creation date after it to be read as
        // one; without a creation date it is read as the completion date.
        words.extend(date(task.updated_at));
    }
    words.extend(date(task.created_at));
    words.push(title);
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("Buy milk"), "Buy milk");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
    }
}
