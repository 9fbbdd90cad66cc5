//! The embedded local database (SPEC §3): each test uses a fresh home of
//! its own, as a first-time user would.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::Outcome;
use crate::support::{expect_code, psql, todo_process, LocalHome};

#[test]
fn a_fresh_home_works_at_once_with_local() {
    let home = LocalHome::new("fresh");
    let out = home
        .run(["--local", "user", "add", "me@example.com", "-q"])
        .expect(0);
    assert!(
        out.stderr().contains("creating the local database"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        out.stderr().lines().count(),
        1,
        "one notice: {}",
        out.stderr()
    );

    let out = home
        .cmd()
        .args(["task", "add", "Try todo", "--user", "me@example.com", "-q"])
        .env("TODO_LOCAL", "1")
        .expect(0);
    assert_eq!(out.stderr(), "", "no notice once it runs");
    let out = home
        .run([
            "--local",
            "task",
            "list",
            "--user",
            "me@example.com",
            "--json",
        ])
        .output();
    assert_eq!(out.value()[0]["title"], "Try todo");

    let out = home.run(["db", "local", "status", "--json"]).output();
    let v = out.value();
    assert_eq!(v["state"], "running");
    assert_eq!(v["home"], home.path.to_str().unwrap());
    // It says which server runs it: the binaries of this run's version
    // (`scripts/test --pg 14` runs it on 14), the same psql sees.
    let version = v["version"].as_str().expect("a version");
    let major = crate::support::server_major().to_string();
    assert_eq!(version.split('.').next(), Some(major.as_str()), "{v}");
    let bindir = std::path::Path::new(v["bindir"].as_str().expect("a bindir"));
    assert!(bindir.join("postgres").is_file(), "{v}");
    let text = home
        .run(["db", "local", "status", "--format", "table"])
        .ok();
    text.stdout_has(&format!("server: PostgreSQL {version} ("));
    // The URL is one psql accepts, and the cluster is migrated and UTF-8
    // with characters counted as characters.
    let url = home.url();
    assert_eq!(
        psql(&url, "SELECT count(*) FROM __diesel_schema_migrations"),
        "5"
    );
    assert_eq!(psql(&url, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"), "UTF8");
    assert_eq!(psql(&url, "SELECT char_length('🦀🦀')"), "2");
    // PL/pgSQL (the updated_at trigger) is loaded by the server, not by
    // each session.
    assert_eq!(psql(&url, "SHOW shared_preload_libraries"), "plpgsql");
}

#[test]
fn stop_then_any_command_starts_it_again() {
    let home = LocalHome::new("restart");
    home.ok(&["db", "local", "start", "-q"]);
    let out = home.run(["db", "local", "stop", "--json"]).output();
    assert_eq!(out.value()["state"], "stopped");
    // `status` says it in its exit code too, as `pg_ctl status` does.
    let out = home.run(["db", "local", "status"]).expect(3);
    assert!(out.stdout().starts_with("stopped\t"), "{}", out.stdout());
    let out = home.run(["--local", "user", "list", "--json"]).expect(0);
    assert!(
        out.stderr().contains("starting the local database"),
        "{}",
        out.stderr()
    );
    let out = home.run(["db", "local", "status"]).output();
    assert!(out.stdout().starts_with("running\t"), "{}", out.stdout());
}

#[test]
fn two_commands_racing_on_a_fresh_home_both_succeed() {
    let home = LocalHome::new("race");
    let children: Vec<_> = ["a@example.com", "b@example.com"]
        .iter()
        .map(|email| {
            todo_process(&std::env::temp_dir())
                .args(["--local", "user", "add", email, "-q"])
                .env("TODO_HOME", &home.path)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut notices = String::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        expect_code(&out, 0);
        notices.push_str(&out.stderr());
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
    let home = LocalHome::new("private");
    home.ok(&["db", "local", "start", "-q"]);
    let url = home.url();
    assert_eq!(psql(&url, "SHOW unix_socket_permissions"), "0700");
    assert_eq!(psql(&url, "SHOW listen_addresses"), "");
    let socket_dir = home.path.join("run");
    let mode = std::fs::metadata(&socket_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    if todo::local::is_root() {
        // Another OS user is refused by the file system.
        let out = Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(crate::support::psql_path())
            .args(["-X", "-d", &url, "-c", "SELECT 1"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            out.stderr().contains("Permission denied"),
            "{}",
            out.stderr()
        );
    }
}

#[test]
fn missing_server_binaries_name_what_to_install() {
    let home = LocalHome::new("nobin");
    let empty = std::env::temp_dir();
    let out = home
        .cmd()
        .args(["--local", "task", "list", "--user", "a@example.com"])
        .env("PATH", "/nonexistent")
        .env("TODO_PG_BINDIR", &empty)
        .expect(5);
    let err = out.stderr();
    assert!(err.contains("PostgreSQL server binaries"), "{err}");
    assert!(err.contains("apt-get install postgresql"), "{err}");
    assert!(err.contains("DATABASE_URL"), "{err}");
}

/// Lines of `SHOW` for the safety settings of a running local cluster.
fn safety(url: &str) -> (String, String) {
    (
        psql(url, "SHOW listen_addresses"),
        psql(url, "SHOW unix_socket_permissions"),
    )
}

#[test]
fn a_first_use_killed_during_initdb_never_leaves_a_tcp_superuser() {
    let home = LocalHome::new("killed");
    let mut child = todo_process(&std::env::temp_dir())
        .args(["--local", "user", "add", "t@example.com", "-q"])
        .env("TODO_HOME", &home.path)
        .spawn()
        .unwrap();
    // Kill the command (only it: initdb goes on as an orphan) while initdb
    // is building the cluster.
    let building = || {
        std::fs::read_dir(&home.path).ok().is_some_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("data.new-"))
        })
    };
    let mut seen = false;
    for _ in 0..2000 {
        if building() {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen, "initdb never started in a build directory");
    assert!(
        !home.path.join("data").exists(),
        "a half-made cluster is under the name that gets started"
    );

    home.ok(&["--local", "user", "add", "t@example.com", "-q"]);
    assert_eq!(safety(&home.url()), (String::new(), "0700".to_string()));
}

#[test]
fn every_start_passes_the_safety_settings_whatever_the_config_says() {
    let home = LocalHome::new("conf");
    home.ok(&["db", "local", "start", "-q"]);
    home.ok(&["db", "local", "stop", "-q"]);
    // As a half-configured or tampered cluster would have it.
    let conf = home.path.join("data/postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("listen_addresses = '127.0.0.1'\nunix_socket_permissions = 0777\n");
    std::fs::write(&conf, text).unwrap();
    home.ok(&["--local", "user", "list"]);
    assert_eq!(safety(&home.url()), (String::new(), "0700".to_string()));
}

#[test]
fn a_stale_postmaster_pid_is_detected_and_the_server_started() {
    let home = LocalHome::new("stale");
    home.ok(&["db", "local", "start", "-q"]);
    let pid_file = home.path.join("data/postmaster.pid");
    let text = std::fs::read_to_string(&pid_file).unwrap();
    let pid = text.lines().next().unwrap().to_string();
    // The server dies hard (OOM killer, power loss) ...
    Command::new("kill").args(["-9", &pid]).status().unwrap();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // ... and its pid now belongs to another program of the same user.
    let mut other = if todo::local::is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--", "sleep", "60"])
            .spawn()
            .unwrap()
    } else {
        Command::new("sleep").arg("60").spawn().unwrap()
    };
    let other_pid = if todo::local::is_root() {
        // runuser forks: the sleep is its child.
        let mut found = None;
        for _ in 0..200 {
            let out = Command::new("pgrep")
                .args(["-P", &other.id().to_string(), "sleep"])
                .output()
                .unwrap();
            if let Some(p) = out.stdout().lines().next() {
                found = Some(p.to_string());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        found.unwrap_or_else(|| other.id().to_string())
    } else {
        other.id().to_string()
    };
    let stale = text.replacen(&pid, &other_pid, 1);
    std::fs::write(&pid_file, stale).unwrap();

    let out = home.run(["db", "local", "status", "--json"]).output();
    assert_eq!(out.value()["state"], "stopped", "{}", out.stdout());
    let out = home.run(["--local", "user", "list", "--json"]).expect(0);
    assert!(out.stderr().contains("starting the local database"));
    let out = home.run(["db", "local", "status", "--json"]).output();
    assert_eq!(out.value()["state"], "running");
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn a_home_or_socket_directory_others_control_is_refused() {
    // World-writable home.
    let home = LocalHome::new("open");
    std::fs::create_dir_all(&home.path).unwrap();
    std::fs::set_permissions(&home.path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = home.run(["--local", "user", "list"]).expect(5);
    assert!(out.stderr().contains("refusing to use"), "{}", out.stderr());
    assert!(out.stderr().contains("mode 777"), "{}", out.stderr());
    assert!(!home.path.join("data").exists());

    // The /tmp socket directory of a long home, made first by someone else.
    let long = LocalHome::new(&"l".repeat(90));
    let socket_dir = todo::local::Cluster::new(&long.path).socket_dir();
    assert!(socket_dir.to_string_lossy().starts_with("/tmp/todo-"));
    let _ = std::fs::remove_dir_all(&socket_dir);
    std::fs::create_dir(&socket_dir).unwrap();
    std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = long.run(["--local", "user", "list"]).expect(5);
    assert!(
        out.stderr().contains(&socket_dir.display().to_string()),
        "{}",
        out.stderr()
    );

    // A home that belongs to another user (needs root to arrange).
    if todo::local::is_root() {
        std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let status = Command::new("chown")
            .args(["nobody"])
            .arg(&socket_dir)
            .status()
            .unwrap();
        assert!(status.success());
        let out = long.run(["--local", "user", "list"]).expect(5);
        assert!(
            out.stderr().contains("belongs to another user"),
            "{}",
            out.stderr()
        );
    }
    let _ = std::fs::remove_dir_all(&socket_dir);
}

#[test]
fn a_home_with_quotes_dollars_and_backslashes_works_and_runs_nothing() {
    let base = LocalHome::new("odd");
    let path = base.path.join("it's $(id>pwned) a\\b");
    let home = LocalHome { path: path.clone() };
    let _out = home
        .run(["--local", "user", "add", "odd@example.com", "-q"])
        .expect(0);
    let out = home.run(["--local", "user", "list", "--json"]).output();
    assert_eq!(out.value()[0]["email"], "odd@example.com");
    let found = Command::new("find")
        .arg(&base.path)
        .args(["-name", "pwned"])
        .output()
        .unwrap();
    assert_eq!(found.stdout(), "", "a shell ran part of TODO_HOME");
    drop(home);
}

/// A relative TODO_HOME is taken from the current directory: the status
/// names the absolute path, and the URL's socket directory is absolute
/// (libpq takes `rel/run` for a host name).
#[test]
fn a_relative_home_is_taken_from_the_current_directory() {
    let dir = crate::support::TempDir::new("relhome");
    let out = crate::support::todo_cmd(&dir)
        .args(["db", "local", "status"])
        .env("TODO_HOME", "rel")
        .expect(3);
    let home = dir.join("rel").display().to_string();
    let stdout = out.stdout();
    let fields: Vec<&str> = stdout.trim_end().split('\t').collect();
    assert_eq!(
        fields[..2],
        ["not created", home.as_str()],
        "{}",
        out.stdout()
    );
    let socket_dir = format!("host={}", home.replace('/', "%2F"));
    assert!(fields[2].contains(&socket_dir), "{}", out.stdout());
}

/// A relative TODO_PG_BINDIR is taken from the current directory: the
/// server starts (as root through `runuser`, which looked for `15/bin/initdb`
/// from elsewhere) and its status names the absolute directory.
#[test]
fn a_relative_bindir_is_taken_from_the_current_directory() {
    let home = LocalHome::new("relbin");
    let status = home.run(["db", "local", "status"]).expect(3);
    let stdout = status.stdout();
    let bindir = stdout.trim_end().rsplit('\t').next().unwrap().to_string();
    assert!(bindir.starts_with('/'), "{stdout}");
    // LocalHome runs todo in the temporary directory, /tmp: `../usr/…`.
    let cwd = std::env::temp_dir().canonicalize().unwrap();
    let up = "../".repeat(cwd.components().count() - 1);
    let relative = format!("{up}{}", bindir.trim_start_matches('/'));
    let out = home
        .cmd()
        .env("TODO_PG_BINDIR", &relative)
        .args(["db", "local", "start"])
        .expect(0);
    assert!(
        out.stdout().contains(&format!("\t{bindir}")),
        "{relative}: {}",
        out.stdout()
    );
}
