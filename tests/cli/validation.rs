//! SPEC §8: every bad input is refused with exit 2 before the database is
//! touched.

use crate::support::Outcome;
use crate::support::{todo_cmd, TestDb};

/// A URL nobody listens on: if a command tried to connect it would exit 5.
const UNREACHABLE: &str = "postgresql://nobody@127.0.0.1:1/none";

fn refused_before_connecting(args: &[&str]) -> String {
    let dir = std::env::temp_dir();
    let out = todo_cmd(&dir)
        .args(args)
        .env("DATABASE_URL", UNREACHABLE)
        .env("TODO_USER", "a@example.com")
        .output();
    assert_eq!(out.code(), Some(2), "{args:?}: {}", out.stderr());
    out.stderr()
}

#[test]
fn bad_emails() {
    let long = format!("{}@example.com", "a".repeat(244));
    for email in [
        "bob",
        "bob@",
        "@example.com",
        "bob@localhost",
        "bob smith@x.com",
        "a@b@c.com",
        "",
        long.as_str(),
        "tab\t@x.com",
    ] {
        let err = refused_before_connecting(&["user", "add", email]);
        assert!(err.contains("email"), "{email}: {err}");
    }
}

#[test]
fn bad_titles_and_descriptions() {
    let long = "x".repeat(256);
    for title in ["", "   ", long.as_str(), "line\nbreak", "bell\u{7}"] {
        refused_before_connecting(&["task", "add", title]);
    }
    let long = "d".repeat(1001);
    refused_before_connecting(&["task", "add", "ok", "--description", &long]);
    refused_before_connecting(&["task", "edit", "1", "--title", " "]);
    refused_before_connecting(&["task", "edit", "1", "--description", &long]);
}

#[test]
fn bad_task_ids() {
    for id in ["99999999999", "abc", "0", "-1", "2147483648", "1.5"] {
        for cmd in ["show", "done", "undo", "rm", "edit"] {
            let mut args = vec!["task", cmd, id];
            if cmd == "edit" {
                args.extend(["--title", "x"]);
            }
            refused_before_connecting(&args);
        }
    }
}

#[test]
fn bad_user_ids_names_and_limits() {
    refused_before_connecting(&["user", "add", "a@example.com", "--id", "has@sign"]);
    refused_before_connecting(&["user", "add", "a@example.com", "--id", "has space"]);
    let long = "n".repeat(256);
    refused_before_connecting(&["user", "add", "a@example.com", "--name", &long]);
    refused_before_connecting(&["task", "list", "--limit", "0"]);
    refused_before_connecting(&["user", "list", "--limit", "-3"]);
    refused_before_connecting(&["task", "list", "--user", "  "]);
}

#[test]
fn refusals_leave_the_database_unchanged() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let before = db.value("SELECT count(*) FROM tasks") + &db.value("SELECT count(*) FROM users");
    for args in [
        vec!["task", "add", "", "--user", "a@example.com"],
        vec!["task", "add", &"y".repeat(300), "--user", "a@example.com"],
        vec!["user", "add", "not-an-email"],
        vec!["task", "done", "abc", "--user", "a@example.com"],
    ] {
        let _out = db.run(&args).expect(2);
    }
    let after = db.value("SELECT count(*) FROM tasks") + &db.value("SELECT count(*) FROM users");
    assert_eq!(before, after);
}
