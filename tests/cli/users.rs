//! `user add|list|show|rm` (SPEC §4, §5).

use crate::support::{assert_key_order, Outcome, TestDb};

fn is_rfc3339_utc(v: &serde_json::Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    // 2026-11-24T11:15:00.123456Z
    s.len() == 27 && s.ends_with('Z') && &s[10..11] == "T" && &s[19..20] == "."
}

#[test]
fn add_prints_the_user_object_with_counts() {
    let db = TestDb::migrated();
    let out = db
        .run([
            "user",
            "add",
            "  Bob@Example.COM ",
            "--name",
            "Bob Smith",
            "--json",
        ])
        .expect(0);
    let v = out.value();
    assert_key_order(
        &out.stdout(),
        &["id", "email", "name", "created_at", "updated_at", "tasks"],
    );
    assert_eq!(v["email"], "bob@example.com");
    assert_eq!(v["name"], "Bob Smith");
    assert_eq!(
        v["tasks"],
        serde_json::json!({"total": 0, "pending": 0, "done": 0})
    );
    assert!(is_rfc3339_utc(&v["created_at"]), "{v}");
    let id = v["id"].as_str().unwrap();
    let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 4);
    assert_eq!(
        db.value(&format!("SELECT email FROM users WHERE id = '{id}'")),
        "bob@example.com"
    );
}

#[test]
fn add_with_id_and_quiet_prints_only_the_id() {
    let db = TestDb::migrated();
    let out = db
        .run(["user", "add", "a@example.com", "--id", "auth0|123", "-q"])
        .expect(0);
    assert_eq!(out.stdout(), "auth0|123\n");
    let out = db
        .run(["user", "add", "b@example.com", "--id", "auth0|123"])
        .expect(4);
    assert!(
        out.stderr().contains("user id auth0|123 is already taken"),
        "{}",
        out.stderr()
    );
}

#[test]
fn duplicate_email_in_any_case_is_a_conflict() {
    let db = TestDb::migrated();
    db.add_user("bob@example.com");
    for email in ["bob@example.com", "BOB@example.com"] {
        let out = db.run(["user", "add", email]).expect(4);
        assert_eq!(
            out.stderr(),
            format!("error: email {email} is already registered\nhint: see the account with: todo user show {email}\n")
        );
    }
    // A mixed-case row written by another program is found too.
    db.psql("INSERT INTO users (id, email) VALUES ('x', 'Carol@Example.com')");
    db.run(["user", "add", "carol@example.com"]).expect(4);
    assert_eq!(db.value("SELECT count(*) FROM users"), "2");
}

#[test]
fn case_variants_written_by_others_are_ambiguous() {
    let db = TestDb::migrated();
    db.psql("INSERT INTO users (id, email) VALUES ('u1', 'Dan@x.com'), ('u2', 'dan@x.com')");
    for args in [
        vec!["user", "show", "DAN@x.com"],
        vec!["task", "add", "t", "--user", "dan@x.com"],
        vec!["task", "list", "--user", "dan@x.com"],
        vec!["user", "rm", "dan@x.com", "--yes"],
    ] {
        let out = db.run(&args).output();
        assert_eq!(out.code(), Some(4), "{args:?}");
        assert!(out.stderr().contains("ambiguous"), "{}", out.stderr());
    }
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
    assert_eq!(db.value("SELECT count(*) FROM users"), "2");
    // By id each is reachable.
    db.run(["task", "add", "t", "--user", "u2"]).ok();
    assert_eq!(db.value("SELECT user_id FROM tasks"), "u2");
}

#[test]
fn list_and_show_include_task_counts() {
    let db = TestDb::migrated();
    let a = db.add_user("a@example.com");
    db.add_user("b@example.com");
    let t = db.add_task("a@example.com", "one");
    db.add_task("a@example.com", "two");
    db.run(["task", "done", &t.to_string(), "--user", &a]).ok();
    db.psql(&format!(
        "INSERT INTO tasks (title, user_id, completed) VALUES ('null', '{a}', NULL)"
    ));

    let out = db.run(["user", "list", "--json"]).output();
    let v = out.value();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["email"], "a@example.com");
    assert_eq!(
        v[0]["tasks"],
        serde_json::json!({"total": 3, "pending": 2, "done": 1})
    );
    assert_eq!(
        v[1]["tasks"],
        serde_json::json!({"total": 0, "pending": 0, "done": 0})
    );

    let out = db.run(["user", "list", "--limit", "1", "--json"]).output();
    assert_eq!(out.value().as_array().unwrap().len(), 1);

    for who in ["A@EXAMPLE.com", a.as_str()] {
        let out = db.run(["user", "show", who, "--json"]).expect(0);
        assert_eq!(out.value()["id"], a.as_str());
        assert_eq!(out.value()["tasks"]["done"], 1);
    }
    let out = db.run(["user", "show", "a@example.com"]).output();
    let line = out.stdout();
    assert!(
        line.starts_with(&format!("{a}\ta@example.com\t\t")),
        "{line}"
    );
    assert!(line.ends_with("\t3\t2\t1\n"), "{line}");
}

#[test]
fn unknown_users_exit_3_with_a_hint() {
    let db = TestDb::migrated();
    let out = db.run(["user", "show", "nobody@example.com"]).expect(3);
    assert_eq!(
        out.stderr(),
        "error: user nobody@example.com not found\nhint: create the user with: todo user add nobody@example.com\n"
    );
    db.run(["user", "rm", "no-such-id", "--yes"]).expect(3);
    let out = db
        .run(["task", "list", "--user", "ghost@example.com"])
        .expect(3);
    assert!(out
        .stderr()
        .contains("hint: create the user with: todo user add ghost@example.com"));
}

#[test]
fn rm_needs_yes_without_a_terminal_and_cascades() {
    let db = TestDb::migrated();
    let id = db.add_user("a@example.com");
    db.add_task("a@example.com", "one");
    db.add_task("a@example.com", "two");
    let other = db.add_user("b@example.com");
    db.add_task(&other, "kept");

    let out = db.run(["user", "rm", "a@example.com"]).expect(2);
    assert!(
        out.stderr().contains("hint: pass --yes"),
        "{}",
        out.stderr()
    );
    assert_eq!(db.value("SELECT count(*) FROM users"), "2");

    let out = db
        .run(["user", "rm", "A@example.com", "--yes", "--json"])
        .expect(0);
    let v = out.value();
    assert_key_order(
        &out.stdout(),
        &[
            "id",
            "email",
            "name",
            "created_at",
            "updated_at",
            "tasks_deleted",
        ],
    );
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["tasks_deleted"], 2);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "1");
    assert_eq!(
        db.value("SELECT string_agg(email, ',') FROM users"),
        "b@example.com"
    );

    db.run(["user", "rm", &other, "-y", "-q"])
        .ok()
        .stdout_is("");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

#[test]
fn rm_on_a_terminal_asks_showing_the_task_count() {
    let db = TestDb::migrated();
    let id = db.add_user("a@example.com");
    db.add_task("a@example.com", "one");
    db.add_task("a@example.com", "two");

    let (code, screen) = crate::support::on_a_terminal(&db, "user rm a@example.com", "n\n");
    // The prompt names the database, as `dropdb -i` does (issue 24, 19).
    assert!(
        screen.contains(&format!(
            "Delete user a@example.com ({id}) and their 2 tasks? [database "
        )),
        "{screen}"
    );
    assert!(screen.contains(&format!("/{}] [y/N]", db.name)), "{screen}");
    assert_eq!(code, Some(2), "declined: {screen}");
    assert_eq!(db.value("SELECT count(*) FROM users"), "1");

    let (code, screen) = crate::support::on_a_terminal(&db, "user rm a@example.com", "y\n");
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(db.value("SELECT count(*) FROM users"), "0");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

#[test]
fn ids_written_by_other_programs_may_contain_an_at_sign() {
    let db = TestDb::migrated();
    db.psql("INSERT INTO users (id, email) VALUES ('auth0@legacy', 'l@example.com')");
    let out = db.run(["user", "show", "auth0@legacy", "--json"]).expect(0);
    assert_eq!(out.value()["email"], "l@example.com");
    db.run(["task", "add", "t", "--user", "auth0@legacy"]).ok();
    let out = db
        .run(["user", "rm", "auth0@legacy", "--yes", "--json"])
        .output();
    assert_eq!(out.value()["tasks_deleted"], 1);
}

/// `user list` is in the natural order of emails: seed-user-2 before
/// seed-user-10 (migration 5's key), not byte order.
#[test]
fn user_list_is_in_natural_order() {
    let db = TestDb::migrated();
    db.run(["db", "seed", "--users", "12", "--tasks-per-user", "0", "-q"])
        .ok();
    let out = db.run(["user", "list", "-q"]).expect(0);
    let expected: Vec<String> = (1..=12).map(|n| format!("seed-user-{n}")).collect();
    let text = out.stdout();
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got, expected);
    let out = db.run(["user", "list", "--limit", "3", "-q"]).output();
    assert_eq!(out.stdout(), "seed-user-1\nseed-user-2\nseed-user-3\n");
}
