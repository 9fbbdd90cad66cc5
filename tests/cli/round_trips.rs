//! Round trips per command (SPEC §16): the statements each command sends
//! after connecting, counted from `--verbose`, which logs every statement
//! (BEGIN and COMMIT included). The connection's own setup is not counted
//! here (libpq's handshake, the same for every command; that diesel's two
//! SETs are not sent is checked below); `bench/remote.sh` counts everything
//! on the wire. The server's work per statement is checked by its plan.

use crate::support::{Outcome, TestDb};

fn statements(db: &TestDb, args: &[&str]) -> usize {
    let out = db.cmd().args(args).arg("-v").expect(0);
    out.stderr()
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

/// diesel's two setup SETs are not sent: the startup packet asks for UTC
/// and UTF-8 (`db::setup`), checked on the server with pg_stat_statements;
/// timestamps stay UTC whatever the client's `PGTZ`; a URL with its own
/// `client_encoding` gets diesel's SET as before.
#[test]
fn connecting_sends_no_set_and_timestamps_stay_utc() {
    let db = TestDb::migrated();
    db.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    db.add_user("tz@example.com");
    let reset = "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)";
    // The command's own statement is counted once it ran: then its SETs
    // (sent before it) are counted too.
    let counted = |pattern: &str| {
        crate::support::wait_for(std::time::Duration::from_secs(10), || {
            db.value(&format!(
                "SELECT EXISTS (SELECT FROM pg_stat_statements
                 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND query ILIKE '{pattern}')"
            )) == "t"
        })
    };
    let sets = || {
        assert!(
            counted("%tasks%"),
            "the command's statement was never counted"
        );
        db.value(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query ILIKE 'SET %'",
        )
    };
    // A server whose time zone is UTC: nothing to set.
    db.psql(reset);
    let _out = db
        .run(["task", "add", "In UTC", "--user", "tz@example.com", "-q"])
        .expect(0);
    assert_eq!(sets(), "0");
    // Another zone asked for by the environment (libpq sends PGTZ), and a
    // server whose default is another zone: one SET, and UTC all the same.
    db.psql(&format!(
        "ALTER DATABASE {} SET timezone = 'Asia/Tokyo'",
        db.name
    ));
    db.psql(reset);
    let _out = db
        .cmd()
        .env("PGTZ", "America/New_York")
        .args(["task", "add", "Also UTC", "--user", "tz@example.com", "-q"])
        .expect(0);
    assert_eq!(sets(), "1");
    let _out = db
        .run(["task", "add", "Still UTC", "--user", "tz@example.com", "-q"])
        .expect(0);
    assert_eq!(
        db.value(
            "SELECT bool_and(abs(extract(epoch FROM (now() AT TIME ZONE 'UTC') - created_at)) < 60) FROM tasks"
        ),
        "t"
    );
    let out = db
        .cmd()
        .env("PGTZ", "America/New_York")
        .args(["task", "list", "--user", "tz@example.com", "--json"])
        .output();
    let printed = crate::support::json(&out);
    let stored = db.value(
        "SELECT to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI') FROM tasks WHERE title = 'Still UTC'",
    );
    let shown = printed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Still UTC")
        .unwrap()["created_at"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        shown.starts_with(&stored),
        "{shown} is the stored UTC {stored}"
    );
    db.psql(&format!("ALTER DATABASE {} RESET timezone", db.name));
    db.psql(reset);
    let _out = db
        .cmd()
        .env(
            "TODO_DATABASE_URL",
            format!("{}&client_encoding=LATIN1", db.url()),
        )
        .args(["task", "stats", "--user", "tz@example.com"])
        .expect(0);
    assert_eq!(sets(), "1");
}

/// The EXPLAIN of the exact statement `todo -v` logged, with its binds.
fn plan_of(db: &TestDb, args: &[&str], binds: &str) -> String {
    let out = db.cmd().args(args).arg("-v").expect(0);
    let log = out.stderr();
    let line = log
        .lines()
        .find(|l| l.starts_with("todo: sql ("))
        .expect("a statement in the -v log");
    let sql = line.split_once("): ").unwrap().1;
    let sql = sql.rsplit_once(" -- binds: ").unwrap().0;
    db.psql(&format!(
        "PREPARE s AS {sql}; EXPLAIN (COSTS OFF) EXECUTE s({binds})"
    ))
}

/// `task list` reads the page of ids from `idx_tasks_user_created` and
/// fetches those rows by primary key, also on a small table where a hash
/// join over every task looks cheaper to the planner (it is not: 1.5 ms
/// of a new session's 2 ms statement at 10 000 tasks).
#[test]
fn task_list_fetches_its_page_by_primary_key_on_a_small_table() {
    let db = TestDb::migrated();
    let _seeded = db
        .run([
            "db",
            "seed",
            "--users",
            "20",
            "--tasks-per-user",
            "50",
            "-q",
        ])
        .expect(0);
    db.psql("ANALYZE");
    let user = "seed-user-1@seed.example";
    let plan = plan_of(
        &db,
        &["task", "list", "--user", user, "--limit", "10"],
        &format!("'{user}', NULL, 10"),
    );
    assert!(
        plan.contains("Index Only Scan using idx_tasks_user_created"),
        "{plan}"
    );
    assert!(plan.contains("Index Scan using tasks_pkey"), "{plan}");
    assert!(!plan.contains("Seq Scan on tasks"), "{plan}");
}
