//! The `db stats` report, and the Prometheus text exposition format used
//! by `db stats` and `db health` (`--format prometheus`, for a
//! node_exporter textfile collector).

use std::fmt::Write as _;
use std::io::Write;

use serde_json::{json, Value};

use super::{plain_line, rfc3339, table, Render};
use crate::db::health::{Report, Status};
use crate::db::stats::Stats;
use crate::error::Result;

/// A label value as the exposition format wants it (`\`, `"`, newline escaped).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends one metric family: HELP, TYPE and its samples.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

impl Render for Stats {
    fn json(&self) -> Value {
        json!({
            "database": {
                "name": self.database.name,
                "bytes": self.database.bytes,
                "deadlocks": self.database.deadlocks,
            },
            "tables": self.tables.iter().map(|t| json!({
                "name": t.name,
                "bytes": t.bytes,
                "table_bytes": t.table_bytes,
                "index_bytes": t.index_bytes,
                "live_rows": t.live_rows,
                "dead_rows": t.dead_rows,
                "last_vacuum": rfc3339(t.last_vacuum),
                "last_autovacuum": rfc3339(t.last_autovacuum),
                "last_analyze": rfc3339(t.last_analyze),
                "last_autoanalyze": rfc3339(t.last_autoanalyze),
                "seq_scans": t.seq_scans,
                "index_scans": t.index_scans,
            })).collect::<Vec<_>>(),
            "indexes": self.indexes.iter().map(|i| json!({
                "name": i.name, "table": i.table, "bytes": i.bytes, "scans": i.scans,
            })).collect::<Vec<_>>(),
            "statements": self.statements.as_ref().map(|list| list.iter().map(|s| json!({
                "query": s.query, "calls": s.calls, "mean_ms": s.mean_ms, "total_ms": s.total_ms,
            })).collect::<Vec<_>>()),
            "statements_unavailable": self.database.statements_unavailable,
        })
    }

    fn plain(&self, out: &mut dyn Write) -> Result<()> {
        let d = &self.database;
        plain_line(
            out,
            &[
                Some("database"),
                Some(&d.name),
                Some(&d.bytes.to_string()),
                Some(&d.deadlocks.to_string()),
            ],
        )?;
        for t in &self.tables {
            let n = [
                t.bytes,
                t.live_rows,
                t.dead_rows,
                t.seq_scans,
                t.index_scans,
            ]
            .map(|v| v.to_string());
            let (v, av) = (rfc3339(t.last_vacuum), rfc3339(t.last_autovacuum));
            plain_line(
                out,
                &[
                    Some("table"),
                    Some(&t.name),
                    Some(&n[0]),
                    Some(&n[1]),
                    Some(&n[2]),
                    v.as_deref(),
                    av.as_deref(),
                    Some(&n[3]),
                    Some(&n[4]),
                ],
            )?;
        }
        for i in &self.indexes {
            let n = [i.bytes.to_string(), i.scans.to_string()];
            plain_line(
                out,
                &[
                    Some("index"),
                    Some(&i.name),
                    Some(&i.table),
                    Some(&n[0]),
                    Some(&n[1]),
                ],
            )?;
        }
        for s in self.statements.iter().flatten() {
            let n = [s.calls.to_string(), format!("{:.3}", s.mean_ms)];
            plain_line(
                out,
                &[Some("statement"), Some(&n[0]), Some(&n[1]), Some(&s.query)],
            )?;
        }
        Ok(())
    }

    fn table(&self, out: &mut dyn Write, color: bool) -> Result<()> {
        let d = &self.database;
        let size = crate::text::human_bytes;
        writeln!(
            out,
            "Database {}: {}, {} since the statistics reset",
            d.name,
            size(d.bytes),
            crate::text::count(d.deadlocks, "deadlock", "deadlocks")
        )?;
        let now = super::records::now();
        let age = |ts| match ts {
            None => "never".to_string(),
            ts => super::time::relative(ts, now),
        };
        let mut t = table(
            &[
                "Table",
                "Size",
                "Live",
                "Dead",
                "Last (auto)vacuum",
                "Last (auto)analyze",
                "Seq scans",
                "Index scans",
            ],
            color,
        );
        for s in &self.tables {
            t.add_row(vec![
                s.name.clone(),
                size(s.bytes),
                s.live_rows.to_string(),
                s.dead_rows.to_string(),
                age(s.last_vacuum.max(s.last_autovacuum)),
                age(s.last_analyze.max(s.last_autoanalyze)),
                s.seq_scans.to_string(),
                s.index_scans.to_string(),
            ]);
        }
        writeln!(out, "{t}")?;
        let mut t = table(&["Index", "Table", "Size", "Scans"], color);
        for i in &self.indexes {
            t.add_row(vec![
                i.name.clone(),
                i.table.clone(),
                size(i.bytes),
                i.scans.to_string(),
            ]);
        }
        writeln!(out, "{t}")?;
        match &self.statements {
            None => writeln!(
                out,
                "Slowest statements: {}",
                match self.database.statements_unavailable.as_deref() {
                    Some("not_loaded") =>
                        "pg_stat_statements is installed but not loaded \
                         (add it to shared_preload_libraries and restart the server)",
                    Some("no_permission") =>
                        "this role may not read pg_stat_statements \
                         (GRANT SELECT ON pg_stat_statements TO the role)",
                    _ => "pg_stat_statements is not installed",
                }
            )?,
            Some(list) => {
                let mut t = table(&["Mean ms", "Calls", "Statement"], color);
                for s in list {
                    t.add_row(vec![
                        format!("{:.3}", s.mean_ms),
                        s.calls.to_string(),
                        crate::text::terminal_safe(&s.query, false).into_owned(),
                    ]);
                }
                writeln!(out, "{t}")?;
            }
        }
        Ok(())
    }

    fn prometheus(&self) -> Option<String> {
        let mut out = String::new();
        let db = format!("{{database=\"{}\"}}", label(&self.database.name));
        family(
            &mut out,
            "todo_database_size_bytes",
            "gauge",
            "Size of the database.",
            &[(db.clone(), self.database.bytes as f64)],
        );
        family(
            &mut out,
            "todo_deadlocks_total",
            "counter",
            "Deadlocks since the statistics reset.",
            &[(db, self.database.deadlocks as f64)],
        );
        let per_table = |f: &dyn Fn(&crate::db::stats::TableStats) -> f64| -> Vec<(String, f64)> {
            self.tables
                .iter()
                .map(|t| (format!("{{table=\"{}\"}}", label(&t.name)), f(t)))
                .collect()
        };
        family(
            &mut out,
            "todo_table_size_bytes",
            "gauge",
            "Size of a table with its indexes and TOAST.",
            &per_table(&|t| t.bytes as f64),
        );
        family(
            &mut out,
            "todo_table_live_rows",
            "gauge",
            "Estimated live rows.",
            &per_table(&|t| t.live_rows as f64),
        );
        family(
            &mut out,
            "todo_table_dead_rows",
            "gauge",
            "Estimated dead rows.",
            &per_table(&|t| t.dead_rows as f64),
        );
        family(
            &mut out,
            "todo_table_seq_scans_total",
            "counter",
            "Sequential scans.",
            &per_table(&|t| t.seq_scans as f64),
        );
        family(
            &mut out,
            "todo_table_index_scans_total",
            "counter",
            "Index scans.",
            &per_table(&|t| t.index_scans as f64),
        );
        let per_index = |f: &dyn Fn(&crate::db::stats::IndexStats) -> f64| -> Vec<(String, f64)> {
            self.indexes
                .iter()
                .map(|i| {
                    (
                        format!(
                            "{{index=\"{}\",table=\"{}\"}}",
                            label(&i.name),
                            label(&i.table)
                        ),
                        f(i),
                    )
                })
                .collect()
        };
        family(
            &mut out,
            "todo_index_size_bytes",
            "gauge",
            "Size of an index.",
            &per_index(&|i| i.bytes as f64),
        );
        family(
            &mut out,
            "todo_index_scans_total",
            "counter",
            "Scans of an index.",
            &per_index(&|i| i.scans as f64),
        );
        Some(out)
    }
}

impl Report {
    fn status_value(status: Status) -> f64 {
        match status {
            Status::Ok => 0.0,
            Status::Warn => 1.0,
            Status::Fail => 2.0,
        }
    }

    /// `db health` as Prometheus metrics: one gauge per check (0 ok, 1 warn,
    /// 2 fail) and the overall status.
    pub fn prometheus_text(&self) -> String {
        let mut out = String::new();
        let samples: Vec<(String, f64)> = self
            .checks
            .iter()
            .map(|c| {
                (
                    format!("{{check=\"{}\"}}", label(c.name)),
                    Self::status_value(c.status),
                )
            })
            .collect();
        family(
            &mut out,
            "todo_health_check_status",
            "gauge",
            "Status of a db health check: 0 ok, 1 warn, 2 fail.",
            &samples,
        );
        family(
            &mut out,
            "todo_health_status",
            "gauge",
            "Overall db health: 0 ok, 1 warn, 2 fail.",
            &[(String::new(), Self::status_value(self.status()))],
        );
        out
    }
}
