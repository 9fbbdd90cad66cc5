//! SPEC §18's connection conventions: which database a command uses does
//! not depend on a redirected stream; psql's environment and libpq
//! keyword/value strings work; passwords stay masked (issue 27, 1/3).

use crate::support::Outcome;
use crate::support::{server, todo_cmd, LocalHome, TempDir, TestDb};

#[test]
fn redirecting_output_never_changes_the_database() {
    let home = LocalHome::new("redirect");
    let dir = TempDir::new("redirect");
    let code_file = dir.join("code");
    let bin = assert_cmd::cargo::cargo_bin("todo");
    // At a terminal (stdin is one) with stdout and stderr redirected, as
    // the README's scripting example runs when pasted: the embedded
    // database, so the user is simply not found (3), not "no database" (5).
    let script = format!(
        "{} task show 999999 --user bob@example.com >/dev/null 2>&1; echo $? > {}",
        bin.display(),
        code_file.display()
    );
    let out = crate::support::command_in_test_env("script", &dir)
        .env_remove("CI")
        .env("TODO_HOME", &home.path)
        .args(["-qec", &script, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .output()
        .expect("util-linux script");
    assert!(out.status.success(), "{}", out.stdout());
    assert_eq!(std::fs::read_to_string(&code_file).unwrap().trim(), "3");
}

#[test]
fn psql_environment_and_keyword_strings_connect() {
    let db = TestDb::migrated();
    db.add_user("pg@example.com");
    let socket = server().socket_dir.clone().expect("the private server");
    let dir = TempDir::new("pgenv");
    // PGHOST/PGDATABASE/PGUSER, no URL: libpq's way.
    let _out = todo_cmd(&dir)
        .env("PGHOST", &socket)
        .env("PGDATABASE", &db.name)
        .env("PGUSER", "postgres")
        .args(["task", "stats", "--user", "pg@example.com", "--json"])
        .expect(0);
    // A keyword/value string where a URL goes.
    let conninfo = format!("host={} dbname={} user=postgres", socket.display(), db.name);
    let _out = todo_cmd(&dir)
        .env("DATABASE_URL", &conninfo)
        .args(["user", "show", "pg@example.com", "--json"])
        .expect(0);
    // A bad one: exit 2, libpq's reason, never the password.
    let out = todo_cmd(&dir)
        .env("DATABASE_URL", "hots=x password=Secr3tPW")
        .args(["user", "list"])
        .expect(2);
    assert!(
        out.stderr().contains("invalid connection string"),
        "{}",
        out.stderr()
    );
    assert!(!out.stderr().contains("Secr3tPW"), "{}", out.stderr());
    // Unreachable, with a password: masked in libpq's error too.
    let out = todo_cmd(&dir)
        .env(
            "DATABASE_URL",
            "host=/nonexistent-todo-dir dbname=x user=u password=Secr3tPW",
        )
        .args(["user", "list"])
        .expect(5);
    assert!(!out.stderr().contains("Secr3tPW"), "{}", out.stderr());
    assert!(
        out.stderr().contains("u@/nonexistent-todo-dir/x"),
        "{}",
        out.stderr()
    );
}
