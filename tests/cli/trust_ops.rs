//! SPEC §17 for the admin commands: lock waits bounded and named, the
//! figures and checks that other servers need (issue 24, 4/22 and others).

use crate::support::Outcome;
use crate::support::TestDb;

#[test]
fn admin_commands_behind_a_lock_give_up_naming_the_blocker() {
    let db = TestDb::migrated();
    db.add_user("l@example.com");
    db.add_task("l@example.com", "locked out");
    let _holder = db.hold(
        "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);",
        &db.locked("tasks"),
    );
    let dir = crate::support::TempDir::new("locked");
    let backup = dir.join("b.todo");
    let backup = backup.to_str().unwrap();
    for args in [
        vec!["db", "stats"],
        vec!["db", "backup", "-o", backup],
        vec!["db", "purge", "--done-before", "1d", "--dry-run"],
        vec!["db", "purge", "--done-before", "1d", "--yes"],
        vec!["db", "rls", "enable"],
    ] {
        let out = db.cmd().args(&args).args(["--lock-timeout", "1"]).expect(5);
        let err = out.stderr();
        assert!(
            err.contains("gave up waiting for a lock held by another session: pid "),
            "{args:?}: {err}"
        );
        assert!(err.contains("LOCK TABLE tasks"), "{args:?}: {err}");
    }
    assert!(!std::path::Path::new(backup).exists());

    // Health says which check it could not make, and still makes the rest.
    let out = db
        .run(["db", "health", "--json", "--lock-timeout", "1"])
        .expect(7);
    let report = out.value();
    let checks = report["checks"].as_array().unwrap();
    let schema = checks
        .iter()
        .find(|c| c["name"] == "schema")
        .unwrap_or_else(|| panic!("no schema check: {report}"));
    assert_eq!(schema["status"], "fail");
    assert!(
        schema["detail"].as_str().unwrap().contains("pid "),
        "{schema}"
    );
    for name in ["connections", "vacuum", "deadlocks", "tasks_id_seq"] {
        let check = checks.iter().find(|c| c["name"] == name);
        assert_eq!(check.unwrap()["status"], "ok", "{name}: {report}");
    }
}

#[test]
fn health_counts_the_connections_ordinary_roles_can_use() {
    let db = TestDb::migrated();
    let out = db.run(["db", "health", "--format", "plain"]).output();
    let text = out.stdout();
    let line = text
        .lines()
        .find(|l| l.starts_with("connections\t"))
        .unwrap();
    let max: i64 = db.value("SHOW max_connections").parse().unwrap();
    let reserved: i64 = db
        .value(
            "SELECT current_setting('superuser_reserved_connections')::int
                    + coalesce(current_setting('reserved_connections', true)::int, 0)",
        )
        .parse()
        .unwrap();
    assert!(
        line.contains(&format!(" of {} usable connections", max - reserved)),
        "{line}"
    );
}

#[test]
fn a_purge_cut_off_in_the_future_is_warned_about() {
    let db = TestDb::migrated();
    db.add_user("f@example.com");
    let out = db
        .run(["db", "purge", "--done-before", "2999-01-01", "--dry-run"])
        .expect(0);
    assert!(
        out.stderr()
            .contains("--done-before 2999-01-01 00:00:00 UTC is in the future"),
        "{}",
        out.stderr()
    );
    let out = db
        .run(["db", "purge", "--done-before", "30d", "--dry-run"])
        .output();
    assert!(!out.stderr().contains("future"));
}
