//! The one place that decides how a command's results reach the user:
//! the format, `-q`, notes below a result, and paging of long lists. A
//! command hands it typed results; it never looks at the format itself.

use std::io::{BufWriter, Write};

use super::pager::{self, ListOut};
use super::{Format, Output, Render};
use crate::error::Result;
use crate::model::{Account, Task, User};

/// Where the results of one invocation go.
#[derive(Debug, Clone, Copy)]
pub struct Sink {
    pub out: Output,
    /// `--no-pager`.
    pub no_pager: bool,
}

impl Sink {
    /// Buffered stdout.
    pub fn stdout(&self) -> BufWriter<std::io::StdoutLock<'static>> {
        BufWriter::new(std::io::stdout().lock())
    }

    /// Writes the command's result in the chosen format (nothing under -q).
    pub fn emit(&self, item: &dyn Render) -> Result<()> {
        super::emit(&mut self.stdout(), self.out, item)
    }

    /// Writes tasks a command changed as the rows arrive (nothing under -q).
    pub fn emit_tasks(&self, tasks: &mut dyn Iterator<Item = Result<Task>>) -> Result<()> {
        if self.out.quiet {
            return Ok(());
        }
        self.emit_task_list(tasks)
    }

    /// Writes a listing of tasks as the rows arrive (their ids under -q,
    /// one per line, as `docker ps -q` does).
    pub fn emit_task_list(&self, tasks: &mut dyn Iterator<Item = Result<Task>>) -> Result<()> {
        self.emit_list(
            tasks,
            |t| t.id.to_string(),
            |out, tasks| super::write_tasks(out, self.out, tasks).map(|_| ()),
        )
    }

    /// Writes a list of users as the rows arrive (their ids under -q).
    pub fn emit_users(&self, mut users: impl Iterator<Item = Result<User>>) -> Result<()> {
        self.emit_list(
            &mut users,
            |u| u.account.id.clone(),
            |out, users| super::write_users(out, self.out, users),
        )
    }

    /// A listing: ids one per line under -q, else `write` through the pager
    /// (on a terminal, see [`pager`]).
    fn emit_list<T>(
        &self,
        items: &mut dyn Iterator<Item = Result<T>>,
        id: impl Fn(&T) -> String,
        write: impl FnOnce(&mut ListOut, &mut dyn Iterator<Item = Result<T>>) -> Result<()>,
    ) -> Result<()> {
        if self.out.quiet {
            let mut out = self.stdout();
            for item in items {
                writeln!(out, "{}", crate::text::terminal_safe(&id(&item?), false))?;
            }
            out.flush()?;
            return Ok(());
        }
        let mut out = pager::list_out(self.out, self.no_pager);
        write(&mut out, items)?;
        out.finish()?;
        Ok(())
    }

    /// A remark after a result: below the table, on stderr with plain
    /// output, never in JSON or under -q (as [`Render::note`]).
    pub fn note(&self, text: &str) {
        match self.out.format {
            _ if self.out.quiet => {}
            Format::Table => println!("{text}"),
            Format::Plain => eprintln!("{text}"),
            Format::Json | Format::Prometheus => {}
        }
    }

    /// Writes a user's export as the task rows arrive (nothing under -q).
    pub fn emit_export(
        &self,
        account: &Account,
        tasks: &mut dyn Iterator<Item = Result<Task>>,
    ) -> Result<()> {
        if self.out.quiet {
            return Ok(());
        }
        let mut out = self.stdout();
        match self.out.shape {
            None => {
                super::write_export(&mut out, account, tasks)?;
            }
            // Fields or a filter see the export whole, collected first.
            Some(shape) => {
                let mut whole = Vec::new();
                super::write_export(&mut whole, account, tasks)?;
                shape.write_value(&mut out, serde_json::from_slice(&whole)?)?;
            }
        };
        out.flush()?;
        Ok(())
    }
}
