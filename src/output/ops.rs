//! What the operations commands report: `db wait`, `db purge`,
//! `db maintain`, `db rls`, `db roles`.

use std::io::Write;

use serde_json::{json, Value};

use super::{plain_line, table, Render};
use crate::error::Result;

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
    /// None when row-level security hid how many (a dry run by a role
    /// subject to it): null in JSON, never a false 0.
    pub deleted: Option<i64>,
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
            self.deleted.map(|n| n.to_string()).unwrap_or_default(),
            self.archived.to_string(),
            self.batches.to_string(),
            self.elapsed_ms.to_string(),
        ];
        plain_line(out, &[Some(&f[0]), Some(&f[1]), Some(&f[2]), Some(&f[3])])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        let deleted = self
            .deleted
            .map(|n| n.to_string())
            .unwrap_or_else(|| "an unknown number of".into());
        if self.dry_run {
            writeln!(out, "Would delete {deleted} completed tasks (dry run).")?;
        } else {
            writeln!(
                out,
                "Deleted {deleted} completed tasks in {}{}.",
                crate::text::count(self.batches as i64, "batch", "batches"),
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
            "users_enabled": s.users_enabled,
            "policies": s.policies.iter().map(|p| json!({
                "name": p.name, "command": p.command, "using": p.using, "check": p.check,
                "table": p.table,
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
        plain_line(
            out,
            &[
                Some("users_enabled"),
                Some(if s.users_enabled { "true" } else { "false" }),
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
                    Some(&p.table),
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
        writeln!(
            out,
            "Row-level security on users: {}",
            if s.users_enabled {
                "enabled"
            } else {
                "disabled"
            }
        )?;
        // Names and expressions from the catalog: shown escaped (a role
        // may be named with terminal escapes).
        let safe = |text: &str| crate::text::terminal_safe(text, false).into_owned();
        for p in &s.policies {
            writeln!(
                out,
                "policy {} on {} ({}): USING {} WITH CHECK {}",
                safe(&p.name),
                safe(&p.table),
                safe(&p.command),
                safe(&p.using),
                safe(&p.check)
            )?;
        }
        writeln!(out, "not subject to it: {}", safe(&s.bypass.join(", ")))?;
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
                "role": g.role,
                "object": g.object,
                // An array in JSON (issue 27); one ", "-joined field in
                // plain output and tables.
                "privileges": g.privileges.split(", ").filter(|p| !p.is_empty()).collect::<Vec<_>>(),
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
                super::data_cell(&g.role, false),
                super::data_cell(&g.object, false),
                super::data_cell(&g.privileges, false),
            ]);
        }
        writeln!(out, "{t}")?;
        Ok(())
    }
}

/// `task import`.
pub struct Imported {
    pub imported: u64,
    pub skipped: u64,
    pub dry_run: bool,
}

impl Render for Imported {
    fn json(&self) -> Value {
        let mut v = json!({ "imported": self.imported, "skipped": self.skipped });
        if self.dry_run {
            v["dry_run"] = json!(true);
        }
        v
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let f = [self.imported.to_string(), self.skipped.to_string()];
        plain_line(out, &[Some(&f[0]), Some(&f[1])])
    }

    fn table(&self, out: &mut dyn Write, _color: bool) -> Result<()> {
        writeln!(
            out,
            "{} {}{}.",
            if self.dry_run {
                "Would import"
            } else {
                "Imported"
            },
            crate::text::count(self.imported as i64, "task", "tasks"),
            if self.skipped > 0 {
                format!(" ({} skipped: deleted in the source)", self.skipped)
            } else {
                String::new()
            }
        )?;
        Ok(())
    }
}
