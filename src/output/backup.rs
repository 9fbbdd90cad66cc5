//! What `db backup`, `db restore` and `db verify` report.

use std::io::Write;

use serde_json::{json, Value};

use super::{plain_line, Render};
use crate::error::Result;

/// `db backup`.
pub struct BackedUp {
    pub file: String,
    pub users: u64,
    pub tasks: u64,
    pub bytes: u64,
    /// SHA-256 of the file.
    pub sha256: String,
    pub elapsed_ms: u64,
    /// `Some(true)` with `--verify`.
    pub verified: Option<bool>,
}

impl Render for BackedUp {
    fn json(&self) -> Value {
        let mut v = json!({
            "file": self.file,
            "users": self.users,
            "tasks": self.tasks,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "elapsed_ms": self.elapsed_ms,
        });
        if let Some(verified) = self.verified {
            v["verified"] = json!(verified);
        }
        v
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let f = [
            self.users.to_string(),
            self.tasks.to_string(),
            self.bytes.to_string(),
            self.elapsed_ms.to_string(),
        ];
        plain_line(
            out,
            &[
                Some(&self.file),
                Some(&f[0]),
                Some(&f[1]),
                Some(&f[2]),
                Some(&self.sha256),
                Some(&f[3]),
            ],
        )
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        writeln!(
            out,
            "Backed up {} and {} to {} ({} bytes, {:.1} s{}).",
            crate::text::count(self.users as i64, "user", "users"),
            crate::text::count(self.tasks as i64, "task", "tasks"),
            self.file,
            self.bytes,
            self.elapsed_ms as f64 / 1000.0,
            if self.verified == Some(true) {
                ", verified"
            } else {
                ""
            }
        )?;
        writeln!(out, "sha256 {}", self.sha256)?;
        Ok(())
    }
}

/// `db restore`.
pub struct Restored {
    pub users: u64,
    pub tasks: u64,
    pub elapsed_ms: u64,
    /// Another session held the tables: the rows went in with the indexes
    /// in place (said in a note, as the reason for a slow restore).
    pub indexes_kept: bool,
}

/// The note of a load that could not drop and rebuild the indexes because
/// another session held `held` (`db restore`, `db seed`): the reason it was
/// slow, said on stderr with plain output, below the table, never in JSON.
pub(super) fn kept_indexes_note(held: &str, what: &str) -> String {
    format!(
        "note: another session held {held}, so the rows went in with {what} in place \
         (slower than building them after the load)"
    )
}

impl Restored {
    fn kept_note(&self) -> Option<String> {
        self.indexes_kept
            .then(|| kept_indexes_note("users or tasks", "their indexes and keys"))
    }
}

impl Render for Restored {
    fn json(&self) -> Value {
        json!({ "users": self.users, "tasks": self.tasks, "elapsed_ms": self.elapsed_ms })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let f = [self.users, self.tasks, self.elapsed_ms].map(|n| n.to_string());
        plain_line(out, &[Some(&f[0]), Some(&f[1]), Some(&f[2])])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        writeln!(
            out,
            "Restored {} and {} in {:.1} s.",
            crate::text::count(self.users as i64, "user", "users"),
            crate::text::count(self.tasks as i64, "task", "tasks"),
            self.elapsed_ms as f64 / 1000.0
        )?;
        if let Some(note) = self.kept_note() {
            writeln!(out, "{note}")?;
        }
        Ok(())
    }

    fn note(&self) -> Option<String> {
        self.kept_note()
    }
}

/// `db verify`.
pub struct Verified {
    pub file: String,
    pub users: u64,
    pub tasks: u64,
    pub ok: bool,
}

impl Render for Verified {
    fn json(&self) -> Value {
        json!({ "file": self.file, "users": self.users, "tasks": self.tasks, "ok": self.ok })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let f = [self.users.to_string(), self.tasks.to_string()];
        plain_line(
            out,
            &[
                Some(&self.file),
                Some(&f[0]),
                Some(&f[1]),
                Some(if self.ok { "ok" } else { "mismatch" }),
            ],
        )
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        if self.ok {
            writeln!(
                out,
                "{}: OK ({}, {} restored and checked against the manifest).",
                self.file,
                crate::text::count(self.users as i64, "user", "users"),
                crate::text::count(self.tasks as i64, "task", "tasks")
            )?;
        } else {
            writeln!(out, "{}: does NOT match its manifest.", self.file)?;
        }
        Ok(())
    }
}
