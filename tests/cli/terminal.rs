//! SPEC §15 at a terminal: `task edit` through `$EDITOR`, the pager for
//! long lists, blocks of long tables, the prompt before a bulk `task rm`.

use crate::support::{Outcome, TestDb};

/// Runs `todo ARGS` on a pseudo-terminal with `$EDITOR` set to a script
/// (`body` is its shell code; the file is `$1`); returns the exit code.
pub fn with_editor(db: &TestDb, args: &str, body: &str) -> (Option<i32>, String) {
    use std::os::unix::fs::PermissionsExt;
    let dir = crate::support::TempDir::new("editor");
    let editor = dir.join("editor.sh");
    std::fs::write(&editor, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    on_terminal(db, args, &[("EDITOR", &editor.to_string_lossy())])
}

#[test]
fn edit_without_flags_on_a_terminal_opens_the_editor() {
    let db = TestDb::migrated();
    db.add_user("e@example.com");
    let id = db.add_task("e@example.com", "Old title");
    let edit = format!("task edit {id} --user e@example.com");
    // The editor rewrites both fields.
    let (code, screen) = with_editor(
        &db,
        &edit,
        r#"printf 'New title\n\nFirst line\nsecond line\n' > "$1""#,
    );
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(
        db.value(&format!(
            "SELECT title || '|' || description FROM tasks WHERE id = {id}"
        )),
        "New title|First line\nsecond line"
    );
    // The buffer explains itself below a scissors line, which is dropped
    // (the description keeps its own lines, also one starting with `#`).
    let (code, screen) = with_editor(
        &db,
        &edit,
        &format!(
            r#"grep -q '^# Task {id}: the first line is its title' "$1" || exit 9
sed -i '1s/.*/Via sed/; 3s/^/# /' "$1""#
        ),
    );
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(
        db.value(&format!(
            "SELECT title || '|' || description FROM tasks WHERE id = {id}"
        )),
        "Via sed|# First line\nsecond line"
    );
    // Saved unchanged: nothing is written.
    let before = db.value(&format!("SELECT updated_at FROM tasks WHERE id = {id}"));
    let (code, screen) = with_editor(&db, &edit, "true");
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("No change."), "{screen}");
    assert_eq!(
        db.value(&format!("SELECT updated_at FROM tasks WHERE id = {id}")),
        before
    );
    // An empty title aborts.
    let (code, screen) = with_editor(&db, &edit, r#": > "$1""#);
    assert_eq!(code, Some(2), "{screen}");
    assert_eq!(
        db.value(&format!("SELECT title FROM tasks WHERE id = {id}")),
        "Via sed"
    );
    // Off a terminal it stays a usage error.
    let out = db
        .run(["task", "edit", &id.to_string(), "--user", "e@example.com"])
        .output();
    crate::support::expect_code(&out, 2);
}

/// Runs `todo ARGS` on a pseudo-terminal with extra environment; returns
/// the exit code and the screen.
fn on_terminal(db: &TestDb, args: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let mut cmd = crate::support::command_in_test_env("script", &db.dir);
    // A pseudo-terminal starts with no size; give it one, as a window has.
    let command = format!("stty cols 120 rows 40; {} {args}", bin.display());
    cmd.args(["-qec", &command, "/dev/null"])
        .env("TODO_DATABASE_URL", db.url())
        .stdin(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("util-linux script");
    (out.code(), out.stdout())
}

/// Long lists on a terminal go through the pager ($TODO_PAGER here, a
/// filter that marks each line); --no-pager and other formats do not.
#[test]
fn lists_on_a_terminal_are_paged_unless_told_not_to() {
    let db = TestDb::migrated();
    db.add_user("p@example.com");
    db.add_task("p@example.com", "Paged task");
    let pager = [("TODO_PAGER", "sed 's/^/PAGED:/'")];
    let list = "task list --user p@example.com";
    let (code, screen) = on_terminal(&db, list, &pager);
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("PAGED:") && l.contains("Paged task")),
        "{screen}"
    );
    for args in [format!("{list} --no-pager"), format!("{list} --json")] {
        let (code, screen) = on_terminal(&db, &args, &pager);
        assert_eq!(code, Some(0), "{screen}");
        assert!(screen.contains("Paged task"), "{screen}");
        assert!(!screen.contains("PAGED:"), "{args}: {screen}");
    }
    // A pager that quits at once (a reader who stops early) is no error.
    let (code, screen) = on_terminal(&db, list, &[("TODO_PAGER", "true")]);
    assert_eq!(code, Some(0), "{screen}");
}

/// A long table is written in blocks of 1 000 rows, each with its header,
/// so memory stays bounded however long the list.
#[test]
fn long_tables_are_written_in_blocks() {
    let db = TestDb::migrated();
    db.run([
        "db",
        "seed",
        "--users",
        "1",
        "--tasks-per-user",
        "2500",
        "-q",
    ])
    .ok();
    let out = db
        .run([
            "task",
            "list",
            "--user",
            "seed-user-1@seed.example",
            "--format",
            "table",
        ])
        .expect(0);
    let text = out.stdout();
    let headers = text.lines().filter(|l| l.contains("Status")).count();
    assert_eq!(headers, 3, "{}", &text[..500.min(text.len())]);
    let rows = text
        .lines()
        .filter(|l| l.starts_with('│') && !l.contains("Status"))
        .count();
    assert_eq!(rows, 2500);
}

/// `task rm` of several ids asks on a terminal (as Taskwarrior's bulk
/// deletes); one id, `--yes` and scripts are not asked.
#[test]
fn rm_of_several_tasks_asks_on_a_terminal() {
    let db = TestDb::migrated();
    let u = "bulk@example.com";
    db.add_user(u);
    let a = db.add_task(u, "one");
    let b = db.add_task(u, "two");
    let c = db.add_task(u, "three");
    let count = || db.value("SELECT count(*) FROM tasks");
    let rm = format!("task rm {a} {b} --user {u}");
    let (code, screen) = crate::support::on_a_terminal(&db, &rm, "n\n");
    assert!(
        screen.contains(&format!("Delete 2 tasks ({a}, {b}) of {u}? [database ")),
        "{screen}"
    );
    assert_eq!(code, Some(2), "declined: {screen}");
    assert_eq!(count(), "3");
    let (code, screen) = crate::support::on_a_terminal(&db, &rm, "y\n");
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(count(), "1");
    // One id on a terminal: deleted at once (no prompt to answer).
    let (code, screen) = on_terminal(&db, &format!("task rm {c} --user {u}"), &[]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(!screen.contains("[y/N]"), "{screen}");
    assert_eq!(count(), "0");
    // Scripts (no terminal) are not asked.
    let d = db.add_task(u, "four").to_string();
    let e = db.add_task(u, "five").to_string();
    db.run(["task", "rm", &d, &e]).env_user(u).expect(0);
    assert_eq!(count(), "0");
}

/// `db backup -o -` with stdout on a terminal is refused (exit 2, as gzip
/// refuses): the redirect was forgotten, and compressed bytes would land
/// on the screen. `--force` writes them anyway.
#[test]
fn a_backup_is_not_written_to_a_terminal() {
    let db = TestDb::migrated();
    db.add_user("tty@example.com");
    let (code, screen) = on_terminal(&db, "db backup -o -", &[]);
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains("not written to a terminal") && screen.contains("-o - > FILE"),
        "{screen}"
    );
    assert!(!screen.contains("Backed up"), "{screen}");
    let (code, screen) = on_terminal(&db, "db backup -o - --force", &[]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("Backed up 1 user and 0 tasks"), "{screen}");
}

/// `db restore -` and `db verify -` with stdin on a terminal are refused
/// (exit 2, as `gzip -d` refuses): a backup is piped in, not typed.
#[test]
fn a_backup_is_not_read_from_a_terminal() {
    let db = TestDb::migrated();
    for args in ["db restore -", "db verify -"] {
        let (code, screen) = on_terminal(&db, args, &[]);
        assert_eq!(code, Some(2), "{args}: {screen}");
        assert!(
            screen.contains("standard input is a terminal, not a backup"),
            "{args}: {screen}"
        );
    }
}

/// `task import -` on a terminal says it reads what is typed (until
/// Ctrl-D) instead of waiting without a word; the count's noun agrees
/// with the number.
#[test]
fn import_from_a_terminal_says_it_reads_it() {
    use std::io::Write;
    let db = TestDb::migrated();
    db.add_user("typed@example.com");
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let command = format!("{} task import - --user typed@example.com", bin.display());
    let mut child = crate::support::command_in_test_env("script", &db.dir)
        .args(["-qec", &command, "/dev/null"])
        .env("TODO_DATABASE_URL", db.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"[{\"title\":\"typed\"}]\n").unwrap();
    assert!(db.wait_until("SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'todo' AND datname = current_database())"));
    // Ctrl-D at the start of a line: the end of the input.
    stdin.write_all(b"\x04").unwrap();
    let out = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert!(
        screen.contains("reading the records from the terminal (end with Ctrl-D)"),
        "{screen}"
    );
    assert!(screen.contains("Imported 1 task."), "{screen}");
    assert_eq!(db.value("SELECT title FROM tasks"), "typed");
}

/// The config file's user is the default of `--user` without being
/// written into the process environment, which the editor (and the pager,
/// and `pg_ctl`) inherit (issue 43).
#[test]
fn the_config_user_is_not_put_into_the_environment_children_inherit() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::migrated();
    db.add_user("e@example.com");
    let id = db.add_task("e@example.com", "Old title");
    let dir = crate::support::TempDir::new("config-user");
    let config = dir.join("config.toml");
    std::fs::write(&config, "user = \"e@example.com\"\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dump = dir.join("env.txt");
    let editor = dir.join("editor.sh");
    std::fs::write(&editor, format!("#!/bin/sh\nenv > '{}'\n", dump.display())).unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, screen) = on_terminal(
        &db,
        &format!("task edit {id}"),
        &[
            ("EDITOR", &editor.to_string_lossy()),
            ("TODO_CONFIG", &config.to_string_lossy()),
        ],
    );
    assert_eq!(code, Some(0), "{screen}");
    let env = std::fs::read_to_string(&dump).expect("the editor ran");
    assert!(env.contains("TODO_CONFIG="), "{env}");
    assert!(!env.contains("TODO_USER"), "{env}");
}
