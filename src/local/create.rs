//! Creating the embedded cluster: `initdb` into a private build directory,
//! the configuration, and the `todo` database.

use crate::db::PgConn;
use std::fs;
use std::path::Path;

use super::files::{append, conf_quote};
use super::server::{io_error, run_as_server};
use super::{Cluster, SUPERUSER};
use crate::error::{Error, Result};

/// Settings of a new cluster (a [`Cluster::with_setting`] of the same name
/// wins; `ALTER SYSTEM` can change them later).
///
/// `shared_preload_libraries`: PL/pgSQL is loaded once by the server
/// instead of by each session on its first trigger call: every command that
/// updates a row fires the `updated_at` trigger (a PL/pgSQL function), and
/// a new session spent 0.9 ms opening the library (measured on `task done`,
/// whose statement took 2.3 ms to execute without it, 1.3 ms with it).
const DEFAULTS: [(&str, &str); 1] = [("shared_preload_libraries", "'plpgsql'")];

impl Cluster {
    /// Builds the cluster in `data.new-PID`, configures it, and renames it
    /// to `data` (an `initdb` orphaned by a killed command finishes in its
    /// own directory, which is never started and is removed later).
    pub(super) fn create(&self) -> Result<()> {
        self.remove_abandoned_builds();
        let name = format!("data.new-{}", std::process::id());
        let building = self.home.join(&name);
        if building.exists() {
            fs::remove_dir_all(&building).map_err(|e| io_error("remove", &building, e))?;
        }
        let bindir = self.bindir()?;
        let out = run_as_server(
            &self.home,
            &bindir.join("initdb"),
            &[
                "-D",
                &name,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "--no-instructions",
            ],
        )?;
        if !out.status.success() {
            return Err(Error::unexpected(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let mut conf = String::from("\n# written by todo\n");
        for (key, value) in self.safety_settings() {
            conf.push_str(&format!("{key} = {}\n", conf_quote(&value)));
        }
        for (key, value) in DEFAULTS {
            if self.setting(key).is_none() {
                conf.push_str(&format!("{key} = {value}\n"));
            }
        }
        for (key, value) in &self.settings {
            conf.push_str(&format!("{key} = {value}\n"));
        }
        append(&building.join("postgresql.conf"), &conf)?;
        if !self.hba_lines.is_empty() {
            let hba = building.join("pg_hba.conf");
            let old = fs::read_to_string(&hba).map_err(|e| io_error("read", &hba, e))?;
            let new = format!("{}\n{old}", self.hba_lines.join("\n"));
            fs::write(&hba, new).map_err(|e| io_error("write", &hba, e))?;
        }
        let data = self.data_dir();
        fs::rename(&building, &data).map_err(|e| io_error("rename the new cluster to", &data, e))
    }

    /// Removes `data.new-PID` directories whose builder is gone.
    fn remove_abandoned_builds(&self) {
        let Ok(entries) = fs::read_dir(&self.home) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("data.new-"))
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    pub(super) fn create_database(&self) -> Result<()> {
        use diesel::prelude::*;
        let mut conn = PgConn::establish(&self.own_url("postgres")).map_err(|e| {
            Error::unavailable(format!("cannot connect to the local database: {e}"))
        })?;
        let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "EXISTS (SELECT 1 FROM pg_database WHERE datname = 'todo')",
        ))
        .get_result(&mut conn)
        .map_err(|e| Error::unexpected(format!("local database: {e}")))?;
        if !exists {
            diesel::sql_query("CREATE DATABASE todo")
                .execute(&mut conn)
                .map_err(|e| Error::unexpected(format!("cannot create the database: {e}")))?;
        }
        Ok(())
    }
}
