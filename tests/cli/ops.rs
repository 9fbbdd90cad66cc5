//! Operations (SPEC §12): `db wait`, `db purge`.

use std::time::{Duration, Instant};

use crate::support::{expect_code, json, server, stderr, todo_cmd, TempDir, TestDb};

#[test]
fn wait_succeeds_when_the_server_comes_late_and_gives_up_when_none_does() {
    let dir = TempDir::new("wait");
    // A socket directory where the server's socket appears 1.5 s later.
    let late = TempDir::new("wait-socket");
    let real = server()
        .socket_dir
        .clone()
        .expect("the private server")
        .join(".s.PGSQL.5432");
    let link = late.join(".s.PGSQL.5432");
    let appear = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        std::os::unix::fs::symlink(real, link).unwrap();
    });
    let url = format!("postgresql://postgres@/postgres?host={}", late.display());
    let started = Instant::now();
    let out = todo_cmd(&dir)
        .args(["db", "wait", "--timeout", "20", "--json"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    expect_code(&out, 0);
    appear.join().unwrap();
    assert_eq!(json(&out)["ready"], true);
    assert!(started.elapsed() >= Duration::from_millis(1400));

    let started = Instant::now();
    let out = todo_cmd(&dir)
        .args(["db", "wait", "--timeout", "2"])
        .env("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    expect_code(&out, 5);
    assert!(
        stderr(&out).contains("gave up after 2 s"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn wait_migrated_waits_for_pending_migrations() {
    let db = TestDb::empty();
    let out = db
        .cmd()
        .args(["db", "wait", "--timeout", "1", "--migrated"])
        .output()
        .unwrap();
    expect_code(&out, 6);
    db.cmd().args(["db", "migrate", "-q"]).assert().success();
    let out = db
        .cmd()
        .args(["db", "wait", "--timeout", "5", "--migrated", "--json"])
        .output()
        .unwrap();
    expect_code(&out, 0);
}

/// Checks the Prometheus text exposition format line by line: comments
/// (`# HELP`, `# TYPE`) and samples `name{label="value",…} number`.
fn assert_prometheus(text: &str) -> usize {
    let mut samples = 0;
    for line in text.lines() {
        if line.starts_with("# HELP todo_") || line.starts_with("# TYPE todo_") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("value of {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("todo_"), "{line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split(',') {
                    let (k, v) = pair.split_once('=').expect(line);
                    assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    assert!(v.starts_with('"') && v.ends_with('"'), "{line}");
                }
            }
        }
        samples += 1;
    }
    samples
}

#[test]
fn stats_report_sizes_scans_and_the_slowest_statements() {
    let db = TestDb::migrated();
    db.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    db.add_user("s@example.com");
    db.add_task("s@example.com", "one");
    let out = db.cmd().args(["db", "stats", "--json"]).output().unwrap();
    expect_code(&out, 0);
    let v = json(&out);
    assert_eq!(v["database"]["name"], db.name.as_str());
    let tables: Vec<&str> = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["tasks", "users"]);
    assert!(v["tables"][0]["bytes"].as_i64().unwrap() > 0);
    assert!(v["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["name"] == "idx_tasks_user_created"));
    let statements = v["statements"]
        .as_array()
        .expect("pg_stat_statements is loaded");
    assert!(!statements.is_empty(), "{v}");
    assert!(statements[0]["mean_ms"].as_f64().is_some());

    let out = db
        .cmd()
        .args(["db", "stats", "--format", "prometheus"])
        .output()
        .unwrap();
    expect_code(&out, 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(assert_prometheus(&text) >= 10, "{text}");
    assert!(
        text.contains("todo_table_live_rows{table=\"tasks\"}"),
        "{text}"
    );
}

#[test]
fn health_in_prometheus_format_and_other_commands_refuse_it() {
    let db = TestDb::migrated();
    let out = db
        .cmd()
        .args(["db", "health", "--format", "prometheus"])
        .output()
        .unwrap();
    expect_code(&out, 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(assert_prometheus(&text) >= 10, "{text}");
    assert!(
        text.contains("todo_health_check_status{check=\"schema\"} 0"),
        "{text}"
    );
    assert!(text.contains("todo_health_status 0"), "{text}");

    let out = db
        .cmd()
        .args([
            "task",
            "add",
            "x",
            "--user",
            "a@example.com",
            "--format",
            "prometheus",
        ])
        .output()
        .unwrap();
    expect_code(&out, 2);
    assert!(stderr(&out).contains("only for db health and db stats"));
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}
