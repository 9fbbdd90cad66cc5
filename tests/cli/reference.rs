//! docs/reference.md's command table is checked against the binary: it
//! lists every command the binary has (one row each, nothing that does not
//! exist), and each JSON shape it documents is the one the command prints
//! (the top-level keys, in order), run for real on an embedded database.

use std::collections::BTreeSet;

use crate::support::Outcome;
use crate::support::{LocalHome, TempDir};

const REFERENCE: &str = include_str!("../../docs/reference.md");

const TASK: [&str; 7] = crate::support::TASK_FIELDS;
const USER: [&str; 6] = ["id", "email", "name", "created_at", "updated_at", "tasks"];

/// One row of the table: the command's words and the documented keys
/// (`None`: the command prints no JSON; `Some(None)`: not checkable by keys).
struct Row {
    command: String,
    shape: Option<Shape>,
}

#[derive(Debug, PartialEq)]
enum Shape {
    Object(Vec<String>),
    Array(Vec<String>),
    /// `config list`: its keys are the settings.
    Settings,
}

fn rows() -> Vec<Row> {
    let table = REFERENCE
        .split("| command | does | JSON on stdout |")
        .nth(1)
        .expect("the command table");
    let mut rows = Vec::new();
    for line in table.lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(cells.len(), 3, "a row without three cells: {line}");
        let command = first_code(cells[0]).expect(line);
        let words: Vec<&str> = command
            .split(' ')
            .take_while(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
            .collect();
        let shape = if cells[2].starts_with("none") {
            None
        } else {
            let code = first_code(cells[2]).expect(line);
            Some(parse_shape(&code))
        };
        rows.push(Row {
            command: words.join(" "),
            shape,
        });
    }
    rows
}

/// The text of the first `code` span in a cell.
fn first_code(cell: &str) -> Option<String> {
    let start = cell.find('`')? + 1;
    let len = cell[start..].find('`')?;
    Some(cell[start..start + len].to_string())
}

fn parse_shape(code: &str) -> Shape {
    let owned = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect();
    match code {
        "task" => Shape::Object(owned(&TASK)),
        "[task]" => Shape::Array(owned(&TASK)),
        "user" => Shape::Object(owned(&USER)),
        "[user]" => Shape::Array(owned(&USER)),
        c if c.starts_with("{KEY") => Shape::Settings,
        c => {
            let keys = c
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            if c.starts_with("[{") {
                Shape::Array(keys)
            } else {
                assert!(c.starts_with('{'), "an unknown shape: {c}");
                Shape::Object(keys)
            }
        }
    }
}

/// The leaf commands of the binary, from its manual pages (one per command).
fn binary_commands() -> BTreeSet<String> {
    let dir = TempDir::new("reference-man");
    let _out = crate::support::todo_cmd(dir.path())
        .args(["man"])
        .arg(dir.path())
        .expect(0);
    let pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.trim_end_matches(".1").replace('-', " ")
        })
        .collect();
    pages
        .iter()
        .filter(|p| !pages.iter().any(|q| q.starts_with(&format!("{p} "))))
        .filter_map(|p| p.strip_prefix("todo ").map(str::to_string))
        .collect()
}

#[test]
fn the_reference_lists_every_command_of_the_binary_once() {
    let documented: Vec<String> = rows().into_iter().map(|r| r.command).collect();
    let unique: BTreeSet<String> = documented.iter().cloned().collect();
    assert_eq!(unique.len(), documented.len(), "a command listed twice");
    let binary = binary_commands();
    assert!(binary.len() > 30, "too few commands found: {binary:?}");
    let missing: Vec<_> = binary.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&binary).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in docs/reference.md: {missing:?}; not commands of the binary: {extra:?}"
    );
}

/// The top-level keys of one JSON value, in order (of the first element
/// for an array).
fn keys_of(value: &serde_json::Value) -> (bool, Vec<String>) {
    match value {
        serde_json::Value::Array(items) => {
            let first = items.first().expect("an empty array: nothing to check");
            (true, keys_of(first).1)
        }
        serde_json::Value::Object(map) => (false, map.keys().cloned().collect()),
        other => panic!("not an object or array: {other}"),
    }
}

#[test]
fn every_documented_json_shape_is_what_the_command_prints() {
    let home = LocalHome::new("reference");
    let files = TempDir::new("reference-files");
    let config = files.path().join("config.toml");
    let backup = files.path().join("ref.todo");
    let backup = backup.to_str().unwrap();
    let user = "ref@example.com";
    // What `--json FIELDS` offers each command (its error's list of
    // available fields), asked before the command runs for real.
    let offered = std::cell::RefCell::new(std::collections::BTreeMap::new());
    let run = |args: &[&str], stdin: Option<&str>| -> serde_json::Value {
        let words: Vec<&str> = args
            .iter()
            .copied()
            .take_while(|w| w.bytes().all(|b| b.is_ascii_lowercase()))
            .collect();
        let refused = home
            .cmd()
            .env("TODO_LOCAL", "1")
            .env("TODO_CONFIG", &config)
            .args(args)
            .arg("--json=no_such_field")
            .expect(2);
        let error: serde_json::Value = serde_json::from_str(&refused.stderr()).unwrap();
        let hint = error["error"]["hint"].as_str().unwrap_or("").to_string();
        let fields: Option<Vec<String>> = hint
            .strip_prefix("available fields: ")
            .map(|list| list.split(", ").map(str::to_string).collect());
        offered.borrow_mut().insert(words.join(" "), fields);
        let mut cmd = home
            .cmd()
            .env("TODO_LOCAL", "1")
            .env("TODO_CONFIG", &config)
            .args(args)
            .arg("--json");
        if let Some(input) = stdin {
            cmd = cmd.stdin(input);
        }
        let out = cmd.output();
        assert!(
            out.code() == Some(0),
            "todo {args:?} failed: {}",
            out.stderr()
        );
        out.value()
    };
    let mut printed: Vec<(&str, serde_json::Value)> = Vec::new();
    let mut record = |command: &'static str, value: serde_json::Value| {
        printed.push((command, value));
    };
    record(
        "db seed",
        run(
            &["db", "seed", "--users", "2", "--tasks-per-user", "4"],
            None,
        ),
    );
    record("db status", run(&["db", "status"], None));
    record("db migrate", run(&["db", "migrate"], None));
    record(
        "user add",
        run(&["user", "add", user, "--name", "Ref"], None),
    );
    record("user list", run(&["user", "list"], None));
    record("user show", run(&["user", "show", user], None));
    let added = run(&["task", "add", "Reference", "--user", user], None);
    let id = added["id"].to_string();
    let id = id.as_str();
    record("task add", added.clone());
    record("task list", run(&["task", "list", "--user", user], None));
    record(
        "task show",
        run(&["task", "show", id, "--user", user], None),
    );
    record(
        "task done",
        run(&["task", "done", id, "--user", user], None),
    );
    record(
        "task undo",
        run(&["task", "undo", id, "--user", user], None),
    );
    record(
        "task edit",
        run(
            &["task", "edit", id, "--title", "Ref", "--user", user],
            None,
        ),
    );
    record("task stats", run(&["task", "stats", "--user", user], None));
    record(
        "task import",
        run(
            &["task", "import", "-", "--user", user],
            Some(r#"[{"title":"imported"}]"#),
        ),
    );
    record("user export", run(&["user", "export", user], None));
    record(
        "task export",
        run(&["task", "export", "--user", user], None),
    );
    record("db health", run(&["db", "health"], None));
    record("db stats", run(&["db", "stats"], None));
    record("db wait", run(&["db", "wait"], None));
    record("db maintain", run(&["db", "maintain", "--yes"], None));
    record("db backup", run(&["db", "backup", "-o", backup], None));
    record("db verify", run(&["db", "verify", backup], None));
    record(
        "db restore",
        run(&["db", "restore", backup, "--replace", "--yes"], None),
    );
    record(
        "db purge",
        run(
            &["db", "purge", "--done-before", "2027-01-01", "--yes"],
            None,
        ),
    );
    record("db rls enable", run(&["db", "rls", "enable"], None));
    record("db rls status", run(&["db", "rls", "status"], None));
    record("db rls disable", run(&["db", "rls", "disable"], None));
    record(
        "db roles grant",
        run(&["db", "roles", "grant", "--readonly", "pg_monitor"], None),
    );
    record("db roles status", run(&["db", "roles", "status"], None));
    record(
        "db roles revoke",
        run(&["db", "roles", "revoke", "pg_monitor"], None),
    );
    record("db revert", run(&["db", "revert", "--yes"], None));
    run(&["db", "migrate"], None);
    record("task rm", run(&["task", "rm", id, "--user", user], None));
    record("user rm", run(&["user", "rm", user, "--yes"], None));
    let _config_set = home
        .cmd()
        .env("TODO_CONFIG", &config)
        .args(["config", "set", "user", user])
        .expect(0);
    record("config list", run(&["config", "list"], None));
    record("db local status", run(&["db", "local", "status"], None));
    record("db local stop", run(&["db", "local", "stop"], None));
    record("db local start", run(&["db", "local", "start"], None));
    record(
        "db local reset",
        run(&["db", "local", "reset", "--yes"], None),
    );
    record(
        "db local destroy",
        run(&["db", "local", "destroy", "--yes"], None),
    );

    let mut checked = 0;
    let offered = offered.into_inner();
    for row in rows() {
        let Some(shape) = row.shape else { continue };
        check_offered_fields(&row.command, &shape, offered.get(&row.command));
        let Some((_, value)) = printed.iter().find(|(c, _)| *c == row.command) else {
            panic!(
                "`{}` documents JSON, but this test does not run it",
                row.command
            );
        };
        let (array, keys) = keys_of(value);
        match shape {
            Shape::Settings => assert_eq!(keys, ["user"], "{}: {value}", row.command),
            Shape::Object(documented) => {
                assert!(!array, "{} prints an array: {value}", row.command);
                assert_eq!(keys, documented, "{}: {value}", row.command);
            }
            Shape::Array(documented) => {
                assert!(array, "{} prints an object: {value}", row.command);
                assert_eq!(keys, documented, "{}: {value}", row.command);
            }
        }
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} shapes checked");
}

/// `--json FIELDS` offers a command exactly its documented keys, in their
/// order, and beyond them only names the reference gives elsewhere (keys
/// present sometimes, such as `"dry_run"`, and `tasks.total` of a user).
fn check_offered_fields(command: &str, shape: &Shape, offered: Option<&Option<Vec<String>>>) {
    let offered = offered.unwrap_or_else(|| panic!("`{command}` was not asked for fields"));
    let documented = match shape {
        Shape::Object(keys) | Shape::Array(keys) => keys,
        Shape::Settings => return,
    };
    let offered = offered
        .as_ref()
        .unwrap_or_else(|| panic!("`{command}` prints JSON but offers no fields"));
    let in_order: Vec<&String> = offered.iter().filter(|f| documented.contains(f)).collect();
    assert_eq!(
        in_order,
        documented.iter().collect::<Vec<_>>(),
        "{command}: --json FIELDS offers {offered:?}"
    );
    for extra in offered.iter().filter(|f| !documented.contains(f)) {
        let named = match extra.split_once('.') {
            Some((outer, inner)) => {
                documented.contains(&outer.to_string())
                    && REFERENCE.contains(&format!("\"{inner}\""))
            }
            None => REFERENCE.contains(&format!("\"{extra}\"")),
        };
        assert!(
            named,
            "{command}: --json FIELDS offers {extra:?}, which the reference never names"
        );
    }
}
