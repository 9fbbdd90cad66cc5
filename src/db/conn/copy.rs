//! COPY on [`PgConn`]: in (`COPY … FROM STDIN`, fed by a writer) and out
//! (`COPY … TO STDOUT`, read as a `BufRead`). COPY OUT is read to its end,
//! final result included, so that a COPY that fails half-way is an error
//! and not a short table (diesel's `copy_to` stops at the end of the data).

use std::io::{self, BufRead, Read, Write};

use diesel::connection::InstrumentationEvent;
use diesel::result::{DatabaseErrorKind, Error as DieselError, QueryResult};
use pq_sys::ExecStatusType;

use super::raw::CopyBuffer;
use super::row::QueryText;
use super::PgConn;

fn copy_error(message: String) -> DieselError {
    DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message))
}

impl PgConn {
    /// Runs `sql` (a `COPY … FROM STDIN` in text format) with the data
    /// `write` produces; returns the rows loaded. When `write` fails the
    /// COPY is aborted (nothing is loaded) and its error returned.
    pub fn copy_in(
        &mut self,
        sql: &str,
        write: impl FnOnce(&mut dyn Write) -> QueryResult<()>,
    ) -> QueryResult<usize> {
        let copied = self.copy_in_data(sql, write);
        self.copy_ended(sql, copied.as_ref().err());
        copied
    }

    fn copy_in_data(
        &mut self,
        sql: &str,
        write: impl FnOnce(&mut dyn Write) -> QueryResult<()>,
    ) -> QueryResult<usize> {
        self.start_copy(sql, ExecStatusType::PGRES_COPY_IN)?;
        let written = {
            let mut sink = CopyIn {
                conn: self,
                buf: Vec::with_capacity(BUFFER),
                failed: None,
            };
            let written = write(&mut sink).and_then(|()| sink.flush_buffer());
            (written, sink.failed.take())
        };
        let (written, failed) = written;
        let end = match (&written, &failed) {
            (Ok(()), None) => self.raw.put_copy_end(None),
            _ => self
                .raw
                .put_copy_end(Some("the data for COPY could not be produced")),
        };
        let done = self.raw.finish_statement();
        written?;
        if let Some(e) = failed {
            return Err(copy_error(e));
        }
        end.map_err(copy_error)?;
        Ok(done?.map_or(0, |r| r.affected()))
    }

    /// Sends a COPY statement and waits until the server is ready to copy;
    /// a COPY refused at once (a lock wait given up, a missing table) is
    /// read to its end and returned as the error.
    fn start_copy(&mut self, sql: &str, expected: ExecStatusType) -> QueryResult<()> {
        if self.instrumentation.is_some() {
            self.on_event(InstrumentationEvent::start_query(&QueryText(sql)));
        }
        self.raw.send_simple(sql)?;
        let Some(first) = self.raw.next_result() else {
            return Err(copy_error(format!("{sql} returned no result")));
        };
        match first.check(&self.raw) {
            Ok(r) if r.status() == expected => Ok(()),
            Ok(_) => {
                let _ = self.raw.finish_statement();
                Err(copy_error(format!("{sql} did not start a COPY")))
            }
            Err(e) => {
                let _ = self.raw.finish_statement();
                Err(e)
            }
        }
    }

    /// Tells `--verbose` that a COPY ended (COPY is logged like any
    /// statement, from its start to its end).
    fn copy_ended(&mut self, sql: &str, error: Option<&DieselError>) {
        if self.instrumentation.is_some() {
            self.on_event(InstrumentationEvent::finish_query(&QueryText(sql), error));
        }
    }

    /// Runs `sql` (a `COPY … TO STDOUT`) and returns its data as a reader;
    /// [`CopyOut::finish`] then says whether the COPY completed.
    pub fn copy_out(&mut self, sql: &str) -> QueryResult<CopyOut<'_>> {
        if let Err(e) = self.start_copy(sql, ExecStatusType::PGRES_COPY_OUT) {
            self.copy_ended(sql, Some(&e));
            return Err(e);
        }
        Ok(CopyOut {
            sql: sql.to_owned(),
            conn: self,
            row: None,
            at: 0,
            ended: false,
            error: None,
        })
    }
}

/// How much COPY IN data is gathered before it is handed to libpq.
const BUFFER: usize = 64 * 1024;

struct CopyIn<'a> {
    conn: &'a mut PgConn,
    buf: Vec<u8>,
    /// libpq's reason when sending failed.
    failed: Option<String>,
}

impl CopyIn<'_> {
    fn flush_buffer(&mut self) -> QueryResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let sent = self.conn.raw.put_copy_data(&self.buf);
        self.buf.clear();
        sent.map_err(|e| {
            self.failed = Some(e.clone());
            copy_error(e)
        })
    }
}

impl Write for CopyIn<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BUFFER {
            self.flush_buffer().map_err(io::Error::other)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buffer().map_err(io::Error::other)
    }
}

/// COPY OUT's data, row by row.
pub struct CopyOut<'a> {
    /// The statement (for `--verbose`).
    sql: String,
    conn: &'a mut PgConn,
    row: Option<CopyBuffer>,
    at: usize,
    ended: bool,
    /// Why the COPY failed, once its end was read.
    error: Option<DieselError>,
}

impl CopyOut<'_> {
    /// Reads to the end (the rest of the data is dropped) and returns the
    /// COPY's outcome: Ok only when the server completed it.
    pub fn finish(mut self) -> QueryResult<()> {
        while !self.ended {
            if self.fill_buf().is_err() {
                break;
            }
            let n = self.row.as_ref().map_or(0, |r| r.bytes().len());
            self.consume(n);
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The server's error when the COPY has failed (read to its end), taken.
    pub fn take_error(&mut self) -> Option<DieselError> {
        self.error.take()
    }

    fn end(&mut self) {
        self.ended = true;
        if let Err(e) = self.conn.raw.finish_statement() {
            self.error = Some(e);
        }
        self.conn.copy_ended(&self.sql, self.error.as_ref());
    }
}

impl Read for CopyOut<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let data = self.fill_buf()?;
        let n = data.len().min(out.len());
        out[..n].copy_from_slice(&data[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for CopyOut<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let exhausted = self.row.as_ref().is_none_or(|r| self.at >= r.bytes().len());
        if exhausted && !self.ended {
            self.at = 0;
            match self.conn.raw.get_copy_data() {
                Ok(Some(row)) => self.row = Some(row),
                Ok(None) => {
                    self.row = None;
                    self.end();
                }
                Err(e) => {
                    self.row = None;
                    self.ended = true;
                    let _ = self.conn.raw.finish_statement();
                    let e = copy_error(e);
                    self.conn.copy_ended(&self.sql, Some(&e));
                    self.error = Some(e);
                }
            }
        }
        if let Some(e) = &self.error {
            return Err(io::Error::other(e.to_string()));
        }
        Ok(match &self.row {
            Some(r) => &r.bytes()[self.at..],
            None => &[],
        })
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
    }
}

impl Drop for CopyOut<'_> {
    /// The connection must see the COPY's end before its next statement:
    /// a COPY dropped before its end (its output failed) is cancelled on
    /// the server first, then what is in flight is read and dropped.
    fn drop(&mut self) {
        if !self.ended {
            self.conn.cancel_running();
        }
        while !self.ended {
            match self.conn.raw.get_copy_data() {
                Ok(Some(_)) => {}
                Ok(None) => self.end(),
                Err(_) => {
                    self.ended = true;
                    let _ = self.conn.raw.finish_statement();
                }
            }
        }
    }
}
