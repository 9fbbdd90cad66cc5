//! `task …` commands (SPEC §4, §5): the everyday session, ownership,
//! all-or-nothing multi-id commands, filters, output formats.

use crate::support::{expect_code, Outcome, TestDb};

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
