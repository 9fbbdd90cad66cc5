//! `task export` (SPEC §19): each format `task import` reads, and export →
//! import into another user keeps every field the format can carry,
//! compared field by field.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Outcome, TempDir, TestDb};

/// A user with tasks that exercise each format: a comma, quotes and a line
/// break in the description, a completed task, exact times.
fn source() -> TestDb {
    let db = TestDb::migrated();
    let id = db.add_user("from@example.com");
    db.psql(&format!(
        "INSERT INTO tasks (title, description, completed, user_id, created_at, updated_at) VALUES
         ('Buy milk, oat', E'two \"litres\"\\nand bread', false, '{id}',
          '2026-01-02 03:04:05.123456', '2026-01-03 04:05:06.654321'),
         ('Call mum', NULL, true, '{id}',
          '2026-02-01 10:00:00.5', '2026-02-03 11:30:00.25'),
         ('Plain', 'just text', false, '{id}',
          '2026-03-01 00:00:00', '2026-03-01 00:00:00')"
    ));
    db.add_user("to@example.com");
    db
}

fn tasks_of(db: &TestDb, user: &str) -> Vec<serde_json::Value> {
    let mut list = db
        .run(["task", "list", "--json"])
        .user(user)
        .ok()
        .value()
        .as_array()
        .unwrap()
        .clone();
    list.sort_by_key(|t| t["title"].as_str().unwrap().to_string());
    list
}

/// `2026-01-02T03:04:05.123456Z` cut to `len` characters (19: seconds,
/// 10: the date).
fn cut(v: &serde_json::Value, len: usize) -> String {
    v.as_str().unwrap()[..len].to_string()
}

#[test]
fn every_format_round_trips_what_it_can_carry() {
    let db = source();
    let dir = TempDir::new("export");
    let original = tasks_of(&db, "from@example.com");
    assert_eq!(original.len(), 3);
    for (format, ext) in [
        ("json", "json"),
        ("csv", "csv"),
        ("taskwarrior", "tw.json"),
        ("todotxt", "txt"),
    ] {
        let file = dir.join(format!("tasks.{ext}"));
        let file = file.to_str().unwrap();
        let done = db
            .run(["task", "export", "--to", format, "-o", file])
            .user("from@example.com")
            .ok()
            .stderr_has("Exported 3 tasks to ");
        if format == "todotxt" {
            done.stderr_has("2 descriptions not exported");
        }
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{format}");
        let target = format!("{format}@example.com");
        db.add_user(&target);
        db.run(["task", "import", file, "--from", format])
            .user(&target)
            .ok();
        let copied = tasks_of(&db, &target);
        assert_eq!(copied.len(), 3, "{format}: {copied:?}");
        for (a, b) in original.iter().zip(&copied) {
            assert_eq!(a["title"], b["title"], "{format}");
            assert_eq!(a["completed"], b["completed"], "{format}");
            match format {
                "json" | "csv" => {
                    for field in ["description", "created_at", "updated_at"] {
                        assert_eq!(a[field], b[field], "{format} {field}");
                    }
                }
                "taskwarrior" => {
                    assert_eq!(a["description"], b["description"], "{format}");
                    for field in ["created_at", "updated_at"] {
                        assert_eq!(cut(&a[field], 19), cut(&b[field], 19), "{format} {field}");
                    }
                }
                _ => {
                    assert_eq!(b["description"], serde_json::Value::Null, "{format}");
                    assert_eq!(cut(&a["created_at"], 10), cut(&b["created_at"], 10));
                    if a["completed"] == true {
                        assert_eq!(cut(&a["updated_at"], 10), cut(&b["updated_at"], 10));
                    }
                }
            }
        }
    }
}

#[test]
fn export_chooses_its_format_by_name_and_never_overwrites_unasked() {
    let db = source();
    let dir = TempDir::new("export-name");
    let txt = dir.join("todo.txt");
    let txt = txt.to_str().unwrap();
    db.run(["task", "export", "-o", txt, "--done"])
        .user("from@example.com")
        .ok();
    assert_eq!(
        std::fs::read_to_string(txt).unwrap(),
        "x 2026-02-03 2026-02-01 Call mum\n"
    );
    // An existing file: exit 4, untouched; --force replaces it.
    db.run(["task", "export", "-o", txt])
        .user("from@example.com")
        .expect(4)
        .stderr_has("already exists");
    assert_eq!(std::fs::read_to_string(txt).unwrap().lines().count(), 1);
    db.run(["task", "export", "-o", txt, "--force", "--pending"])
        .user("from@example.com")
        .ok();
    assert_eq!(std::fs::read_to_string(txt).unwrap().lines().count(), 2);
    // A name that tells no format needs --to (exit 2, nothing written).
    let zip = dir.join("tasks.zip");
    db.run(["task", "export", "-o", zip.to_str().unwrap()])
        .user("from@example.com")
        .expect(2)
        .stderr_has("cannot tell the format of");
    assert!(!zip.exists());
    // Stdout is JSON, the shape of task list --json; an unknown user is 3.
    let out = db
        .run(["task", "export", "--search", "milk"])
        .user("from@example.com")
        .ok();
    assert_eq!(out.value()[0]["title"], "Buy milk, oat");
    db.run(["task", "export"])
        .user("nobody@example.com")
        .expect(3);
}

/// The reader of stdout going away is the same for an export as for a
/// list (issue 43): quiet, exit 0; the rest is not read (see conn.rs).
#[test]
fn an_export_whose_reader_goes_away_ends_quietly_like_a_list() {
    use std::io::Read;
    let db = TestDb::migrated();
    db.run([
        "db",
        "seed",
        "--users",
        "1",
        "--tasks-per-user",
        "3000",
        "-q",
    ])
    .ok();
    for args in [
        ["task", "export", "--user", "seed-user-1@seed.example"],
        ["task", "list", "--user", "seed-user-1@seed.example"],
    ] {
        let mut child = crate::support::todo_process(&db.dir)
            .env("TODO_DATABASE_URL", db.url())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 10];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}
