//! Purge archives: backup files written batch by batch (`db purge --archive`).

use std::io::{self, Write};

use super::{
    task_line, write_header, write_section_end, write_section_start, write_trailer, Checksums,
    Header, Section, Trailer, TASKS_COLUMNS, USERS_COLUMNS,
};

/// A purge archive being written: a backup file (no users, the purged
/// tasks) whose rows are flushed and synced to disk batch by batch, before
/// each batch commits. Interrupted, it lacks its trailer but keeps every
/// row written (`zcat` reads it).
pub struct Archive {
    gz: super::gzip::Writer<std::fs::File>,
    tasks: Section,
    /// A regular file (synced to disk); a FIFO or device is only flushed.
    regular: bool,
}

impl Archive {
    /// Writes the header into `file` (opened by [`crate::outfile::open_in_place`]).
    pub fn new(file: std::fs::File, regular: bool, header: &Header) -> io::Result<Archive> {
        let mut gz = super::gzip::Writer::new(file)?;
        write_header(&mut gz, header)?;
        write_section_start(&mut gz, "users", USERS_COLUMNS)?;
        write_section_end(&mut gz)?;
        write_section_start(&mut gz, "tasks", TASKS_COLUMNS)?;
        let mut archive = Archive {
            gz,
            tasks: Section::default(),
            regular,
        };
        archive.sync()?;
        Ok(archive)
    }

    /// Appends rows and makes them durable.
    pub fn append(&mut self, tasks: &[crate::model::Task]) -> io::Result<()> {
        for t in tasks {
            let line = task_line(t);
            self.tasks.add(line.as_bytes());
            self.gz.write_all(line.as_bytes())?;
        }
        self.sync()
    }

    fn sync(&mut self) -> io::Result<()> {
        // A sync flush makes everything so far decodable; then to disk.
        self.gz.flush()?;
        if self.regular {
            self.gz.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Writes the trailer; returns the number of rows archived.
    pub fn finish(mut self) -> io::Result<u64> {
        write_section_end(&mut self.gz)?;
        let rows = self.tasks.rows;
        let trailer = Trailer {
            users: 0,
            tasks: rows,
            sha256: Checksums {
                users: Section::default().sha256(),
                tasks: self.tasks.sha256(),
            },
        };
        write_trailer(&mut self.gz, &trailer)?;
        let file = self.gz.finish()?;
        if self.regular {
            file.sync_all()?;
        }
        Ok(rows)
    }
}
