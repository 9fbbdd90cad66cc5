//! Writers for tasks, users and counts in the three formats. Lists are
//! streamed row by row in plain and JSON; tables need every row first.

use std::io::Write;

use chrono::{NaiveDateTime, Utc};
use comfy_table::{Cell, Color};
use serde::Serialize;

use super::{data_cell, plain_line, plain_table, relative, rfc3339, table, Render};
use crate::error::Result;
use crate::model::{Account, Counts, DeletedUser, Task, User};

#[derive(Serialize)]
pub(super) struct TaskJson<'a> {
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
pub(super) struct UserJson<'a> {
    id: &'a str,
    email: &'a str,
    name: Option<&'a str>,
    created_at: Option<String>,
    updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks: Option<CountsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks_deleted: Option<i64>,
}

pub(super) fn task_plain(out: &mut (impl Write + ?Sized), t: &Task) -> Result<()> {
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

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

pub(super) fn status_cell(t: &Task, color: bool) -> Cell {
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

/// A user's task counts in JSON: all three null when row-level security
/// hid them (never a false 0).
#[derive(serde::Serialize)]
pub(super) struct CountsJson {
    total: Option<i64>,
    pending: Option<i64>,
    done: Option<i64>,
}

pub(super) fn counts_json(c: Option<Counts>) -> CountsJson {
    CountsJson {
        total: c.map(|c| c.total),
        pending: c.map(|c| c.pending),
        done: c.map(|c| c.done),
    }
}

/// The counts as plain fields (empty when hidden) or table cells (`?`).
pub(super) fn counts_fields(c: Option<Counts>, unknown: &str) -> [String; 3] {
    match c {
        Some(c) => [c.total, c.pending, c.done].map(|n| n.to_string()),
        None => [(); 3].map(|()| unknown.to_string()),
    }
}

pub(super) fn user_json(
    u: &Account,
    counts: Option<CountsJson>,
    deleted: Option<i64>,
) -> UserJson<'_> {
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

pub(super) fn user_plain(
    out: &mut (impl Write + ?Sized),
    u: &Account,
    tail: &[String],
) -> Result<()> {
    let (created, updated) = (rfc3339(u.created_at), rfc3339(u.updated_at));
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

/// One user with task counts (`user add`, `show`); `-q` prints the id of a
/// new one.
pub struct UserRecord<'a> {
    pub user: &'a User,
    pub new: bool,
}

impl Render for UserRecord<'_> {
    fn json(&self) -> serde_json::Value {
        let u = self.user;
        serde_json::to_value(user_json(&u.account, Some(counts_json(u.counts())), None))
            .unwrap_or_default()
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        user_plain(
            out,
            &self.user.account,
            &counts_fields(self.user.counts(), ""),
        )
    }

    fn quiet(&self) -> Option<String> {
        self.new.then(|| self.user.account.id.clone())
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let [total, pending, done] = counts_fields(self.user.counts(), "?");
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
            Cell::new(format!("{total} ({pending} pending, {done} done)")),
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
        user_plain(out, &self.account, &[self.tasks_deleted.to_string()])
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
