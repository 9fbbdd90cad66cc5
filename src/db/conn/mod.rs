//! The project's own PostgreSQL connection for diesel (SPEC §20), on
//! diesel's documented extension point for third-party connections (the
//! `i-implement-a-third-party-backend-and-opt-into-breaking-changes`
//! feature, which diesel_async uses; diesel's minor version is pinned in
//! Cargo.toml because that interface may change between minor versions).
//! It speaks diesel's `Pg` backend, so every query, type and transaction
//! of diesel works on it, over libpq (pq-sys). What it does differently
//! from diesel's `PgConnection`, and why:
//!
//! - **No setup statements.** `PgConnection::establish` always sends
//!   `SET TIME ZONE 'UTC'` and `SET CLIENT_ENCODING TO 'UTF8'`, two round
//!   trips per command. Here UTF-8 is asked for in the startup packet
//!   (`client_encoding` in the connection string) and the time zone is set
//!   only when the server's default is not UTC ([`PgConn::establish`]).
//! - **A cancel token** ([`cancel`]): Ctrl-C, SIGTERM and the lock watchdog
//!   cancel the running statement on the server.
//! - **COPY TO read to its end** ([`copy`]): diesel's `copy_to` never
//!   fetches COPY's final result, so a COPY that fails half-way looks
//!   complete; here its error is returned.
//! - **SQLSTATE kept** ([`sqlstate`]): errors are classified by their code,
//!   never by the server's message (which follows `lc_messages`).
//! - No prepared statements: every statement is one unnamed
//!   `PQsendQueryParams` (one round trip; safe through transaction-mode
//!   poolers), as `CacheSize::Disabled` gives with `PgConnection`.

pub mod cancel;
mod copy;
mod raw;
mod result;
mod row;
pub mod sqlstate;

use diesel::connection::{
    AnsiTransactionManager, CacheSize, Connection, ConnectionSealed, DefaultLoadingMode,
    Instrumentation, InstrumentationEvent, LoadConnection, SimpleConnection, TransactionManager,
};
use diesel::expression::QueryMetadata;
use diesel::pg::{GetPgMetadataCache, Pg, PgMetadataCache, PgQueryBuilder, PgRowByRowLoadingMode};
use diesel::query_builder::bind_collector::RawBytesBindCollector;
use diesel::query_builder::{Query, QueryBuilder, QueryFragment, QueryId};
use diesel::result::{ConnectionError, ConnectionResult, Error as DieselError, QueryResult};

pub use copy::CopyOut;
use raw::RawConn;
pub use row::{Cursor, PgRow};

/// A PostgreSQL session for diesel (see the module documentation).
pub struct PgConn {
    raw: RawConn,
    transaction: AnsiTransactionManager,
    metadata: PgMetadataCache,
    /// `--verbose`'s statement log (None: nothing to tell).
    instrumentation: Option<Box<dyn Instrumentation>>,
    /// Unregisters the cancel token when the connection goes.
    /// The connection's cancel token (see [`PgConn::cancel_running`]).
    cancel: cancel::Registration,
}

/// Time zone names that are UTC (what `TimeZone` reports for each).
const UTC_NAMES: [&str; 8] = [
    "UTC",
    "Etc/UTC",
    "GMT",
    "Etc/GMT",
    "Universal",
    "Etc/Universal",
    "Zulu",
    "Etc/Zulu",
];

impl PgConn {
    /// The database's encoding, as the server reported it at connect
    /// (`UTF8`, `LATIN1`, …; no round trip).
    pub fn server_encoding(&self) -> Option<String> {
        self.raw.parameter_status(c"server_encoding")
    }

    /// Asks the server to cancel the statement this connection runs
    /// (bounded: [`cancel::CANCEL_WAIT`]); a statement already done is not
    /// affected, nor the next one (the server drops a cancel that finds
    /// its session waiting for a command).
    pub fn cancel_running(&self) -> bool {
        self.cancel.cancel()
    }

    /// The server process of this session (through a pooler: the
    /// pooler's stand-in).
    pub fn backend_pid(&self) -> i32 {
        self.raw.backend_pid()
    }

    /// The host connected to (see [`raw::RawConn::host`]).
    pub fn host(&self) -> Option<String> {
        self.raw.host()
    }

    /// Runs `sql` (no parameters; several statements allowed), for the
    /// statements diesel sends as text (migrations) and session settings.
    fn simple(&mut self, sql: &str) -> QueryResult<()> {
        self.raw.send_simple(sql)?;
        self.raw.finish_statement().map(|_| ())
    }

    /// Sends `source`, collecting its SQL and binary parameters as diesel's
    /// `Pg` backend encodes them.
    fn send_query<T>(&mut self, source: &T, single_row: bool) -> QueryResult<()>
    where
        T: QueryFragment<Pg>,
    {
        let mut builder = PgQueryBuilder::new();
        source.to_sql(&mut builder, &Pg)?;
        let sql = builder.finish();
        let mut binds = RawBytesBindCollector::<Pg>::new();
        source.collect_binds(&mut binds, self, &Pg)?;
        let types: Vec<u32> = binds
            .metadata
            .iter()
            .map(|m| m.oid().unwrap_or(0))
            .collect();
        if self.instrumentation.is_some() {
            let query = diesel::debug_query::<Pg, _>(source);
            self.on_event(InstrumentationEvent::start_query(&query));
        }
        let sent = self.raw.send(&sql, &types, &binds.binds, true, single_row);
        if let Err(e) = &sent {
            self.finished(source, Some(e));
        }
        sent
    }

    fn on_event(&mut self, event: InstrumentationEvent<'_>) {
        if let Some(i) = self.instrumentation.as_mut() {
            i.on_connection_event(event);
        }
    }

    /// Tells the instrumentation a statement ended, and keeps the
    /// transaction manager in step with the session after an error.
    fn finished<T: QueryFragment<Pg>>(&mut self, source: &T, error: Option<&DieselError>) {
        if error.is_some()
            && self.raw.transaction_status() == pq_sys::PGTransactionStatusType::PQTRANS_UNKNOWN
        {
            // The connection is gone: no transaction can continue on it.
            AnsiTransactionManager::transaction_manager_status_mut(self).set_in_error();
        }
        if self.instrumentation.is_some() {
            let query = diesel::debug_query::<Pg, _>(source);
            self.on_event(InstrumentationEvent::finish_query(&query, error));
        }
    }
}

impl ConnectionSealed for PgConn {}

impl SimpleConnection for PgConn {
    fn batch_execute(&mut self, query: &str) -> QueryResult<()> {
        self.simple(query)
    }
}

impl Connection for PgConn {
    type Backend = Pg;
    type TransactionManager = AnsiTransactionManager;

    /// Connects with a libpq connection string (the caller adds
    /// `client_encoding=UTF8`, which the startup packet carries). The
    /// session's time zone is the server's default unless `PGTZ` is set:
    /// when that is not UTC, one `SET TIME ZONE 'UTC'` follows (column
    /// defaults such as `CURRENT_TIMESTAMP` follow the session's time zone,
    /// and the schema stores UTC); likewise `SET CLIENT_ENCODING` when the
    /// URL asked for another encoding.
    fn establish(database_url: &str) -> ConnectionResult<PgConn> {
        let raw = RawConn::connect(database_url).map_err(ConnectionError::BadConnection)?;
        let cancel = cancel::register(&raw);
        let mut conn = PgConn {
            raw,
            transaction: AnsiTransactionManager::default(),
            metadata: PgMetadataCache::new(),
            instrumentation: None,
            cancel,
        };
        // What the server reports at connect (no round trip); a SET only
        // where it is not what the tool needs.
        let zone = conn.raw.parameter_status(c"TimeZone").unwrap_or_default();
        if !UTC_NAMES.contains(&zone.as_str()) {
            conn.simple("SET TIME ZONE 'UTC'")
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
        }
        let encoding = conn
            .raw
            .parameter_status(c"client_encoding")
            .unwrap_or_default();
        if encoding != "UTF8" {
            conn.simple("SET CLIENT_ENCODING TO 'UTF8'")
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
        }
        Ok(conn)
    }

    fn execute_returning_count<T>(&mut self, source: &T) -> QueryResult<usize>
    where
        T: QueryFragment<Pg> + QueryId,
    {
        self.send_query(source, false)?;
        let done = self.raw.finish_statement();
        self.finished(source, done.as_ref().err());
        Ok(done?.map_or(0, |r| r.affected()))
    }

    fn transaction_state(&mut self) -> &mut AnsiTransactionManager {
        &mut self.transaction
    }

    fn instrumentation(&mut self) -> &mut dyn Instrumentation {
        &mut self.instrumentation
    }

    fn set_instrumentation(&mut self, instrumentation: impl Instrumentation) {
        self.instrumentation = Some(Box::new(instrumentation));
    }

    /// Statements are never prepared: nothing to size.
    fn set_prepared_statement_cache_size(&mut self, _size: CacheSize) {}
}

impl LoadConnection<DefaultLoadingMode> for PgConn {
    type Cursor<'conn, 'query> = Cursor<'conn>;
    type Row<'conn, 'query> = PgRow;

    /// The whole result at once.
    fn load<'conn, 'query, T>(&'conn mut self, source: T) -> QueryResult<Cursor<'conn>>
    where
        T: Query + QueryFragment<Pg> + QueryId + 'query,
        Pg: QueryMetadata<T::SqlType>,
    {
        self.send_query(&source, false)?;
        let done = self.raw.finish_statement();
        self.finished(&source, done.as_ref().err());
        Ok(Cursor::whole(done?))
    }
}

impl LoadConnection<PgRowByRowLoadingMode> for PgConn {
    type Cursor<'conn, 'query> = Cursor<'conn>;
    type Row<'conn, 'query> = PgRow;

    /// Row by row (libpq's single-row mode): memory bounded by one row.
    fn load<'conn, 'query, T>(&'conn mut self, source: T) -> QueryResult<Cursor<'conn>>
    where
        T: Query + QueryFragment<Pg> + QueryId + 'query,
        Pg: QueryMetadata<T::SqlType>,
    {
        self.send_query(&source, true)?;
        let query = diesel::debug_query::<Pg, _>(&source).to_string();
        Cursor::streaming(self, query)
    }
}

impl GetPgMetadataCache for PgConn {
    fn get_metadata_cache(&mut self) -> &mut PgMetadataCache {
        &mut self.metadata
    }
}

/// The version of the libpq linked in (e.g. 180006 for 18.6).
pub fn libpq_version() -> i32 {
    // SAFETY: PQlibVersion has no preconditions.
    unsafe { pq_sys::PQlibVersion() }
}

/// Runs `f` in a transaction that begins with `begin` (`BEGIN ISOLATION
/// LEVEL REPEATABLE READ READ ONLY`, …), as diesel's
/// `PgConnection::build_transaction` does.
pub fn transaction_as<T, E, F>(conn: &mut PgConn, begin: &str, f: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConn) -> Result<T, E>,
    E: From<DieselError>,
{
    AnsiTransactionManager::begin_transaction_sql(conn, begin)?;
    match f(conn) {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(conn).map_err(E::from)?;
            Err(e)
        }
    }
}
