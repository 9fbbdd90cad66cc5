//! The embedded database found and stopped by its data directory, whatever
//! the environment, and a killed postmaster that nobody reaps (a zombie,
//! as under a container's PID 1) treated as dead (issue 24, 9/10).

use std::process::Command;

use crate::support::LocalHome;
use crate::support::Outcome;

fn postmaster_pid(home: &LocalHome) -> String {
    let text = std::fs::read_to_string(home.path.join("data/postmaster.pid")).unwrap();
    text.lines().next().unwrap().to_string()
}

fn state(home: &LocalHome) -> String {
    let out = home.run(["db", "local", "status", "--json"]).output();
    out.value()["state"].as_str().unwrap().to_string()
}

#[test]
fn libpq_variables_never_reach_the_embedded_server() {
    let home = LocalHome::new("pgport");
    let _out = home
        .cmd()
        .args(["--local", "db", "local", "start"])
        .env("PGPORT", "5605")
        .env("PGHOST", "/nonexistent")
        .expect(0);
    let socket_dir = todo::local::Cluster::new(&home.path).socket_dir();
    assert!(
        socket_dir.join(".s.PGSQL.5432").exists(),
        "the socket is the one the URL names"
    );
    assert!(!socket_dir.join(".s.PGSQL.5605").exists());
    // Without the variables, and with other ones, it is the same cluster.
    assert_eq!(state(&home), "running");
    let _out = home
        .cmd()
        .args(["--local", "user", "list", "-q"])
        .env("PGPORT", "5999")
        .expect(0);
    let pid = postmaster_pid(&home);
    home.ok(&["db", "local", "stop"]);
    assert!(!home.path.join("data/postmaster.pid").exists());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cwd")).exists() || {
            // Gone, or at most a zombie nobody reaps.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
                .unwrap_or(true)
        }
    );
}

#[test]
fn a_killed_postmaster_is_dead_even_as_a_zombie() {
    let home = LocalHome::new("zombie");
    home.ok(&["db", "local", "start", "-q"]);
    let pid = postmaster_pid(&home);
    Command::new("kill").args(["-9", &pid]).status().unwrap();
    // At once: its children may still be exiting.
    let out = home.run(["--local", "user", "list", "--json"]).expect(0);
    let err = out.stderr();
    assert!(err.contains("starting the local database"), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert_eq!(state(&home), "running");
    assert_ne!(postmaster_pid(&home), pid);
}

#[test]
fn a_start_that_fails_says_why_in_one_line() {
    let home = LocalHome::new("badconf");
    home.ok(&["db", "local", "start", "-q"]);
    home.ok(&["db", "local", "stop", "-q"]);
    let conf = home.path.join("data/postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\nshared_buffers = 'lots'\n");
    std::fs::write(&conf, text).unwrap();
    let out = home.run(["--local", "user", "list"]).expect(5);
    let err = out.stderr();
    let first = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(first.contains("contains errors"), "{err}");
    assert!(first.contains("shared_buffers"), "the cause too: {err}");
    assert!(!first.contains("; "), "not the whole log: {first}");
}

/// `db local destroy` asks (naming the directory) or needs --yes, removes
/// only what the tool made; `db local reset` gives an empty, migrated
/// database (issue 27, 8).
#[test]
fn destroy_and_reset_the_embedded_database() {
    let home = LocalHome::new("destroy");
    home.ok(&["--local", "user", "add", "gone@example.com", "-q"]);
    std::fs::write(home.path.join("notes.txt"), "mine").unwrap();
    let out = home.run(["db", "local", "destroy"]).expect(2);
    assert_eq!(
        out.stderr(),
        "error: db local destroy needs confirmation, and stdin is not a terminal\n\
         hint: pass --yes to confirm\n"
    );
    // Each command names itself (issue 43).
    let out = home.run(["db", "local", "reset"]).expect(2);
    assert_eq!(
        out.stderr(),
        "error: db local reset needs confirmation, and stdin is not a terminal\n\
         hint: pass --yes to confirm\n"
    );
    assert!(
        home.path.join("data").exists(),
        "nothing removed without --yes"
    );

    let out = home
        .run(["db", "local", "reset", "--yes", "--json"])
        .expect(0);
    assert_eq!(out.value()["state"], "running");
    let out = home.run(["--local", "user", "list", "--json"]).output();
    assert_eq!(out.value(), serde_json::json!([]), "empty after reset");
    let _out = home.run(["--local", "db", "status", "--check"]).expect(0);

    let out = home
        .run(["db", "local", "destroy", "--yes", "--json"])
        .expect(0);
    assert_eq!(out.value()["state"], "not created");
    assert!(!home.path.join("data").exists());
    assert_eq!(
        std::fs::read_to_string(home.path.join("notes.txt")).unwrap(),
        "mine",
        "other files stay"
    );
    // As root the directory was handed to the server's user; what stays
    // of it is given back (issue 43).
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(&home.path).unwrap().uid();
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        owner,
        unsafe { libc::geteuid() },
        "the directory is ours again"
    );
}
