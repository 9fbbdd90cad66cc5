//! `db health`.

use std::time::Instant;

use crate::commands::Context;
use crate::commands::{connect, errors};
use crate::db::health::{self, Check, Remedy, Report, Status};
use crate::error::{Error, Kind, Result};

pub fn health(ctx: &Context) -> Result<()> {
    let target = match connect::resolve(&ctx.connect_options(), &mut |msg| eprintln!("todo: {msg}"))
    {
        Ok(target) => target.url().display().to_string(),
        Err(e) if e.kind == Kind::Unavailable => String::new(),
        Err(e) => return Err(e),
    };
    let started = Instant::now();
    let (report, unreachable) = match ctx.conn() {
        Ok(mut conn) => {
            let lock_wait =
                |e: &diesel::result::Error| errors::lock_wait_error(e).map(|e| e.message);
            (
                health::run(&mut conn, &target, started.elapsed(), &lock_wait),
                None,
            )
        }
        Err(e) => {
            let check = Check {
                name: "connection",
                status: Status::Fail,
                // libpq's multi-line text as one line, as error lines show it.
                detail: crate::error::one_line(&e.message),
                remedy: None,
            };
            (
                Report {
                    checks: vec![check],
                    schema_missing: false,
                },
                Some(e),
            )
        }
    };
    let report = worded(report);
    ctx.emit(&report)?;
    if let Some(e) = unreachable {
        return Err(e);
    }
    if report.schema_missing {
        return Err(errors::schema_missing());
    }
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.name)
        .collect();
    if !failed.is_empty() {
        return Err(Error::new(
            Kind::HealthFailed,
            format!("health check failed: {}", failed.join(", ")),
        ));
    }
    Ok(())
}

/// Each check's remedy in the tool's words (the commands to run).
fn worded(mut report: Report) -> Report {
    for check in &mut report.checks {
        let fix = match check.remedy.take() {
            Some(Remedy::Migrate) => "run todo db migrate",
            Some(Remedy::Baseline) => "adopt them with todo db migrate --baseline",
            None => continue,
        };
        check.detail = format!("{}: {fix}", check.detail);
    }
    report
}
