//! Backup, restore, verify and export (SPEC §11), with the real binary on
//! real databases: round trips, damaged files, kills half-way, a pooler and
//! a read-only role.

use std::io::Write;
use std::path::Path;

use crate::support::servers::pgbouncer;
use crate::support::Outcome;
use crate::support::{expect_code, server, todo_cmd, todo_process, TempDir, TestDb, RO_ROLE};

/// Every row of both tables as text, in id order (to compare databases).
pub fn rows(db: &TestDb) -> String {
    db.value(
        "SELECT (SELECT string_agg(u::text, E'\\n' ORDER BY id) FROM users u) || E'\\n--\\n' ||
                (SELECT string_agg(t::text, E'\\n' ORDER BY id) FROM tasks t)",
    )
}

/// A database with seed rows and the rows other programs may write: NULL
/// `completed` and timestamps, unicode, tabs, newlines, backslashes.
fn populated() -> TestDb {
    let db = TestDb::migrated();
    db.run([
        "db",
        "seed",
        "--users",
        "30",
        "--tasks-per-user",
        "20",
        "-q",
    ])
    .ok();
    db.psql(
        "INSERT INTO users (id, email, name, created_at, updated_at)
         VALUES ('odd', 'odd@example.com', E'Zoë \\\\ \"Q\"', NULL, NULL);
         INSERT INTO tasks (title, description, completed, user_id, created_at, updated_at)
         VALUES (E'tab\\there', E'line 1\\nline 2\\r\\n🦀 back\\\\slash', NULL, 'odd', NULL, NULL),
                ('done', NULL, true, 'odd', '2026-01-01 00:00:00.5', now())",
    );
    db
}

fn backup(db: &TestDb, file: &Path) -> serde_json::Value {
    let out = db
        .cmd()
        .args(["db", "backup", "-o"])
        .arg(file)
        .arg("--json")
        .expect(0);
    out.value()
}

fn restore(db: &TestDb, file: &Path, extra: &[&str]) -> crate::support::Done {
    db.cmd()
        .args(["db", "restore"])
        .arg(file)
        .args(extra)
        .output()
}

#[test]
fn backup_then_restore_gives_identical_rows_and_the_sequence_continues() {
    let source = populated();
    let dir = TempDir::new("backup");
    let file = dir.join("b.todo");
    let report = backup(&source, &file);
    assert_eq!(report["users"], 31);
    assert_eq!(report["tasks"], 602);
    assert_eq!(
        report["bytes"].as_u64().unwrap(),
        std::fs::metadata(&file).unwrap().len()
    );
    assert_eq!(report["sha256"].as_str().unwrap().len(), 64);

    // Into an empty database: migrated first, then loaded.
    let target = TestDb::empty();
    let out = restore(&target, &file, &["--json"]);
    expect_code(&out, 0);
    assert_eq!(out.value()["tasks"], 602);
    assert_eq!(rows(&target), rows(&source));
    // Ids are kept and new ones continue after the largest.
    let max: i32 = source.value("SELECT max(id) FROM tasks").parse().unwrap();
    let id = target.add_task("odd@example.com", "after the restore");
    assert_eq!(id, max + 1);
    // The schema is whole again (indexes and foreign key rebuilt or kept).
    let out = target.run(["db", "health", "--json"]).output();
    let health = out.value();
    let schema = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "schema")
        .unwrap()
        .clone();
    assert_eq!(schema["status"], "ok", "{health}");
}

/// The backup writes users by id and each user's tasks together, newest
/// first (`idx_tasks_user_created`'s order, ids as bytes), whatever the
/// heap's order; a restore loads them in that order, so the tasks' heap
/// comes out clustered by user.
#[test]
fn a_backup_writes_each_users_tasks_together_newest_first_and_a_restore_keeps_it() {
    let source = populated();
    // Tasks whose heap order is neither the users' nor the times'.
    source.psql(
        "INSERT INTO tasks (title, user_id, created_at)
         SELECT 'late ' || g, u.id, timestamp '2026-01-01' + (g * 7919 % 101) * interval '1 hour'
         FROM generate_series(1, 60) g
         JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users) u ON u.n = g % 31 + 1",
    );
    let dir = TempDir::new("backup-order");
    let file = dir.join("b.todo");
    backup(&source, &file);
    let text = gunzip(&std::fs::read(&file).unwrap());
    let section = |name: &str| -> Vec<String> {
        let start = text.find(&format!("\n#{name} ")).unwrap();
        let rows = &text[start + 1..];
        let rows = &rows[rows.find('\n').unwrap() + 1..rows.find("\n\\.\n").unwrap() + 1];
        rows.lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    let expected =
        |sql: &str| -> Vec<String> { source.value(sql).split(',').map(str::to_string).collect() };
    let task_order = "string_agg(id::text, ',' ORDER BY user_id COLLATE \"C\",
                                 created_at DESC NULLS LAST, id DESC)";
    let in_heap = source.value("SELECT string_agg(id::text, ',' ORDER BY ctid) FROM tasks");
    let wanted = expected(&format!("SELECT {task_order} FROM tasks"));
    assert_ne!(
        in_heap.split(',').collect::<Vec<_>>(),
        wanted,
        "the test needs a mixed heap"
    );
    assert_eq!(section("tasks"), wanted);
    assert_eq!(
        section("users"),
        expected("SELECT string_agg(id, ',' ORDER BY id COLLATE \"C\") FROM users")
    );

    let target = TestDb::empty();
    expect_code(&restore(&target, &file, &["-q"]), 0);
    assert_eq!(rows(&target), rows(&source));
    let restored: Vec<String> = target
        .value("SELECT string_agg(id::text, ',' ORDER BY ctid) FROM tasks")
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(restored, wanted);
}

#[test]
fn a_non_empty_target_needs_replace_and_replace_needs_yes() {
    let source = populated();
    let dir = TempDir::new("backup");
    let file = dir.join("b.todo");
    backup(&source, &file);
    let target = TestDb::migrated();
    target.add_user("keep@example.com");

    let out = restore(&target, &file, &[]);
    expect_code(&out, 4);
    assert!(out.stderr().contains("--replace"), "{}", out.stderr());
    let out = restore(&target, &file, &["--replace"]);
    expect_code(&out, 2);
    assert!(out.stderr().contains("--yes"), "{}", out.stderr());
    assert_eq!(
        target.value("SELECT string_agg(email, ',') FROM users"),
        "keep@example.com"
    );

    let out = restore(&target, &file, &["--replace", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(rows(&target), rows(&source));
}

/// Restores send the file's rows in COPY's binary format, converted by
/// todo: every value at the edges of its type comes back as it was (the
/// server's own text is compared), and `db verify` agrees.
#[test]
fn values_at_the_edges_of_each_type_survive_a_restore() {
    let source = TestDb::migrated();
    source.psql(
        "INSERT INTO users (id, email, name, created_at, updated_at) VALUES
           (E'tab\\tid', 'a@example.com', E'\\b\\f' || chr(11) || E' \\\\ \\x01 é 🦀', 'infinity', '-infinity'),
           ('u2', 'b@example.com', NULL, '0044-03-15 12:00:00 BC', '12345-06-07 08:09:10.000001');
         INSERT INTO tasks (id, title, description, completed, user_id, created_at, updated_at) VALUES
           (2147483647, E'a\\\\tb\\\\nc \\\\N', E'\\\\.', false, E'tab\\tid',
            '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00'),
           (1, '\\N', '', NULL, 'u2', '2024-02-29 23:59:59.1', '4713-01-01 00:00:00 BC'),
           (2, 'x', NULL, true, 'u2', '1970-01-01 00:00:00', '294276-12-31 23:59:59.999999')",
    );
    let dir = TempDir::new("backup");
    let file = dir.join("b.todo");
    backup(&source, &file);
    let target = TestDb::migrated();
    expect_code(&restore(&target, &file, &[]), 0);
    assert_eq!(rows(&target), rows(&source));
    assert!(rows(&source).contains("294276-12-31 23:59:59.999999"));
    source.run(["db", "verify"]).arg(&file).expect(0);
}

#[test]
fn damaged_foreign_and_newer_files_are_refused_and_change_nothing() {
    let source = populated();
    let dir = TempDir::new("backup");
    let file = dir.join("b.todo");
    backup(&source, &file);
    let bytes = std::fs::read(&file).unwrap();
    let target = TestDb::migrated();
    target.add_user("keep@example.com");
    let before = rows(&target);

    let truncated = dir.join("truncated.todo");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let flipped = dir.join("flipped.todo");
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    std::fs::write(&flipped, &damaged).unwrap();
    let foreign = dir.join("foreign.todo");
    std::fs::write(&foreign, b"PGDMP\x01\x0e\x00 not ours").unwrap();
    // Rows changed, then recompressed: gzip is fine, the SHA-256 is not.
    let text = gunzip(&bytes).replace("odd@example.com", "evil@example.com");
    let tampered = dir.join("tampered.todo");
    std::fs::write(&tampered, gzip(&text)).unwrap();
    // A row no backup writes (todo converts each row before the server
    // sees it): refused naming the row, before any checksum is needed.
    let text = gunzip(&bytes).replace("2026-01-01 00:00:00.5", "2026-13-01 00:00:00.5");
    let odd_row = dir.join("odd-row.todo");
    std::fs::write(&odd_row, gzip(&text)).unwrap();
    // A row the server refuses (any SQLSTATE of class 22, data exception,
    // whatever the server's language): an email over VARCHAR(255).
    let long = format!("{}@example.com", "o".repeat(300));
    let text = gunzip(&bytes).replace("odd@example.com", &long);
    let long_value = dir.join("long-value.todo");
    std::fs::write(&long_value, gzip(&text)).unwrap();

    for (file, why) in [
        (&truncated, "truncated"),
        (&flipped, "corrupt"),
        (&foreign, "not a todo backup"),
        (&tampered, "SHA-256"),
        (&odd_row, "is not a timestamp (\"2026-13-01 00:00:00.5\")"),
        (&long_value, "the file holds rows the database cannot read"),
    ] {
        let out = restore(&target, file, &["--replace", "--yes"]);
        expect_code(&out, 2);
        assert!(out.stderr().contains(why), "{why}: {}", out.stderr());
        assert_eq!(rows(&target), before, "{why}: the target changed");
    }

    // A backup from a schema this build does not know.
    let newer =
        gunzip(&bytes).replacen("\"migrations\":[", "\"migrations\":[\"29990101000000\",", 1);
    let newer_file = dir.join("newer.todo");
    std::fs::write(&newer_file, gzip(&newer)).unwrap();
    let out = restore(&target, &newer_file, &["--replace", "--yes"]);
    expect_code(&out, 6);
    assert_eq!(rows(&target), before);
}

#[test]
fn verify_restores_into_a_throwaway_local_database() {
    let source = populated();
    let dir = TempDir::new("backup");
    let home = TempDir::new("verify-home");
    let file = dir.join("b.todo");
    backup(&source, &file);
    let before = rows(&source);
    let verify = |file: &Path| {
        todo_cmd(&dir)
            .args(["db", "verify", "--json"])
            .arg(file)
            .env("TODO_HOME", home.path())
            // The configured database is never touched: point at nothing.
            .env("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
            .output()
    };
    let out = verify(&file);
    expect_code(&out, 0);
    let report = out.value();
    assert_eq!(report["ok"], true);
    assert_eq!(report["users"], 31);
    assert_eq!(report["tasks"], 602);

    let text = gunzip(&std::fs::read(&file).unwrap()).replacen("\ttab\\there", "\ttab\\tthere", 1);
    let tampered = dir.join("tampered.todo");
    std::fs::write(&tampered, gzip(&text)).unwrap();
    let out = verify(&tampered);
    expect_code(&out, 7);
    assert_eq!(out.value()["ok"], false);
    // A row no backup writes is a damaged file (exit 2), not a mismatch.
    let text = gunzip(&std::fs::read(&file).unwrap())
        .replace("2026-01-01 00:00:00.5", "2026-13-01 00:00:00.5");
    let odd_row = dir.join("odd-row.todo");
    std::fs::write(&odd_row, gzip(&text)).unwrap();
    let out = verify(&odd_row);
    expect_code(&out, 2);
    assert!(
        out.stderr().contains("is not a timestamp"),
        "{}",
        out.stderr()
    );

    let truncated = dir.join("truncated.todo");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    expect_code(&verify(&truncated), 2);
    assert_eq!(rows(&source), before);

    // `db backup --verify` does both.
    let out = source
        .cmd()
        .args(["db", "backup", "--verify", "--json", "-o"])
        .arg(dir.join("checked.todo"))
        .env("TODO_HOME", home.path())
        .expect(0);
    assert_eq!(out.value()["verified"], true);

    // A backup that does not verify is not left behind to be trusted when
    // it is needed (issue 43): here the source holds a row its schema's
    // constraint was dropped for, which no restore accepts.
    source.psql(
        "ALTER TABLE tasks DROP CONSTRAINT tasks_title_not_blank;
         INSERT INTO tasks (title, user_id) VALUES (' ', 'odd')",
    );
    let refused = dir.join("refused.todo");
    let out = source
        .cmd()
        .args(["db", "backup", "--verify", "-o"])
        .arg(&refused)
        .env("TODO_HOME", home.path())
        .output();
    expect_code(&out, 2);
    assert_eq!(
        out.stderr(),
        format!(
            "error: {}: the file's rows break the schema's constraints (new row for relation \
             \"tasks\" violates check constraint \"tasks_title_not_blank\"); the file was removed\n",
            refused.display()
        )
    );
    assert!(!refused.exists());
    let _ = todo_cmd(&dir)
        .args(["db", "local", "stop"])
        .env("TODO_HOME", home.path())
        .output();
}

#[test]
fn a_killed_backup_never_leaves_a_file_under_its_name() {
    let source = populated();
    let dir = TempDir::new("backup");
    let file = dir.join("killed.todo");
    // Another session holds tasks: the backup writes users, then waits.
    let holder = source.hold(
        "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);",
        &source.locked("tasks"),
    );
    let mut child = todo_process(&source.dir)
        .args(["db", "backup", "-o"])
        .arg(&file)
        .env("DATABASE_URL", source.url())
        .spawn()
        .unwrap();
    assert!(source.wait_for_todo_to_block());
    child.kill().unwrap();
    child.wait().unwrap();
    drop(holder);
    assert!(!file.exists(), "a partial backup is under the final name");
}

#[test]
fn a_killed_restore_leaves_the_target_unchanged() {
    let source = populated();
    let dir = TempDir::new("backup");
    let file = dir.join("b.todo");
    backup(&source, &file);
    let target = TestDb::migrated();
    target.add_user("keep@example.com");
    target.add_task("keep@example.com", "mine");
    let before = rows(&target);
    let holder = target.hold(
        "BEGIN; LOCK TABLE tasks IN SHARE MODE; SELECT pg_sleep(60);",
        &target.locked("tasks"),
    );
    let mut child = todo_process(&target.dir)
        .args([
            "db",
            "restore",
            "--replace",
            "--yes",
            "--lock-timeout",
            "60",
        ])
        .arg(&file)
        .env("DATABASE_URL", target.url())
        .spawn()
        .unwrap();
    assert!(target.wait_for_todo_to_block());
    child.kill().unwrap();
    child.wait().unwrap();
    target.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    drop(holder);
    assert_eq!(rows(&target), before);
}

#[test]
fn backup_works_through_a_pooler_and_as_a_read_only_role() {
    let source = populated();
    let dir = TempDir::new("backup");
    source.psql(&format!("GRANT SELECT ON users, tasks TO {RO_ROLE}"));
    let socket = server().socket_dir.clone().expect("private server");
    let read_only = format!(
        "postgresql://{RO_ROLE}@/{}?host={}",
        source.name,
        socket.display()
    );
    for (how, url) in [
        ("pooler", pgbouncer().url(&source.name)),
        ("read-only", read_only),
    ] {
        let file = dir.join(format!("{how}.todo"));
        let out = todo_cmd(&dir)
            .args(["db", "backup", "--json", "-o"])
            .arg(&file)
            .env("DATABASE_URL", &url)
            .expect(0);
        assert_eq!(out.value()["tasks"], 602, "{how}");
        let target = TestDb::empty();
        expect_code(&restore(&target, &file, &[]), 0);
        assert_eq!(rows(&target), rows(&source), "{how}");
    }
}

#[test]
fn backup_to_stdout_restores_too() {
    let source = populated();
    let dir = TempDir::new("backup");
    let out = source.run(["db", "backup", "-o", "-"]).expect(0);
    // stdout holds the backup alone; the report goes to stderr.
    assert!(out.stderr().starts_with("-\t"), "{}", out.stderr());
    let file = dir.join("piped.todo");
    std::fs::write(&file, &out.out.stdout).unwrap();
    let target = TestDb::migrated();
    expect_code(&restore(&target, &file, &[]), 0);
    assert_eq!(rows(&target), rows(&source));
    // `-` reads the backup from stdin: `db backup -o - | db restore -`.
    let piped = TestDb::migrated();
    piped
        .run(["db", "restore", "-"])
        .stdin(out.out.stdout.clone())
        .expect(0);
    assert_eq!(rows(&piped), rows(&source));
    let done = piped
        .run(["db", "verify", "-", "--json"])
        .stdin(out.out.stdout.clone())
        .expect(0);
    assert_eq!(done.value()["file"], "standard input");
    assert_eq!(done.value()["ok"], true);
    // A damaged stream is named as standard input; --replace from stdin cannot ask
    // (stdin is the backup) and needs --yes.
    let half = out.out.stdout[..out.out.stdout.len() / 2].to_vec();
    let done = piped.run(["db", "verify", "-"]).stdin(half).expect(2);
    assert!(
        done.stderr().starts_with("error: standard input: "),
        "{}",
        done.stderr()
    );
    let done = piped
        .run(["db", "restore", "-", "--replace"])
        .stdin(out.out.stdout.clone())
        .expect(2);
    assert!(done.stderr().contains("--yes"), "{}", done.stderr());
    piped
        .run(["db", "restore", "-", "--replace", "--yes"])
        .stdin(out.out.stdout.clone())
        .expect(0);
    assert_eq!(rows(&piped), rows(&source));
}

#[test]
fn user_export_has_the_user_and_every_task() {
    let db = populated();
    let out = db.run(["user", "export", "ODD@example.com"]).expect(0);
    let v = out.value();
    assert_eq!(v["user"]["id"], "odd");
    assert_eq!(v["user"]["name"], "Zoë \\ \"Q\"");
    let tasks = v["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t["user_id"] == "odd"));
    assert!(tasks
        .iter()
        .any(|t| t["description"] == "line 1\nline 2\r\n🦀 back\\slash"));
    let _out = db.run(["user", "export", "nobody@example.com"]).expect(3);
}

fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

/// `db restore --append` (SPEC §19): a purge archive brings the purged
/// tasks back with their ids; appending rows the database holds, or tasks
/// whose user is missing, is a conflict that adds nothing.
#[test]
fn append_brings_purged_tasks_back_and_refuses_clashes() {
    let db = TestDb::migrated();
    db.run(["db", "seed", "--users", "3", "--tasks-per-user", "10", "-q"])
        .ok();
    let dump = |db: &TestDb| {
        db.psql("SELECT string_agg(concat_ws('|', id, title, description, completed, user_id, created_at, updated_at), E'\\n' ORDER BY id) FROM tasks")
    };
    let before = dump(&db);
    let dir = TempDir::new("append");
    let archive = dir.join("purged.todo");
    let purged = db
        .run([
            "db",
            "purge",
            "--done-before",
            "2026-06-01",
            "--yes",
            "--json",
            "--archive",
        ])
        .arg(&archive)
        .ok()
        .value();
    let deleted = purged["deleted"].as_u64().unwrap();
    assert!(deleted > 0, "{purged}");
    assert_ne!(dump(&db), before);

    let out = db
        .run(["db", "restore", "--append", "--json"])
        .arg(&archive)
        .ok()
        .value();
    assert_eq!(out["tasks"].as_u64(), Some(deleted));
    assert_eq!(dump(&db), before, "every purged task is back, as it was");
    // The sequence is past the largest id.
    let max: i64 = db.value("SELECT max(id) FROM tasks").parse().unwrap();
    let next = db.add_task("seed-user-1@seed.example", "after");
    assert!(i64::from(next) > max);

    // Again: every task is there already; nothing is added.
    let count = db.value("SELECT count(*) FROM tasks");
    db.run(["db", "restore", "--append"])
        .arg(&archive)
        .expect(4)
        .stderr_has(&format!(
            "{deleted} tasks are already in the database (ids "
        ))
        .stderr_has("nothing was added");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), count);

    // Into another database, where the archive's users do not exist.
    let other = TestDb::migrated();
    other
        .run(["db", "restore", "--append"])
        .arg(&archive)
        .expect(4)
        .stderr_has("tasks name 3 users neither the database nor the file holds (seed-user-");
    assert_eq!(other.value("SELECT count(*) FROM tasks"), "0");
    // --append and --replace do not go together.
    db.run(["db", "restore", "--append", "--replace"])
        .arg(&archive)
        .expect(2);
}

/// The time a restore reports is the restore's: the seconds spent at the
/// prompt are not counted (issue 43). The answer comes 3 s after the
/// prompt; restoring these few rows takes a fraction of that.
#[test]
fn the_restore_time_leaves_out_the_prompt() {
    let source = populated();
    let dir = TempDir::new("restore-time");
    let file = dir.join("b.todo");
    backup(&source, &file);
    let target = populated();
    let (code, screen) = crate::support::on_a_terminal_after(
        &target,
        &format!("db restore --replace --json {}", file.display()),
        "y\n",
        std::time::Duration::from_secs(3),
    );
    assert_eq!(code, Some(0), "{screen}");
    // SPEC §21: the prompt says that a replace is offline.
    assert!(
        screen.contains(
            "with the backup? This is an offline operation: the application's reads and writes \
             of users and tasks wait until it ends. [database "
        ),
        "{screen}"
    );
    let json = &screen[screen.find("{\"users\"").expect("the JSON report")..];
    let report: serde_json::Value =
        serde_json::from_str(json.lines().next().unwrap().trim()).unwrap();
    let elapsed = report["elapsed_ms"].as_u64().unwrap();
    assert!(elapsed < 3000, "{elapsed} ms: the prompt was counted");
}
