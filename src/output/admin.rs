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

/// `db migrate --plan`: what the pending migrations will do (SPEC §21).
pub struct MigrationPlan(pub crate::db::migrate::plan::Plan);

/// "brief", or "about 1.2 s over 2,000,000 rows".
fn duration(step: &crate::db::migrate::plan::PlannedStep) -> String {
    match step.rows {
        None => "brief".into(),
        Some(rows) => format!(
            "about {:.1} s over {} rows",
            step.estimate_ms as f64 / 1000.0,
            indicatif::HumanCount(rows.max(0) as u64)
        ),
    }
}

impl Render for MigrationPlan {
    fn json(&self) -> Value {
        let pending: Vec<Value> = self
            .0
            .pending
            .iter()
            .map(|m| {
                let steps: Vec<Value> = m
                    .steps
                    .iter()
                    .map(|s| {
                        json!({
                            "sql": s.sql,
                            "lock": s.lock,
                            "blocks": s.blocks,
                            "estimate_ms": s.estimate_ms,
                            "transactional": s.transactional,
                            "table": s.table,
                            "rows": s.rows,
                            "when": s.when,
                        })
                    })
                    .collect();
                json!({ "version": m.known.version, "name": m.known.name, "steps": steps })
            })
            .collect();
        json!({ "pending": pending, "one_transaction": self.0.one_transaction })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        for m in &self.0.pending {
            for (i, s) in m.steps.iter().enumerate() {
                let n = (i + 1).to_string();
                let ms = s.estimate_ms.to_string();
                let tx = if s.transactional { "t" } else { "f" };
                plain_line(
                    out,
                    &[
                        Some(&m.known.version),
                        Some(&n),
                        Some(s.lock),
                        Some(s.blocks),
                        Some(&ms),
                        Some(tx),
                        Some(&crate::text::one_line(&s.sql)),
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        if self.0.pending.is_empty() {
            writeln!(out, "Nothing to migrate: the database is up to date.")?;
            return Ok(());
        }
        if self.0.one_transaction {
            writeln!(
                out,
                "The tables hold no rows: every step runs in one transaction (nothing to block)."
            )?;
        } else {
            writeln!(
                out,
                "Online: brief steps are tried with a 0.5 s lock budget and retried until \
                 --lock-timeout; builds and validations block no reads or writes."
            )?;
        }
        for m in &self.0.pending {
            writeln!(out, "\n{} {}", m.known.version, m.known.name)?;
            for (i, s) in m.steps.iter().enumerate() {
                writeln!(out, "  {}. {}", i + 1, crate::text::one_line(&s.sql))?;
                let on = s
                    .table
                    .as_deref()
                    .map(|t| format!(" on {t}"))
                    .unwrap_or_default();
                let lock = if s.lock == "none" {
                    "no lock on the application's tables".to_string()
                } else {
                    format!("{}{on}, blocks {}", s.lock, s.blocks)
                };
                let tx = if s.transactional {
                    "in a transaction"
                } else {
                    "outside a transaction"
                };
                let when = s
                    .when
                    .as_deref()
                    .map(|w| format!("; only when {w}"))
                    .unwrap_or_default();
                writeln!(out, "     {lock}; {}; {tx}{when}", duration(s))?;
            }
        }
        Ok(())
    }
}

/// `db status`: applied and pending migrations.
pub struct MigrationStatus {
    pub applied: Vec<Known>,
    /// When each applied migration was applied (UTC), in the same order.
    pub run_on: Vec<chrono::NaiveDateTime>,
    pub pending: Vec<Known>,
    /// A migration running or left part-way (SPEC §21).
    pub leftovers: crate::db::migrate::online::Leftovers,
}

impl MigrationStatus {
    /// (migration, state, when applied as RFC 3339) for every row: a
    /// pending migration some of whose work exists is `incomplete`.
    fn rows(&self) -> Vec<(&Known, &'static str, String)> {
        let applied = self.applied.iter().enumerate().map(|(i, k)| {
            let at = self.run_on.get(i).map(|t| super::time::rfc3339(Some(*t)));
            (k, "applied", at.flatten().unwrap_or_default())
        });
        let pending = self.pending.iter().map(|k| {
            let partial = self.found(&k.version).is_some();
            (
                k,
                if partial { "incomplete" } else { "pending" },
                String::new(),
            )
        });
        applied.chain(pending).collect()
    }

    /// What of `version`'s work exists, if it is part-way.
    fn found(&self, version: &str) -> Option<Vec<String>> {
        self.leftovers
            .partial
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, found)| {
                found
                    .iter()
                    .map(|f| {
                        let state = match (f.valid, f.kind) {
                            (true, _) => "",
                            (false, "index") => " (INVALID)",
                            (false, _) => " (NOT VALID)",
                        };
                        format!("{} {}{state}", f.kind, f.name)
                    })
                    .collect()
            })
    }

    /// The remark under the table: a migration running, or part-way.
    fn remark(&self) -> Option<String> {
        let mut lines = Vec::new();
        if let Some(pid) = self.leftovers.running {
            lines.push(format!(
                "A migration is in progress (server process {pid} holds the migration lock)."
            ));
        }
        for (version, _) in &self.leftovers.partial {
            if let Some(found) = self.found(version) {
                lines.push(format!(
                    "Migration {version} is incomplete: {} exist{}; todo db migrate completes it.",
                    found.join(", "),
                    if found.len() == 1 { "s" } else { "" }
                ));
            }
        }
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

impl Render for MigrationStatus {
    fn json(&self) -> Value {
        let versions = |list: &[Known]| list.iter().map(|k| k.version.clone()).collect::<Vec<_>>();
        let run_on: serde_json::Map<String, Value> = self
            .rows()
            .into_iter()
            .filter(|(_, state, _)| *state == "applied")
            .map(|(k, _, at)| (k.version.clone(), Value::from(at)))
            .collect();
        let incomplete: serde_json::Map<String, Value> = self
            .leftovers
            .partial
            .iter()
            .filter_map(|(v, _)| self.found(v).map(|f| (v.clone(), Value::from(f))))
            .collect();
        json!({
            "applied": versions(&self.applied),
            "pending": versions(&self.pending),
            "run_on": run_on,
            "incomplete": incomplete,
            "in_progress": self.leftovers.running,
        })
    }

    fn note(&self) -> Option<String> {
        self.remark()
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        for (k, state, at) in self.rows() {
            plain_line(
                out,
                &[Some(&k.version), Some(&k.name), Some(state), Some(&at)],
            )?;
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let mut t = table(&["Version", "Name", "State", "Applied"], color);
        for (k, state, at) in self.rows() {
            t.add_row(vec![
                k.version.as_str(),
                k.name.as_str(),
                state,
                at.as_str(),
            ]);
        }
        writeln!(out, "{t}")?;
        writeln!(
            out,
            "{} applied, {} pending",
            self.applied.len(),
            self.pending.len()
        )?;
        if let Some(remark) = self.remark() {
            writeln!(out, "{remark}")?;
        }
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
    /// Another session held `tasks`: the rows went in with its indexes in
    /// place (said in a note, as the reason for a slow seed).
    pub indexes_kept: bool,
}

impl Seeded {
    fn kept_note(&self) -> Option<String> {
        self.indexes_kept
            .then(|| super::backup::kept_indexes_note("tasks", "its indexes"))
    }

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
        self.nothing_note().or_else(|| self.kept_note())
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        if let Some(note) = self.nothing_note() {
            writeln!(out, "{note}")?;
            return Ok(());
        }
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let existing = if self.users_existing > 0 {
            format!(
                "; {} already existed",
                plural(self.users_existing, "seed user")
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "Seeded {} and {} in {:.1} s (seed {}{existing}).",
            plural(self.users_created, "user"),
            plural(self.tasks_created, "task"),
            self.elapsed_ms as f64 / 1000.0,
            self.seed,
        )?;
        writeln!(out, "Try: todo task list --user {}", self.example_user)?;
        if let Some(note) = self.kept_note() {
            writeln!(out, "{note}")?;
        }
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
            "Removed {} and {}.",
            crate::text::count(self.users, "seed user", "seed users"),
            crate::text::count(self.tasks, "task", "tasks")
        )?;
        Ok(())
    }
}

/// `db local status|start|stop`.
pub struct LocalStatus {
    pub state: &'static str,
    pub home: String,
    pub url: String,
    /// The server binaries' version (`15.18`) and directory, when found.
    pub version: Option<String>,
    pub bindir: Option<String>,
    /// What `start` or `stop` did, for the table's one line.
    pub done: Option<&'static str>,
}

impl Render for LocalStatus {
    fn json(&self) -> Value {
        json!({
            "state": self.state,
            "home": self.home,
            "url": self.url,
            "version": self.version,
            "bindir": self.bindir,
        })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        plain_line(
            out,
            &[
                Some(self.state),
                Some(&self.home),
                Some(&self.url),
                self.version.as_deref(),
                self.bindir.as_deref(),
            ],
        )
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        match self.done {
            Some(done) => writeln!(out, "Local database in {}: {done}", self.home)?,
            None => {
                writeln!(out, "state: {}", self.state)?;
                writeln!(out, "home:  {}", self.home)?;
                writeln!(out, "url:   {}", self.url)?;
                match (&self.version, &self.bindir) {
                    (Some(version), Some(bindir)) => {
                        writeln!(out, "server: PostgreSQL {version} ({bindir})")?
                    }
                    _ => writeln!(out, "server: no PostgreSQL server binaries found")?,
                }
            }
        }
        Ok(())
    }
}
