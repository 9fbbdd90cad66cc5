//! `db seed` (SPEC §6).

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::migrate::dump;
use crate::support::{json, stderr, stdout, TestDb};

const ROWS: &str = "SELECT md5(string_agg(row_text, '|' ORDER BY row_text)) FROM (
    SELECT concat_ws(',', u.id, u.email, u.name, u.created_at, u.updated_at) AS row_text FROM users u
    UNION ALL
    SELECT concat_ws(',', t.id, t.title, t.description, t.completed, t.user_id, t.created_at, t.updated_at) FROM tasks t
) r";

fn seed(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let out = db
        .cmd()
        .args(["db", "seed", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
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
    let out = db
        .cmd()
        .args(["db", "seed", "--format", "table"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("Nothing to seed"), "{}", stdout(&out));
    let out = db.cmd().args(["db", "seed"]).output().unwrap();
    assert!(stdout(&out).starts_with("0\t0\t"), "{}", stdout(&out));
    assert!(stderr(&out).contains("Nothing to seed"));

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

    let out = db
        .cmd()
        .args(["db", "seed", "--clean", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
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
    let out = db
        .cmd()
        .args(["db", "seed", "--clean", "--users", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--clean takes no sizes");
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
        .cmd()
        .args(["user", "rm", "seed-user-1@seed.example", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&out)["tasks_deleted"], 250);
}

#[test]
fn falls_back_to_the_plain_load_when_tasks_is_locked() {
    let db = TestDb::migrated();
    let reference = dump(&db);
    // A reader holds a lock that the index drop would wait for.
    let mut holder = Command::new(crate::support::psql_path())
        .args(["-X", "-q", "-d", &db.url(), "-c"])
        .arg("BEGIN; LOCK TABLE tasks IN ACCESS SHARE MODE; SELECT pg_sleep(30);")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if db.value(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                     WHERE c.relname = 'tasks' AND l.mode = 'AccessShareLock' AND l.granted
                       AND l.pid <> pg_backend_pid()",
        ) == "1"
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = db
        .cmd()
        .args([
            "db",
            "seed",
            "--users",
            "100",
            "--tasks-per-user",
            "250",
            "--json",
        ])
        .output()
        .unwrap();
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["tasks_created"], 25_000);
    assert_eq!(dump(&db), reference);
}

#[test]
fn concurrent_seeds_serialise() {
    let db = TestDb::migrated();
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&bin)
                .args([
                    "db",
                    "seed",
                    "--users",
                    "30",
                    "--tasks-per-user",
                    "5",
                    "--json",
                ])
                .env("TODO_DATABASE_URL", db.url())
                .env_remove("DATABASE_URL")
                .current_dir(&db.dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut created = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        created += json(&out)["users_created"].as_u64().unwrap();
    }
    assert_eq!(created, 30);
    assert_eq!(db.value("SELECT count(*) FROM users"), "30");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "150");
}

#[test]
fn a_killed_seed_leaves_nothing() {
    let db = TestDb::migrated();
    let reference = dump(&db);
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let mut child = Command::new(&bin)
        .args(["db", "seed", "--users", "40000", "--tasks-per-user", "50"])
        .env("TODO_DATABASE_URL", db.url())
        .env_remove("DATABASE_URL")
        .current_dir(&db.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while tasks are being copied.
    let mut copying = false;
    for _ in 0..400 {
        if db.value(&format!(
            "SELECT count(*) FROM pg_stat_progress_copy p JOIN pg_class c ON c.oid = p.relid
             WHERE c.relname = 'tasks' AND p.datname = '{}' AND p.tuples_processed > 1000",
            db.name
        )) == "1"
        {
            copying = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert!(copying, "the seed never reached the tasks COPY");
    // The server notices the client is gone and rolls back.
    for _ in 0..200 {
        if db.value(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            db.name
        )) == "0"
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(db.value("SELECT count(*) FROM users"), "0");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
    assert_eq!(
        dump(&db),
        reference,
        "the dropped indexes came back with the rollback"
    );
}
