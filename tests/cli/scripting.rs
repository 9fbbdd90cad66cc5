//! `--json FIELDS` and `--jq` (SPEC §19, issue 29): field selection and a
//! built-in jq, checked before the command runs.

use crate::support::{todo_cmd, Outcome, TempDir, TestDb};

fn with_tasks(titles: &[&str]) -> (TestDb, &'static str) {
    let db = TestDb::migrated();
    let user = "jq@example.com";
    db.add_user(user);
    for title in titles {
        db.add_task(user, title);
    }
    (db, user)
}

#[test]
fn json_fields_keep_those_fields_in_the_order_given() {
    let (db, user) = with_tasks(&["one", "two"]);
    let out = db
        .run(["task", "list", "--json", "title,id"])
        .user(user)
        .ok();
    let list = out.value();
    let first = list[0].as_object().unwrap();
    assert_eq!(first.keys().collect::<Vec<_>>(), ["title", "id"]);
    assert_eq!(list[0]["title"], "two");
    assert_eq!(list.as_array().unwrap().len(), 2);
    // One field, with `=`, on a single object; a nested count of a user.
    let out = db
        .run(["task", "show", "1", "--json=completed"])
        .user(user)
        .ok();
    assert_eq!(out.stdout(), "{\"completed\":false}\n");
    let out = db
        .run(["user", "show", user, "--json", "email,tasks.total"])
        .ok();
    assert_eq!(
        out.stdout(),
        format!("{{\"email\":\"{user}\",\"tasks\":{{\"total\":2}}}}\n")
    );
    // `--json` alone is unchanged, and a title after it is still a title,
    // even one that is a field of another command (`done`: task stats).
    let out = db.run(["task", "add", "--json", "milk"]).user(user).ok();
    assert_eq!(out.value()["title"], "milk");
    let out = db.run(["task", "add", "--json", "done"]).user(user).ok();
    assert_eq!(out.value()["title"], "done");
    assert_eq!(
        out.value().as_object().unwrap().len(),
        crate::support::TASK_FIELDS.len()
    );
}

#[test]
fn an_unknown_field_is_exit_2_listing_the_fields_and_nothing_is_done() {
    let (db, user) = with_tasks(&[]);
    let out = db
        .run(["task", "add", "Not added", "--json=titel"])
        .user(user)
        .expect(2);
    let err = out.stderr();
    // JSON errors (--json asks for them): the quotes are escaped.
    assert!(
        err.contains(r#"unknown JSON field \"titel\" for todo task add"#),
        "{err}"
    );
    assert!(
        err.contains(
            "available fields: id, title, description, completed, user_id, created_at, updated_at"
        ),
        "{err}"
    );
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
    // Without `=`, a word that names no field is an argument: clap refuses
    // it, and the hint says how to mean a field.
    db.run(["task", "list", "--json", "titel"])
        .user(user)
        .expect(2)
        .stderr_has("write --json=titel");
    // A command that prints no JSON objects says so.
    let dir = TempDir::new("no-fields");
    todo_cmd(&dir)
        .args(["db", "local", "url", "--json=url"])
        .expect(2)
        .stderr_has("prints no JSON fields");
    // Nor is a filter it would never run ignored: the text is not printed
    // as if --jq had been applied to it.
    for args in [
        &["db", "local", "url"][..],
        &["config", "path"],
        &["completions", "bash"],
    ] {
        let out = todo_cmd(&dir).args(args).args(["--jq", "."]).expect(2);
        assert!(out.stdout().is_empty(), "{}", out.stdout());
        assert!(
            out.stderr().contains("prints no JSON for --jq to filter"),
            "{}",
            out.stderr()
        );
    }
}

#[test]
fn jq_prints_strings_raw_and_other_results_as_jq_does() {
    let (db, user) = with_tasks(&["one", "two", "three"]);
    let out = db
        .run([
            "task",
            "list",
            "--jq",
            ".[] | select(.title != \"two\") | .title",
        ])
        .user(user)
        .ok();
    assert_eq!(out.stdout(), "three\none\n");
    // A filter that needs the whole list; fields first, then the filter.
    let out = db
        .run(["task", "list", "--json", "id", "--jq", "map(.id) | add"])
        .user(user)
        .ok();
    assert_eq!(out.stdout(), "6\n");
    let out = db
        .run(["task", "stats", "--jq", "{done, total}"])
        .user(user)
        .ok();
    assert_eq!(out.stdout(), "{\n  \"done\": 0,\n  \"total\": 3\n}\n");
    // Single objects of admin commands too.
    let out = db.run(["db", "status", "--jq", ".pending | length"]).ok();
    assert_eq!(out.stdout(), "0\n");
}

/// `task list --jq FILTER` against a URL where nothing listens: had it
/// connected, the exit would be 5.
fn jq_without_a_server(filter: &str) -> String {
    let dir = TempDir::new("jq-bad");
    let out = todo_cmd(&dir)
        .env(
            "DATABASE_URL",
            "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1",
        )
        .args(["task", "list", "--user", "a@example.com", "--jq", filter])
        .expect(2);
    out.stderr()
}

#[test]
fn a_bad_filter_is_exit_2_before_anything_is_sent_to_the_database() {
    // In words, not JSON: `--jq` alone asks for JSON output, not errors.
    let err = jq_without_a_server(".[] | select(");
    assert!(err.starts_with("error: --jq: cannot parse"), "{err}");
    assert!(err.contains("closing parenthesis"), "{err}");
    let err = jq_without_a_server("no_such_function");
    assert!(err.contains("undefined filter"), "{err}");
}

#[test]
fn a_runtime_error_is_exit_2_after_the_output_so_far() {
    let (db, user) = with_tasks(&["one", "two"]);
    // Streamed element by element: the first title is printed, then the
    // second element fails.
    let out = db
        .run([
            "task",
            "list",
            "--jq",
            ".[] | if .title == \"one\" then error(\"no ones\") else .title end",
        ])
        .user(user)
        .expect(2);
    assert_eq!(out.stdout(), "two\n");
    assert!(out.stderr().contains("no ones"), "{}", out.stderr());
}

/// A write whose `--jq` filter fails on its output has committed: exit 9,
/// kind `output_filter`, saying so (a script that retried on exit 2 would
/// do the write twice), issue 43.
#[test]
fn a_filter_that_fails_after_a_write_says_the_write_is_done_exit_9() {
    let (db, user) = with_tasks(&["one"]);
    let id = db.value("SELECT id FROM tasks");
    let failing = |args: &[&str]| {
        let out = db
            .run(args.iter().copied())
            .args(["--jq", "error(\"x\")"])
            .user(user)
            .expect(9);
        assert_eq!(out.stdout(), "");
        out.stderr()
    };
    let err = failing(&["task", "add", "two"]);
    assert_eq!(
        err,
        "error: todo task add completed, then --jq: x\n\
         hint: its changes are made: do not run it again; fix the filter\n"
    );
    assert_eq!(
        db.value("SELECT count(*) FROM tasks WHERE title = 'two'"),
        "1"
    );
    let err = failing(&["task", "done", &id]);
    assert!(
        err.starts_with("error: todo task done completed, then --jq: x\n"),
        "{err}"
    );
    assert_eq!(
        db.value(&format!("SELECT completed FROM tasks WHERE id = {id}")),
        "t"
    );
    let err = failing(&["task", "rm", &id]);
    assert!(
        err.starts_with("error: todo task rm completed, then --jq: x\n"),
        "{err}"
    );
    assert_eq!(
        db.value(&format!("SELECT count(*) FROM tasks WHERE id = {id}")),
        "0"
    );
    // Under --json, the error object has the kind and code.
    let out = db
        .run(["task", "add", "three", "--json", "--jq", "error(\"x\")"])
        .user(user)
        .expect(9);
    let err: serde_json::Value = serde_json::from_str(out.stderr().trim()).unwrap();
    assert_eq!(err["error"]["kind"], "output_filter");
    assert_eq!(err["error"]["code"], 9);
    // A command that only reads keeps exit 2.
    db.run(["task", "list", "--jq", "error(\"x\")"])
        .user(user)
        .expect(2);
}

#[test]
fn jq_and_fields_refuse_other_formats_and_quiet() {
    let (db, user) = with_tasks(&["one"]);
    db.run(["task", "list", "--jq", ".", "--format", "table"])
        .user(user)
        .expect(2)
        .stderr_has("cannot be used with --format table");
    db.run(["task", "list", "--json", "id", "-q"])
        .user(user)
        .expect(2)
        .stderr_has("-q prints ids only");
    // `task export` shapes only its JSON.
    db.run(["task", "export", "--to", "csv", "--jq", ".[]"])
        .user(user)
        .expect(2)
        .stderr_has("need --to json");
    let out = db
        .run(["task", "export", "--jq", ".[].title"])
        .user(user)
        .ok();
    assert_eq!(out.stdout(), "one\n");
}

/// A streamed list through a field selection and an element filter: 5 000
/// tasks come out as they were listed (peak memory is measured by
/// bench/run.sh, part 4).
#[test]
fn long_lists_stream_through_fields_and_element_filters() {
    let db = TestDb::migrated();
    let user = "many@example.com";
    db.add_user(user);
    db.psql(&format!(
        "INSERT INTO tasks (title, user_id) SELECT 'task ' || n, id
         FROM users, generate_series(1, 5000) n WHERE email = '{user}'"
    ));
    let out = db
        .run([
            "task", "list", "--limit", "5000", "--json", "id", "--jq", ".[].id",
        ])
        .user(user)
        .ok();
    let text = out.stdout();
    let ids: Vec<&str> = text.lines().collect();
    assert_eq!(ids.len(), 5000);
    assert_eq!(ids[0], "5000");
    assert_eq!(ids[4999], "1");
}

/// `--json` before the command group keeps its Part I meaning for every
/// group, also where the group's name is a field of the command (`user` of
/// `user export`, issue 43): the same output as `--json` after it.
#[test]
fn a_leading_json_is_the_flag_before_every_command_group() {
    let (db, user) = with_tasks(&["one"]);
    let dir = TempDir::new("leading-json");
    let config = dir.join("config.toml");
    let groups: [&[&str]; 6] = [
        &["user", "export", user],
        &["user", "show", user],
        &["task", "list", "--user", user],
        &["db", "status"],
        &["config", "list"],
        &["completions", "bash"],
    ];
    for args in groups {
        let run = |json_first: bool| {
            let mut all: Vec<&str> = Vec::new();
            if json_first {
                all.push("--json");
            }
            all.extend_from_slice(args);
            if !json_first {
                all.push("--json");
            }
            db.run(all).env("TODO_CONFIG", &config).output()
        };
        let (first, last) = (run(true), run(false));
        assert_eq!(first.code(), last.code(), "{args:?}: {}", first.stderr());
        assert_eq!(first.stdout(), last.stdout(), "{args:?}");
        assert_eq!(first.stderr(), last.stderr(), "{args:?}");
        assert!(!first.stdout().is_empty(), "{args:?}");
    }
    // The export is the user's, in JSON.
    let out = db.run(["--json", "user", "export", user]).expect(0);
    assert_eq!(out.value()["user"]["email"], user);
}

/// `halt_error` writes its message as jq does and fails; `halt` stops
/// quietly; `debug` writes `["DEBUG:",…]` lines (issue 43: jaq wrote
/// them through a logger nobody installed, so nothing was seen).
#[test]
fn halt_error_debug_and_stderr_write_to_stderr_as_jq_does() {
    let (db, user) = with_tasks(&["one"]);
    let out = db
        .run(["task", "list", "--jq", "\"stop here\\n\" | halt_error"])
        .user(user)
        .expect(2);
    assert_eq!(out.stdout(), "");
    assert_eq!(
        out.stderr(),
        "stop here\nerror: --jq: halt_error with exit code 5\n"
    );
    let out = db
        .run(["task", "list", "--jq", ".[0].title | debug | ., halt"])
        .user(user)
        .expect(0);
    assert_eq!(out.stdout(), "one\n");
    assert_eq!(out.stderr(), "[\"DEBUG:\",\"one\"]\n");
    let out = db
        .run(["task", "list", "--jq", ".[0].title | stderr | empty"])
        .user(user)
        .expect(0);
    assert_eq!(out.stderr(), "one");
}

/// A filter that recurses without end runs the stack out: one error line
/// and exit 2, not an abort (issue 43).
#[test]
fn a_filter_that_recurses_without_end_is_an_error_not_an_abort() {
    let (db, user) = with_tasks(&["one"]);
    for filter in ["def f: 1 + f; f", "def f: [f]; .[] | f"] {
        let out = db
            .run(["task", "list", "--jq", filter])
            .user(user)
            .expect(2);
        assert_eq!(out.stdout(), "", "{filter}");
        assert_eq!(
            out.stderr(),
            "error: --jq: the filter recursed too deeply (the stack ran out)\n",
            "{filter}"
        );
    }
}
