//! Rows of [`super::PgConn`] as diesel reads them: a row is an index into
//! a shared libpq result, its fields diesel's `PgValue`s (binary format,
//! with the column's type OID).

use std::num::NonZeroU32;
use std::rc::Rc;

use diesel::backend::Backend;
use diesel::connection::InstrumentationEvent;
use diesel::pg::{Pg, PgValue, TypeOidLookup};
use diesel::result::QueryResult;
use diesel::row::{Field, PartialRow, Row, RowIndex, RowSealed};

use super::raw::PgResult;
use super::PgConn;

/// One row of a result.
#[derive(Clone)]
pub struct PgRow {
    result: Rc<PgResult>,
    row: usize,
}

impl RowSealed for PgRow {}

impl<'a> Row<'a, Pg> for PgRow {
    type Field<'f>
        = PgField<'f>
    where
        'a: 'f,
        Self: 'f;
    type InnerPartialRow = Self;

    fn field_count(&self) -> usize {
        self.result.columns()
    }

    fn get<'b, I>(&'b self, idx: I) -> Option<PgField<'b>>
    where
        'a: 'b,
        Self: RowIndex<I>,
    {
        let column = self.idx(idx)?;
        Some(PgField {
            result: &self.result,
            row: self.row,
            column,
        })
    }

    fn partial_row(&self, range: std::ops::Range<usize>) -> PartialRow<'_, Self> {
        PartialRow::new(self, range)
    }
}

impl RowIndex<usize> for PgRow {
    fn idx(&self, idx: usize) -> Option<usize> {
        (idx < self.result.columns()).then_some(idx)
    }
}

impl<'a> RowIndex<&'a str> for PgRow {
    fn idx(&self, name: &'a str) -> Option<usize> {
        (0..self.result.columns()).find(|c| self.result.column_name(*c) == Some(name))
    }
}

/// One value of a row.
pub struct PgField<'a> {
    result: &'a PgResult,
    row: usize,
    column: usize,
}

impl<'a> Field<'a, Pg> for PgField<'a> {
    fn field_name(&self) -> Option<&str> {
        self.result.column_name(self.column)
    }

    fn value(&self) -> Option<<Pg as Backend>::RawValue<'_>> {
        let bytes = self.result.value(self.row, self.column)?;
        Some(PgValue::new(bytes, self))
    }
}

impl TypeOidLookup for PgField<'_> {
    fn lookup(&self) -> NonZeroU32 {
        // A result column always has a type; 25 (text) should it not.
        NonZeroU32::new(self.result.column_type(self.column))
            .unwrap_or(NonZeroU32::MIN.saturating_add(24))
    }
}

/// The rows of a statement: all at once, or one by one from the server
/// (libpq's single-row mode), never more than one row in memory.
pub struct Cursor<'conn> {
    inner: Inner<'conn>,
}

enum Inner<'conn> {
    Whole {
        result: Option<Rc<PgResult>>,
        next: usize,
    },
    Streaming {
        conn: &'conn mut PgConn,
        query: String,
        done: bool,
    },
}

/// A statement's text for the instrumentation (`--verbose`).
#[derive(Debug)]
pub(super) struct QueryText<'a>(pub(super) &'a str);

impl std::fmt::Display for QueryText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl diesel::connection::DebugQuery for QueryText<'_> {}

impl<'conn> Cursor<'conn> {
    pub(super) fn whole(result: Option<PgResult>) -> Cursor<'conn> {
        Cursor {
            inner: Inner::Whole {
                result: result.map(Rc::new),
                next: 0,
            },
        }
    }

    /// A cursor over the rows of the statement just sent in single-row
    /// mode; an error before the first row is returned here.
    pub(super) fn streaming(conn: &'conn mut PgConn, query: String) -> QueryResult<Cursor<'conn>> {
        Ok(Cursor {
            inner: Inner::Streaming {
                conn,
                query,
                done: false,
            },
        })
    }
}

impl Iterator for Cursor<'_> {
    type Item = QueryResult<PgRow>;

    fn next(&mut self) -> Option<QueryResult<PgRow>> {
        match &mut self.inner {
            Inner::Whole { result, next } => {
                let result = result.as_ref()?;
                if *next >= result.rows() {
                    return None;
                }
                *next += 1;
                Some(Ok(PgRow {
                    result: Rc::clone(result),
                    row: *next - 1,
                }))
            }
            Inner::Streaming { conn, query, done } => {
                if *done {
                    return None;
                }
                let Some(result) = conn.raw.next_result() else {
                    *done = true;
                    finish(conn, query, None);
                    return None;
                };
                match result.check(&conn.raw) {
                    Err(e) => {
                        *done = true;
                        // The rest of the statement's results (none used).
                        let _ = conn.raw.finish_statement();
                        finish(conn, query, Some(&e));
                        Some(Err(e))
                    }
                    Ok(result) if result.rows() == 1 => Some(Ok(PgRow {
                        result: Rc::new(result),
                        row: 0,
                    })),
                    // The final, empty result of single-row mode.
                    Ok(_) => {
                        *done = true;
                        let end = conn.raw.finish_statement().err();
                        finish(conn, query, end.as_ref());
                        end.map(Err)
                    }
                }
            }
        }
    }
}

impl Drop for Cursor<'_> {
    /// A statement must be read to its end before the next one. The rows
    /// nobody asked for (`task list | head -1`, a reader gone) are not
    /// worth waiting for: the statement is cancelled on the server first,
    /// which then stops within a round trip, and what is in flight is read
    /// and dropped. Its cancellation is not an error of the command's.
    fn drop(&mut self) {
        if let Inner::Streaming { conn, query, done } = &mut self.inner {
            if !*done {
                conn.cancel_running();
                let end = conn.raw.finish_statement().err();
                finish(conn, query, end.as_ref());
            }
        }
    }
}

fn finish(conn: &mut PgConn, query: &str, error: Option<&diesel::result::Error>) {
    if error.is_some()
        && conn.raw.transaction_status() == pq_sys::PGTransactionStatusType::PQTRANS_UNKNOWN
    {
        use diesel::connection::TransactionManager;
        diesel::connection::AnsiTransactionManager::transaction_manager_status_mut(conn)
            .set_in_error();
    }
    conn.on_event(InstrumentationEvent::finish_query(&QueryText(query), error));
}
