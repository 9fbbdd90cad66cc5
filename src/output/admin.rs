//! What the `db` commands report: migrations applied, their status, a
//! revert, a seed, the local database. Each is a typed result the command
//! returns and [`super::emit`] writes in the chosen format.

use std::io::Write;

use serde_json::{json, Value};

use super::{plain_line, table, Render};
use crate::db::migrate::Known;
use crate::error::Result;

/// `db migrate`: the versions applied (with their names when known).
pub struct Applied(pub Vec<Known>);

impl Render for Applied {
    fn json(&self) -> Value {
        json!({ "applied": self.0.iter().map(|k| &k.version).collect::<Vec<_>>() })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        for k in &self.0 {
            plain_line(out, &[Some(&k.version)])?;
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        if self.0.is_empty() {
            writeln!(out, "Nothing to migrate: the database is up to date.")?;
        }
        for k in &self.0 {
            writeln!(out, "Applied {} {}", k.version, k.name)?;
        }
        Ok(())
    }
}

/// `db status`: applied and pending migrations.
pub struct MigrationStatus {
    pub applied: Vec<Known>,
    pub pending: Vec<Known>,
}

impl Render for MigrationStatus {
    fn json(&self) -> Value {
        let versions = |list: &[Known]| list.iter().map(|k| k.version.clone()).collect::<Vec<_>>();
        json!({ "applied": versions(&self.applied), "pending": versions(&self.pending) })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        for (list, state) in [(&self.applied, "applied"), (&self.pending, "pending")] {
            for k in list {
                plain_line(out, &[Some(&k.version), Some(&k.name), Some(state)])?;
            }
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let mut t = table(&["Version", "Name", "State"], color);
        for (list, state) in [(&self.applied, "applied"), (&self.pending, "pending")] {
            for k in list {
                t.add_row(vec![k.version.as_str(), k.name.as_str(), state]);
            }
        }
        writeln!(out, "{t}")?;
        writeln!(
            out,
            "{} applied, {} pending",
            self.applied.len(),
            self.pending.len()
        )?;
        Ok(())
    }
}

/// `db revert`: the migration reverted.
pub struct Reverted(pub Known);

impl Render for Reverted {
    fn json(&self) -> Value {
        json!({ "reverted": self.0.version })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        plain_line(out, &[Some(&self.0.version)])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        writeln!(out, "Reverted {} {}", self.0.version, self.0.name)?;
        Ok(())
    }
}

/// `db seed`: what was loaded.
pub struct Seeded {
    pub users_created: u64,
    pub tasks_created: u64,
    pub users_existing: u64,
    pub elapsed_ms: u64,
    /// The arguments, for the table's sentences.
    pub seed: u64,
    pub users_requested: u64,
    /// A seed user to try `task list` with.
    pub example_user: String,
}

impl Seeded {
    fn nothing_note(&self) -> Option<String> {
        (self.users_created == 0).then(|| {
            format!(
                "Nothing to seed: seed users 1..{} already exist (they are left as they are).",
                self.users_requested
            )
        })
    }
}

impl Render for Seeded {
    fn json(&self) -> Value {
        json!({
            "users_created": self.users_created,
            "tasks_created": self.tasks_created,
            "elapsed_ms": self.elapsed_ms,
        })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let f = [self.users_created, self.tasks_created, self.elapsed_ms].map(|n| n.to_string());
        plain_line(out, &[Some(&f[0]), Some(&f[1]), Some(&f[2])])
    }

    fn note(&self) -> Option<String> {
        self.nothing_note()
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        if let Some(note) = self.nothing_note() {
            writeln!(out, "{note}")?;
            return Ok(());
        }
        let existing = if self.users_existing > 0 {
            format!("; {} seed users already existed", self.users_existing)
        } else {
            String::new()
        };
        writeln!(
            out,
            "Seeded {} users and {} tasks in {:.1} s (seed {}{existing}).",
            self.users_created,
            self.tasks_created,
            self.elapsed_ms as f64 / 1000.0,
            self.seed,
        )?;
        writeln!(out, "Try: todo task list --user {}", self.example_user)?;
        Ok(())
    }
}

/// `db seed --clean`: what was removed.
pub struct SeedCleaned {
    pub users: i64,
    pub tasks: i64,
    pub elapsed_ms: u64,
}

impl Render for SeedCleaned {
    fn json(&self) -> Value {
        json!({ "users_deleted": self.users, "tasks_deleted": self.tasks, "elapsed_ms": self.elapsed_ms })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let f = [
            self.users.to_string(),
            self.tasks.to_string(),
            self.elapsed_ms.to_string(),
        ];
        plain_line(out, &[Some(&f[0]), Some(&f[1]), Some(&f[2])])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        writeln!(
            out,
            "Removed {} seed users and {} tasks.",
            self.users, self.tasks
        )?;
        Ok(())
    }
}

/// `db local status|start|stop`.
pub struct LocalStatus {
    pub state: &'static str,
    pub home: String,
    pub url: String,
    /// What `start` or `stop` did, for the table's one line.
    pub done: Option<&'static str>,
}

impl Render for LocalStatus {
    fn json(&self) -> Value {
        json!({ "state": self.state, "home": self.home, "url": self.url })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        plain_line(out, &[Some(self.state), Some(&self.home), Some(&self.url)])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        match self.done {
            Some(done) => writeln!(out, "Local database in {}: {done}", self.home)?,
            None => {
                writeln!(out, "state: {}", self.state)?;
                writeln!(out, "home:  {}", self.home)?;
                writeln!(out, "url:   {}", self.url)?;
            }
        }
        Ok(())
    }
}

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
            "Backed up {} users and {} tasks to {} ({} bytes, {:.1} s{}).",
            self.users,
            self.tasks,
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
            "Restored {} users and {} tasks in {:.1} s.",
            self.users,
            self.tasks,
            self.elapsed_ms as f64 / 1000.0
        )?;
        Ok(())
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
                "{}: OK ({} users, {} tasks restored and checked against the manifest).",
                self.file, self.users, self.tasks
            )?;
        } else {
            writeln!(out, "{}: does NOT match its manifest.", self.file)?;
        }
        Ok(())
    }
}

/// `db wait`: the server answered (and is migrated, if asked).
pub struct Ready {
    pub elapsed_ms: u64,
}

impl Render for Ready {
    fn json(&self) -> Value {
        json!({ "ready": true, "elapsed_ms": self.elapsed_ms })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        plain_line(out, &[Some("ready"), Some(&self.elapsed_ms.to_string())])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        writeln!(
            out,
            "The database is ready (waited {:.1} s).",
            self.elapsed_ms as f64 / 1000.0
        )?;
        Ok(())
    }
}

/// `db purge`.
pub struct Purged {
    pub deleted: i64,
    pub archived: u64,
    pub batches: u64,
    pub elapsed_ms: u64,
    pub dry_run: bool,
}

impl Render for Purged {
    fn json(&self) -> Value {
        let mut v = json!({
            "deleted": self.deleted,
            "archived": self.archived,
            "batches": self.batches,
            "elapsed_ms": self.elapsed_ms,
        });
        if self.dry_run {
            v["dry_run"] = json!(true);
        }
        v
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let f = [
            self.deleted.to_string(),
            self.archived.to_string(),
            self.batches.to_string(),
            self.elapsed_ms.to_string(),
        ];
        plain_line(out, &[Some(&f[0]), Some(&f[1]), Some(&f[2]), Some(&f[3])])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        if self.dry_run {
            writeln!(
                out,
                "Would delete {} completed tasks (dry run).",
                self.deleted
            )?;
        } else {
            writeln!(
                out,
                "Deleted {} completed tasks in {} batch(es){}.",
                self.deleted,
                self.batches,
                if self.archived > 0 {
                    format!(", {} archived", self.archived)
                } else {
                    String::new()
                }
            )?;
        }
        Ok(())
    }
}

/// One step of `db maintain`: what, on what, why, and how it went.
pub struct MaintenanceStep {
    pub action: String,
    pub target: String,
    pub reason: String,
    /// "planned", "done in 0.4 s", "skipped: …", "failed: …".
    pub result: String,
}

/// `db maintain`.
pub struct Maintained {
    pub steps: Vec<MaintenanceStep>,
}

impl Render for Maintained {
    fn json(&self) -> Value {
        json!({
            "actions": self.steps.iter().map(|s| json!({
                "action": s.action, "target": s.target, "reason": s.reason, "result": s.result,
            })).collect::<Vec<_>>()
        })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        for s in &self.steps {
            plain_line(
                out,
                &[
                    Some(&s.action),
                    Some(&s.target),
                    Some(&s.reason),
                    Some(&s.result),
                ],
            )?;
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        if self.steps.is_empty() {
            writeln!(
                out,
                "Nothing to do: no table needs VACUUM or ANALYZE, no index is invalid."
            )?;
        }
        for s in &self.steps {
            writeln!(out, "{}  ({}): {}", s.action, s.reason, s.result)?;
        }
        Ok(())
    }
}

/// What a command changed (`db rls enable|disable`, `db roles grant`).
pub struct Changes(pub Vec<String>);

impl Render for Changes {
    fn json(&self) -> Value {
        json!({ "changed": self.0 })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        for c in &self.0 {
            plain_line(out, &[Some(c)])?;
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        if self.0.is_empty() {
            writeln!(out, "Nothing to change: it already is so.")?;
        }
        for c in &self.0 {
            writeln!(out, "{c}")?;
        }
        Ok(())
    }
}

/// `db rls status`.
pub struct RlsState(pub crate::db::rls::Status);

impl Render for RlsState {
    fn json(&self) -> Value {
        let s = &self.0;
        json!({
            "enabled": s.enabled,
            "forced": s.forced,
            "policies": s.policies.iter().map(|p| json!({
                "name": p.name, "command": p.command, "using": p.using, "check": p.check,
            })).collect::<Vec<_>>(),
            "bypass": s.bypass,
        })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let s = &self.0;
        plain_line(
            out,
            &[
                Some("enabled"),
                Some(if s.enabled { "true" } else { "false" }),
            ],
        )?;
        for p in &s.policies {
            plain_line(
                out,
                &[
                    Some("policy"),
                    Some(&p.name),
                    Some(&p.command),
                    Some(&p.using),
                    Some(&p.check),
                ],
            )?;
        }
        for b in &s.bypass {
            plain_line(out, &[Some("bypass"), Some(b)])?;
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        let s = &self.0;
        writeln!(
            out,
            "Row-level security on tasks: {}{}",
            if s.enabled { "enabled" } else { "disabled" },
            if s.forced {
                " (forced for the owner too)"
            } else {
                ""
            }
        )?;
        for p in &s.policies {
            writeln!(
                out,
                "policy {} ({}): USING {} WITH CHECK {}",
                p.name, p.command, p.using, p.check
            )?;
        }
        writeln!(out, "not subject to it: {}", s.bypass.join(", "))?;
        Ok(())
    }
}

/// `db roles status`.
pub struct Grants(pub Vec<crate::db::rls::Grant>);

impl Render for Grants {
    fn json(&self) -> Value {
        json!(self
            .0
            .iter()
            .map(|g| json!({
                "role": g.role, "object": g.object, "privileges": g.privileges,
            }))
            .collect::<Vec<_>>())
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        for g in &self.0 {
            plain_line(out, &[Some(&g.role), Some(&g.object), Some(&g.privileges)])?;
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let mut t = table(&["Role", "Object", "Privileges"], color);
        for g in &self.0 {
            t.add_row(vec![
                g.role.as_str(),
                g.object.as_str(),
                g.privileges.as_str(),
            ]);
        }
        writeln!(out, "{t}")?;
        Ok(())
    }
}
