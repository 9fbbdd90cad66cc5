//! Dynamic completion (SPEC §15), asked the way the shells' registration
//! scripts ask: `TODO_COMPLETE=SHELL todo -- WORDS…`.

use std::time::{Duration, Instant};

use crate::support::Outcome;
use crate::support::TestDb;

/// The candidates for the last word of `words`, as `shell` asks.
fn complete(db: &TestDb, shell: &str, words: &[&str]) -> Vec<String> {
    let out = db
        .cmd()
        .env("TODO_COMPLETE", shell)
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .arg("--")
        .args(words)
        .expect(0);
    out.stdout()
        .split(['\n', '\u{b}'])
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn task_ids_come_with_titles_and_emails_for_user() {
    let db = TestDb::migrated();
    db.add_user("comp@example.com");
    db.add_user("other@example.com");
    let one = db.add_task("comp@example.com", "Buy milk");
    let two = db.add_task("comp@example.com", "Call mum");
    db.add_task("other@example.com", "Not mine");

    let got = complete(
        &db,
        "fish",
        &["todo", "task", "done", "--user", "comp@example.com", ""],
    );
    assert_eq!(
        got[..2],
        [format!("{two}\tCall mum"), format!("{one}\tBuy milk")]
    );
    assert!(!got.iter().any(|c| c.contains("Not mine")), "{got:?}");
    // bash, with the user from $TODO_USER and a typed prefix.
    let out = db
        .cmd()
        .env("TODO_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .env("TODO_USER", "comp@example.com")
        .args(["--", "todo", "task", "show", &two.to_string()])
        .output();
    assert_eq!(out.stdout().trim(), two.to_string());
    // bash shows no help: several ids come as `ID -- title` (listed, and
    // only their common prefix is inserted).
    let got = complete(
        &db,
        "bash",
        &["todo", "task", "done", "--user", "comp@example.com", ""],
    );
    assert_eq!(
        got[..2],
        [format!("{two} -- Call mum"), format!("{one} -- Buy milk")]
    );
    // Emails for --user.
    let got = complete(&db, "bash", &["todo", "task", "list", "--user", "co"]);
    assert_eq!(got, ["comp@example.com"]);
}

#[test]
fn completion_offers_nothing_quickly_when_the_database_is_away() {
    let db = TestDb::migrated();
    // A server that accepts connections (the kernel does) and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let started = Instant::now();
    let out = db
        .cmd()
        .env(
            "DATABASE_URL",
            format!("postgresql://nobody@127.0.0.1:{port}/none"),
        )
        .env_remove("TODO_DATABASE_URL")
        .env("TODO_COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "4")
        .args(["--", "todo", "task", "list", "--user", "x"])
        .expect(0);
    assert_eq!(out.stdout().trim(), "");
    // The 300 ms budget, plus the process itself.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
}

/// Stored values with control characters never reach the shell: no escape
/// sequence for the terminal, no separator that splits one value into
/// extra candidates the shell would insert (issue 24, 7).
#[test]
fn emails_that_could_inject_are_not_offered() {
    let db = TestDb::migrated();
    db.add_user("safe@example.com");
    db.psql(
        "INSERT INTO users (id, email) VALUES
           ('esc', E'sa\\x1b]0;owned\\x07@example.com'),
           ('vt', E'sb@example.com\\x0b$(touch /tmp/owned)'),
           ('nl', E'sc@example.com\\n$(touch /tmp/owned)')",
    );
    for shell in ["bash", "fish", "zsh"] {
        let out = db
            .cmd()
            .env("TODO_COMPLETE", shell)
            .env("_CLAP_COMPLETE_INDEX", "4")
            .args(["--", "todo", "task", "list", "--user", "s"])
            .expect(0);
        let text = out.stdout();
        assert!(text.contains("safe@example.com"), "{shell}: {text:?}");
        assert!(!text.contains('\u{1b}'), "{shell}: {text:?}");
        assert!(!text.contains("touch"), "{shell}: {text:?}");
    }
}

/// The setup the README teaches: nothing configured but the config file's
/// user, the embedded database running. Completion finds both; with the
/// cluster stopped it offers nothing and leaves it stopped (issue 27).
#[test]
fn completion_works_in_the_default_setup_and_never_starts_the_database() {
    let home = crate::support::LocalHome::new("complete");
    let config = home.path.with_extension("toml");
    std::fs::write(&config, "user = \"def@example.com\"\n").unwrap();
    home.ok(&["--local", "user", "add", "def@example.com"]);
    let out = home
        .run([
            "--local",
            "task",
            "add",
            "Water plants",
            "-q",
            "--user",
            "def@example.com",
        ])
        .expect(0);
    let id = out.stdout().trim().to_string();
    let ask = || {
        let out = home
            .cmd()
            .env("TODO_CONFIG", &config)
            .env("TODO_COMPLETE", "fish")
            .env("_CLAP_COMPLETE_INDEX", "3")
            .args(["--", "todo", "task", "done", ""])
            .expect(0);
        out.stdout()
    };
    assert_eq!(
        ask().lines().next(),
        Some(format!("{id}\tWater plants").as_str())
    );
    home.ok(&["db", "local", "stop"]);
    let stopped = ask();
    assert!(!stopped.contains("Water plants"), "{stopped}");
    let _status = home.run(["db", "local", "status"]).expect(3);
    let _ = std::fs::remove_file(&config);
}

/// `TODO_LOCAL=false` (or `no`, `off`, `0`) is off for completion as it is
/// for the commands: the configured database answers (issue 43).
#[test]
fn todo_local_false_is_off_for_completion_too() {
    let db = TestDb::migrated();
    db.add_user("comp@example.com");
    for off in ["false", "no", "OFF", "0"] {
        let out = db
            .cmd()
            .env("TODO_COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", "4")
            .env("TODO_LOCAL", off)
            .args(["--", "todo", "task", "list", "--user", "co"])
            .expect(0);
        assert_eq!(out.stdout().trim(), "comp@example.com", "TODO_LOCAL={off}");
    }
}
