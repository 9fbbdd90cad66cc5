//! Starting the cluster's server with `pg_ctl`.

use std::fs;

use super::server::{self, remove_if_stale, run_as_server};
use super::Cluster;
use crate::error::{Error, Result};

impl Cluster {
    pub(super) fn start(&self) -> Result<()> {
        let bindir = self.bindir()?;
        let data = self.data_dir();
        // A server killed by OOM or power loss leaves its lock files behind,
        // and their pids may now belong to other programs (or be zombies
        // nobody reaps); its children may outlive it for a moment.
        if data.join("postmaster.pid").exists() {
            remove_if_stale(&data.join("postmaster.pid"))?;
            server::wait_for_orphans(&data, std::time::Duration::from_secs(10));
        }
        let socket_lock = self
            .socket_dir()
            .join(format!(".s.PGSQL.{}.lock", self.port()));
        remove_if_stale(&socket_lock)?;
        let log = self.home.join("postgres.log");
        let log_before = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        // pg_ctl passes -D, -l and -o through /bin/sh: relative paths (run
        // in the home) and a socket directory of plain characters only.
        let options: Vec<String> = self
            .safety_settings()
            .into_iter()
            .map(|(k, v)| format!("-c {k}={v}"))
            .collect();
        let out = run_as_server(
            &self.home,
            &bindir.join("pg_ctl"),
            &[
                "start",
                "-D",
                "data",
                "-l",
                "postgres.log",
                "-o",
                &options.join(" "),
                "-w",
                "-t",
                "60",
            ],
        )?;
        if !out.status.success() {
            // What this start wrote to the log.
            let text = fs::read(&log).unwrap_or_default();
            let start = usize::try_from(log_before).unwrap_or(0).min(text.len());
            let text = String::from_utf8_lossy(&text[start..]);
            return Err(Error::unavailable(format!(
                "cannot start the local database in {}: {}",
                self.home.display(),
                server::start_failure(&text)
            ))
            .with_hint(format!("see {}", log.display())));
        }
        Ok(())
    }
}
