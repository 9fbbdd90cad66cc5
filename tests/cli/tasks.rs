//! `task …` commands (SPEC §4, §5): the everyday session, ownership,
//! all-or-nothing multi-id commands, filters, output formats.

use crate::support::{assert_key_order, expect_code, Outcome, TestDb};

fn ids_of(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn readme_session_for_a_script() {
    let db = TestDb::migrated();
    db.run(["user", "add", "bob@example.com", "-q"]).ok();
    let add = |title: &str| -> String {
        let out = db
            .run(["task", "add", title, "-q"])
            .env_user("bob@example.com")
            .expect(0);
        out.stdout().trim().to_string()
    };
    let milk = add("Buy milk");
    let report = add("Write report");
    let mum = add("Call mum");

    let out = db
        .run(["task", "done", &milk, "--json"])
        .env_user("bob@example.com")
        .expect(0);
    let done = out.value();
    assert_eq!(done.as_array().unwrap().len(), 1, "always an array");
    assert_eq!(done[0]["completed"], true);

    let out = db
        .run(["task", "list", "--pending", "--json"])
        .env_user("bob@example.com")
        .output();
    let pending = out.value();
    assert_eq!(
        ids_of(&pending),
        [mum.parse::<i64>().unwrap(), report.parse::<i64>().unwrap()],
        "newest first"
    );

    let out = db
        .run(["task", "rm", &report, "--json"])
        .env_user("bob@example.com")
        .expect(0);
    assert_eq!(out.value()[0]["title"], "Write report");

    let out = db
        .run(["task", "stats", "--json"])
        .env_user("bob@example.com")
        .output();
    assert_eq!(
        out.value(),
        serde_json::json!({"total": 2, "pending": 1, "done": 1})
    );
    let out = db
        .run(["task", "stats"])
        .env_user("bob@example.com")
        .output();
    assert_eq!(out.stdout(), "2\t1\t1\n");
}

#[test]
fn task_json_has_the_documented_fields_in_order() {
    let db = TestDb::migrated();
    let uid = db.add_user("a@example.com");
    let out = db
        .run([
            "task",
            "add",
            " Title ",
            "--user",
            "a@example.com",
            "--description",
            "line1\nline2",
            "--json",
        ])
        .expect(0);
    let v = out.value();
    assert_key_order(&out.stdout(), &crate::support::TASK_FIELDS);
    assert_eq!(v["title"], "Title");
    assert_eq!(v["description"], "line1\nline2");
    assert_eq!(v["completed"], false);
    assert_eq!(v["user_id"], uid.as_str());

    let id = v["id"].to_string();
    let out = db
        .run(["task", "show", &id, "--user", &uid, "--json"])
        .output();
    assert_eq!(out.value(), v);
}

#[test]
fn another_users_task_is_indistinguishable_from_a_missing_one() {
    let db = TestDb::migrated();
    db.add_user("alice@example.com");
    db.add_user("bob@example.com");
    let t = db
        .add_task("alice@example.com", "alice's secret")
        .to_string();
    let missing = "2000000000";

    for cmd in [
        vec!["task", "show"],
        vec!["task", "done"],
        vec!["task", "undo"],
        vec!["task", "reopen"],
        vec!["task", "edit"],
        vec!["task", "rm"],
    ] {
        let run = |id: &str| {
            let mut args = cmd.clone();
            args.push(id);
            if cmd[1] == "edit" {
                args.extend(["--title", "hacked"]);
            }
            db.run(&args).env_user("bob@example.com").output()
        };
        let theirs = run(&t);
        let nothing = run(missing);
        assert_eq!(theirs.code(), Some(3), "{cmd:?}");
        assert_eq!(nothing.code(), Some(3), "{cmd:?}");
        assert_eq!(
            theirs.stderr().replace(&t, "N"),
            nothing.stderr().replace(missing, "N"),
            "{cmd:?}"
        );
        assert_eq!(theirs.stdout(), "");
    }
    let out = db
        .run(["task", "list", "--json"])
        .env_user("bob@example.com")
        .output();
    assert_eq!(out.value(), serde_json::json!([]));
    let out = db
        .run(["task", "stats", "--json"])
        .env_user("bob@example.com")
        .output();
    assert_eq!(out.value()["total"], 0);
    let out = db
        .run(["task", "rm", "--done", "--yes", "--json"])
        .env_user("bob@example.com")
        .output();
    assert_eq!(out.value(), serde_json::json!([]));
    assert_eq!(
        db.value("SELECT title || ' ' || coalesce(completed::text, 'null') FROM tasks"),
        "alice's secret false"
    );
}

#[test]
fn multi_id_commands_are_all_or_nothing() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let u = "a@example.com";
    let t1 = db.add_task(u, "one").to_string();
    let t2 = db.add_task(u, "two").to_string();

    let out = db
        .run(["task", "done", &t1, "99999", &t2, "88888"])
        .env_user(u)
        .expect(3);
    assert!(
        out.stderr()
            .starts_with("error: tasks 99999, 88888 not found; nothing was changed\n"),
        "{}",
        out.stderr()
    );
    assert_eq!(db.value("SELECT count(*) FROM tasks WHERE completed"), "0");

    db.run(["task", "rm", &t1, "99999"]).env_user(u).expect(3);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "2");

    // Repeated ids count once; results come in the order given.
    let out = db
        .run(["task", "done", &t2, &t1, &t2, "--json"])
        .env_user(u)
        .expect(0);
    assert_eq!(
        ids_of(&out.value()),
        [t2.parse::<i64>().unwrap(), t1.parse().unwrap()]
    );
    // Idempotent.
    db.run(["task", "done", &t1]).env_user(u).ok();
    let out = db
        .run(["task", "undo", &t1, &t2, "-q"])
        .env_user(u)
        .expect(0);
    assert_eq!(out.stdout(), "");
    assert_eq!(db.value("SELECT count(*) FROM tasks WHERE completed"), "0");

    let out = db
        .run(["task", "rm", &t1, &t2, "--json"])
        .env_user(u)
        .output();
    assert_eq!(ids_of(&out.value()).len(), 2);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

#[test]
fn list_filters_search_limit_and_order() {
    let db = TestDb::migrated();
    let uid = db.add_user("a@example.com");
    db.psql(&format!(
        "INSERT INTO tasks (id, title, description, completed, user_id, created_at) VALUES
           (11, 'Buy MILK', NULL, false, '{uid}', '2026-01-01 10:00'),
           (12, 'Report', 'about milk prices', true, '{uid}', '2026-01-02 10:00'),
           (13, 'Other', NULL, NULL, '{uid}', '2026-01-02 10:00'),
           (14, 'No date', NULL, false, '{uid}', NULL),
           (15, '100% done_ish', NULL, false, '{uid}', '2025-01-01')"
    ));
    let list = |args: &[&str]| -> Vec<i64> {
        let out = db
            .as_user("a@example.com")
            .args(["task", "list", "--json"])
            .args(args)
            .output();
        expect_code(&out, 0);
        ids_of(&out.value())
    };
    // created_at DESC, id DESC; NULL created_at last.
    assert_eq!(list(&[]), [13, 12, 11, 15, 14]);
    // NULL completed counts as pending.
    assert_eq!(list(&["--pending"]), [13, 11, 15, 14]);
    assert_eq!(list(&["--done"]), [12]);
    assert_eq!(list(&["--search", "milk"]), [12, 11]);
    assert_eq!(list(&["--search", "MiLk", "--pending"]), [11]);
    // LIKE wildcards are literal.
    assert_eq!(list(&["--search", "0% d"]), [15]);
    assert_eq!(list(&["--search", "_"]), [15]);
    assert_eq!(list(&["--limit", "2"]), [13, 12]);

    db.run(["task", "list", "--pending", "--done"])
        .env_user("a@example.com")
        .expect(2);
    // NULL completed shows as false in JSON.
    let out = db
        .run(["task", "show", "13", "--json"])
        .env_user("a@example.com")
        .output();
    assert_eq!(out.value()["completed"], false);
}

#[test]
fn plain_output_survives_tabs_newlines_and_nulls_from_other_writers() {
    let db = TestDb::migrated();
    let uid = db.add_user("a@example.com");
    db.psql(&format!(
        "INSERT INTO tasks (id, title, description, completed, user_id, created_at, updated_at) VALUES
           (7, E'tab\\there', E'multi\\nline\\r\\nand \\\\ slash', NULL, '{uid}', NULL, NULL),
           (8, 'plain', NULL, true, '{uid}', '2026-11-24 11:15:00.123456', '2026-11-24 11:15:00')"
    ));
    let out = db.run(["task", "list"]).env_user("a@example.com").expect(0);
    assert_eq!(
        out.stdout(),
        format!(
            "8\tplain\t\ttrue\t{uid}\t2026-11-24T11:15:00.123456Z\t2026-11-24T11:15:00.000000Z\n\
             7\ttab\\there\tmulti\\nline\\r\\nand \\\\ slash\tfalse\t{uid}\t\t\n"
        )
    );
    let out = db
        .run(["task", "show", "7", "--json"])
        .env_user("a@example.com")
        .output();
    let v = out.value();
    assert_eq!(v["title"], "tab\there");
    assert_eq!(v["created_at"], serde_json::Value::Null);
    for format in ["table", "plain", "json"] {
        let out = db
            .run(["task", "list", "--format", format])
            .env_user("a@example.com")
            .output();
        assert_eq!(out.code(), Some(0), "{format}");
        let out = db
            .run(["task", "show", "7", "--format", format])
            .env_user("a@example.com")
            .output();
        assert_eq!(out.code(), Some(0), "{format}");
    }
}

#[test]
fn edit_changes_fields_and_updated_at_moves() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let u = "a@example.com";
    let id = db.add_task(u, "old").to_string();
    let stamp = || db.value(&format!("SELECT updated_at FROM tasks WHERE id = {id}"));
    let age = || {
        db.psql(&format!(
            "UPDATE tasks SET updated_at = '2000-01-01' WHERE id = {id}"
        ));
        // The trigger moved it: reset it under the trigger's nose.
        db.psql(&format!(
            "ALTER TABLE tasks DISABLE TRIGGER tasks_set_updated_at;
             UPDATE tasks SET updated_at = '2000-01-01' WHERE id = {id};
             ALTER TABLE tasks ENABLE TRIGGER tasks_set_updated_at"
        ));
        assert_eq!(stamp(), "2000-01-01 00:00:00");
    };

    age();
    let out = db
        .run([
            "task",
            "edit",
            &id,
            "--title",
            "new",
            "--description",
            "d",
            "--json",
        ])
        .env_user(u)
        .expect(0);
    assert_eq!(out.value()["title"], "new");
    assert_eq!(out.value()["description"], "d");
    assert_ne!(stamp(), "2000-01-01 00:00:00", "edit moves updated_at");

    age();
    db.run(["task", "done", &id]).env_user(u).ok();
    assert_ne!(stamp(), "2000-01-01 00:00:00", "done moves updated_at");
    age();
    db.run(["task", "undo", &id]).env_user(u).ok();
    assert_ne!(stamp(), "2000-01-01 00:00:00", "undo moves updated_at");

    let out = db
        .run(["task", "edit", &id, "--clear-description", "--json"])
        .env_user(u)
        .output();
    assert_eq!(out.value()["description"], serde_json::Value::Null);
    assert_eq!(out.value()["title"], "new");

    let out = db.run(["task", "edit", &id]).env_user(u).expect(2);
    assert!(out.stderr().contains("nothing to change"));
    db.run([
        "task",
        "edit",
        &id,
        "--description",
        "x",
        "--clear-description",
    ])
    .env_user(u)
    .expect(2);
}

#[test]
fn rm_done_needs_yes_and_removes_only_completed_tasks() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let u = "a@example.com";
    let a = db.add_task(u, "a").to_string();
    db.add_task(u, "b");
    let c = db.add_task(u, "c").to_string();
    db.run(["task", "done", &a, &c]).env_user(u).ok();

    let out = db.run(["task", "rm", "--done"]).env_user(u).expect(2);
    assert!(out.stderr().contains("hint: pass --yes"));
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "3");

    let out = db
        .run(["task", "rm", "--done", "--yes", "--json"])
        .env_user(u)
        .expect(0);
    let mut gone = ids_of(&out.value());
    gone.sort();
    assert_eq!(gone, [a.parse::<i64>().unwrap(), c.parse().unwrap()]);
    assert_eq!(db.value("SELECT string_agg(title, ',') FROM tasks"), "b");

    let out = db.run(["task", "rm", "--done", &a]).env_user(u).output();
    assert_eq!(out.code(), Some(2), "ids and --done together");
    let out = db.run(["task", "rm"]).env_user(u).output();
    assert_eq!(out.code(), Some(2), "neither ids nor --done");
}

#[test]
fn input_is_stored_verbatim_and_lengths_count_characters() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let u = "a@example.com";
    let sql = "'); DROP TABLE tasks; --";
    let id = db.add_task(u, sql).to_string();
    let out = db.run(["task", "show", &id, "--json"]).env_user(u).output();
    assert_eq!(out.value()["title"], sql);

    let emoji255 = "🦀".repeat(255);
    let id = db.add_task(u, &emoji255).to_string();
    assert_eq!(
        db.value(&format!(
            "SELECT char_length(title) FROM tasks WHERE id = {id}"
        )),
        "255"
    );
    db.run(["task", "add", &"🦀".repeat(256)])
        .env_user(u)
        .expect(2);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "2");

    let out = db
        .run(["task", "list", "--search", "DROP TABLE", "--json"])
        .env_user(u)
        .output();
    assert_eq!(out.value()[0]["title"], sql);
}

#[test]
fn timestamps_are_utc_whatever_the_client_time_zone() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let out = db
        .as_user("a@example.com")
        .args(["task", "add", "tz", "--json"])
        .env("PGTZ", "America/New_York")
        .env("TZ", "Asia/Tokyo")
        .output();
    expect_code(&out, 0);
    let created = out.value()["created_at"].as_str().unwrap().to_string();
    let skew = db.value(&format!(
        "SELECT abs(extract(epoch FROM (now() AT TIME ZONE 'UTC') - '{}'::timestamp)) < 120",
        created.trim_end_matches('Z')
    ));
    assert_eq!(skew, "t", "created_at {created} is not UTC now");
}

#[test]
fn missing_schema_exits_6_with_a_hint() {
    let db = TestDb::empty();
    for args in [
        vec!["task", "list", "--user", "a@example.com"],
        vec!["user", "list"],
        vec!["user", "add", "a@example.com"],
    ] {
        let out = db.run(&args).output();
        assert_eq!(out.code(), Some(6), "{args:?}: {}", out.stderr());
        assert!(
            out.stderr()
                .contains("hint: create it with: todo db migrate"),
            "{}",
            out.stderr()
        );
    }
}

#[test]
fn errors_under_json_are_objects_on_stderr() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let out = db
        .run(["task", "show", "5", "--json"])
        .env_user("a@example.com")
        .expect(3);
    assert_eq!(out.stdout(), "");
    let v: serde_json::Value = serde_json::from_slice(out.stderr().as_bytes()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"error": {
            "code": 3, "kind": "not_found", "message": "task 5 not found",
            "hint": "list the tasks with: todo task list --user a@example.com"
        }})
    );
}

#[test]
fn user_comes_from_todo_user_or_is_required() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    let out = db.run(["task", "list"]).expect(2);
    assert!(out.stderr().contains("--user"), "{}", out.stderr());
    db.run(["task", "list"]).env_user("a@example.com").ok();
    // --user beats $TODO_USER.
    db.run(["task", "list", "--user", "a@example.com"])
        .env_user("nobody@example.com")
        .expect(0);
}

#[test]
fn table_output_uses_relative_times_and_no_colour_without_a_terminal() {
    let db = TestDb::migrated();
    db.add_user("a@example.com");
    db.add_task("a@example.com", "fresh");
    let out = db
        .run(["task", "list", "--format", "table"])
        .env_user("a@example.com")
        .output();
    let text = out.stdout();
    assert!(
        text.contains("fresh") && text.contains("just now"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no escape codes: {text}");
    let out = db
        .run(["task", "list", "--format", "table", "--color", "always"])
        .env_user("a@example.com")
        .output();
    assert!(out.stdout().contains('\u{1b}'), "--color always colours");
}

#[test]
fn unquoted_words_join_into_one_title() {
    let db = TestDb::migrated();
    db.add_user("w@example.com");
    let out = db
        .run(["task", "add", "Buy", "oat", "milk", "--json"])
        .env_user("w@example.com")
        .output();
    crate::support::expect_code(&out, 0);
    assert_eq!(out.value()["title"], "Buy oat milk");
    // Flags may come between the words; a quoted title stays as it is.
    let out = db
        .run([
            "task",
            "add",
            "Call",
            "-d",
            "about the party",
            "mum",
            "--json",
        ])
        .env_user("w@example.com")
        .output();
    crate::support::expect_code(&out, 0);
    let v = out.value();
    assert_eq!(v["title"], "Call mum");
    assert_eq!(v["description"], "about the party");
    let out = db.run(["task", "add"]).env_user("w@example.com").output();
    crate::support::expect_code(&out, 2);
}

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

/// Scripting and common names: `-q` lists print ids one per line (as
/// `docker ps -q`); `ls`, `complete`, `delete` are `list`, `done`, `rm`;
/// `task rm` says what it deleted (stderr with plain output).
#[test]
fn quiet_lists_print_ids_and_common_names_work() {
    let db = TestDb::migrated();
    let u = "q@example.com";
    let user_id = db.add_user(u);
    let a = db.add_task(u, "first").to_string();
    let b = db.add_task(u, "second").to_string();
    let out = db.run(["task", "ls", "-q"]).env_user(u).expect(0);
    assert_eq!(out.stdout(), format!("{b}\n{a}\n"));
    let out = db.run(["user", "ls", "-q"]).expect(0);
    assert_eq!(out.stdout(), format!("{user_id}\n"));
    // Tables name the owner by the email people know, beside the id.
    let out = db
        .run([
            "task",
            "show",
            &a,
            "--user",
            "Q@example.com",
            "--format",
            "table",
        ])
        .expect(0);
    assert!(
        out.stdout().contains(&format!("q@example.com ({user_id})")),
        "{}",
        out.stdout()
    );
    db.run(["task", "complete", &a, "-q"])
        .env_user(u)
        .ok()
        .stdout_is("");
    let out = db.run(["task", "delete", &a, &b]).env_user(u).expect(0);
    assert_eq!(out.stdout().lines().count(), 2);
    assert_eq!(out.stderr(), "Deleted 2 tasks.\n");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
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
