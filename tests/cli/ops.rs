//! Operations (SPEC §12): `db wait`, `db purge`, `db maintain`, `db stats`,
//! Prometheus output.

use std::time::{Duration, Instant};

use crate::support::Outcome;
use crate::support::{server, todo_cmd, TempDir, TestDb};

#[test]
fn wait_succeeds_when_the_server_comes_late_and_gives_up_when_none_does() {
    let dir = TempDir::new("wait");
    // A socket directory where the server's socket appears 1.5 s later.
    let late = TempDir::new("wait-socket");
    let real = server()
        .socket_dir
        .clone()
        .expect("the private server")
        .join(".s.PGSQL.5432");
    let link = late.join(".s.PGSQL.5432");
    let appear = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        std::os::unix::fs::symlink(real, link).unwrap();
    });
    let url = format!("postgresql://postgres@/postgres?host={}", late.display());
    let started = Instant::now();
    let out = todo_cmd(&dir)
        .args(["db", "wait", "--timeout", "20", "--json"])
        .env("DATABASE_URL", &url)
        .expect(0);
    appear.join().unwrap();
    assert_eq!(out.value()["ready"], true);
    assert!(started.elapsed() >= Duration::from_millis(1400));

    let started = Instant::now();
    let out = todo_cmd(&dir)
        .args(["db", "wait", "--timeout", "2"])
        .env("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
        .expect(5);
    assert!(
        out.stderr().contains("gave up after 2 s"),
        "{}",
        out.stderr()
    );
    // It waited the whole time it says (its last attempt at the end), not
    // a poll less.
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn wait_migrated_waits_for_pending_migrations() {
    let db = TestDb::empty();
    let _out = db
        .run(["db", "wait", "--timeout", "1", "--migrated"])
        .expect(6);
    db.run(["db", "migrate", "-q"]).ok();
    let _out = db
        .run(["db", "wait", "--timeout", "5", "--migrated", "--json"])
        .expect(0);
}

/// Checks the Prometheus text exposition format line by line: comments
/// (`# HELP`, `# TYPE`) and samples `name{label="value",…} number`.
fn assert_prometheus(text: &str) -> usize {
    let mut samples = 0;
    for line in text.lines() {
        if line.starts_with("# HELP todo_") || line.starts_with("# TYPE todo_") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("value of {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("todo_"), "{line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split(',') {
                    let (k, v) = pair.split_once('=').expect(line);
                    assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    assert!(v.starts_with('"') && v.ends_with('"'), "{line}");
                }
            }
        }
        samples += 1;
    }
    samples
}

#[test]
fn stats_report_sizes_scans_and_the_slowest_statements() {
    let db = TestDb::migrated();
    db.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    db.add_user("s@example.com");
    db.add_task("s@example.com", "one");
    let out = db.run(["db", "stats", "--json"]).expect(0);
    let v = out.value();
    assert_eq!(v["database"]["name"], db.name.as_str());
    let tables: Vec<&str> = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["tasks", "users"]);
    assert!(v["tables"][0]["bytes"].as_i64().unwrap() > 0);
    assert!(v["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["name"] == "idx_tasks_user_created"));
    let statements = v["statements"]
        .as_array()
        .expect("pg_stat_statements is loaded");
    assert!(!statements.is_empty(), "{v}");
    assert!(statements[0]["mean_ms"].as_f64().is_some());

    // Tables read as `db health` does: sizes in kB/MB, ages, and the last
    // analyze beside the last vacuum (issue 27).
    db.psql("ANALYZE tasks");
    // Before PostgreSQL 15 the statistics collector reports a moment later.
    assert!(db.wait_until(
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'tasks'"
    ));
    let out = db.run(["db", "stats", "--format", "table"]).expect(0);
    let text = out.stdout();
    assert!(text.contains("Last (auto)analyze"), "{text}");
    let tasks_row = text
        .lines()
        .find(|l| l.contains(" tasks "))
        .unwrap_or_else(|| panic!("no tasks row in:\n{text}"));
    assert!(tasks_row.contains(" kB "), "{tasks_row}");
    assert!(tasks_row.contains("just now"), "{tasks_row}");
    assert!(text.contains(" deadlocks since"), "{text}");

    let out = db.run(["db", "stats", "--format", "prometheus"]).expect(0);
    let text = out.stdout();
    assert!(assert_prometheus(&text) >= 10, "{text}");
    assert!(
        text.contains("todo_table_live_rows{table=\"tasks\"}"),
        "{text}"
    );
}

#[test]
fn health_in_prometheus_format_and_other_commands_refuse_it() {
    let db = TestDb::migrated();
    let out = db.run(["db", "health", "--format", "prometheus"]).expect(0);
    let text = out.stdout();
    assert!(assert_prometheus(&text) >= 10, "{text}");
    assert!(
        text.contains("todo_health_check_status{check=\"schema\"} 0"),
        "{text}"
    );
    assert!(text.contains("todo_health_status 0"), "{text}");

    let out = db
        .run([
            "task",
            "add",
            "x",
            "--user",
            "a@example.com",
            "--format",
            "prometheus",
        ])
        .expect(2);
    assert!(out.stderr().contains("only for db health and db stats"));
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

/// Tasks of two users: old done ones (purged), and every kind that stays.
fn purgeable_db() -> TestDb {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    db.add_user("b@example.com");
    db.psql(
        "INSERT INTO tasks (title, completed, user_id, created_at, updated_at)
         SELECT 'old done ' || u.email || ' ' || i, true, u.id, '2025-01-01', '2025-01-01'
         FROM users u, generate_series(1, 30) i;
         INSERT INTO tasks (title, completed, user_id, created_at, updated_at)
         SELECT kind, c, u.id, '2025-01-01', t
         FROM users u, (VALUES ('old pending', false, timestamp '2025-01-01'),
                               ('old unknown', NULL, timestamp '2025-01-01'),
                               ('recent done', true, now() AT TIME ZONE 'UTC'),
                               ('no updated_at', true, NULL)) v(kind, c, t)",
    );
    db
}

#[test]
fn purge_deletes_exactly_the_old_completed_tasks() {
    let db = purgeable_db();
    let out = db
        .run(["db", "purge", "--done-before", "90d", "--dry-run", "--json"])
        .expect(0);
    assert_eq!(out.value()["deleted"], 60);
    assert_eq!(
        db.value("SELECT count(*) FROM tasks"),
        "68",
        "a dry run changes nothing"
    );

    // Off a terminal without --yes: refused.
    let _out = db.run(["db", "purge", "--done-before", "90d"]).expect(2);

    // Only one user's.
    let out = db
        .cmd()
        .args([
            "db",
            "purge",
            "--done-before",
            "2026-01-01",
            "--user",
            "A@example.com",
        ])
        .args(["--yes", "--batch", "7", "--json"])
        .expect(0);
    let v = out.value();
    assert_eq!(v["deleted"], 30);
    assert_eq!(v["batches"], 5);
    assert_eq!(
        db.value("SELECT count(*) FROM tasks t JOIN users u ON u.id = t.user_id WHERE u.email = 'b@example.com' AND t.title LIKE 'old done%'"),
        "30"
    );
    let out = db
        .run(["db", "purge", "--done-before", "90d", "--yes", "--json"])
        .expect(0);
    assert_eq!(out.value()["deleted"], 30);
    // Pending, unknown (NULL), recent and undated tasks all stay.
    assert_eq!(
        db.value("SELECT string_agg(DISTINCT title, ',' ORDER BY title) FROM tasks"),
        "no updated_at,old pending,old unknown,recent done"
    );
}

/// The task lines of a (possibly unfinished) archive.
fn archived_titles(path: &std::path::Path) -> Vec<String> {
    use std::io::Read;
    let mut text = Vec::new();
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    // An interrupted archive has no gzip trailer: keep what decodes.
    let _ = flate2::read::GzDecoder::new(file).read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text).into_owned();
    let tasks = text.split("#tasks ").nth(1).unwrap_or_default();
    tasks
        .lines()
        .skip(1)
        .take_while(|l| *l != "\\.")
        .map(|l| l.split('\t').nth(1).unwrap_or_default().to_string())
        .collect()
}

#[test]
fn an_interrupted_archived_purge_loses_nothing_and_a_rerun_finishes() {
    let db = purgeable_db();
    let dir = TempDir::new("purge");
    let first = dir.join("first.todo");
    // Deleting is made slow (20 ms a row, 200 ms a batch of 10), so the
    // purge is killed after its first batches committed, long before the
    // last.
    db.psql(
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN PERFORM pg_sleep(0.02); RETURN OLD; END $$;
         CREATE TRIGGER slow BEFORE DELETE ON tasks FOR EACH ROW EXECUTE FUNCTION slow()",
    );
    let mut child = crate::support::todo_process(&db.dir)
        .args([
            "db",
            "purge",
            "--done-before",
            "90d",
            "--yes",
            "--batch",
            "10",
            "--archive",
        ])
        .arg(&first)
        .env("DATABASE_URL", db.url())
        .spawn()
        .unwrap();
    assert!(db.wait_until("SELECT count(*) < 60 FROM tasks WHERE title LIKE 'old done%'"));
    let _ = child.kill();
    child.wait().unwrap();
    let gone_first: i64 = db
        .value("SELECT 60 - count(*) FROM tasks WHERE title LIKE 'old done%'")
        .parse()
        .unwrap();
    assert!(gone_first > 0 && gone_first < 60, "{gone_first}");
    db.psql("DROP TRIGGER slow ON tasks");

    let second = dir.join("second.todo");
    let out = db
        .cmd()
        .args([
            "db",
            "purge",
            "--done-before",
            "90d",
            "--yes",
            "--json",
            "--archive",
        ])
        .arg(&second)
        .expect(0);
    assert_eq!(
        db.value("SELECT count(*) FROM tasks WHERE title LIKE 'old done%'"),
        "0"
    );
    // Every deleted row is in an archive (a row may be in both after a crash).
    let mut archived = archived_titles(&first);
    archived.extend(archived_titles(&second));
    archived.sort();
    archived.dedup();
    assert_eq!(archived.len(), 60, "{archived:?}");
    assert!(archived.iter().all(|t| t.starts_with("old done")));
    assert_eq!(out.value()["archived"], out.value()["deleted"]);

    // An archive name is never reused.
    let _out = db
        .cmd()
        .args(["db", "purge", "--done-before", "90d", "--yes", "--archive"])
        .arg(&first)
        .expect(4);
}

#[test]
fn maintain_vacuums_a_bloated_table_and_rebuilds_an_invalid_index() {
    let db = TestDb::migrated();
    db.add_user("m@example.com");
    db.bloat_tasks();
    // An index left invalid (as by a failed CREATE INDEX CONCURRENTLY).
    db.psql(
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_tasks_completed'::regclass",
    );

    let out = db.run(["db", "maintain", "--dry-run", "--json"]).expect(0);
    let plan = out.value();
    let actions: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"VACUUM (ANALYZE) tasks"), "{plan}");
    assert!(
        actions.contains(&"REINDEX INDEX CONCURRENTLY idx_tasks_completed"),
        "{plan}"
    );
    assert!(plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["result"] == "planned"));

    // Off a terminal it needs --yes.
    db.run(["db", "maintain"]).expect(2);

    let out = db.run(["db", "maintain", "--yes", "--json"]).expect(0);
    let done = out.value();
    assert!(
        done["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["result"].as_str().unwrap().starts_with("done")),
        "{done}"
    );
    assert_eq!(
        db.value(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_tasks_completed'::regclass"
        ),
        "t"
    );
    assert!(
        db.wait_until("SELECT n_dead_tup < 1000 FROM pg_stat_user_tables WHERE relname = 'tasks'")
    );
}

#[test]
fn maintain_skips_instead_of_waiting_behind_a_lock() {
    let db = TestDb::migrated();
    db.add_user("m@example.com");
    db.bloat_tasks();
    // Another maintenance session holds the lock VACUUM needs.
    let _holder = db.hold(
        "BEGIN; LOCK TABLE tasks IN SHARE UPDATE EXCLUSIVE MODE; SELECT pg_sleep(60);",
        &db.locked("tasks"),
    );
    let started = Instant::now();
    let out = db
        .run(["db", "maintain", "--yes", "--json", "--lock-timeout", "1"])
        .expect(0);
    assert!(started.elapsed() < Duration::from_secs(20));
    let v = out.value();
    let vacuum = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "VACUUM (ANALYZE) tasks")
        .unwrap()
        .clone();
    assert!(
        vacuum["result"].as_str().unwrap().starts_with("skipped"),
        "{v}"
    );
}

/// A role that does not own the tables: PostgreSQL would skip the VACUUM
/// with a warning and report success; todo says skipped, exit 8 (issue 43).
#[test]
fn maintain_as_a_role_that_does_not_own_the_tables_says_skipped_and_fails() {
    let db = TestDb::migrated();
    db.add_user("m@example.com");
    db.bloat_tasks();
    let role = crate::rls::role("maint");
    db.psql(&format!(
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"
    ));
    let out = todo_cmd(&db.dir)
        .env("DATABASE_URL", crate::rls::as_role(&db, &role))
        .args(["db", "maintain", "--yes", "--json"])
        .expect(8);
    let v = out.value();
    let vacuum = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "VACUUM (ANALYZE) tasks")
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    let owner =
        db.value("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'tasks'::regclass");
    assert_eq!(
        vacuum["result"],
        format!("skipped: only the owner of tasks ({owner}) or a superuser may maintain it"),
        "{v}"
    );
    let err: serde_json::Value = serde_json::from_str(out.stderr().trim()).unwrap();
    assert_eq!(err["error"]["kind"], "forbidden");
    assert_eq!(
        err["error"]["message"],
        format!("maintenance incomplete: only the owner of tasks ({owner}) or a superuser may maintain it")
    );
    // Nothing was vacuumed behind the report's back.
    assert_eq!(
        db.value("SELECT last_vacuum IS NULL FROM pg_stat_user_tables WHERE relname = 'tasks'"),
        "t"
    );
}

/// `db stats` as roles that are not superusers (issue 43): the statements
/// for any role that may read them, `no_permission` for one that may not,
/// never exit 8 for reading a superuser-only setting.
#[test]
fn stats_work_for_a_role_that_is_not_a_superuser() {
    let db = TestDb::migrated();
    db.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    db.add_user("s@example.com");
    let role = crate::rls::role("stats");
    let stats_as = || {
        todo_cmd(&db.dir)
            .env("DATABASE_URL", crate::rls::as_role(&db, &role))
            .args(["db", "stats", "--json"])
            .expect(0)
            .value()
    };
    let v = stats_as();
    assert_eq!(v["statements_unavailable"], serde_json::Value::Null, "{v}");
    assert!(v["statements"].is_array(), "{v}");
    assert_eq!(v["tables"].as_array().unwrap().len(), 2, "{v}");

    db.psql("REVOKE SELECT ON pg_stat_statements FROM PUBLIC");
    let v = stats_as();
    assert_eq!(v["statements_unavailable"], "no_permission", "{v}");
    assert_eq!(v["statements"], serde_json::Value::Null, "{v}");
    let out = todo_cmd(&db.dir)
        .env("DATABASE_URL", crate::rls::as_role(&db, &role))
        .args(["db", "stats", "--format", "table"])
        .expect(0);
    assert!(
        out.stdout().contains(
            "Slowest statements: this role may not read pg_stat_statements \
             (GRANT SELECT ON pg_stat_statements TO the role)"
        ),
        "{}",
        out.stdout()
    );
}

/// Batches start after the last one's ids (a purge reads the table once):
/// over 30 000 tasks interleaving purgeable and kept ones, in batches of
/// 997, exactly the purgeable ones go, every other row is untouched, and
/// the archive holds exactly the deleted ones.
#[test]
fn a_purge_in_many_batches_deletes_exactly_the_purgeable_tasks() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    db.add_user("b@example.com");
    db.psql(
        "INSERT INTO tasks (title, completed, user_id, created_at, updated_at)
         SELECT 'task ' || i, i % 3 <> 0, (SELECT min(id) FROM users) || '',
                '2025-01-01', CASE WHEN i % 5 = 0 THEN now() AT TIME ZONE 'UTC' ELSE '2025-01-01' END
           FROM generate_series(1, 30000) i",
    );
    let purgeable = "SELECT id FROM tasks WHERE completed AND updated_at < '2026-01-01'";
    let expected = db.value(&format!("SELECT count(*) FROM ({purgeable}) p"));
    let kept = |db: &TestDb| {
        db.value(&format!(
            "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM tasks t
              WHERE id NOT IN ({purgeable})"
        ))
    };
    let before = kept(&db);
    let dir = TempDir::new("purge-batches");
    let archive = dir.join("a.todo");
    let out = db
        .cmd()
        .args(["db", "purge", "--done-before", "2026-01-01", "--yes"])
        .args(["--batch", "997", "--json", "--archive"])
        .arg(&archive)
        .expect(0);
    let v = out.value();
    assert_eq!(v["deleted"].to_string(), expected);
    assert_eq!(v["archived"].to_string(), expected);
    assert_eq!(v["batches"], expected.parse::<u64>().unwrap() / 997 + 1);
    assert_eq!(
        db.value(&format!("SELECT count(*) FROM ({purgeable}) p")),
        "0"
    );
    assert_eq!(kept(&db), before);
    assert_eq!(archived_titles(&archive).len().to_string(), expected);
}
