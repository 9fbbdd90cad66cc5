//! The `db health` report.

use std::io::Write;

use comfy_table::{Cell, Color};
use serde_json::json;

use super::{data_cell, json_line, plain_line, table, Output};
use crate::cli::Format;
use crate::db::health::{Report, Status};
use crate::error::Result;

pub fn write_health(out: &mut impl Write, fmt: Output, report: &Report) -> Result<()> {
    match fmt.format {
        Format::Json => {
            let checks: Vec<_> = report
                .checks
                .iter()
                .map(|c| json!({"name": c.name, "status": c.status.as_str(), "detail": c.detail}))
                .collect();
            json_line(
                out,
                &json!({"status": report.status().as_str(), "checks": checks}),
            )
        }
        Format::Plain => {
            for c in &report.checks {
                plain_line(
                    out,
                    &[Some(c.name), Some(c.status.as_str()), Some(&c.detail)],
                )?;
            }
            Ok(())
        }
        Format::Table => {
            let mut t = table(&["Check", "Status", "Detail"], fmt.color);
            for c in &report.checks {
                let (label, color) = match c.status {
                    Status::Ok => ("OK", Color::Green),
                    Status::Warn => ("WARN", Color::Yellow),
                    Status::Fail => ("FAIL", Color::Red),
                };
                let cell = if fmt.color {
                    Cell::new(label).fg(color)
                } else {
                    Cell::new(label)
                };
                t.add_row(vec![Cell::new(c.name), cell, data_cell(&c.detail, false)]);
            }
            writeln!(out, "{t}")?;
            writeln!(out, "Overall: {}", report.status().as_str().to_uppercase())?;
            Ok(())
        }
    }
}
