//! Lists, streamed as their rows arrive: tasks, users, a user's export.
//! Tables are written in blocks so memory stays bounded.

use std::io::Write;

use comfy_table::Cell;

use super::records::{
    counts_fields, counts_json, now, status_cell, task_plain, user_json, user_plain, TaskJson,
};
use super::{data_cell, relative, table, Format, Output};
use crate::error::Result;
use crate::model::{Account, Task, User};

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
            n = json_array(out, fmt, tasks, |out, task| {
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

/// Writes a JSON array element by element, as the rows arrive; through
/// `--json FIELDS` / `--jq` ([`super::shape`]) each element is read back
/// as a value first.
fn json_array<T, W: Write>(
    out: &mut W,
    fmt: Output,
    items: impl Iterator<Item = Result<T>>,
    mut write: impl FnMut(&mut dyn Write, T) -> Result<()>,
) -> Result<usize> {
    if let Some(shape) = fmt.shape {
        let mut list = shape.list(out)?;
        let mut element = Vec::new();
        for item in items {
            element.clear();
            write(&mut element, item?)?;
            list.push(out, serde_json::from_slice(&element)?)?;
        }
        return list.finish(out);
    }
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
            json_array(out, fmt, users, |out, u| {
                let json = user_json(&u.account, Some(counts_json(u.counts())), None);
                Ok(serde_json::to_writer(out, &json)?)
            })?;
        }
        Format::Plain => {
            for u in users {
                let u = u?;
                user_plain(out, &u.account, &counts_fields(u.counts(), ""))?;
            }
        }
        Format::Table => {
            let now = now();
            let mut blocks = Blocks::new(|| {
                table(
                    &["Email", "Name", "Tasks", "Pending", "Done", "Created", "ID"],
                    fmt.color,
                )
            });
            for u in users {
                let u = u?;
                let [total, pending, done] = counts_fields(u.counts(), "?");
                let a = &u.account;
                blocks.push(
                    out,
                    vec![
                        data_cell(&a.email, false),
                        data_cell(a.name.as_deref().unwrap_or(""), false),
                        Cell::new(total),
                        Cell::new(pending),
                        Cell::new(done),
                        Cell::new(relative(a.created_at, now)),
                        data_cell(&a.id, false),
                    ],
                )?;
            }
            blocks.finish(out, "No users.")?;
        }
    }
    Ok(())
}

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
