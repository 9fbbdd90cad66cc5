//! Stopping the cluster's server (`pg_ctl stop`) and removing the cluster.

use std::fs;
use std::path::Path;

use super::server::{io_error, run_as_server};
use super::{Cluster, State};
use crate::error::{Error, Result};

impl Cluster {
    /// Stops the server and removes the cluster: its data, socket
    /// directory, log and state files. Only what this tool creates in the
    /// home is removed (then the home itself, if nothing else is left), so
    /// a `TODO_HOME` that holds other files keeps them.
    pub fn destroy(&self) -> Result<()> {
        self.stop()?;
        let remove_dir = |dir: &Path| match fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("remove", dir, e)),
            _ => Ok(()),
        };
        remove_dir(&self.data_dir())?;
        remove_dir(&self.socket_dir())?;
        if let Ok(entries) = fs::read_dir(&self.home) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("data.new-") {
                    remove_dir(&entry.path())?;
                }
            }
        }
        for file in ["postgres.log", "ready", "lock"] {
            match fs::remove_file(self.home.join(file)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_error("remove", &self.home.join(file), e))
                }
                _ => {}
            }
        }
        let _ = fs::remove_dir(&self.home);
        // A home that stays (it holds files of the user's): as root it was
        // handed to the server's user for the server, and is given back.
        if super::is_root() && self.home.exists() {
            std::os::unix::fs::chown(&self.home, Some(0), Some(0))
                .map_err(|e| io_error("give back", &self.home, e))?;
        }
        Ok(())
    }

    /// Stops the server if its postmaster is alive (found by the data
    /// directory: its socket need not answer); returns whether it was.
    pub fn stop(&self) -> Result<bool> {
        if !matches!(self.state()?, State::Running | State::NotAnswering) {
            return Ok(false);
        }
        let bindir = self.bindir()?;
        let data = self.data_dir();
        let out = run_as_server(
            &self.home,
            &bindir.join("pg_ctl"),
            &["stop", "-D", &data.to_string_lossy(), "-m", "fast", "-w"],
        )?;
        if !out.status.success() {
            return Err(Error::unexpected(format!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(true)
    }
}
