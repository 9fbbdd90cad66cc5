//! Writers for tasks, users and counts in the three formats. Lists are
//! streamed row by row in plain and JSON; tables need every row first.

use std::io::Write;

use chrono::{NaiveDateTime, Utc};
use comfy_table::{Cell, Color};
use serde::Serialize;

use super::{data_cell, json_line, plain_line, plain_table, relative, rfc3339, table, Output};
use crate::cli::Format;
use crate::db::models::{Counts, Task, User};
use crate::error::Result;

#[derive(Serialize)]
struct TaskJson<'a> {
    id: i32,
    title: &'a str,
    description: Option<&'a str>,
    completed: bool,
    user_id: &'a str,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl<'a> From<&'a Task> for TaskJson<'a> {
    fn from(t: &'a Task) -> Self {
        TaskJson {
            id: t.id,
            title: &t.title,
            description: t.description.as_deref(),
            completed: t.is_done(),
            user_id: &t.user_id,
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

#[derive(Serialize)]
struct UserJson<'a> {
    id: &'a str,
    email: &'a str,
    name: Option<&'a str>,
    created_at: Option<String>,
    updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks: Option<Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks_deleted: Option<i64>,
}

fn task_plain(out: &mut impl Write, t: &Task) -> Result<()> {
    let id = t.id.to_string();
    let (created, updated) = (rfc3339(t.created_at), rfc3339(t.updated_at));
    plain_line(
        out,
        &[
            Some(&id),
            Some(&t.title),
            t.description.as_deref(),
            Some(if t.is_done() { "true" } else { "false" }),
            Some(&t.user_id),
            created.as_deref(),
            updated.as_deref(),
        ],
    )
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn status_cell(t: &Task, color: bool) -> Cell {
    let (text, fg) = if t.is_done() {
        ("done", Color::Green)
    } else {
        ("pending", Color::Yellow)
    };
    let cell = Cell::new(text);
    if color {
        cell.fg(fg)
    } else {
        cell
    }
}

/// Writes a list of tasks (`task list`, `done`, `undo`, `rm`): a JSON array,
/// plain lines, or a table. Rows are written as they arrive.
pub fn write_tasks(
    out: &mut impl Write,
    fmt: Output,
    tasks: impl Iterator<Item = Result<Task>>,
) -> Result<usize> {
    let mut n = 0;
    match fmt.format {
        Format::Json => {
            n = json_array(out, tasks, |out, task| {
                Ok(serde_json::to_writer(out, &TaskJson::from(&task))?)
            })?
        }
        Format::Plain => {
            for task in tasks {
                task_plain(out, &task?)?;
                n += 1;
            }
        }
        Format::Table => {
            let now = now();
            let mut t = table(&["ID", "Status", "Title", "Created"], fmt.color);
            for task in tasks {
                let task = task?;
                t.add_row(vec![
                    Cell::new(task.id),
                    status_cell(&task, fmt.color),
                    data_cell(&task.title, false),
                    Cell::new(relative(task.created_at, now)),
                ]);
                n += 1;
            }
            if n == 0 {
                writeln!(out, "No tasks.")?;
            } else {
                writeln!(out, "{t}")?;
            }
        }
    }
    Ok(n)
}

/// Writes one task (`task add`, `show`, `edit`).
pub fn write_task(out: &mut impl Write, fmt: Output, task: &Task) -> Result<()> {
    match fmt.format {
        Format::Json => json_line(out, &TaskJson::from(task)),
        Format::Plain => task_plain(out, task),
        Format::Table => {
            let now = now();
            let mut t = plain_table(fmt.color);
            let when = |ts: Option<NaiveDateTime>| match ts {
                Some(_) => format!(
                    "{} ({})",
                    relative(ts, now),
                    rfc3339(ts).unwrap_or_default()
                ),
                None => String::new(),
            };
            t.add_row(vec![Cell::new("ID"), Cell::new(task.id)]);
            t.add_row(vec![Cell::new("Title"), data_cell(&task.title, false)]);
            t.add_row(vec![Cell::new("Status"), status_cell(task, fmt.color)]);
            t.add_row(vec![
                Cell::new("Description"),
                data_cell(task.description.as_deref().unwrap_or(""), true),
            ]);
            t.add_row(vec![Cell::new("User"), data_cell(&task.user_id, false)]);
            t.add_row(vec![Cell::new("Created"), Cell::new(when(task.created_at))]);
            t.add_row(vec![Cell::new("Updated"), Cell::new(when(task.updated_at))]);
            writeln!(out, "{t}")?;
            Ok(())
        }
    }
}

fn user_json(u: &User, counts: bool, deleted: Option<i64>) -> UserJson<'_> {
    UserJson {
        id: &u.id,
        email: &u.email,
        name: u.name.as_deref(),
        created_at: rfc3339(u.created_at),
        updated_at: rfc3339(u.updated_at),
        tasks: counts.then(|| u.counts()),
        tasks_deleted: deleted,
    }
}

fn user_plain(out: &mut impl Write, u: &User, tail: &[i64]) -> Result<()> {
    let (created, updated) = (rfc3339(u.created_at), rfc3339(u.updated_at));
    let tail: Vec<String> = tail.iter().map(i64::to_string).collect();
    let mut fields = vec![
        Some(u.id.as_str()),
        Some(u.email.as_str()),
        u.name.as_deref(),
        created.as_deref(),
        updated.as_deref(),
    ];
    fields.extend(tail.iter().map(|s| Some(s.as_str())));
    plain_line(out, &fields)
}

/// Writes a JSON array element by element, as the rows arrive.
fn json_array<T, W: Write>(
    out: &mut W,
    items: impl Iterator<Item = Result<T>>,
    mut write: impl FnMut(&mut W, T) -> Result<()>,
) -> Result<usize> {
    let mut n = 0;
    out.write_all(b"[")?;
    for item in items {
        if n > 0 {
            out.write_all(b",")?;
        }
        write(out, item?)?;
        n += 1;
    }
    out.write_all(b"]\n")?;
    Ok(n)
}

/// Writes users with their task counts (`user list`), streamed in plain and
/// JSON.
pub fn write_users(
    out: &mut impl Write,
    fmt: Output,
    users: impl Iterator<Item = Result<User>>,
) -> Result<()> {
    match fmt.format {
        Format::Json => {
            json_array(out, users, |out, u| {
                Ok(serde_json::to_writer(out, &user_json(&u, true, None))?)
            })?;
        }
        Format::Plain => {
            for u in users {
                let u = u?;
                let c = u.counts();
                user_plain(out, &u, &[c.total, c.pending, c.done])?;
            }
        }
        Format::Table => {
            let now = now();
            let mut t = table(
                &["ID", "Email", "Name", "Tasks", "Pending", "Done", "Created"],
                fmt.color,
            );
            let mut n = 0;
            for u in users {
                let u = u?;
                let c = u.counts();
                t.add_row(vec![
                    data_cell(&u.id, false),
                    data_cell(&u.email, false),
                    data_cell(u.name.as_deref().unwrap_or(""), false),
                    Cell::new(c.total),
                    Cell::new(c.pending),
                    Cell::new(c.done),
                    Cell::new(relative(u.created_at, now)),
                ]);
                n += 1;
            }
            if n == 0 {
                writeln!(out, "No users.")?;
            } else {
                writeln!(out, "{t}")?;
            }
        }
    }
    Ok(())
}

/// Writes one user: with counts (`user add`, `show`) or, for `user rm`,
/// with the number of tasks deleted.
pub fn write_user(out: &mut impl Write, fmt: Output, u: &User, deleted: Option<i64>) -> Result<()> {
    match fmt.format {
        Format::Json => json_line(out, &user_json(u, deleted.is_none(), deleted)),
        Format::Plain => {
            let c = u.counts();
            match deleted {
                Some(n) => user_plain(out, u, &[n]),
                None => user_plain(out, u, &[c.total, c.pending, c.done]),
            }
        }
        Format::Table => {
            if let Some(n) = deleted {
                writeln!(
                    out,
                    "Deleted user {} ({}) and {n} task{}.",
                    crate::text::terminal_safe(&u.email, false),
                    crate::text::terminal_safe(&u.id, false),
                    if n == 1 { "" } else { "s" }
                )?;
                return Ok(());
            }
            let now = now();
            let c = u.counts();
            let mut t = plain_table(fmt.color);
            t.add_row(vec![Cell::new("ID"), data_cell(&u.id, false)]);
            t.add_row(vec![Cell::new("Email"), data_cell(&u.email, false)]);
            t.add_row(vec![
                Cell::new("Name"),
                data_cell(u.name.as_deref().unwrap_or(""), false),
            ]);
            t.add_row(vec![
                "Tasks".to_string(),
                format!("{} ({} pending, {} done)", c.total, c.pending, c.done),
            ]);
            t.add_row(vec!["Created".to_string(), relative(u.created_at, now)]);
            writeln!(out, "{t}")?;
            Ok(())
        }
    }
}

/// Writes task counts (`task stats`).
pub fn write_counts(out: &mut impl Write, fmt: Output, c: Counts) -> Result<()> {
    match fmt.format {
        Format::Json => json_line(out, &c),
        Format::Plain => {
            let f = [
                c.total.to_string(),
                c.pending.to_string(),
                c.done.to_string(),
            ];
            plain_line(out, &[Some(&f[0]), Some(&f[1]), Some(&f[2])])
        }
        Format::Table => {
            let mut t = table(&["Total", "Pending", "Done"], fmt.color);
            t.add_row(vec![c.total, c.pending, c.done]);
            writeln!(out, "{t}")?;
            Ok(())
        }
    }
}
