//! `db health` (SPEC §7).

use crate::support::Outcome;
use crate::support::{server, todo_cmd, TestDb, RO_ROLE};

fn health(db: &TestDb) -> (Option<i32>, serde_json::Value) {
    let out = db.run(["db", "health", "--json"]).output();
    (out.code(), out.value())
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn a_fresh_migrated_database_is_healthy() {
    let db = TestDb::migrated();
    let (code, report) = health(&db);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["status"], "ok", "{report}");
    for name in [
        "connection",
        "server_version",
        "migrations",
        "schema",
        "connections",
        "wraparound",
        "tasks_id_seq",
        "vacuum",
        "cache_hit_ratio",
        "unused_indexes",
    ] {
        let c = check(&report, name);
        assert_eq!(c["status"], "ok", "{c}");
        assert!(!c["detail"].as_str().unwrap().is_empty());
    }
    assert!(check(&report, "server_version")["detail"]
        .as_str()
        .unwrap()
        .starts_with("PostgreSQL "));

    let out = db.run(["db", "health"]).output();
    assert!(
        out.stdout().starts_with("connection\tok\t"),
        "{}",
        out.stdout()
    );
    let out = db.run(["db", "health", "--format", "table"]).output();
    assert!(out.stdout().contains("Overall: OK"));
}

#[test]
fn a_dropped_documented_index_fails() {
    let db = TestDb::migrated();
    db.psql("DROP INDEX idx_tasks_user_completed");
    let (code, report) = health(&db);
    assert_eq!(code, Some(7));
    assert_eq!(report["status"], "fail");
    let schema = check(&report, "schema");
    assert_eq!(schema["status"], "fail");
    assert!(
        schema["detail"]
            .as_str()
            .unwrap()
            .contains("idx_tasks_user_completed"),
        "{schema}"
    );
    let out = db.run(["db", "health"]).output();
    assert_eq!(out.stderr(), "error: health check failed: schema\n");
}

#[test]
fn sequence_headroom_warns_then_fails() {
    let db = TestDb::migrated();
    db.psql("SELECT setval('tasks_id_seq', 1700000000)");
    let (code, report) = health(&db);
    assert_eq!(code, Some(0), "a warning is not a failure");
    assert_eq!(report["status"], "warn");
    assert_eq!(check(&report, "tasks_id_seq")["status"], "warn");

    db.psql("SELECT setval('tasks_id_seq', 2000000000)");
    let (code, report) = health(&db);
    assert_eq!(code, Some(7));
    let seq = check(&report, "tasks_id_seq");
    assert_eq!(seq["status"], "fail");
    assert!(
        seq["detail"]
            .as_str()
            .unwrap()
            .starts_with("2000000000 of 2147483647"),
        "{seq}"
    );
}

#[test]
fn pending_migrations_warn() {
    let db = TestDb::migrated();
    for _ in 0..4 {
        db.run(["db", "revert", "--yes"]).ok();
    }
    let (code, report) = health(&db);
    assert_eq!(code, Some(0));
    let m = check(&report, "migrations");
    assert_eq!(m["status"], "warn");
    assert!(
        m["detail"].as_str().unwrap().starts_with(
            "4 pending (20261124000002, 20261124000003, 20261201000004, 20261201000005)"
        ),
        "{m}"
    );
    assert_eq!(check(&report, "schema")["status"], "warn");
}

#[test]
fn an_empty_database_exits_6_and_is_not_written() {
    let db = TestDb::empty();
    let (code, report) = health(&db);
    assert_eq!(code, Some(6));
    assert_eq!(report["status"], "fail");
    assert_eq!(check(&report, "migrations")["status"], "fail");
    assert_eq!(check(&report, "schema")["status"], "fail");
    assert_eq!(
        db.value("SELECT to_regclass('__diesel_schema_migrations') IS NULL"),
        "t"
    );
}

#[test]
fn an_unreachable_server_still_gets_a_report_and_exits_5() {
    let dir = std::env::temp_dir();
    let out = todo_cmd(&dir)
        .args(["db", "health", "--json"])
        .env("DATABASE_URL", "postgresql://u:Secret-pw-9@127.0.0.1:1/db")
        .expect(5);
    let report = out.value();
    assert_eq!(report["status"], "fail");
    assert_eq!(check(&report, "connection")["status"], "fail");
    // libpq's two lines joined as the error line joins them (issue 27).
    let detail = check(&report, "connection")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("Connection refused; Is the server running"),
        "{detail}"
    );
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(!all.contains("Secret-pw-9"), "{all}");
    assert!(all.contains("u@127.0.0.1:1/db"), "{all}");
}

#[test]
fn works_for_a_read_only_role_that_owns_nothing() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    db.add_task("a@example.com", "t");
    db.psql(&format!(
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {RO_ROLE};
         GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {RO_ROLE}"
    ));
    let url = read_only_url(&db);
    let out = todo_cmd(&db.dir)
        .args(["db", "health", "--json"])
        .env("DATABASE_URL", &url)
        .output();
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout(), out.stderr());
    let report = out.value();
    assert_eq!(report["status"], "ok", "{report}");
    assert!(
        check(&report, "tasks_id_seq")["detail"]
            .as_str()
            .unwrap()
            .starts_with("1 of"),
        "{report}"
    );
}

#[test]
fn a_role_without_grants_gets_warnings_naming_them_not_failures() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    db.add_task("a@example.com", "t");
    // Only the two tables, as an app's read-only role often has.
    db.psql(&format!("GRANT SELECT ON users, tasks TO {RO_ROLE}"));
    let url = read_only_url(&db);
    let run = || {
        let out = todo_cmd(&db.dir)
            .args(["db", "health", "--json"])
            .env("DATABASE_URL", &url)
            .output();
        assert_eq!(out.code(), Some(0), "{}{}", out.stdout(), out.stderr());
        out.value()
    };
    let report = run();
    assert_eq!(report["status"], "warn", "{report}");
    let detail = |name: &str| check(&report, name)["detail"].as_str().unwrap().to_string();
    assert_eq!(check(&report, "migrations")["status"], "warn");
    assert!(
        detail("migrations").contains(&format!(
            "GRANT SELECT ON __diesel_schema_migrations TO {RO_ROLE}"
        )),
        "{report}"
    );
    assert!(
        detail("tasks_id_seq").contains(&format!(
            "GRANT SELECT ON SEQUENCE tasks_id_seq TO {RO_ROLE}"
        )),
        "{report}"
    );
    // No grant at all: the same, every check still reports.
    db.psql(&format!("REVOKE ALL ON users, tasks FROM {RO_ROLE}"));
    let report = run();
    assert_eq!(report["status"], "warn", "{report}");
    assert!(report["checks"].as_array().unwrap().len() >= 10, "{report}");
}

/// The test database, connected as the read-only role.
fn read_only_url(db: &TestDb) -> String {
    let socket = server().socket_dir.clone().expect("private server");
    format!(
        "postgresql://{RO_ROLE}@/{}?host={}",
        db.name,
        socket.display()
    )
}

#[test]
fn sessions_idle_in_a_transaction_and_lock_waits_are_reported() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    // A session left idle inside a transaction that holds a row lock ...
    let mut idle = diesel::PgConnection::establish(&db.url()).unwrap();
    idle.batch_execute("BEGIN; SELECT * FROM users FOR UPDATE")
        .unwrap();
    // ... and another session waiting for that lock.
    let _waiter = db.hold(
        "UPDATE users SET name = 'x'",
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock'
         AND datname = current_database())",
    );
    let out = db.run(["db", "health", "--json"]).expect(0);
    let report = out.value();
    let detail = |name: &str| check(&report, name)["detail"].as_str().unwrap().to_string();
    assert!(
        detail("idle_in_transaction").starts_with("1 session idle in a transaction"),
        "{report}"
    );
    assert!(
        detail("lock_waits").starts_with("1 session waiting for a lock"),
        "{report}"
    );
    assert!(detail("oldest_transaction").starts_with("the oldest open transaction started"));
    for name in ["deadlocks", "database_size", "row_level_security"] {
        assert_eq!(check(&report, name)["status"], "ok", "{name}: {report}");
    }
    drop(idle);
}
