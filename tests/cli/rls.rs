//! Row-level security and least-privilege roles (SPEC §13), with real
//! roles connecting through the private server's socket.

use crate::support::Outcome;
use crate::support::{expect_code, psql, server, TestDb};

/// A login role of this test run (roles are per server, tests run in
/// parallel: the name is unique to the test).
pub fn role(tag: &str) -> String {
    let name = format!("todo_{tag}_{}", std::process::id());
    let admin = server().url("postgres");
    psql(
        &admin,
        &format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
                 CREATE ROLE {name} LOGIN;
               END IF; END $$"
        ),
    );
    name
}

pub fn as_role(db: &TestDb, role: &str) -> String {
    let socket = server().socket_dir.clone().expect("the private server");
    format!("postgresql://{role}@/{}?host={}", db.name, socket.display())
}

/// Runs SQL as `role`; Err(stderr) when psql fails.
pub fn sql_as(db: &TestDb, role: &str, sql: &str) -> Result<String, String> {
    crate::support::try_psql(&as_role(db, role), sql)
}

#[test]
fn the_app_role_reaches_only_the_tasks_of_app_user_id() {
    let db = TestDb::migrated();
    let alice = db.add_user("alice@example.com");
    let bob = db.add_user("bob@example.com");
    for t in ["a1", "a2"] {
        db.add_task("alice@example.com", t);
    }
    db.add_task("bob@example.com", "b1");

    let out = db.run(["db", "rls", "enable", "--json"]).expect(0);
    // tasks: its policy and RLS on; users: four policies and RLS on.
    assert_eq!(out.value()["changed"].as_array().unwrap().len(), 7);
    let out = db.run(["db", "rls", "enable", "--json"]).output();
    assert_eq!(out.value()["changed"], serde_json::json!([]), "idempotent");

    let app = role("app");
    db.run(["db", "roles", "grant", "--app", &app]).ok();
    let set = format!("SET app.user_id = '{alice}';");
    assert_eq!(
        sql_as(
            &db,
            &app,
            &format!("{set} SELECT string_agg(title, ',' ORDER BY title) FROM tasks")
        )
        .unwrap(),
        "a1,a2"
    );
    assert_eq!(
        sql_as(
            &db,
            &app,
            &format!("{set} UPDATE tasks SET completed = true RETURNING 1")
        )
        .unwrap()
        .lines()
        .count(),
        2
    );
    assert_eq!(
        db.value("SELECT count(*) FROM tasks WHERE completed"),
        "2",
        "bob's task untouched"
    );
    let err = sql_as(
        &db,
        &app,
        &format!("{set} INSERT INTO tasks (title, user_id) VALUES ('x', '{bob}')"),
    )
    .unwrap_err();
    assert!(err.contains("row-level security"), "{err}");
    let err = sql_as(
        &db,
        &app,
        &format!("{set} UPDATE tasks SET user_id = '{bob}'"),
    )
    .unwrap_err();
    assert!(err.contains("row-level security"), "{err}");
    assert_eq!(
        sql_as(&db, &app, &format!("{set} DELETE FROM tasks RETURNING 1"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert_eq!(db.value("SELECT string_agg(title, ',') FROM tasks"), "b1");
    // Unset: nothing is visible; users stay readable.
    assert_eq!(
        sql_as(&db, &app, "SELECT count(*) FROM tasks").unwrap(),
        "0"
    );
    assert_eq!(
        sql_as(&db, &app, "SELECT count(*) FROM users").unwrap(),
        "2"
    );
    // No DDL, no TRUNCATE.
    assert!(sql_as(&db, &app, "TRUNCATE tasks").is_err());

    // Status and health show it.
    let out = db.run(["db", "rls", "status", "--json"]).output();
    let status = out.value();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["policies"][0]["name"], "todo_user_isolation");
    assert!(status["bypass"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b.as_str().unwrap().ends_with("(owner)")));
    let out = db.run(["db", "health", "--json"]).output();
    assert!(out
        .value()
        .to_string()
        .contains("enabled on tasks (1 policy)"));

    // Disable restores the previous behaviour.
    let out = db.run(["db", "rls", "disable", "--json"]).expect(0);
    assert_eq!(out.value()["changed"].as_array().unwrap().len(), 7);
    assert_eq!(
        sql_as(&db, &app, "SELECT count(*) FROM tasks").unwrap(),
        "1"
    );
}

#[test]
fn the_readonly_role_reads_and_cannot_write() {
    let db = TestDb::migrated();
    db.add_user("r@example.com");
    let ro = role("reader");
    db.run(["db", "roles", "grant", "--readonly", &ro]).ok();
    assert_eq!(sql_as(&db, &ro, "SELECT count(*) FROM users").unwrap(), "1");
    let err = sql_as(&db, &ro, "DELETE FROM users").unwrap_err();
    assert!(err.contains("permission denied"), "{err}");
    let out = db.run(["db", "roles", "status", "--json"]).expect(0);
    let grants = out.value();
    assert!(
        grants
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["role"] == ro.as_str()
                && g["object"] == "users"
                && g["privileges"] == serde_json::json!(["SELECT"])),
        "{grants}"
    );
    // An unknown role is not found; nothing is granted.
    let _out = db
        .run(["db", "roles", "grant", "--app", "no_such_role_x"])
        .expect(3);
    // One of --app / --readonly is required.
    db.run(["db", "roles", "grant"]).expect(2);
}

#[test]
fn task_commands_work_and_stay_isolated_as_the_app_role() {
    let db = TestDb::migrated();
    db.add_user("alice@example.com");
    db.add_user("bob@example.com");
    let bobs = db.add_task("bob@example.com", "bob's");
    db.run(["db", "rls", "enable"]).ok();
    let app = role("cli");
    db.run(["db", "roles", "grant", "--app", &app]).ok();
    let as_app = || crate::support::todo_cmd(&db.dir).env("DATABASE_URL", as_role(&db, &app));
    let alice = ["--user", "alice@example.com"];
    let out = as_app()
        .args(["task", "add", "Mine", "-q"])
        .args(alice)
        .output();
    expect_code(&out, 0);
    let id = out.stdout().trim().to_string();
    as_app().args(["task", "add", "Also mine"]).args(alice).ok();
    let out = as_app()
        .args(["task", "list", "--json"])
        .args(alice)
        .output();
    expect_code(&out, 0);
    let titles: Vec<String> = out
        .value()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["Also mine", "Mine"]);
    for args in [
        vec!["task", "show", id.as_str()],
        vec!["task", "done", id.as_str()],
        vec!["task", "edit", id.as_str(), "--title", "Mine!"],
        vec!["task", "stats"],
    ] {
        as_app().args(&args).args(alice).ok();
    }
    let out = as_app()
        .args(["task", "stats", "--json"])
        .args(alice)
        .output();
    assert_eq!(
        out.value(),
        serde_json::json!({"total": 2, "pending": 1, "done": 1})
    );
    // Bob's task does not exist for alice, whatever the command.
    let bobs = bobs.to_string();
    for args in [
        vec!["task", "show", bobs.as_str()],
        vec!["task", "rm", bobs.as_str()],
    ] {
        as_app().args(&args).args(alice).expect(3);
    }
    as_app()
        .args(["task", "rm", "--done", "--yes"])
        .args(alice)
        .ok();
    let out = as_app()
        .args(["task", "list", "--json", "--user", "bob@example.com"])
        .output();
    assert_eq!(out.value()[0]["title"], "bob's");
    assert_eq!(
        db.value("SELECT string_agg(title, ',' ORDER BY title) FROM tasks"),
        "Also mine,bob's"
    );
}

#[test]
fn task_commands_work_as_the_app_role_through_a_transaction_pooler() {
    use crate::support::servers::pgbouncer;
    use crate::support::POOLED_APP_ROLE;
    let db = TestDb::migrated();
    db.add_user("alice@example.com");
    db.add_task("alice@example.com", "seen");
    db.add_user("bob@example.com");
    db.add_task("bob@example.com", "hidden");
    db.run(["db", "rls", "enable"]).ok();
    db.run(["db", "roles", "grant", "--app", POOLED_APP_ROLE])
        .ok();
    let url = pgbouncer().url_as(POOLED_APP_ROLE, &db.name);
    let run = |args: &[&str]| {
        crate::support::todo_cmd(&db.dir)
            .args(args)
            .args(["--user", "alice@example.com"])
            .env("DATABASE_URL", &url)
            .expect(0)
    };
    run(&["task", "add", "through the pooler"]);
    let out = run(&["task", "list", "--json"]);
    let mut titles: Vec<String> = out
        .value()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(titles, ["seen", "through the pooler"]);
    let out = run(&["task", "stats", "--json"]);
    assert_eq!(out.value()["total"], 2);
}

/// `db roles grant --create` makes the role (LOGIN, no password) and grants
/// in one transaction; `db roles revoke` takes every privilege back, keeps
/// the role, refuses the owner and a missing role (issue 27).
#[test]
fn roles_are_created_on_request_and_revoked() {
    let db = TestDb::migrated();
    let name = format!("todo_created_{}", std::process::id());
    let admin = server().url("postgres");
    psql(&admin, &format!("DROP ROLE IF EXISTS {name}"));
    let out = db
        .run(["db", "roles", "grant", "--app", &name, "--create", "--json"])
        .expect(0);
    let changed = out.value()["changed"].clone();
    assert_eq!(changed[0], format!("CREATE ROLE {name} LOGIN"), "{changed}");
    assert!(
        out.stderr()
            .contains(&format!("ALTER ROLE {name} PASSWORD")),
        "the note says how to set a password"
    );
    assert_eq!(
        psql(
            &admin,
            &format!(
                "SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = '{name}'"
            )
        )
        .trim(),
        "t|t"
    );
    // The role works at once: it reads tasks.
    assert!(sql_as(&db, &name, "SELECT count(*) FROM tasks").is_ok());
    // Granting again (the role now exists) creates nothing.
    let out = db
        .run(["db", "roles", "grant", "--app", &name, "--create", "--json"])
        .expect(0);
    assert!(!out.value()["changed"][0]
        .as_str()
        .unwrap()
        .starts_with("CREATE ROLE"));

    let out = db.run(["db", "roles", "revoke", &name, "--json"]).expect(0);
    assert_eq!(out.value()["changed"].as_array().unwrap().len(), 2);
    let err = sql_as(&db, &name, "SELECT count(*) FROM tasks").unwrap_err();
    assert!(err.contains("permission denied"), "{err}");
    let status = db.run(["db", "roles", "status", "--json"]).output();
    assert!(
        !status
            .value()
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["role"] == name.as_str()),
        "revoked privileges still listed"
    );
    // The owner is refused; a missing role is not found.
    let owner = db.value("SELECT tableowner FROM pg_tables WHERE tablename = 'tasks'");
    let _out = db.run(["db", "roles", "revoke", &owner]).expect(2);
    let _out = db
        .run(["db", "roles", "revoke", "no_such_role_x"])
        .expect(3);
    psql(&admin, &format!("DROP OWNED BY {name}; DROP ROLE {name}"));
}
