//! Errors are classified by SQLSTATE, never by the server's message text:
//! with the server speaking German (`lc_messages = 'de_DE.UTF-8'`, a locale
//! `scripts/test` makes), every error case keeps its exit code and kind.

use crate::rls::{as_role, role};
use crate::support::{todo_cmd, Outcome, TempDir, TestDb};

fn kind(out: &impl Outcome) -> String {
    let err: serde_json::Value =
        serde_json::from_str(&out.stderr()).unwrap_or_else(|_| panic!("{}", out.stderr()));
    err["error"]["kind"].as_str().unwrap().to_string()
}

#[test]
fn errors_keep_their_exit_codes_when_the_server_speaks_german() {
    let db = TestDb::migrated();
    let set = db.psql(&format!(
        "ALTER DATABASE {} SET lc_messages = 'de_DE.UTF-8'",
        db.name
    ));
    assert!(set.is_empty(), "{set}");
    db.add_user("de@example.com");
    // The server really answers in German.
    let german = crate::support::try_psql(&db.url(), "SELECT 1/0").unwrap_err();
    assert!(german.contains("Division durch Null"), "{german}");

    let dir = TempDir::new("german");
    // Forbidden (42501): a read-only role writing.
    let reader = role("de_ro");
    db.run(["db", "roles", "grant", "--readonly", &reader]).ok();
    let out = todo_cmd(&dir)
        .env("DATABASE_URL", as_role(&db, &reader))
        .args(["task", "add", "x", "--user", "de@example.com", "--json"])
        .expect(8);
    assert_eq!(kind(&out), "forbidden");

    // Read-only session (25006).
    let app = role("de_app");
    db.run(["db", "roles", "grant", "--app", &app]).ok();
    db.psql(&format!(
        "ALTER ROLE {app} IN DATABASE {} SET default_transaction_read_only = on",
        db.name
    ));
    let out = todo_cmd(&dir)
        .env("DATABASE_URL", as_role(&db, &app))
        .args(["task", "add", "x", "--user", "de@example.com", "--json"])
        .expect(5);
    assert_eq!(kind(&out), "read_only");

    // Lock waits: the server's lock_timeout (55P03) and the watchdog's
    // cancel (57014), both exit 5.
    for _ in 0..3 {
        db.run(["db", "revert", "--yes"]).ok();
    }
    let holder = db.hold(
        "BEGIN; LOCK TABLE tasks IN ROW EXCLUSIVE MODE; SELECT pg_sleep(30);",
        &db.locked("tasks"),
    );
    let out = db
        .run(["db", "migrate", "--lock-timeout", "1", "--json"])
        .expect(5);
    assert_eq!(kind(&out), "unavailable");
    db.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    drop(holder);
    db.run(["db", "migrate"]).ok();
    let _holder = db.hold(
        "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30);",
        &db.locked("tasks"),
    );
    let out = db
        .run([
            "task",
            "list",
            "--user",
            "de@example.com",
            "--lock-timeout",
            "1",
            "--json",
        ])
        .expect(5);
    let err = String::from_utf8_lossy(&out.out.stderr);
    assert!(err.contains("lock held by another session: pid "), "{err}");
}
