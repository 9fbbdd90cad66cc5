//! Round trips per command (SPEC §16): the statements each command sends
//! after connecting, counted from `--verbose`, which logs every statement
//! (BEGIN and COMMIT included). The connection's own setup is not counted
//! here: libpq's handshake plus diesel's two SETs, the same for every
//! command; `bench/remote.sh` counts everything on the wire.

use crate::support::{expect_code, TestDb};

fn statements(db: &TestDb, args: &[&str]) -> usize {
    let out = db.cmd().args(args).arg("-v").output().unwrap();
    expect_code(&out, 0);
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("todo: sql ("))
        .count()
}

#[test]
fn every_user_and_task_command_is_one_statement_and_db_reads_two() {
    let db = TestDb::migrated();
    db.add_user("rt@example.com");
    let id = db.add_task("rt@example.com", "probe").to_string();
    let other = db.add_task("rt@example.com", "other").to_string();
    let u = ["--user", "rt@example.com"];
    let cases: Vec<(Vec<&str>, usize)> = vec![
        (vec!["task", "add", "another"], 1),
        (vec!["task", "list", "--limit", "5"], 1),
        (vec!["task", "list", "--search", "prob"], 1),
        (vec!["task", "show", &id], 1),
        (vec!["task", "done", &id], 1),
        (vec!["task", "undo", &id], 1),
        (vec!["task", "edit", &id, "--title", "renamed"], 1),
        (vec!["task", "stats"], 1),
        (vec!["task", "rm", &other], 1),
        (vec!["task", "rm", "--done", "--yes"], 1),
        (vec!["user", "list", "--limit", "5"], 1),
        (vec!["user", "show", "rt@example.com"], 1),
        (vec!["user", "add", "second@example.com"], 1),
        (vec!["user", "rm", "second@example.com", "--yes"], 1),
        // The account, then its tasks streamed (the C baseline runs both).
        (vec!["user", "export", "rt@example.com"], 2),
        (vec!["db", "status"], 2),
        (vec!["db", "migrate"], 2),
        (vec!["db", "health"], 2),
    ];
    for (args, expected) in cases {
        let mut args = args;
        if args[0] == "task" {
            args.extend(u);
        }
        assert_eq!(statements(&db, &args), expected, "todo {}", args.join(" "));
    }
}
