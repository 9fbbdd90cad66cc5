//! The project's own connection (`todo::db::PgConn`, docs/core.md) against
//! diesel's behaviour the tool relies on: transactions and savepoints,
//! streamed rows given up early, COPY in and out (a COPY TO that fails
//! half-way is an error, not a short table), SQLSTATEs, and UTC sessions.

use diesel::connection::Connection;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::sql_types::{Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};
use std::io::BufRead;
use todo::db::PgConn;

use crate::support::TestDb;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = Integer)]
    n: i32,
}

fn connect(db: &TestDb) -> PgConn {
    PgConn::establish(&db.url()).unwrap()
}

fn count(conn: &mut PgConn) -> i32 {
    diesel::sql_query("SELECT count(*)::int AS n FROM users")
        .get_result::<N>(conn)
        .unwrap()
        .n
}

#[test]
fn transactions_roll_back_and_savepoints_nest() {
    let db = TestDb::migrated();
    let mut conn = connect(&db);
    let failed: Result<(), diesel::result::Error> = conn.transaction(|c| {
        diesel::sql_query("INSERT INTO users (id, email) VALUES ('a', 'a@x.org')").execute(c)?;
        diesel::sql_query("INSERT INTO users (id, email) VALUES ('a', 'b@x.org')").execute(c)?;
        Ok(())
    });
    let err = failed.unwrap_err();
    assert_eq!(todo::db::sqlstate(&err).as_deref(), Some("23505"));
    assert_eq!(count(&mut conn), 0, "rolled back");
    conn.transaction(|c| {
        diesel::sql_query("INSERT INTO users (id, email) VALUES ('b', 'b@x.org')").execute(c)?;
        let inner: Result<(), diesel::result::Error> = c.transaction(|c| {
            diesel::sql_query("INSERT INTO users (id, email) VALUES ('c', 'c@x.org')")
                .execute(c)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(inner.is_err());
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    assert_eq!(
        count(&mut conn),
        1,
        "the outer insert kept, the savepoint's not"
    );
}

#[test]
fn streamed_rows_can_be_given_up_and_the_connection_goes_on() {
    let db = TestDb::migrated();
    let mut conn = connect(&db);
    {
        let mut rows = diesel::sql_query("SELECT i AS n FROM generate_series(1, 100000) i")
            .load_iter::<N, PgRowByRowLoadingMode>(&mut conn)
            .unwrap();
        assert_eq!(rows.next().unwrap().unwrap().n, 1);
        assert_eq!(rows.next().unwrap().unwrap().n, 2);
    }
    assert_eq!(count(&mut conn), 0);
    // An error after some rows comes as an error, then the end.
    let rows: Vec<_> = diesel::sql_query(
        "SELECT CASE WHEN i < 3 THEN i ELSE 1 / (i - i) END AS n FROM generate_series(1, 5) i",
    )
    .load_iter::<N, PgRowByRowLoadingMode>(&mut conn)
    .unwrap()
    .collect();
    assert!(rows.iter().take(2).all(|r| r.is_ok()));
    assert!(rows.last().unwrap().is_err());
    assert_eq!(count(&mut conn), 0);
}

#[test]
fn a_copy_to_that_fails_half_way_is_an_error() {
    let db = TestDb::migrated();
    let mut conn = connect(&db);
    let mut copy = conn
        .copy_out(
            "COPY (SELECT CASE WHEN i < 50000 THEN i ELSE 1 / (i - i) END FROM generate_series(1, 100000) i) TO STDOUT",
        )
        .unwrap();
    let mut rows = 0;
    loop {
        match copy.fill_buf() {
            Ok([]) => break,
            Ok(data) => {
                rows += data.iter().filter(|b| **b == b'\n').count();
                let n = data.len();
                copy.consume(n);
            }
            Err(_) => break,
        }
    }
    assert!(rows > 0, "some rows came first");
    let err = copy.finish().unwrap_err();
    assert_eq!(todo::db::sqlstate(&err).as_deref(), Some("22012"), "{err}");
    assert_eq!(count(&mut conn), 0, "the connection is usable after it");

    // COPY IN: a failing producer loads nothing.
    let failed = conn.copy_in("COPY users (id, email) FROM STDIN", |w| {
        w.write_all(b"x\tx@x.org\n").unwrap();
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(failed.is_err());
    assert_eq!(count(&mut conn), 0);
    let loaded = conn
        .copy_in("COPY users (id, email) FROM STDIN", |w| {
            w.write_all(b"y\ty@x.org\nz\tz@x.org\n").unwrap();
            Ok(())
        })
        .unwrap();
    assert_eq!(loaded, 2);
    assert_eq!(count(&mut conn), 2);
}

#[test]
fn sessions_are_utc_whatever_the_server_default() {
    let db = TestDb::migrated();
    db.psql(&format!(
        "ALTER DATABASE {} SET timezone = 'Asia/Tokyo'",
        db.name
    ));
    #[derive(QueryableByName)]
    struct Zone {
        #[diesel(sql_type = Text)]
        zone: String,
    }
    let mut conn = connect(&db);
    let zone: Zone = diesel::sql_query("SELECT current_setting('TimeZone') AS zone")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(zone.zone, "UTC");
}

/// A statement that starts a COPY where rows were expected (`COPY … TO
/// STDOUT` or `FROM STDIN` through `execute`) is an error, and the
/// connection is usable afterwards: libpq returns the same COPY state on
/// every `PQgetResult`, which once made the tool loop forever (issue 43).
#[test]
fn an_unexpected_copy_is_an_error_and_the_connection_goes_on() {
    let db = TestDb::migrated();
    db.add_user("copy@example.com");
    let mut conn = connect(&db);
    for sql in ["COPY users TO STDOUT", "COPY users FROM STDIN"] {
        let err = diesel::sql_query(sql).execute(&mut conn).unwrap_err();
        assert!(err.to_string().contains("COPY"), "{sql}: {err}");
        assert_eq!(count(&mut conn), 1, "{sql}: the connection goes on");
    }
}

/// Rows given up early (`task list | head -1`, a backup whose output
/// failed) are not read to the end: the statement is cancelled on the
/// server, so it never completes (pg_stat_statements records only
/// statements that did), and the connection goes on (issue 43).
#[test]
fn a_stream_given_up_early_is_cancelled_on_the_server() {
    let db = TestDb::migrated();
    db.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    let user = db.add_user("many@example.com");
    // Far more than the socket's buffers hold: the server cannot have
    // sent them all when the stream is dropped.
    db.psql(&format!(
        "INSERT INTO tasks (title, description, user_id)
         SELECT 'task ' || g, repeat('x', 200), '{user}' FROM generate_series(1, 200000) g"
    ));
    let reset = "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database
                                                     WHERE datname = current_database()), 0)";
    let completed_reads = "SELECT count(*) FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND rows >= 200000";
    db.psql(reset);

    // The tool's own: a list read to its first line through a pipe.
    let mut child = crate::support::todo_process(&db.dir)
        .env("TODO_DATABASE_URL", db.url())
        .args([
            "task",
            "list",
            "--user",
            "many@example.com",
            "--format",
            "plain",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    assert!(child.wait().unwrap().success());
    assert!(first.contains("task "), "{first}");

    // COPY OUT dropped after one row, then the connection's next statement.
    let mut conn = connect(&db);
    {
        let mut copy = conn
            .copy_out("COPY (SELECT * FROM tasks) TO STDOUT")
            .unwrap();
        let mut line = String::new();
        copy.read_line(&mut line).unwrap();
        assert!(line.contains("task "), "{line}");
    }
    assert_eq!(count(&mut conn), 1, "the connection goes on");
    assert_eq!(db.value(completed_reads), "0", "both were cancelled");
}
