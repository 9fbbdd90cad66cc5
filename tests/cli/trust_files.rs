//! SPEC §17 for the files the tool writes: modes, no overwrite without
//! `--force`, FIFOs and devices written directly (never renamed over),
//! write errors that name the file, no partial file left behind, and a
//! private `$EDITOR` buffer (issue 24, 1/3/12/13/14).

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use crate::support::Outcome;
use crate::support::{expect_code, todo_process, TempDir, TestDb};

fn seeded() -> TestDb {
    let db = TestDb::migrated();
    db.run(["db", "seed", "--users", "3", "--tasks-per-user", "4", "-q"])
        .ok();
    db
}

fn backup_to(db: &TestDb, target: &Path, extra: &[&str]) -> crate::support::Done {
    db.cmd()
        .args(["db", "backup", "-o"])
        .arg(target)
        .args(extra)
        .output()
}

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_device_is_written_directly_and_disk_full_names_the_file() {
    let db = seeded();
    let dir = TempDir::new("full");
    // A link to /dev/full: renaming over it (the old behaviour) would
    // replace the link, and would replace /dev/full itself if named.
    let link = dir.join("full");
    std::os::unix::fs::symlink("/dev/full", &link).unwrap();
    let out = backup_to(&db, &link, &[]);
    expect_code(&out, 2);
    let err = out.stderr();
    assert!(err.contains(&link.display().to_string()), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(names(&dir), ["full"], "no temporary file beside it");
}

#[test]
fn a_fifo_is_written_directly() {
    let db = seeded();
    let dir = TempDir::new("fifo");
    let fifo = dir.join("pipe");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = backup_to(&db, &fifo, &["--json"]);
    expect_code(&out, 0);
    let bytes = reader.join().unwrap();
    assert_eq!(out.value()["bytes"].as_u64().unwrap(), bytes.len() as u64);
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip stream came through");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(names(&dir), ["pipe"]);
}

/// `--verify` reads the file back: refused up front (exit 2, nothing
/// written) for stdout and for a FIFO, where reading again would wait for
/// a writer forever.
#[test]
fn verify_is_refused_where_the_backup_cannot_be_read_back() {
    let db = seeded();
    let dir = TempDir::new("verify-stream");
    let out = db
        .run(["db", "backup", "--verify", "-o", "-"])
        .timeout(std::time::Duration::from_secs(60))
        .expect(2);
    assert!(out.out.stdout.is_empty(), "nothing written to stdout");
    assert!(
        out.stderr().contains("--verify reads the backup back"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("todo db verify -"),
        "{}",
        out.stderr()
    );
    let fifo = dir.join("pipe");
    mkfifo(&fifo);
    let out = db
        .cmd()
        .args(["db", "backup", "--verify", "-o"])
        .arg(&fifo)
        .timeout(std::time::Duration::from_secs(60))
        .expect(2);
    assert!(
        out.stderr().contains("a FIFO or device"),
        "{}",
        out.stderr()
    );
    assert_eq!(names(&dir), ["pipe"]);
}

#[test]
fn backups_are_private_and_never_overwrite_without_force() {
    let db = seeded();
    let dir = TempDir::new("force");
    let file = dir.join("b.todo");
    expect_code(&backup_to(&db, &file, &[]), 0);
    assert_eq!(mode(&file), 0o600);
    let inode = std::fs::metadata(&file).unwrap().ino();

    let out = backup_to(&db, &file, &[]);
    expect_code(&out, 4);
    assert!(out.stderr().contains("already exists"), "{}", out.stderr());
    assert!(out.stderr().contains("--force"));
    assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode, "untouched");

    expect_code(&backup_to(&db, &file, &["--force"]), 0);
    assert_ne!(std::fs::metadata(&file).unwrap().ino(), inode, "replaced");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(names(&dir), ["b.todo"]);

    // The purge archive follows the same rules.
    let archive = dir.join("a.todo");
    std::fs::write(&archive, "keep me").unwrap();
    let purge = |extra: &[&str]| {
        db.cmd()
            .args(["db", "purge", "--done-before", "1d", "--yes", "--archive"])
            .arg(&archive)
            .args(extra)
            .output()
    };
    expect_code(&purge(&[]), 4);
    assert_eq!(std::fs::read_to_string(&archive).unwrap(), "keep me");
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = purge(&["--force", "--json"]);
    expect_code(&out, 0);
    assert!(out.value()["archived"].as_u64().unwrap() > 0);
    assert_eq!(mode(&archive), 0o600, "created anew, private");
}

#[test]
fn an_interrupted_backup_leaves_nothing_and_leftovers_are_cleaned() {
    let db = seeded();
    let dir = TempDir::new("interrupted");
    let file = dir.join("b.todo");
    // A leftover of a run killed with kill -9 (its process is gone).
    let dead = (400_000..4_000_000)
        .find(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        .unwrap();
    let leftover = dir.join(format!(".b.todo.partial-{dead}"));
    std::fs::write(&leftover, "partial").unwrap();

    // The backup waits behind a lock on tasks; Ctrl-C then.
    let holder = db.hold(
        "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);",
        &db.locked("tasks"),
    );
    let child = todo_process(&db.dir)
        .args(["db", "backup", "--lock-timeout", "60", "-o"])
        .arg(&file)
        .env("DATABASE_URL", db.url())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(db.wait_for_todo_to_block());
    assert!(
        !leftover.exists(),
        "the dead run's partial file was removed"
    );
    assert_eq!(names(&dir).len(), 1, "only this run's temporary file");
    // SAFETY: kill sends a signal to the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    drop(holder);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(libc::SIGINT)
    );
    let err = out.stderr();
    assert!(err.contains(&format!("partial-{dead}")), "{err}");
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
}

#[test]
fn the_editor_buffer_is_private_and_removed() {
    let db = TestDb::migrated();
    db.add_user("e@example.com");
    let id = db.add_task("e@example.com", "Secret plans");
    let dir = TempDir::new("editor-log");
    let log = dir.join("log");
    let body = format!(
        r#"stat -c '%a' "$1" "$(dirname "$1")" > '{log}'; echo "$1" >> '{log}'"#,
        log = log.display()
    );
    let (code, screen) =
        crate::terminal::with_editor(&db, &format!("task edit {id} --user e@example.com"), &body);
    assert_eq!(code, Some(0), "{screen}");
    let seen = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[..2], ["600", "700"], "{seen}");
    let buffer = Path::new(lines[2]);
    assert!(!buffer.exists(), "the buffer was removed");
    assert!(!buffer.parent().unwrap().exists(), "its directory too");
}

#[test]
fn a_backup_into_a_closed_pipe_fails_naming_stdout() {
    let db = seeded();
    let mut child = todo_process(&db.dir)
        .args(["db", "backup", "-o", "-"])
        .env("DATABASE_URL", db.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.code(), Some(2), "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("cannot write standard output"), "{err}");
}

/// A file that cannot be created is named as the user named it, never by
/// the temporary name the tool writes it under (issue 43).
#[test]
fn a_file_that_cannot_be_created_is_named_as_given() {
    let db = TestDb::migrated();
    let dir = TempDir::new("no-dir");
    let target = dir.join("missing/b.todo");
    let out = db.cmd().args(["db", "backup", "-o"]).arg(&target).output();
    expect_code(&out, 2);
    assert_eq!(
        out.stderr(),
        format!(
            "error: cannot create {}: No such file or directory (os error 2)\n",
            target.display()
        )
    );
}
