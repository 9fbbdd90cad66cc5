//! SPEC §17 under row-level security: nothing a role subject to it runs may
//! lie (a backup or export missing rows, a count of 0 that is not), and the
//! app role may not reach other users through `users` (issue 24, 2/5/6/17).

use crate::rls::{as_role, role, sql_as};
use crate::support::Outcome;
use crate::support::{expect_code, todo_cmd, TempDir, TestDb};

/// A database with two users and tasks, RLS enabled, and `role` granted
/// (`--app` or `--readonly`).
fn secured(grant: &str, tag: &str) -> (TestDb, String, String, String) {
    let db = TestDb::migrated();
    let alice = db.add_user("alice@example.com");
    let bob = db.add_user("bob@example.com");
    for t in ["a1", "a2"] {
        db.add_task("alice@example.com", t);
    }
    // Bob's one task, done long ago (inserted: the trigger sets
    // updated_at on UPDATE).
    db.psql(&format!(
        "INSERT INTO tasks (title, completed, user_id, updated_at)
         VALUES ('b1', true, '{bob}', '2020-01-01')"
    ));
    let role = role(tag);
    db.run(["db", "roles", "grant", grant, &role]).ok();
    db.run(["db", "rls", "enable"]).ok();
    (db, role, alice, bob)
}

fn todo_as(db: &TestDb, role: &str, dir: &TempDir) -> crate::support::Run {
    todo_cmd(dir).env("DATABASE_URL", as_role(db, role))
}

#[test]
fn backup_and_export_refuse_when_row_level_security_hides_rows() {
    let (db, ro, _, _) = secured("--readonly", "ro_backup");
    let dir = TempDir::new("rls-backup");
    let file = dir.join("ro.todo");
    let out = todo_as(&db, &ro, &dir)
        .args(["db", "backup", "-o"])
        .arg(&file)
        .output();
    expect_code(&out, 2);
    let err = out.stderr();
    assert!(
        err.contains("row-level security applies to this role on users and tasks"),
        "{err}"
    );
    assert!(err.contains("BYPASSRLS"), "{err}");
    assert!(!file.exists(), "no backup file is left");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file either"
    );

    let out = todo_as(&db, &ro, &dir)
        .args(["user", "export", "alice@example.com", "--json"])
        .output();
    expect_code(&out, 2);
    assert!(out.stdout().is_empty());
    assert!(out.stderr().contains("cannot export the user completely"));

    // A role that bypasses it backs up everything.
    db.psql(&format!("ALTER ROLE {ro} BYPASSRLS"));
    let out = todo_as(&db, &ro, &dir)
        .args(["db", "backup", "--json", "-o"])
        .arg(&file)
        .output();
    db.psql(&format!("ALTER ROLE {ro} NOBYPASSRLS"));
    expect_code(&out, 0);
    assert_eq!(out.value()["tasks"], 3);
}

#[test]
fn counts_hidden_by_row_level_security_are_null_not_zero() {
    let (db, ro, _, _) = secured("--readonly", "ro_counts");
    let dir = TempDir::new("rls-counts");
    let out = todo_as(&db, &ro, &dir)
        .args(["user", "list", "--json"])
        .output();
    expect_code(&out, 0);
    let users = out.value();
    assert_eq!(users.as_array().unwrap().len(), 2);
    for u in users.as_array().unwrap() {
        assert_eq!(
            u["tasks"],
            serde_json::json!({"total": null, "pending": null, "done": null}),
            "{u}"
        );
    }
    assert!(out.stderr().contains("row-level security hides"));
    // Plain output: empty fields, not 0.
    let out = todo_as(&db, &ro, &dir)
        .args(["user", "list", "--format", "plain"])
        .output();
    let text = out.stdout();
    assert!(
        text.lines().all(|l| l.ends_with("\t\t\t")),
        "counts are empty fields: {text:?}"
    );

    // One user: counted again in that user's scope, true figures.
    let out = todo_as(&db, &ro, &dir)
        .args(["user", "show", "alice@example.com", "--json"])
        .output();
    expect_code(&out, 0);
    assert_eq!(
        out.value()["tasks"],
        serde_json::json!({"total": 2, "pending": 2, "done": 0})
    );

    // The owner sees true figures everywhere.
    let out = db.run(["user", "list", "--json"]).output();
    assert_eq!(out.value()[0]["tasks"]["total"], 2);
    assert!(!out.stderr().contains("row-level security"));
}

#[test]
fn purge_under_row_level_security_reports_no_false_zero() {
    let (db, app, _, _) = secured("--app", "app_purge");
    let dir = TempDir::new("rls-purge");
    let out = todo_as(&db, &app, &dir)
        .args(["db", "purge", "--done-before", "30d", "--dry-run", "--json"])
        .output();
    expect_code(&out, 0);
    assert_eq!(out.value()["deleted"], serde_json::Value::Null);
    assert!(
        out.stderr().contains("row-level security"),
        "{}",
        out.stderr()
    );
    // Deleting cannot do its whole job: refused, nothing deleted.
    let out = todo_as(&db, &app, &dir)
        .args(["db", "purge", "--done-before", "30d", "--yes"])
        .output();
    expect_code(&out, 2);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "3");
    // For one user, the tool works in that user's scope: true figures.
    let out = todo_as(&db, &app, &dir)
        .args([
            "db",
            "purge",
            "--done-before",
            "30d",
            "--user",
            "bob@example.com",
            "--dry-run",
            "--json",
        ])
        .output();
    expect_code(&out, 0);
    assert_eq!(out.value()["deleted"], 1);
}

/// `db seed --clean` as a role row-level security applies to: refused
/// before deleting, never a count of 0 over rows it could not see.
#[test]
fn seed_clean_under_row_level_security_is_refused_not_a_false_zero() {
    let (db, app, _, _) = secured("--app", "app_clean");
    db.run(["db", "seed", "--users", "2", "--tasks-per-user", "3", "-q"])
        .ok();
    let dir = TempDir::new("rls-clean");
    let out = todo_as(&db, &app, &dir)
        .args(["db", "seed", "--clean"])
        .output();
    expect_code(&out, 2);
    assert_eq!(out.stdout(), "");
    assert_eq!(
        out.stderr(),
        "error: cannot remove the seed data completely: row-level security applies to this \
         role on users and tasks (rows may be hidden)\n\
         hint: connect as the tables' owner or a role with BYPASSRLS (ALTER ROLE name BYPASSRLS)\n"
    );
    assert_eq!(
        db.value("SELECT count(*) FROM users WHERE email LIKE '%@seed.example'"),
        "2"
    );
    // The owner removes them, with true counts.
    let out = db.run(["db", "seed", "--clean", "--json"]).expect(0);
    assert_eq!(out.value()["users_deleted"], 2);
    assert_eq!(out.value()["tasks_deleted"], 6);
}

#[test]
fn the_app_role_cannot_delete_or_take_over_another_user_through_users() {
    let (db, app, alice, bob) = secured("--app", "app_users");
    let set = format!("SET app.user_id = '{alice}';");
    // The cascade would run as the owner: the policy on users stops it.
    assert_eq!(
        sql_as(
            &db,
            &app,
            &format!("{set} DELETE FROM users WHERE id = '{bob}' RETURNING 1")
        )
        .unwrap(),
        ""
    );
    assert_eq!(
        sql_as(
            &db,
            &app,
            &format!(
                "{set} UPDATE users SET email = 'evil@example.com' WHERE id = '{bob}' RETURNING 1"
            )
        )
        .unwrap(),
        ""
    );
    assert_eq!(
        db.value(&format!(
            "SELECT email || ' ' || (SELECT count(*) FROM tasks WHERE user_id = '{bob}') FROM users WHERE id = '{bob}'"
        )),
        "bob@example.com 1"
    );
    // Reading and signing up still work; a user may change their own row.
    assert_eq!(
        sql_as(&db, &app, "SELECT count(*) FROM users").unwrap(),
        "2"
    );
    sql_as(
        &db,
        &app,
        "INSERT INTO users (id, email) VALUES ('carol', 'carol@example.com')",
    )
    .unwrap();
    assert_eq!(
        sql_as(
            &db,
            &app,
            &format!("{set} UPDATE users SET name = 'Alice' WHERE id = '{alice}' RETURNING 1")
        )
        .unwrap(),
        "1"
    );
    // The tool's own user commands still work as the app role.
    let dir = TempDir::new("rls-users");
    let out = todo_as(&db, &app, &dir)
        .args(["user", "rm", "bob@example.com", "--yes", "--json"])
        .output();
    expect_code(&out, 0);
    assert_eq!(out.value()["tasks_deleted"], 1);
    assert_eq!(db.value("SELECT count(*) FROM users"), "2");

    // Status shows both tables; disable removes everything enable made.
    let out = db.run(["db", "rls", "status", "--json"]).output();
    let status = out.value();
    assert_eq!(status["users_enabled"], true);
    assert_eq!(status["policies"].as_array().unwrap().len(), 5);
    db.run(["db", "rls", "disable"]).ok();
    assert_eq!(db.value("SELECT count(*) FROM pg_policies"), "0");
    assert_eq!(
        db.value(
            "SELECT bool_or(relrowsecurity) FROM pg_class WHERE relname IN ('users', 'tasks')"
        ),
        "f"
    );
}

#[test]
fn granting_the_app_role_to_a_role_that_bypasses_row_level_security_is_refused() {
    let db = TestDb::migrated();
    let out = db
        .run(["db", "roles", "grant", "--app", "postgres"])
        .expect(2);
    assert!(out.stderr().contains("is a superuser"), "{}", out.stderr());
    let bypass = role("bypass");
    db.psql(&format!("ALTER ROLE {bypass} BYPASSRLS"));
    let out = db.run(["db", "roles", "grant", "--app", &bypass]).expect(2);
    assert!(out.stderr().contains("BYPASSRLS"));
    db.run(["db", "roles", "grant", "--app", &bypass, "--force"])
        .ok();
    // --readonly is not about row-level security: no refusal.
    db.run(["db", "roles", "grant", "--readonly", &bypass]).ok();
    // A missing role's hint is valid SQL: the name quoted as an identifier.
    let out = db
        .run(["db", "roles", "grant", "--app", "bad\"role"])
        .expect(3);
    assert!(
        out.stderr().contains("CREATE ROLE \"bad\"\"role\" LOGIN"),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_refused_permission_is_exit_8_and_a_read_only_session_exit_5() {
    let db = TestDb::migrated();
    db.add_user("p@example.com");
    let reader = role("perm_ro");
    db.run(["db", "roles", "grant", "--readonly", &reader]).ok();
    let dir = TempDir::new("perm");
    let out = todo_as(&db, &reader, &dir)
        .args(["task", "add", "nope", "--user", "p@example.com", "--json"])
        .output();
    expect_code(&out, 8);
    let err: serde_json::Value = serde_json::from_str(&out.stderr()).unwrap();
    assert_eq!(err["error"]["kind"], "forbidden");
    assert_eq!(err["error"]["code"], 8);
    assert!(err["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("todo db roles grant"));

    // A session that may not write at all (a replica, or read-only by
    // default): exit 5, kind read_only.
    let app = role("perm_app");
    db.run(["db", "roles", "grant", "--app", &app]).ok();
    db.psql(&format!(
        "ALTER ROLE {app} IN DATABASE {} SET default_transaction_read_only = on",
        db.name
    ));
    let out = todo_as(&db, &app, &dir)
        .args(["task", "add", "nope", "--user", "p@example.com", "--json"])
        .output();
    expect_code(&out, 5);
    let err: serde_json::Value = serde_json::from_str(&out.stderr()).unwrap();
    assert_eq!(err["error"]["kind"], "read_only");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

/// Role names come from the catalog and may hold terminal escapes: the
/// tables of `db roles status` and `db rls status` show them escaped, as
/// every other table does (issue 43).
#[test]
fn role_names_with_terminal_escapes_are_shown_escaped() {
    let db = TestDb::migrated();
    let name = format!("evil\u{1b}[31m_{}", std::process::id());
    db.psql(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
             CREATE ROLE \"{name}\" LOGIN BYPASSRLS;
           END IF; END $$;
         GRANT SELECT ON tasks TO \"{name}\""
    ));
    let shown = name.replace('\u{1b}', "\\x1b");
    for args in [["db", "roles", "status"], ["db", "rls", "status"]] {
        let out = db.run(args).arg("--format").arg("table").expect(0);
        let text = out.stdout();
        assert!(!text.contains('\u{1b}'), "{args:?}: {text:?}");
        assert!(text.contains(&shown), "{args:?}: {text}");
    }
    db.psql(&format!(
        "REVOKE ALL ON tasks FROM \"{name}\"; DROP ROLE \"{name}\""
    ));
}

/// Role names the server would refuse or cut are bad input, refused before
/// anything is sent (issue 43).
#[test]
fn role_names_the_server_would_refuse_or_cut_are_exit_2() {
    let db = TestDb::migrated();
    let long = "r".repeat(70);
    for (role, why) in [
        ("", "it is empty"),
        (
            "pg_evil",
            "names starting with pg_ are reserved for the server's own roles",
        ),
        (
            long.as_str(),
            "it is longer than 63 bytes, where PostgreSQL would cut it",
        ),
    ] {
        let out = db
            .run(["db", "roles", "grant", "--readonly", role, "--create"])
            .output();
        expect_code(&out, 2);
        assert_eq!(
            out.stderr(),
            format!("error: invalid role name {role:?}: {why}\n")
        );
    }
    assert_eq!(
        db.value("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'rrrr%' OR rolname = 'pg_evil'"),
        "0"
    );
}

/// Where no grant can help, the hint says what can (issue 43): row-level
/// security is the owner's to change, creating a role takes CREATEROLE.
#[test]
fn refusals_a_grant_cannot_fix_say_what_can() {
    let db = TestDb::migrated();
    db.run(["db", "rls", "enable"]).ok();
    let other = role("not_owner");
    let dir = TempDir::new("not-owner");
    let out = todo_as(&db, &other, &dir)
        .args(["db", "rls", "disable"])
        .output();
    expect_code(&out, 8);
    assert!(
        out.stderr().ends_with(
            "hint: only the owner of users and tasks (or a superuser) can change row-level \
             security: run this as the owner\n"
        ),
        "{}",
        out.stderr()
    );
    let out = todo_as(&db, &other, &dir)
        .args([
            "db",
            "roles",
            "grant",
            "--app",
            "brand_new_role",
            "--create",
        ])
        .output();
    expect_code(&out, 8);
    assert!(
        out.stderr()
            .contains("hint: creating a role takes CREATEROLE"),
        "{}",
        out.stderr()
    );
}

/// Loading with COPY as a role row-level security applies to is refused by
/// the server; the hint says what can help, not a grant (issue 43).
#[test]
fn copy_loads_under_row_level_security_say_what_can_help() {
    let (db, app, _, _) = secured("--app", "app_copy");
    let dir = TempDir::new("rls-copy");
    let out = todo_as(&db, &app, &dir)
        .args(["db", "seed", "--users", "1", "--tasks-per-user", "2"])
        .output();
    expect_code(&out, 8);
    assert_eq!(
        out.stderr(),
        "error: the database refused: COPY FROM not supported with row-level security\n\
         hint: row-level security applies to this role on users and tasks, and loading rows \
         with COPY is not allowed under it: run this as the tables' owner or a role with \
         BYPASSRLS\n"
    );
}

/// Granting the app's rights to the role you are connected as (a
/// superuser): the hint does not advise demoting yourself (issue 43).
#[test]
fn the_app_role_refusal_never_advises_demoting_yourself() {
    let db = TestDb::migrated();
    let me = db.value("SELECT current_user");
    let out = db.run(["db", "roles", "grant", "--app", &me]).output();
    expect_code(&out, 2);
    assert_eq!(
        out.stderr(),
        format!(
            "error: role {me} is a superuser: row-level security would not apply to the web app\n\
             hint: {me} is the role you are connected as: give the web app a role of its own \
             (todo db roles grant --app APP_ROLE --create), or pass --force\n"
        )
    );
}
