//! The embedded local database (SPEC §3): each test uses a fresh home of
//! its own, as a first-time user would.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::{json, psql, stderr, stdout, todo_cmd};

/// A fresh `TODO_HOME`; the cluster in it is stopped and removed at the end.
struct Home {
    path: PathBuf,
}

impl Home {
    fn new(tag: &str) -> Home {
        let path = PathBuf::from(format!("/tmp/todo-lt-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Home { path }
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = todo_cmd(&std::env::temp_dir());
        cmd.env("TODO_HOME", &self.path);
        cmd
    }

    fn url(&self) -> String {
        stdout(&self.cmd().args(["db", "local", "url"]).output().unwrap())
            .trim()
            .to_string()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = self.cmd().args(["db", "local", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[test]
fn a_fresh_home_works_at_once_with_local() {
    let home = Home::new("fresh");
    let out = home
        .cmd()
        .args(["--local", "user", "add", "me@example.com", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("creating the local database"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stderr(&out).lines().count(),
        1,
        "one notice: {}",
        stderr(&out)
    );

    let out = home
        .cmd()
        .args(["task", "add", "Try todo", "--user", "me@example.com", "-q"])
        .env("TODO_LOCAL", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no notice once it runs");
    let out = home
        .cmd()
        .args([
            "--local",
            "task",
            "list",
            "--user",
            "me@example.com",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(json(&out)[0]["title"], "Try todo");

    let out = home
        .cmd()
        .args(["db", "local", "status", "--json"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["state"], "running");
    assert_eq!(v["home"], home.path.to_str().unwrap());
    // The URL is one psql accepts, and the cluster is migrated and UTF-8
    // with characters counted as characters.
    let url = home.url();
    assert_eq!(
        psql(&url, "SELECT count(*) FROM __diesel_schema_migrations"),
        "3"
    );
    assert_eq!(psql(&url, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"), "UTF8");
    assert_eq!(psql(&url, "SELECT char_length('🦀🦀')"), "2");
}

#[test]
fn stop_then_any_command_starts_it_again() {
    let home = Home::new("restart");
    home.cmd()
        .args(["db", "local", "start", "-q"])
        .assert()
        .success();
    let out = home
        .cmd()
        .args(["db", "local", "stop", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&out)["state"], "stopped");
    let out = home
        .cmd()
        .args(["--local", "user", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("starting the local database"),
        "{}",
        stderr(&out)
    );
    let out = home.cmd().args(["db", "local", "status"]).output().unwrap();
    assert!(stdout(&out).starts_with("running\t"), "{}", stdout(&out));
}

#[test]
fn two_commands_racing_on_a_fresh_home_both_succeed() {
    let home = Home::new("race");
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let children: Vec<_> = ["a@example.com", "b@example.com"]
        .iter()
        .map(|email| {
            Command::new(&bin)
                .args(["--local", "user", "add", email, "-q"])
                .env("TODO_HOME", &home.path)
                .env("CI", "true")
                .env_remove("DATABASE_URL")
                .env_remove("TODO_DATABASE_URL")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut notices = String::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        notices.push_str(&stderr(&out));
    }
    assert_eq!(
        notices.matches("creating the local database").count(),
        1,
        "{notices}"
    );
    assert_eq!(psql(&home.url(), "SELECT count(*) FROM users"), "2");
}

#[test]
fn only_its_owner_can_reach_the_socket() {
    let home = Home::new("private");
    home.cmd()
        .args(["db", "local", "start", "-q"])
        .assert()
        .success();
    let url = home.url();
    assert_eq!(psql(&url, "SHOW unix_socket_permissions"), "0700");
    assert_eq!(psql(&url, "SHOW listen_addresses"), "");
    let socket_dir = home.path.join("run");
    let mode = std::fs::metadata(&socket_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    if todo::db::local::is_root() {
        // Another OS user is refused by the file system.
        let out = Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(crate::support::psql_path())
            .args(["-X", "-d", &url, "-c", "SELECT 1"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("Permission denied"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn missing_server_binaries_name_what_to_install() {
    let home = Home::new("nobin");
    let empty = std::env::temp_dir();
    let out = home
        .cmd()
        .args(["--local", "task", "list", "--user", "a@example.com"])
        .env("PATH", "/nonexistent")
        .env("TODO_PG_BINDIR", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = stderr(&out);
    assert!(err.contains("PostgreSQL server binaries"), "{err}");
    assert!(err.contains("apt-get install postgresql"), "{err}");
    assert!(err.contains("DATABASE_URL"), "{err}");
}
