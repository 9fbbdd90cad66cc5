//! Through PgBouncer in transaction mode (Neon's `-pooler` hosts), with no
//! configuration of the tool.

use crate::support::servers::pgbouncer;
use crate::support::Outcome;
use crate::support::{json, run_concurrently, stderr, todo_cmd, TestDb};

fn via_bouncer(db: &TestDb) -> crate::support::Run {
    todo_cmd(&db.dir).env("DATABASE_URL", pgbouncer().url(&db.name))
}

#[test]
fn every_command_works_through_a_transaction_pooler() {
    let db = TestDb::empty();
    let run = |args: &[&str]| -> crate::support::Done {
        let out = via_bouncer(&db).args(args).output();
        assert_eq!(out.code(), Some(0), "{args:?}: {}", out.stderr());
        out
    };
    run(&["db", "migrate"]);
    run(&["db", "status", "--check"]);
    let uid = run(&["user", "add", "pool@example.com", "-q"]).stdout();
    run(&["user", "list"]);
    run(&["user", "show", "pool@example.com"]);
    let t1 = run(&["task", "add", "one", "--user", "pool@example.com", "-q"]).stdout();
    let t2 = run(&["task", "add", "two", "--user", uid.trim(), "-q"]).stdout();
    let u = ["--user", "pool@example.com"];
    run(&[&["task", "done", t1.trim(), t2.trim()][..], &u].concat());
    run(&[&["task", "undo", t2.trim()][..], &u].concat());
    run(&[&["task", "edit", t2.trim(), "--title", "two!"][..], &u].concat());
    run(&[&["task", "show", t2.trim()][..], &u].concat());
    run(&[&["task", "list", "--search", "two"][..], &u].concat());
    run(&[&["task", "rm", "--done", "--yes"][..], &u].concat());
    let stats = json(&run(&[&["task", "stats", "--json"][..], &u].concat()));
    assert_eq!(
        stats,
        serde_json::json!({"total": 1, "pending": 1, "done": 0})
    );
    run(&[&["task", "rm", t2.trim()][..], &u].concat());
    run(&["db", "seed", "--users", "100", "--tasks-per-user", "250"]);
    run(&["db", "seed", "--users", "110", "--tasks-per-user", "5"]);
    run(&["db", "health"]);
    run(&["db", "seed", "--clean"]);
    run(&["user", "rm", "pool@example.com", "--yes"]);
    run(&["db", "revert", "--yes"]);
    run(&["db", "migrate"]);
    assert_eq!(db.value("SELECT count(*) FROM users"), "0");
}

#[test]
fn two_hundred_concurrent_adds_through_five_server_connections() {
    let db = TestDb::migrated();
    db.add_user("busy@example.com");
    let outs = run_concurrently(
        &db.dir,
        200,
        &pgbouncer().url(&db.name),
        &[
            "task",
            "add",
            "task {i}",
            "--user",
            "busy@example.com",
            "-q",
        ],
    );
    for out in &outs {
        assert_eq!(out.code(), Some(0), "{}", stderr(out));
    }
    assert_eq!(db.value("SELECT count(DISTINCT title) FROM tasks"), "200");
}

#[test]
fn concurrent_migrates_through_the_pooler() {
    let db = TestDb::empty();
    let outs = run_concurrently(
        &db.dir,
        8,
        &pgbouncer().url(&db.name),
        &["db", "migrate", "--json"],
    );
    let mut applied = Vec::new();
    for out in &outs {
        assert_eq!(out.code(), Some(0), "{}", stderr(out));
        applied.extend(
            json(out)["applied"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.to_string()),
        );
    }
    assert_eq!(applied.len(), 5, "{applied:?}");
    assert_eq!(
        db.value("SELECT count(*) FROM __diesel_schema_migrations"),
        "5"
    );
}

#[test]
fn fifty_concurrent_adds_of_one_email_give_one_user() {
    let db = TestDb::migrated();
    let outs = run_concurrently(
        &db.dir,
        50,
        &pgbouncer().url(&db.name),
        &["user", "add", "same@example.com"],
    );
    let ok = outs.iter().filter(|o| o.code() == Some(0)).count();
    let conflict = outs.iter().filter(|o| o.code() == Some(4)).count();
    assert_eq!(
        (ok, conflict),
        (1, 49),
        "{:?}",
        outs.iter().map(|o| o.code()).collect::<Vec<_>>()
    );
    for out in outs.iter().filter(|o| o.code() == Some(4)) {
        assert!(
            stderr(out).starts_with("error: email same@example.com is already registered"),
            "{}",
            stderr(out)
        );
    }
    assert_eq!(db.value("SELECT count(*) FROM users"), "1");
}
