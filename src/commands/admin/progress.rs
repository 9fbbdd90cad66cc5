//! Progress of a migration's long steps on a terminal (SPEC §21): for an
//! index build, `pg_stat_progress_create_index`'s phase and blocks or
//! tuples done of total, read each second on a second connection; for a
//! validation, the time it has taken. Nothing on a pipe or under `-q`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar};

use crate::commands::Context;
use crate::db::migrate::online::{self, BuildProgress};
use crate::db::migrate::steps::Kind;
use crate::db::migrate::Event;
use crate::db::pool;
use crate::url::DbUrl;

/// Follows the steps of one migration run.
pub struct Progress {
    /// Where a second connection reads the build's progress; None when
    /// nothing is shown.
    url: Option<DbUrl>,
    current: Option<Shown>,
}

struct Shown {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    poller: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn new(ctx: &Context) -> Progress {
        let shown = std::io::stderr().is_terminal() && !ctx.out.quiet;
        Progress {
            url: if shown {
                ctx.pool().ok().map(|p| p.url().clone())
            } else {
                None
            },
            current: None,
        }
    }

    pub fn event(&mut self, event: Event) {
        let Some(url) = self.url.clone() else {
            return;
        };
        match event {
            Event::Step { version, step, pid } => {
                self.end();
                let bar = ProgressBar::new_spinner();
                if let Some(style) =
                    crate::output::progress::style("{spinner} {prefix} {msg} ({elapsed})")
                {
                    bar.set_style(style);
                }
                let what = match &step.kind {
                    Kind::Build { index } => format!("{version}: building index {index}"),
                    Kind::Validate => {
                        format!("{version}: validating {}", crate::text::one_line(&step.sql))
                    }
                    _ => format!("{version}: {}", crate::text::one_line(&step.sql)),
                };
                bar.set_prefix(what);
                bar.enable_steady_tick(Duration::from_millis(200));
                let stop = Arc::new(AtomicBool::new(false));
                let poller = matches!(step.kind, Kind::Build { .. })
                    .then(|| poll(url, pid, bar.clone(), Arc::clone(&stop)))
                    .flatten();
                self.current = Some(Shown { bar, stop, poller });
            }
            Event::StepEnd => self.end(),
        }
    }

    fn end(&mut self) {
        if let Some(mut shown) = self.current.take() {
            shown.stop.store(true, Ordering::SeqCst);
            if let Some(poller) = shown.poller.take() {
                poller.thread().unpark();
                let _ = poller.join();
            }
            shown.bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.end();
    }
}

/// Reads the build's progress each second until stopped.
fn poll(url: DbUrl, pid: i32, bar: ProgressBar, stop: Arc<AtomicBool>) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("build-progress".into())
        .spawn(move || {
            let Ok(mut conn) = pool::establish(&url, None) else {
                return;
            };
            while !stop.load(Ordering::SeqCst) {
                if let Ok(Some(p)) = online::build_progress(&mut conn, pid) {
                    bar.set_message(describe(&p));
                }
                std::thread::park_timeout(Duration::from_secs(1));
            }
        })
        .ok()
}

/// "building index: scanning table, 1,234 of 5,678 blocks".
fn describe(p: &BuildProgress) -> String {
    if p.blocks_total > 0 && p.blocks_done < p.blocks_total {
        format!(
            "- {}, {} of {} blocks",
            p.phase,
            HumanCount(p.blocks_done.max(0) as u64),
            HumanCount(p.blocks_total as u64)
        )
    } else if p.tuples_total > 0 {
        format!(
            "- {}, {} of {} tuples",
            p.phase,
            HumanCount(p.tuples_done.max(0) as u64),
            HumanCount(p.tuples_total as u64)
        )
    } else {
        format!("- {}", p.phase)
    }
}
