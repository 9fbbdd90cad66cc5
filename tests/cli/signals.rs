//! Ctrl-C and SIGTERM (hardening issue): the statement the command was
//! running is cancelled on the server before the process ends by the
//! signal raised again (shells report 130 / 143), so nothing it queued
//! happens later.

use std::os::unix::process::ExitStatusExt;

use std::process::Command;

use crate::support::Outcome;
use crate::support::{spawn_todo, TestDb};

use crate::support::TODO_WAITS_FOR_A_LOCK as TODO_WAITS;
/// SQL: no `todo` session is left in this database.
const TODO_GONE: &str = "SELECT NOT EXISTS (SELECT FROM pg_stat_activity
    WHERE application_name = 'todo' AND datname = current_database())";

#[test]
fn an_interrupted_add_blocked_on_a_lock_never_inserts_later() {
    for (signal, number) in [("TERM", libc::SIGTERM), ("INT", libc::SIGINT)] {
        let db = TestDb::migrated();
        db.add_user("sig@example.com");
        let holder = db.hold(
            "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);",
            &db.locked("tasks"),
        );
        let child = spawn_todo(
            &db.dir,
            &db.url(),
            &["task", "add", "Once only", "--user", "sig@example.com"],
        );
        assert!(db.wait_until(TODO_WAITS), "todo never waited for the lock");
        let status = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        // Killed by the signal itself (re-raised), as a shell sees it.
        assert_eq!(
            out.status.signal(),
            Some(number),
            "{signal}: {}",
            out.stderr()
        );
        assert_eq!(out.stderr().trim(), "error: interrupted");
        // Cancelled on the server: its session ends although the lock is
        // still held ...
        assert!(
            db.wait_until(TODO_GONE),
            "{signal}: the INSERT is still queued"
        );
        // ... so releasing the lock inserts nothing.
        db.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        );
        drop(holder);
        assert_eq!(db.value("SELECT count(*) FROM tasks"), "0", "{signal}");
    }
}

#[test]
fn every_connection_the_tool_opens_has_its_cancel_key_recorded() {
    let db = TestDb::migrated();
    use todo::db::conn::cancel;
    let url = todo::url::DbUrl::parse(&db.url(), None, 5).unwrap();
    let conn = todo::db::pool::establish(&url, None).unwrap();
    // This very connection (by its server process), whatever other tests
    // open in parallel; and it is forgotten when the connection goes.
    let pid = conn.backend_pid();
    assert!(
        cancel::backend_pids().contains(&pid),
        "{pid} has no cancel token"
    );
    drop(conn);
    assert!(
        !cancel::backend_pids().contains(&pid),
        "{pid} is still recorded"
    );
}
