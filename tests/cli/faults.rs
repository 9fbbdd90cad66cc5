//! Faults (SPEC §2, §9): an unresponsive server, a connection killed in the
//! middle of a command, a restart between commands, a blocking lock.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::support::Outcome;
use crate::support::{expect_code, spawn_todo, todo_cmd, todo_in_shell, TestDb};

#[test]
fn an_unresponsive_server_times_out_with_exit_5() {
    // Accepts TCP connections (the kernel does) but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = std::env::temp_dir();
    let start = Instant::now();
    let out = todo_cmd(&dir)
        .args(["db", "status", "--connect-timeout", "2"])
        .env(
            "DATABASE_URL",
            format!("postgresql://u:hidden-pw@127.0.0.1:{port}/db"),
        )
        .timeout(Duration::from_secs(60))
        .output();
    let elapsed = start.elapsed();
    drop(listener);
    expect_code(&out, 5);
    assert!(
        elapsed >= Duration::from_secs(2),
        "it waited for the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "bounded by the timeout: {elapsed:?}"
    );
    assert!(out.stderr().contains("timeout"), "{}", out.stderr());
    assert!(!out.stderr().contains("hidden-pw"));
}

#[test]
fn a_connection_killed_mid_seed_exits_5_and_commits_nothing() {
    let db = TestDb::migrated();
    let child = spawn_todo(
        &db.dir,
        &db.url(),
        &["db", "seed", "--users", "40000", "--tasks-per-user", "50"],
    );
    let copying = db.wait_until(&db.copying_tasks());
    db.psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name
    ));
    let out = child.wait_with_output().unwrap();
    assert!(copying, "the seed never reached the tasks COPY");
    expect_code(&out, 5);
    assert!(
        out.stderr().contains("lost the connection"),
        "{}",
        out.stderr()
    );
    assert_eq!(db.value("SELECT count(*) FROM users"), "0");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

#[test]
fn a_restart_between_commands_is_invisible() {
    let home = std::path::PathBuf::from(format!("/tmp/todo-lt-{}-restart2", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let todo = || todo_cmd(&std::env::temp_dir()).env("TODO_HOME", &home);
    todo().args(["db", "local", "start", "-q"]).ok();
    let url = todo().args(["db", "local", "url"]).ok().stdout();
    let url = url.trim().to_string();
    let with_url = |args: &[&str]| todo().args(args).env("DATABASE_URL", &url).output();

    assert_eq!(
        with_url(&["user", "add", "r@example.com", "-q"]).code(),
        Some(0)
    );
    todo().args(["db", "local", "stop", "-q"]).ok();
    let down = with_url(&["user", "list"]);
    assert_eq!(down.code(), Some(5), "server down: {}", down.stderr());
    todo().args(["db", "local", "start", "-q"]).ok();
    let up = with_url(&["user", "show", "r@example.com"]);
    assert_eq!(up.code(), Some(0), "{}", up.stderr());

    let _ = todo().args(["db", "local", "stop"]).output();
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn migrate_blocked_by_a_table_lock_ends_at_its_lock_timeout() {
    let db = TestDb::migrated();
    // Back to before migration 3 (an index on tasks); 4 and 5 go with it.
    for _ in 0..3 {
        db.run(["db", "revert", "--yes"]).ok();
    }
    // The web app (say) is writing to tasks, in a transaction that stays
    // open: CREATE INDEX must wait for it.
    let holder = db.hold(
        "BEGIN; LOCK TABLE tasks IN ROW EXCLUSIVE MODE; SELECT pg_sleep(30);",
        &db.locked("tasks"),
    );
    let start = Instant::now();
    let out = db.run(["db", "migrate", "--lock-timeout", "1"]).output();
    let elapsed = start.elapsed();
    drop(holder);
    expect_code(&out, 5);
    assert!(
        out.stderr().contains("gave up waiting for a lock"),
        "{}",
        out.stderr()
    );
    assert!(
        elapsed < Duration::from_secs(25),
        "ended by lock_timeout, not the holder: {elapsed:?}"
    );
    assert_eq!(
        db.value("SELECT count(*) FROM __diesel_schema_migrations"),
        "2"
    );
}

#[test]
fn a_task_added_while_its_user_is_deleted_is_not_found() {
    let db = TestDb::migrated();
    db.add_user("gone@example.com");
    // Session B holds an advisory lock; session A deletes the user and then
    // waits for B before committing.
    let b = db.hold(
        "SELECT pg_advisory_lock(4242); SELECT pg_sleep(60);",
        "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
    );
    let a = db.hold(
        "BEGIN; DELETE FROM users WHERE email = 'gone@example.com'; \
         SELECT pg_advisory_lock(4242); COMMIT;",
        "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
    );
    // todo sees the user (A has not committed) and its insert waits on A.
    let child = spawn_todo(
        &db.dir,
        &db.url(),
        &["task", "add", "Orphan", "--user", "gone@example.com"],
    );
    assert!(db.wait_for_todo_to_block());
    // B goes: A commits the delete; todo's foreign key check fails.
    db.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE '%pg_sleep(60)%'
           AND pid <> pg_backend_pid()",
    );
    let out = child.wait_with_output().unwrap();
    drop((a, b));
    expect_code(&out, 3);
    assert!(out.stderr().contains("deleted"), "{}", out.stderr());
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

#[test]
fn a_closed_stdout_fails_before_anything_is_done() {
    let db = TestDb::migrated();
    db.add_user("closed@example.com");
    let run = |args: &str| {
        todo_in_shell(&db.dir, &format!("exec \"$0\" {args} >&-"))
            .env("DATABASE_URL", db.url())
            .env("TODO_USER", "closed@example.com")
            .output()
            .unwrap()
    };
    let out = run("task stats");
    expect_code(&out, 2);
    assert!(out.stderr().contains("standard output is closed"));
    let out = run("task add Lost");
    expect_code(&out, 2);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
    // With -q there is nothing to write: that works.
    let out = run("task add Kept -q");
    expect_code(&out, 0);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "1");
}

#[test]
fn a_command_blocked_by_a_lock_gives_up_and_names_the_blocker() {
    let db = TestDb::migrated();
    db.add_user("w@example.com");
    let holder = db.hold(
        "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);",
        &db.locked("tasks"),
    );
    let holder_pid = db.value(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
         AND query LIKE '%LOCK TABLE tasks%' AND pid <> pg_backend_pid()",
    );
    let started = Instant::now();
    let out = db
        .run([
            "task",
            "add",
            "Blocked",
            "--user",
            "w@example.com",
            "--lock-timeout",
            "1",
        ])
        .output();
    let elapsed = started.elapsed();
    expect_code(&out, 5);
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    let err = out.stderr();
    assert!(err.contains("gave up waiting for a lock"), "{err}");
    assert!(err.contains(&format!("pid {holder_pid} (psql")), "{err}");
    assert!(err.contains("LOCK TABLE tasks"), "{err}");
    // Cancelled on the server: nothing is inserted once the lock goes.
    db.psql(&format!("SELECT pg_terminate_backend({holder_pid})"));
    drop(holder);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
    // Unblocked, the same command works.
    db.run([
        "task",
        "add",
        "Free",
        "--user",
        "w@example.com",
        "--lock-timeout",
        "1",
    ])
    .ok();
}
