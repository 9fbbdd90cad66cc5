//! `db seed` (SPEC §6).

use crate::migrate::dump;
use crate::support::Outcome;
use crate::support::{expect_code, run_concurrently, spawn_todo, TestDb};

const ROWS: &str = "SELECT md5(string_agg(row_text, '|' ORDER BY row_text)) FROM (
    SELECT concat_ws(',', u.id, u.email, u.name, u.created_at, u.updated_at) AS row_text FROM users u
    UNION ALL
    SELECT concat_ws(',', t.id, t.title, t.description, t.completed, t.user_id, t.created_at, t.updated_at) FROM tasks t
) r";

fn seed(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let out = db.cmd().args(["db", "seed", "--json"]).args(args).expect(0);
    out.value()
}

#[test]
fn same_arguments_give_the_same_rows() {
    let a = TestDb::migrated();
    let b = TestDb::migrated();
    let c = TestDb::migrated();
    let v = seed(
        &a,
        &["--users", "5", "--tasks-per-user", "7", "--seed", "3"],
    );
    assert_eq!(v["users_created"], 5);
    assert_eq!(v["tasks_created"], 35);
    assert!(v["elapsed_ms"].is_u64());
    seed(
        &b,
        &["--users", "5", "--tasks-per-user", "7", "--seed", "3"],
    );
    seed(
        &c,
        &["--users", "5", "--tasks-per-user", "7", "--seed", "4"],
    );
    assert_eq!(a.value(ROWS), b.value(ROWS));
    assert_ne!(a.value(ROWS), c.value(ROWS));

    // Realistic and in the fixed window, never the clock.
    assert_eq!(
        a.value(
            "SELECT min(created_at) >= '2025-11-06' AND max(updated_at) < '2026-01-01'
                        AND bool_and(updated_at >= created_at) FROM tasks"
        ),
        "t"
    );
    let done = a.value("SELECT count(*) FILTER (WHERE completed) FROM tasks");
    assert!(
        done != "0" && done != "35",
        "a mix of done and pending: {done}"
    );
    assert_eq!(a.value("SELECT count(DISTINCT title) > 5 FROM tasks"), "t");
    assert_eq!(
        a.value("SELECT string_agg(email, ',' ORDER BY email) FROM users"),
        "seed-user-1@seed.example,seed-user-2@seed.example,seed-user-3@seed.example,\
         seed-user-4@seed.example,seed-user-5@seed.example"
    );
}

#[test]
fn defaults_rerun_and_growth() {
    let db = TestDb::migrated();
    let v = seed(&db, &[]);
    assert_eq!(
        (v["users_created"].as_u64(), v["tasks_created"].as_u64()),
        (Some(10), Some(200))
    );

    // Re-running adds nothing and says so.
    let v = seed(&db, &[]);
    assert_eq!(
        (v["users_created"].as_u64(), v["tasks_created"].as_u64()),
        (Some(0), Some(0))
    );
    let out = db.run(["db", "seed", "--format", "table"]).output();
    assert!(out.stdout().contains("Nothing to seed"), "{}", out.stdout());
    let out = db.run(["db", "seed"]).output();
    assert!(out.stdout().starts_with("0\t0\t"), "{}", out.stdout());
    assert!(out.stderr().contains("Nothing to seed"));

    // Growing keeps the first users' rows and adds only the missing ones.
    let before =
        db.value("SELECT md5(string_agg(t.title || t.created_at, ',' ORDER BY t.id)) FROM tasks t");
    let v = seed(&db, &["--users", "20"]);
    assert_eq!(
        (v["users_created"].as_u64(), v["tasks_created"].as_u64()),
        (Some(10), Some(200))
    );
    let after = db.value(
        "SELECT md5(string_agg(t.title || t.created_at, ',' ORDER BY t.id)) FROM tasks t
         WHERE user_id IN (SELECT id FROM users WHERE email ~ '^seed-user-([1-9]|10)@')",
    );
    assert_eq!(before, after);
    assert_eq!(db.value("SELECT count(*) FROM users"), "20");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "400");
}

#[test]
fn clean_removes_only_seed_rows() {
    let db = TestDb::migrated();
    db.add_user("real@example.com");
    db.add_task("real@example.com", "keep me");
    db.psql("INSERT INTO users (id, email) VALUES ('lookalike', 'seed-user-1@seed.example.org')");
    seed(&db, &["--users", "4", "--tasks-per-user", "3"]);

    let out = db.run(["db", "seed", "--clean", "--json"]).expect(0);
    let v = out.value();
    assert_eq!(
        (v["users_deleted"].as_i64(), v["tasks_deleted"].as_i64()),
        (Some(4), Some(12))
    );
    assert_eq!(
        db.value("SELECT string_agg(email, ',' ORDER BY email) FROM users"),
        "real@example.com,seed-user-1@seed.example.org"
    );
    assert_eq!(
        db.value("SELECT string_agg(title, ',') FROM tasks"),
        "keep me"
    );
    let out = db.run(["db", "seed", "--clean", "--users", "3"]).output();
    assert_eq!(out.code(), Some(2), "--clean takes no sizes");
}

#[test]
fn a_large_seed_into_empty_tasks_rebuilds_the_exact_schema() {
    let db = TestDb::migrated();
    let reference = dump(&TestDb::migrated());
    let v = seed(&db, &["--users", "100", "--tasks-per-user", "250"]);
    assert_eq!(v["tasks_created"], 25_000);
    assert_eq!(
        dump(&db),
        reference,
        "indexes and the foreign key are back as they were"
    );
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "25000");
    // The foreign key is enforced again.
    let out = db
        .run(["user", "rm", "seed-user-1@seed.example", "--yes", "--json"])
        .output();
    assert_eq!(out.value()["tasks_deleted"], 250);
}

/// When another session holds `tasks`, a large seed loads with the
/// indexes in place and says so (the reason it is slower); JSON stays the
/// same, and a seed that rebuilds, or that adds to rows already there,
/// says nothing.
#[test]
fn falls_back_to_the_plain_load_when_tasks_is_locked() {
    let note = "note: another session held tasks, so the rows went in with its indexes in place";
    let args = ["db", "seed", "--users", "100", "--tasks-per-user", "250"];
    let free = TestDb::migrated();
    let out = free.run(args).output();
    expect_code(&out, 0);
    assert!(!out.stderr().contains(note), "{}", out.stderr());
    // Into tasks that hold rows the plain load is the right one: no note,
    // even while another session reads them.
    let holder = free.hold_tasks_reader();
    let out = free
        .run(["db", "seed", "--users", "200", "--tasks-per-user", "250"])
        .output();
    drop(holder);
    expect_code(&out, 0);
    assert!(out.stdout().starts_with("100\t25000\t"), "{}", out.stdout());
    assert!(!out.stderr().contains(note), "{}", out.stderr());

    for json in [false, true] {
        let db = TestDb::migrated();
        let reference = dump(&db);
        // A reader holds a lock that the index drop would wait for.
        let holder = db.hold_tasks_reader();
        let flags: &[&str] = if json { &["--json"] } else { &[] };
        let out = db.cmd().args(args).args(flags).output();
        drop(holder);
        expect_code(&out, 0);
        assert_eq!(dump(&db), reference);
        if json {
            assert!(!out.stderr().contains(note), "{}", out.stderr());
            assert_eq!(out.value()["tasks_created"], 25_000);
        } else {
            assert!(out.stderr().contains(note), "{}", out.stderr());
            assert!(out.stdout().starts_with("100\t25000\t"), "{}", out.stdout());
        }
    }
}

#[test]
fn concurrent_seeds_serialise() {
    let db = TestDb::migrated();
    let args = [
        "db",
        "seed",
        "--users",
        "30",
        "--tasks-per-user",
        "5",
        "--json",
    ];
    let mut created = 0;
    for out in run_concurrently(&db.dir, 3, &db.url(), &args) {
        expect_code(&out, 0);
        created += out.value()["users_created"].as_u64().unwrap();
    }
    assert_eq!(created, 30);
    assert_eq!(db.value("SELECT count(*) FROM users"), "30");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "150");
}

#[test]
fn a_killed_seed_leaves_nothing() {
    let db = TestDb::migrated();
    let reference = dump(&db);
    let mut child = spawn_todo(
        &db.dir,
        &db.url(),
        &["db", "seed", "--users", "40000", "--tasks-per-user", "50"],
    );
    // Kill it (SIGKILL) while tasks are being copied.
    let copying = db.wait_until(&db.copying_tasks());
    child.kill().unwrap();
    let _ = child.wait();
    assert!(copying, "the seed never reached the tasks COPY");
    // The server notices the client is gone and rolls back.
    assert!(db.wait_until(&db.idle()));
    assert_eq!(db.value("SELECT count(*) FROM users"), "0");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
    assert_eq!(
        dump(&db),
        reference,
        "the dropped indexes came back with the rollback"
    );
}

/// Growing the seed describes the work done: the new user, singular, and
/// an example that is one of the new users.
#[test]
fn growing_the_seed_reports_what_it_added() {
    let db = TestDb::migrated();
    db.run(["db", "seed", "--users", "3", "--tasks-per-user", "2", "-q"])
        .ok();
    let out = db
        .run([
            "db",
            "seed",
            "--users",
            "4",
            "--tasks-per-user",
            "5",
            "--format",
            "table",
        ])
        .expect(0);
    let text = out.stdout();
    assert!(
        text.contains("Seeded 1 user and 5 tasks in ")
            && text.contains("3 seed users already existed"),
        "{text}"
    );
    assert!(
        text.contains("Try: todo task list --user seed-user-4@seed.example"),
        "{text}"
    );
}

/// On a terminal a large seed shows a progress bar whose rate is a whole
/// number with thousands separators (`81,233/s`, not `81233.1526/s`).
#[test]
fn the_progress_bar_shows_a_readable_rate() {
    let db = TestDb::migrated();
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let command = format!(
        "stty cols 120 rows 40; {} db seed --users 1000 --tasks-per-user 100",
        bin.display()
    );
    let out = crate::support::command_in_test_env("script", &db.dir)
        .args(["-qec", &command, "/dev/null"])
        .env("TODO_DATABASE_URL", db.url())
        .stdin(std::process::Stdio::piped())
        .output()
        .expect("util-linux script");
    let screen = out.stdout();
    assert_eq!(out.code(), Some(0), "{screen}");
    let rates: Vec<&str> = screen
        .split("/s")
        .filter_map(|before| before.rsplit(' ').next())
        .filter(|r| r.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert!(!rates.is_empty(), "no rate shown:\n{screen}");
    assert!(
        rates
            .iter()
            .all(|r| r.chars().all(|c| c.is_ascii_digit() || c == ',')),
        "a rate that is not a whole number: {rates:?}"
    );
}
