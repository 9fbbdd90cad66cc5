//! Online migrations (SPEC §21): on tables that hold rows, no step of
//! `db migrate` holds or queues a lock that blocks the application's reads
//! and writes for longer than one try of the lock budget; an interrupted
//! run is completed by the next; concurrent runs stay exact; `--plan`
//! changes nothing; a transaction pooler is refused for session steps.
//! Locks are observed in `pg_locks` from a third session, never by clocks.

use std::process::Stdio;

use crate::migrate::{dump, EXTRAS, SPEC_SQL};
use crate::support::servers::pgbouncer;
use crate::support::Outcome;
use crate::support::{on_a_terminal, run_concurrently, todo_process, TestDb};

/// The backend's schema (SPEC §1) with 200 users and 20 000 tasks.
fn backend_db() -> TestDb {
    let db = TestDb::empty();
    db.psql(SPEC_SQL);
    db.psql(
        "INSERT INTO users (id, email) SELECT 'u' || i, 'user' || i || '@example.com'
           FROM generate_series(1, 200) i;
         INSERT INTO tasks (title, user_id) SELECT 'task ' || i, 'u' || (1 + i % 200)
           FROM generate_series(1, 20000) i;
         ANALYZE users; ANALYZE tasks;",
    );
    db
}

/// A migrated database with rows, with migrations 3 to 5 reverted (their
/// indexes gone): what `db migrate` builds online.
fn at_version_2() -> TestDb {
    let db = backend_db();
    db.run(["db", "migrate", "--baseline", "-q"]).ok();
    db.psql(
        "DROP INDEX idx_tasks_user_created; DROP INDEX idx_users_email_natural_key;
         DELETE FROM __diesel_schema_migrations WHERE version > '20261124000002'",
    );
    db
}

/// Ends another session: its psql, and its server process (which sleeps
/// on, in its transaction, until it next talks to the client).
fn end(holder: crate::support::Holder, db: &TestDb) {
    drop(holder);
    db.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
          WHERE application_name = 'psql' AND datname = current_database() AND pid <> pg_backend_pid()",
    );
}

/// Another session with an open writing transaction (an xid) for `secs`
/// seconds: a concurrent build waits for it to end.
fn open_writer(db: &TestDb, secs: u32) -> crate::support::Holder {
    db.hold(
        &format!(
            "BEGIN; INSERT INTO tasks (title, user_id) VALUES ('open', 'u1'); SELECT pg_sleep({secs});"
        ),
        &format!(
            "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE state = 'active'
               AND query LIKE '%pg_sleep({secs})%' AND backend_xid IS NOT NULL
               AND datname = current_database())"
        ),
    )
}

fn versions(db: &TestDb) -> String {
    db.psql("SELECT string_agg(version, ',' ORDER BY version) FROM __diesel_schema_migrations")
}

const ALL: &str = "20261124000001,20261124000002,20261124000003,20261201000004,20261201000005";

/// SQL true while this database's `todo` session waits for a lock.
const TODO_QUEUED: &str =
    "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE NOT l.granted AND a.application_name = 'todo' AND a.datname = current_database())";

/// SQL true while a `todo` session is connected to this database and
/// waits for no lock (between two tries).
const TODO_NOT_QUEUED: &str = "SELECT EXISTS (SELECT FROM pg_stat_activity a
     WHERE a.application_name = 'todo' AND a.datname = current_database())
   AND NOT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE NOT l.granted AND a.application_name = 'todo' AND a.datname = current_database())";

/// Starts `todo ARGS` and waits until it has queued for a lock (a try)
/// and let go of the queue again (between tries).
fn trying(db: &TestDb, args: &[&str]) -> std::process::Child {
    let child = todo_process(&db.dir)
        .args(args)
        .env("DATABASE_URL", db.url())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(db.wait_until(TODO_QUEUED), "todo never asked for the lock");
    assert!(
        db.wait_until(TODO_NOT_QUEUED),
        "todo never let go of the queue"
    );
    child
}

#[test]
fn baseline_of_a_populated_schema_gives_exactly_the_migrated_schema() {
    let db = backend_db();
    let mut expected = dump(&db);
    expected.extend(EXTRAS.iter().map(|s| s.to_string()));
    expected.sort();
    let out = db.run(["db", "migrate", "--baseline", "--json"]).ok();
    assert_eq!(
        out.value(),
        serde_json::json!({"applied": ["20261124000002", "20261124000003", "20261201000004", "20261201000005"]})
    );
    assert_eq!(dump(&db), expected);
    assert_eq!(versions(&db), ALL);
    // Validated, valid: nothing is left for health to name.
    assert_eq!(
        db.psql(
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated
             UNION ALL SELECT count(*) FROM pg_index WHERE NOT indisvalid"
        ),
        "0\n0"
    );
}

#[test]
fn plan_shows_each_step_and_changes_nothing() {
    let db = backend_db();
    let before = (
        dump(&db),
        db.psql("SELECT to_regclass('__diesel_schema_migrations') IS NULL"),
    );
    let out = db
        .run(["db", "migrate", "--plan", "--baseline", "--json"])
        .ok();
    let plan = out.value();
    assert_eq!(plan["one_transaction"], false);
    let pending: Vec<&str> = plan["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        pending,
        [
            "20261124000002",
            "20261124000003",
            "20261201000004",
            "20261201000005"
        ]
    );
    let m2 = &plan["pending"][0]["steps"];
    // The constraint goes in NOT VALID under a brief ACCESS EXCLUSIVE...
    assert_eq!(m2[0]["lock"], "ACCESS EXCLUSIVE");
    assert_eq!(m2[0]["blocks"], "reads and writes");
    assert_eq!(m2[0]["estimate_ms"], 0);
    assert!(m2[0]["sql"].as_str().unwrap().contains("NOT VALID"));
    // ...and is validated under a lock that blocks nothing, over every row.
    assert_eq!(
        m2[1],
        serde_json::json!({
            "sql": "ALTER TABLE tasks VALIDATE CONSTRAINT tasks_title_not_blank",
            "lock": "SHARE UPDATE EXCLUSIVE", "blocks": "nothing",
            "estimate_ms": m2[1]["estimate_ms"], "transactional": true,
            "table": "tasks", "rows": 20000, "when": null
        })
    );
    let build = &plan["pending"][1]["steps"][0];
    assert_eq!(build["lock"], "SHARE UPDATE EXCLUSIVE");
    assert_eq!(build["blocks"], "nothing");
    assert_eq!(build["transactional"], false);
    assert_eq!(build["rows"], 20000);
    assert!(build["sql"]
        .as_str()
        .unwrap()
        .starts_with("CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tasks_user_created"));
    // No step of the plan blocks reads or writes except brief ones.
    for m in plan["pending"].as_array().unwrap() {
        for s in m["steps"].as_array().unwrap() {
            if s["blocks"] != "nothing" {
                assert_eq!(s["rows"], serde_json::Value::Null, "{s}");
            }
        }
    }
    let after = (
        dump(&db),
        db.psql("SELECT to_regclass('__diesel_schema_migrations') IS NULL"),
    );
    assert_eq!(after, before);

    // Empty tables: one transaction, CONCURRENTLY dropped.
    let empty = TestDb::empty();
    let plan = empty
        .run(["db", "migrate", "--plan", "--json"])
        .ok()
        .value();
    assert_eq!(plan["one_transaction"], true);
    assert_eq!(plan["pending"].as_array().unwrap().len(), 5);
    assert_eq!(
        plan["pending"][2]["steps"][0]["sql"],
        "CREATE INDEX IF NOT EXISTS idx_tasks_user_created\n    ON tasks (user_id, created_at DESC NULLS LAST, id DESC) INCLUDE (completed)"
    );
    assert_eq!(empty.psql("SELECT to_regclass('users') IS NULL"), "t");
}

/// A brief step that cannot get its lock (a long report reads `tasks`)
/// waits at most one try at a time: between tries todo holds and queues
/// nothing, so the application's reads and writes go on (each with a
/// `lock_timeout` of 2 s, four times the budget, succeeds); after
/// `--lock-timeout` it gives up naming the session that held the lock.
#[test]
fn a_brief_step_never_queues_in_front_of_the_application_for_more_than_one_try() {
    let db = backend_db();
    let report = db.hold(
        "BEGIN; SELECT count(*) FROM tasks; SELECT pg_sleep(60);",
        &db.locked("tasks"),
    );
    let child = trying(&db, &["db", "migrate", "--baseline", "--lock-timeout", "6"]);
    for i in 0..4 {
        let app = db.psql(&format!(
            "SET lock_timeout = '2s'; INSERT INTO tasks (title, user_id) VALUES ('app {i}', 'u1');
             SELECT count(*) > 0 FROM tasks WHERE title = 'app {i}';"
        ));
        assert_eq!(app, "t", "the application's statement {i} was blocked");
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let pid = db.psql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'psql'
           AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()
           AND datname = current_database()",
    );
    assert!(
        err.starts_with(&format!(
            "error: gave up waiting for a lock held by another session: pid {pid} (psql, for "
        )) && err.contains(
            "BEGIN; SELECT count(*) FROM tasks; SELECT pg_sleep(60);) holds AccessShareLock on tasks ("
        ) && err.contains("each try waited at most 0.5 s"),
        "{err}"
    );
    end(report, &db);
    // The base migration was recorded; the rest completes now.
    assert_eq!(versions(&db), "20261124000001");
    db.run(["db", "migrate", "-q"]).ok();
    assert_eq!(versions(&db), ALL);
}

/// A concurrent build holds only SHARE UPDATE EXCLUSIVE (blocks no reads or
/// writes) while it runs; interrupted (Ctrl-C) it leaves an INVALID index,
/// which `db health` and `db status` name, and the next `db migrate` drops
/// and builds again, recording the migration only then.
#[test]
fn an_interrupted_concurrent_build_is_completed_by_the_next_run() {
    let db = at_version_2();
    // An open transaction with an xid: the build waits for it to end.
    let writer = open_writer(&db, 60);
    let child = todo_process(&db.dir)
        .args(["db", "migrate", "--lock-timeout", "60"])
        .env("DATABASE_URL", db.url())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(db.wait_until(
        "SELECT EXISTS (SELECT FROM pg_stat_progress_create_index
          WHERE datname = current_database() AND relid = 'tasks'::regclass)"
    ));
    // The only lock todo holds on tasks blocks no reads or writes.
    assert_eq!(
        db.psql(
            "SELECT string_agg(DISTINCT l.mode, ',') FROM pg_locks l
               JOIN pg_stat_activity a ON a.pid = l.pid JOIN pg_class c ON c.oid = l.relation
              WHERE a.application_name = 'todo' AND c.relname = 'tasks'
                AND a.datname = current_database()"
        ),
        "ShareUpdateExclusiveLock"
    );
    assert_eq!(
        db.psql(
            "SET lock_timeout = '2s'; UPDATE tasks SET completed = true WHERE id = 1 RETURNING id"
        ),
        "1"
    );
    // Ctrl-C: the build is cancelled on the server.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    end(writer, &db);
    assert_eq!(
        db.psql(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_tasks_user_created'::regclass"
        ),
        "f"
    );
    assert_eq!(versions(&db), "20261124000001,20261124000002");
    let health = db.run(["db", "health"]).output();
    assert!(
        health
            .stdout()
            .contains("schema\twarn\tindex idx_tasks_user_created is INVALID (an interrupted online migration"),
        "{}",
        health.stdout()
    );
    let status = db.run(["db", "status", "--json"]).ok().value();
    assert_eq!(
        status["incomplete"],
        serde_json::json!({"20261124000003": ["index idx_tasks_user_created (INVALID)"]})
    );
    assert_eq!(status["in_progress"], serde_json::Value::Null);
    let text = db.run(["db", "status"]).ok();
    assert!(
        text.stdout()
            .contains("20261124000003\tindex_tasks_user_created\tincomplete\t\n"),
        "{}",
        text.stdout()
    );

    db.run(["db", "migrate", "-q"]).ok();
    assert_eq!(versions(&db), ALL);
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0"
    );
    let mut expected = dump(&backend_db());
    expected.extend(EXTRAS.iter().map(|s| s.to_string()));
    expected.sort();
    assert_eq!(dump(&db), expected);
}

/// `db status` names a migration in progress (the session holding the
/// migration lock).
#[test]
fn status_shows_a_migration_in_progress() {
    let db = at_version_2();
    let writer = open_writer(&db, 60);
    let child = todo_process(&db.dir)
        .args(["db", "migrate"])
        .env("DATABASE_URL", db.url())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(db.wait_until(
        "SELECT EXISTS (SELECT FROM pg_stat_progress_create_index WHERE datname = current_database())"
    ));
    let pid = db.psql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'todo' AND datname = current_database()",
    );
    let status = db.run(["db", "status", "--json"]).ok().value();
    assert_eq!(status["in_progress"].to_string(), pid);
    end(writer, &db);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(versions(&db), ALL);
}

#[test]
fn concurrent_online_migrates_apply_each_migration_once() {
    let db = at_version_2();
    let outs = run_concurrently(&db.dir, 4, &db.url(), &["db", "migrate", "--json"]);
    let mut applied = Vec::new();
    for out in &outs {
        assert_eq!(out.code(), Some(0), "{}", out.stderr());
        let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
        applied.extend(
            v["applied"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string()),
        );
    }
    applied.sort();
    assert_eq!(
        applied,
        ["20261124000003", "20261201000004", "20261201000005"]
    );
    assert_eq!(versions(&db), ALL);
}

/// Through a transaction pooler, a migration with a concurrent build is
/// refused before anything changes; the direct URL (`--direct-url` or
/// `$DATABASE_URL_UNPOOLED`) completes it.
#[test]
fn a_pooler_is_refused_for_session_steps_and_the_direct_url_is_used() {
    let db = at_version_2();
    let pooled = pgbouncer().url(&db.name);
    let before = dump(&db);
    let out = todo_process(&db.dir)
        .args(["db", "migrate"])
        .env("DATABASE_URL", &pooled)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err,
        "error: migration 20261124000003 needs a session of its own, which this connection \
         through a pooler does not give (CREATE INDEX CONCURRENTLY IF NOT EXISTS \
         idx_tasks_user_created ON tasks (user_id, created_at DESC NULLS LAST, id DESC) \
         INCLUDE (completed)); nothing was changed\n\
         hint: connect to the database directly, not through the pooler: pass --direct-url URL \
         or set $DATABASE_URL_UNPOOLED to the direct URL\n"
    );
    assert_eq!(dump(&db), before);
    assert_eq!(versions(&db), "20261124000001,20261124000002");

    let out = todo_process(&db.dir)
        .args(["db", "migrate", "--json"])
        .env("DATABASE_URL", &pooled)
        .env("DATABASE_URL_UNPOOLED", db.url())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(versions(&db), ALL);
}

/// On a terminal, a build shows its progress (the phase from
/// `pg_stat_progress_create_index`); on a pipe nothing.
#[test]
fn a_build_shows_progress_on_a_terminal_only() {
    let db = at_version_2();
    let writer = open_writer(&db, 3);
    let (code, screen) = on_a_terminal(&db, "db migrate", "");
    drop(writer);
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("20261124000003: building index idx_tasks_user_created - waiting for"),
        "{screen}"
    );
    let db = at_version_2();
    let out = db.run(["db", "migrate"]).ok();
    assert_eq!(out.stderr(), "");
}

/// `db rls enable` takes ACCESS EXCLUSIVE locks briefly: tried with the
/// lock budget like a migration's brief steps, it lets the application's
/// statements through between tries and gives up naming the holder.
#[test]
fn rls_enable_tries_with_the_lock_budget_and_names_the_holder() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let report = db.hold(
        "BEGIN; SELECT count(*) FROM tasks; SELECT pg_sleep(60);",
        &db.locked("tasks"),
    );
    let child = trying(&db, &["db", "rls", "enable", "--lock-timeout", "5"]);
    for i in 0..3 {
        let app = db.psql(&format!(
            "SET lock_timeout = '2s'; SELECT count(*) FROM tasks WHERE title <> 'x{i}'"
        ));
        assert_eq!(app, "0", "the application's statement {i} was blocked");
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        err.starts_with("error: gave up waiting for a lock held by another session: pid ")
            && err.contains(") holds AccessShareLock on tasks ("),
        "{err}"
    );
    end(report, &db);
    assert_eq!(
        db.psql("SELECT relrowsecurity FROM pg_class WHERE relname = 'tasks'"),
        "f"
    );
    db.run(["db", "rls", "enable", "-q"]).ok();
    assert_eq!(
        db.psql("SELECT relrowsecurity FROM pg_class WHERE relname = 'tasks'"),
        "t"
    );
}

/// Reverting the base migration while its tables hold rows drops the data
/// itself: its prompt says it is an offline operation.
#[test]
fn reverting_the_base_migration_with_rows_says_it_is_offline() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    for _ in 0..4 {
        db.run(["db", "revert", "--yes", "-q"]).ok();
    }
    let (code, screen) = on_a_terminal(&db, "db revert --force", "n\n");
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains(
            "Revert migration 20261124000001 create_users_and_tasks? This is an offline \
             operation: the application's users and tasks are dropped. [database "
        ),
        "{screen}"
    );
    assert_eq!(db.psql("SELECT count(*) FROM users"), "1");
}

/// `kill -9` of `todo` during a concurrent build: the server process goes
/// on building (it notices the client gone only when it answers), holding
/// the migration lock until then; the next `db migrate` waits for it,
/// then records what it built, leaving nothing INVALID.
#[test]
fn a_killed_migrate_is_completed_by_the_next_run() {
    let db = at_version_2();
    let writer = open_writer(&db, 60);
    let mut child = todo_process(&db.dir)
        .args(["db", "migrate", "--lock-timeout", "60"])
        .env("DATABASE_URL", db.url())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(db.wait_until(
        "SELECT EXISTS (SELECT FROM pg_stat_progress_create_index
          WHERE datname = current_database() AND relid = 'tasks'::regclass)"
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    end(writer, &db);
    assert_eq!(versions(&db), "20261124000001,20261124000002");
    db.run(["db", "migrate", "-q", "--lock-timeout", "60"]).ok();
    assert_eq!(versions(&db), ALL);
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0"
    );
    let mut expected = dump(&backend_db());
    expected.extend(EXTRAS.iter().map(|s| s.to_string()));
    expected.sort();
    assert_eq!(dump(&db), expected);
}

/// `db seed` on a database whose `users` hold rows (the auth service's
/// sign-ups, no tasks yet) loads plainly, taking no lock that blocks the
/// application's writes for the whole load: the indexes of `tasks` are
/// the same ones afterwards (the fast path into empty tables drops and
/// builds them again).
#[test]
fn a_seed_beside_existing_users_keeps_the_indexes_in_place() {
    let db = TestDb::migrated();
    db.add_user("signed-up@example.com");
    let oids = "SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid)
                  FROM pg_index WHERE indrelid = 'tasks'::regclass";
    let before = db.psql(oids);
    db.run([
        "db",
        "seed",
        "--users",
        "100",
        "--tasks-per-user",
        "250",
        "-q",
    ])
    .ok();
    assert_eq!(db.psql("SELECT count(*) FROM tasks"), "25000");
    assert_eq!(db.psql(oids), before);

    // Into empty tables the fast path is still taken.
    let empty = TestDb::migrated();
    let before = empty.psql(oids);
    empty
        .run([
            "db",
            "seed",
            "--users",
            "100",
            "--tasks-per-user",
            "250",
            "-q",
        ])
        .ok();
    assert_ne!(empty.psql(oids), before);
}
