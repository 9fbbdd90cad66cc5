//! SPEC §17 for the files the tool reads: one gzip member and nothing
//! after it, bounded lines, purge archives that verify, and Taskwarrior
//! imports that say what they drop (issue 24, 8/11/15/16).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::support::Outcome;
use crate::support::{expect_code, TempDir, TestDb};

fn backup(db: &TestDb, dir: &Path, name: &str) -> PathBuf {
    let file = dir.join(name);
    let _out = db.cmd().args(["db", "backup", "-o"]).arg(&file).expect(0);
    file
}

fn gzip(path: &Path, parts: &[&[u8]]) {
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    for p in parts {
        gz.write_all(p).unwrap();
    }
    gz.finish().unwrap();
}

fn restore_and_verify(file: &Path, expect: &str) {
    let target = TestDb::migrated();
    let out = target.cmd().args(["db", "restore"]).arg(file).expect(2);
    assert!(out.stderr().contains(expect), "{}", out.stderr());
    assert_eq!(
        target.value("SELECT count(*) FROM users"),
        "0",
        "nothing restored"
    );
    let out = target.cmd().args(["db", "verify"]).arg(file).expect(2);
    assert!(out.stderr().contains(expect), "{}", out.stderr());
}

#[test]
fn data_after_the_backup_is_refused() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let dir = TempDir::new("trailing");
    let a = backup(&db, &dir, "a.todo");
    db.add_user("b@example.com");
    let b = backup(&db, &dir, "b.todo");
    let joined = dir.join("joined.todo");
    let mut bytes = std::fs::read(&a).unwrap();
    bytes.extend(std::fs::read(&b).unwrap());
    std::fs::write(&joined, &bytes).unwrap();
    restore_and_verify(&joined, "data after the end of the backup");

    // Bytes that are not gzip, long enough for a gzip header or too short
    // for one (padding): data after the backup too, not a damaged or a
    // truncated file.
    for (name, tail) in [
        ("junk.todo", &b"not gzip at all, appended by accident\n"[..]),
        ("padded.todo", b"\0\0\0\0"),
    ] {
        let file = dir.join(name);
        let mut bytes = std::fs::read(&a).unwrap();
        bytes.extend(tail);
        std::fs::write(&file, &bytes).unwrap();
        restore_and_verify(
            &file,
            &format!("{name}: the file is damaged: data after the end"),
        );
    }
}

#[test]
fn overlong_lines_are_refused_before_they_are_buffered() {
    let dir = TempDir::new("long");
    let long = vec![b'x'; 3 << 20];
    let header = dir.join("header.todo");
    gzip(&header, &[b"todo-backup 1\n", &long]);
    restore_and_verify(&header, "longer than 1 MiB");

    let row = dir.join("row.todo");
    gzip(
        &row,
        &[
            b"todo-backup 1\n{\"format_version\":1,\"tool_version\":\"0.1.0\",\"migrations\":[],\"server_version\":\"15\",\"taken_at\":\"2026-01-01T00:00:00Z\"}\n#users id,email,name,created_at,updated_at\n",
            &long,
            b"\n",
        ],
    );
    restore_and_verify(&row, "longer than 1 MiB");

    // Imports: a CSV line and a JSON record.
    let db = TestDb::migrated();
    db.add_user("i@example.com");
    let csv = dir.join("long.csv");
    let mut text = b"title,description\n".to_vec();
    text.extend(&long);
    text.extend(b",x\n");
    std::fs::write(&csv, text).unwrap();
    let json_file = dir.join("long.json");
    let mut text = b"[{\"title\":\"".to_vec();
    text.extend(&long);
    text.extend(b"\"}]");
    std::fs::write(&json_file, text).unwrap();
    for file in [&csv, &json_file] {
        let out = db
            .as_user("i@example.com")
            .args(["task", "import"])
            .arg(file)
            .output();
        expect_code(&out, 2);
        assert!(
            out.stderr().contains("longer than 1 MiB"),
            "{}",
            out.stderr()
        );
    }
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

#[test]
fn a_purge_archive_verifies() {
    let db = TestDb::migrated();
    db.run(["db", "seed", "--users", "4", "--tasks-per-user", "10", "-q"])
        .ok();
    let dir = TempDir::new("archive");
    let archive = dir.join("purged.todo");
    let out = db
        .cmd()
        .args([
            "db",
            "purge",
            "--done-before",
            "1d",
            "--yes",
            "--json",
            "--archive",
        ])
        .arg(&archive)
        .expect(0);
    let archived = out.value()["archived"].as_u64().unwrap();
    assert!(archived > 0);
    let out = db
        .cmd()
        .args(["db", "verify", "--json"])
        .arg(&archive)
        .expect(0);
    let report = out.value();
    assert_eq!(report["ok"], true);
    assert_eq!(report["tasks"].as_u64().unwrap(), archived);
    assert_eq!(report["users"], 0);
}

fn import(db: &TestDb, file: &Path, extra: &[&str]) -> crate::support::Done {
    db.as_user("tw@example.com")
        .args(["task", "import"])
        .arg(file)
        .args(extra)
        .output()
}

#[test]
fn taskwarrior_imports_check_statuses_and_say_what_they_drop() {
    let db = TestDb::migrated();
    db.add_user("tw@example.com");
    let dir = TempDir::new("tw");
    let bogus = dir.join("bogus.json");
    std::fs::write(
        &bogus,
        r#"[{"description":"fine","status":"pending"},{"description":"odd","status":"bogus"}]"#,
    )
    .unwrap();
    let out = import(&db, &bogus, &["--from", "taskwarrior"]);
    expect_code(&out, 2);
    assert!(
        out.stderr()
            .contains("record 2: status 'bogus' is not a Taskwarrior status"),
        "{}",
        out.stderr()
    );

    // Exported by Taskwarrior with a byte order mark, and fields this tool
    // has no place for.
    let export = dir.join("export.json");
    let mut text = b"\xef\xbb\xbf".to_vec();
    text.extend(
        br#"[{"id":1,"uuid":"u1","description":"a","status":"pending","due":"20260101T000000Z","priority":"H","tags":["x"],"urgency":3.2},
            {"id":2,"uuid":"u2","description":"b","status":"waiting","project":"home","tags":["y"]},
            {"uuid":"u3","description":"c","status":"completed","end":"20260102T000000Z"}]"#,
    );
    std::fs::write(&export, text).unwrap();
    let out = import(&db, &export, &["--from", "taskwarrior", "--json"]);
    expect_code(&out, 0);
    assert_eq!(out.value()["imported"], 3);
    let err = out.stderr();
    assert!(
        err.contains("due (1), priority (1), project (1), tags (2)"),
        "{err}"
    );
    assert!(!err.contains("uuid") && !err.contains("urgency"), "{err}");
    assert_eq!(
        db.value("SELECT string_agg(title || ':' || completed, ',' ORDER BY title) FROM tasks"),
        "a:false,b:false,c:true"
    );

    // A CSV from Excel starts with a byte order mark too.
    let csv = dir.join("excel.csv");
    std::fs::write(&csv, b"\xef\xbb\xbftitle,completed\nfrom excel,true\n").unwrap();
    let out = import(&db, &csv, &[]);
    expect_code(&out, 0);
    assert_eq!(
        db.value("SELECT completed FROM tasks WHERE title = 'from excel'"),
        "t"
    );
}

/// A backup (checksums intact) of a task whose user is not in it, taken
/// from a database whose foreign key somebody dropped.
fn orphan_backup(dir: &TempDir) -> PathBuf {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    db.psql(
        "ALTER TABLE tasks DROP CONSTRAINT tasks_user_id_fkey;
         INSERT INTO tasks (title, user_id) VALUES ('orphan', 'ghost')",
    );
    backup(&db, dir, "orphan.todo")
}

/// A backup whose checksums hold but whose rows break the schema (taken
/// from a database whose constraints somebody dropped) is refused as a
/// file problem by restore and verify, exit 2, nothing restored; never
/// "the user was deleted by another session" (exit 3).
#[test]
fn rows_that_break_the_schemas_constraints_are_refused() {
    let dir = TempDir::new("constraints");
    let orphan = orphan_backup(&dir);
    restore_and_verify(
        &orphan,
        "the file's rows break the schema's constraints (insert or update on table \"tasks\" \
         violates foreign key constraint \"tasks_user_id_fkey\")",
    );

    let db = TestDb::migrated();
    db.psql(
        "ALTER TABLE users DROP CONSTRAINT users_pkey CASCADE;
         INSERT INTO users (id, email) VALUES ('u1', 'one@example.com'), ('u1', 'two@example.com')",
    );
    let twice = backup(&db, &dir, "twice.todo");
    restore_and_verify(&twice, "the file's rows break the schema's constraints");

    // A CHECK constraint refuses a row during the COPY itself.
    let db = TestDb::migrated();
    let user = db.add_user("c@example.com");
    db.psql(&format!(
        "ALTER TABLE tasks DROP CONSTRAINT tasks_title_not_blank;
         INSERT INTO tasks (title, user_id) VALUES ('   ', '{user}')"
    ));
    let blank = backup(&db, &dir, "blank.todo");
    restore_and_verify(
        &blank,
        "the file's rows break the schema's constraints (new row for relation \"tasks\" \
         violates check constraint \"tasks_title_not_blank\")",
    );
}

/// With the keys kept in place (another session holds a lock on `tasks`,
/// so the restore loads without dropping them), a task whose user the
/// file lacks is refused by the COPY itself: still the file's problem,
/// exit 2, never "the user was deleted by another session".
#[test]
fn rows_that_break_the_keys_in_place_are_the_files_problem() {
    let dir = TempDir::new("constraints");
    let orphan = orphan_backup(&dir);
    let target = TestDb::migrated();
    let holder = target.hold_tasks_reader();
    let out = target.cmd().args(["db", "restore"]).arg(&orphan).output();
    drop(holder);
    expect_code(&out, 2);
    assert!(
        out.stderr().contains(
            "the file's rows break the schema's constraints (insert or update on table \"tasks\" \
             violates foreign key constraint \"tasks_user_id_fkey\")"
        ),
        "{}",
        out.stderr()
    );
    assert_eq!(target.value("SELECT count(*) FROM users"), "0");
}

#[test]
fn a_directory_or_a_missing_file_is_named_as_such() {
    let db = TestDb::migrated();
    db.add_user("in@example.com");
    let dir = TempDir::new("infile");
    let missing = dir.join("nothing-here.todo");
    let refused = |args: &[&str], path: &Path, starts: String| {
        let out = db.cmd().args(args).arg(path).expect(2);
        let err = out.stderr();
        assert!(err.starts_with(&starts), "{args:?}: {err}");
    };
    let a_directory = format!("error: {} is a directory\n", dir.path().display());
    let read: [&[&str]; 4] = [
        &["db", "verify"],
        &["db", "restore"],
        &["db", "restore", "--append"],
        &["task", "import", "--user", "in@example.com"],
    ];
    for args in read {
        // Linux opens a directory; its first read used to surface as "not a
        // todo backup" or "cannot tell the format".
        refused(args, dir.path(), a_directory.clone());
        refused(
            args,
            &missing,
            format!("error: cannot read {}: ", missing.display()),
        );
    }
    // Written files too: a directory is named before the format is guessed
    // from its name.
    let export = ["task", "export", "--user", "in@example.com"];
    let written: [&[&str]; 3] = [
        &[&export[..], &["-o"]].concat(),
        &[&export[..], &["--to", "csv", "-o"]].concat(),
        &["db", "backup", "-o"],
    ];
    for args in written {
        refused(args, dir.path(), a_directory.clone());
    }
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

/// A LATIN1 database (issue 43): migrations apply (they are ASCII), text
/// the encoding has is stored, text it lacks is bad input (exit 2) naming
/// the encoding, and a search for such text finds nothing.
#[test]
fn a_latin1_database_migrates_and_refuses_what_it_cannot_store_as_bad_input() {
    let db = TestDb::latin1();
    db.run(["db", "migrate", "-q"]).ok();
    db.run(["user", "add", "zoe@example.com", "--name", "Zoë", "-q"])
        .ok();
    db.run(["task", "add", "crème brûlée"])
        .user("zoe@example.com")
        .ok();
    let out = db
        .run(["task", "add", "crab 🦀"])
        .user("zoe@example.com")
        .output();
    expect_code(&out, 2);
    assert_eq!(
        out.stderr(),
        "error: the database's encoding, LATIN1, cannot store a character of the input: \
         character with byte sequence 0xf0 0x9f 0xa6 0x80 in encoding \"UTF8\" has no \
         equivalent in encoding \"LATIN1\"\n\
         hint: use only characters that encoding has, or move the data to a database created \
         with ENCODING 'UTF8'\n"
    );
    let out = db
        .run(["task", "list", "--search", "🦀", "--format", "plain"])
        .user("zoe@example.com")
        .expect(0);
    assert_eq!(out.stdout(), "");
    // The user's existence is still checked.
    db.run(["task", "list", "--search", "🦀"])
        .user("nobody@example.com")
        .expect(3);
    let out = db
        .run(["task", "list", "--jq", ".[].title"])
        .user("zoe@example.com")
        .expect(0);
    assert_eq!(out.stdout(), "crème brûlée\n");
    assert_eq!(
        db.value("SELECT encode(convert_to(string_agg(title, ','), 'UTF8'), 'hex') FROM tasks"),
        "6372c3a86d65206272c3bb6cc3a965",
        "stored as the characters given"
    );
}
