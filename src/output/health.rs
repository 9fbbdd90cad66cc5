//! The `db health` report.

use std::io::Write;

use comfy_table::{Cell, Color};
use serde_json::json;

use super::{data_cell, plain_line, table, Render};
use crate::db::health::{Report, Status};
use crate::error::Result;

impl Render for Report {
    fn json(&self) -> serde_json::Value {
        let checks: Vec<_> = self
            .checks
            .iter()
            .map(|c| json!({"name": c.name, "status": c.status.as_str(), "detail": c.detail}))
            .collect();
        json!({"status": self.status().as_str(), "checks": checks})
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        for c in &self.checks {
            plain_line(
                out,
                &[Some(c.name), Some(c.status.as_str()), Some(&c.detail)],
            )?;
        }
        Ok(())
    }

    fn prometheus(&self) -> Option<String> {
        Some(self.prometheus_text())
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let mut t = table(&["Check", "Status", "Detail"], color);
        for c in &self.checks {
            let (label, fg) = match c.status {
                Status::Ok => ("OK", Color::Green),
                Status::Warn => ("WARN", Color::Yellow),
                Status::Fail => ("FAIL", Color::Red),
            };
            let cell = if color {
                Cell::new(label).fg(fg)
            } else {
                Cell::new(label)
            };
            t.add_row(vec![Cell::new(c.name), cell, data_cell(&c.detail, false)]);
        }
        writeln!(out, "{t}")?;
        writeln!(out, "Overall: {}", self.status().as_str().to_uppercase())?;
        Ok(())
    }
}
