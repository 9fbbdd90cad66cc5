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

/// A cancel request that the server never answers (here a proxy that
/// swallows every connection after the first) does not hang Ctrl-C: it is
/// given up after a few seconds, saying the statement may still complete,
/// and a second Ctrl-C ends the process at once (issue 43).
#[test]
fn ctrl_c_ends_the_process_when_the_cancel_request_hangs() {
    use std::io::{Read, Write};
    let db = TestDb::migrated();
    db.add_user("hang@example.com");
    let socket = crate::support::server()
        .socket_dir
        .clone()
        .expect("the private server")
        .join(".s.PGSQL.5432");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut swallowed = Vec::new();
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            // A cancel request's first 8 bytes: length 16, code 80877102.
            let mut head = [0u8; 8];
            if client.read_exact(&mut head).is_err() {
                continue;
            }
            if head[4..] == 80877102u32.to_be_bytes() {
                // Taken, never answered nor closed.
                swallowed.push(client);
                continue;
            }
            let mut server = std::os::unix::net::UnixStream::connect(&socket).unwrap();
            server.write_all(&head).unwrap();
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let _holder = db.hold(
        "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);",
        &db.locked("tasks"),
    );
    let url = format!(
        "postgresql://postgres@127.0.0.1:{port}/{}?sslmode=disable",
        db.name
    );
    for signals in [1, 2] {
        let child = spawn_todo(
            &db.dir,
            &url,
            &[
                "task",
                "add",
                "Blocked",
                "--user",
                "hang@example.com",
                "--lock-timeout",
                "600",
            ],
        );
        assert!(db.wait_until(TODO_WAITS), "todo never waited for the lock");
        for _ in 0..signals {
            let status = Command::new("kill")
                .args(["-s", "INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.signal(), Some(libc::SIGINT), "{}", out.stderr());
        assert!(
            out.stderr().contains("error: interrupted"),
            "{}",
            out.stderr()
        );
        if signals == 1 {
            // Given up after a few seconds, and said.
            assert!(
                out.stderr().contains(
                    "todo: the server did not take the request to cancel the running \
                     statement; it may still complete"
                ),
                "{}",
                out.stderr()
            );
        }
        db.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'todo'",
        );
        assert!(db.wait_until(TODO_GONE));
    }
}
