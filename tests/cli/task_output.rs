//! How `task …` output looks (SPEC §5): the JSON fields and their order,
//! plain text that survives other writers' control characters, UTC
//! timestamps, errors as JSON objects, the table without a terminal.

use crate::support::{assert_key_order, expect_code, Outcome, TestDb};

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
