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
