//! Writers for tasks, users and counts in the three formats. Lists are
//! streamed row by row in plain and JSON; tables need every row first.

use std::io::Write;

use chrono::{NaiveDateTime, Utc};
use comfy_table::{Cell, Color};
use serde::Serialize;

use super::Format;
use super::{data_cell, plain_line, plain_table, relative, rfc3339, table, Output, Render};
use crate::db::models::{Account, Counts, DeletedUser, Task, User};
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

fn task_plain(out: &mut (impl Write + ?Sized), t: &Task) -> Result<()> {
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
        Format::Prometheus => return Err(super::prometheus_unsupported()),
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
            let mut blocks =
                Blocks::new(|| table(&["ID", "Status", "Title", "Created"], fmt.color));
            for task in tasks {
                let task = task?;
                blocks.push(
                    out,
                    vec![
                        Cell::new(task.id),
                        status_cell(&task, fmt.color),
                        data_cell(&task.title, false),
                        Cell::new(relative(task.created_at, now)),
                    ],
                )?;
            }
            n = blocks.finish(out, "No tasks.")?;
        }
    }
    Ok(n)
}

/// One task (`task add`, `show`, `edit`); `-q` prints the id of a new one.
pub struct TaskRecord<'a> {
    pub task: &'a Task,
    pub new: bool,
    /// The owner's email when the command named them by it: tables show
    /// it beside the id, which is what people know (JSON keeps `user_id`).
    pub email: Option<String>,
}

impl Render for TaskRecord<'_> {
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(TaskJson::from(self.task)).unwrap_or_default()
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        task_plain(out, self.task)
    }

    fn quiet(&self) -> Option<String> {
        self.new.then(|| self.task.id.to_string())
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let task = self.task;
        let now = now();
        let mut t = plain_table(color);
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
        t.add_row(vec![Cell::new("Status"), status_cell(task, color)]);
        t.add_row(vec![
            Cell::new("Description"),
            data_cell(task.description.as_deref().unwrap_or(""), true),
        ]);
        let owner = match &self.email {
            Some(email) => format!("{email} ({})", task.user_id),
            None => task.user_id.clone(),
        };
        t.add_row(vec![Cell::new("User"), data_cell(&owner, false)]);
        t.add_row(vec![Cell::new("Created"), Cell::new(when(task.created_at))]);
        t.add_row(vec![Cell::new("Updated"), Cell::new(when(task.updated_at))]);
        writeln!(out, "{t}")?;
        Ok(())
    }
}

fn user_json(u: &Account, counts: Option<Counts>, deleted: Option<i64>) -> UserJson<'_> {
    UserJson {
        id: &u.id,
        email: &u.email,
        name: u.name.as_deref(),
        created_at: rfc3339(u.created_at),
        updated_at: rfc3339(u.updated_at),
        tasks: counts,
        tasks_deleted: deleted,
    }
}

fn user_plain(out: &mut (impl Write + ?Sized), u: &Account, tail: &[i64]) -> Result<()> {
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
        Format::Prometheus => return Err(super::prometheus_unsupported()),
        Format::Json => {
            json_array(out, users, |out, u| {
                let json = user_json(&u.account, Some(u.counts()), None);
                Ok(serde_json::to_writer(out, &json)?)
            })?;
        }
        Format::Plain => {
            for u in users {
                let u = u?;
                let c = u.counts();
                user_plain(out, &u.account, &[c.total, c.pending, c.done])?;
            }
        }
        Format::Table => {
            let now = now();
            let mut blocks = Blocks::new(|| {
                table(
                    &["ID", "Email", "Name", "Tasks", "Pending", "Done", "Created"],
                    fmt.color,
                )
            });
            for u in users {
                let u = u?;
                let c = u.counts();
                let a = &u.account;
                blocks.push(
                    out,
                    vec![
                        data_cell(&a.id, false),
                        data_cell(&a.email, false),
                        data_cell(a.name.as_deref().unwrap_or(""), false),
                        Cell::new(c.total),
                        Cell::new(c.pending),
                        Cell::new(c.done),
                        Cell::new(relative(a.created_at, now)),
                    ],
                )?;
            }
            blocks.finish(out, "No users.")?;
        }
    }
    Ok(())
}

/// One user with task counts (`user add`, `show`); `-q` prints the id of a
/// new one.
pub struct UserRecord<'a> {
    pub user: &'a User,
    pub new: bool,
}

impl Render for UserRecord<'_> {
    fn json(&self) -> serde_json::Value {
        let u = self.user;
        serde_json::to_value(user_json(&u.account, Some(u.counts()), None)).unwrap_or_default()
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let c = self.user.counts();
        user_plain(out, &self.user.account, &[c.total, c.pending, c.done])
    }

    fn quiet(&self) -> Option<String> {
        self.new.then(|| self.user.account.id.clone())
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let c = self.user.counts();
        let u = &self.user.account;
        let now = now();
        let mut t = plain_table(color);
        t.add_row(vec![Cell::new("ID"), data_cell(&u.id, false)]);
        t.add_row(vec![Cell::new("Email"), data_cell(&u.email, false)]);
        t.add_row(vec![
            Cell::new("Name"),
            data_cell(u.name.as_deref().unwrap_or(""), false),
        ]);
        t.add_row(vec![
            Cell::new("Tasks"),
            Cell::new(format!(
                "{} ({} pending, {} done)",
                c.total, c.pending, c.done
            )),
        ]);
        t.add_row(vec![
            Cell::new("Created"),
            Cell::new(relative(u.created_at, now)),
        ]);
        writeln!(out, "{t}")?;
        Ok(())
    }
}

/// `user rm`: the deleted user and the number of tasks that went with it.
impl Render for DeletedUser {
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(user_json(&self.account, None, Some(self.tasks_deleted)))
            .unwrap_or_default()
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        user_plain(out, &self.account, &[self.tasks_deleted])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        let n = self.tasks_deleted;
        writeln!(
            out,
            "Deleted user {} ({}) and {n} task{}.",
            crate::text::terminal_safe(&self.account.email, false),
            crate::text::terminal_safe(&self.account.id, false),
            if n == 1 { "" } else { "s" }
        )?;
        Ok(())
    }
}

/// `task stats`.
impl Render for Counts {
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let f = [
            self.total.to_string(),
            self.pending.to_string(),
            self.done.to_string(),
        ];
        plain_line(out, &[Some(&f[0]), Some(&f[1]), Some(&f[2])])
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let mut t = table(&["Total", "Pending", "Done"], color);
        t.add_row(vec![self.total, self.pending, self.done]);
        writeln!(out, "{t}")?;
        Ok(())
    }
}

/// A list's table, or `empty` when it has no rows.
/// Rows per table block: a long list is written as consecutive tables of
/// this many rows (each with its header, as `vmstat` repeats its own), so
/// memory stays bounded however long the list.
const TABLE_BLOCK: usize = 1000;

/// A long table written block by block (see [`TABLE_BLOCK`]).
struct Blocks<F: Fn() -> comfy_table::Table> {
    make: F,
    table: comfy_table::Table,
    in_block: usize,
    total: usize,
}

impl<F: Fn() -> comfy_table::Table> Blocks<F> {
    fn new(make: F) -> Self {
        let table = make();
        Blocks {
            make,
            table,
            in_block: 0,
            total: 0,
        }
    }

    fn push(&mut self, out: &mut impl Write, row: Vec<Cell>) -> Result<()> {
        self.table.add_row(row);
        self.in_block += 1;
        self.total += 1;
        if self.in_block == TABLE_BLOCK {
            writeln!(out, "{}", self.table)?;
            self.table = (self.make)();
            self.in_block = 0;
        }
        Ok(())
    }

    /// Writes the last block (or `empty` when there were no rows); returns
    /// the number of rows.
    fn finish(self, out: &mut impl Write, empty: &str) -> Result<usize> {
        if self.total == 0 {
            writeln!(out, "{empty}")?;
        } else if self.in_block > 0 {
            writeln!(out, "{}", self.table)?;
        }
        Ok(self.total)
    }
}

/// `user export`: `{"user":{…},"tasks":[…]}`, always JSON (an export is for
/// programs), the tasks written as they arrive.
pub fn write_export(
    out: &mut impl Write,
    account: &Account,
    tasks: impl Iterator<Item = Result<Task>>,
) -> Result<usize> {
    out.write_all(b"{\"user\":")?;
    serde_json::to_writer(&mut *out, &user_json(account, None, None))?;
    out.write_all(b",\"tasks\":")?;
    let mut n = 0;
    out.write_all(b"[")?;
    for task in tasks {
        if n > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &TaskJson::from(&task?))?;
        n += 1;
    }
    out.write_all(b"]}\n")?;
    Ok(n)
}
