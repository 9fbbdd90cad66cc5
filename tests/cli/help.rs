//! `--help` snapshots (the help is part of the interface) and completions.
//! Regenerate after a deliberate change with `UPDATE_SNAPSHOTS=1 cargo test help`.

use std::path::PathBuf;

use crate::support::todo_cmd;
use crate::support::Outcome;

/// Every command of the tree (hidden ones and `help` aside), so a new
/// command gets a snapshot without anyone remembering to list it.
fn commands() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in cmd.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            path.push(sub.get_name().to_string());
            walk(sub, path, out);
            path.pop();
        }
    }
    use clap::CommandFactory;
    let mut out = Vec::new();
    walk(&todo::cli::Cli::command(), &mut Vec::new(), &mut out);
    out
}

#[test]
fn help_matches_snapshots() {
    let dir = std::env::temp_dir();
    let snapshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cli/snapshots");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for cmd in commands() {
        let out = todo_cmd(&dir)
            .args(&cmd)
            .arg("--help")
            .env("COLUMNS", "100")
            .output();
        assert_eq!(out.code(), Some(0), "{cmd:?}: {}", out.stderr());
        let name = if cmd.is_empty() {
            "todo".to_string()
        } else {
            format!("todo-{}", cmd.join("-"))
        };
        let path = snapshots.join(format!("{name}.txt"));
        let text = out.stdout();
        if update {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "help differs from tests/cli/snapshots for {stale:?}; review and run UPDATE_SNAPSHOTS=1 cargo test help"
    );
}

#[test]
fn every_command_has_an_example() {
    let dir = std::env::temp_dir();
    for cmd in commands().iter().filter(|c| c.len() == 2) {
        if cmd[0] == "db" && cmd[1] == "local" {
            continue;
        }
        let out = todo_cmd(&dir).args(cmd).arg("--help").output();
        assert!(
            out.stdout().contains("Example"),
            "{cmd:?} --help has no example"
        );
    }
}

#[test]
fn completions_are_generated() {
    let dir = std::env::temp_dir();
    // Registration scripts of dynamic completion: the shell calls
    // `TODO_COMPLETE=SHELL todo -- WORDS…` back for candidates.
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = todo_cmd(&dir).args(["completions", shell]).expect(0);
        let text = out.stdout();
        assert!(
            text.contains("TODO_COMPLETE") && text.contains("todo"),
            "{shell}: {text}"
        );
    }
    let _out = todo_cmd(&dir).args(["completions", "tcsh"]).expect(2);
}

#[test]
fn man_pages_are_generated_for_every_command_with_environment_and_exit_status() {
    let out = todo_cmd(&std::env::temp_dir()).arg("man").expect(0);
    let text = out.stdout();
    assert!(
        text.contains(".TH todo"),
        "{}",
        &text[..200.min(text.len())]
    );
    for section in ["ENVIRONMENT", "EXIT STATUS", "DATABASE_URL", "completions"] {
        assert!(text.contains(section), "{section}");
    }
    // The whole set: one page per command, each naming the ones below it.
    let dir = crate::support::TempDir::new("man");
    let _out = todo_cmd(&std::env::temp_dir())
        .arg("man")
        .arg(dir.path())
        .expect(0);
    for cmd in commands() {
        let name = std::iter::once("todo".to_string())
            .chain(cmd.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        let page = std::fs::read_to_string(dir.join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"));
        assert!(page.contains("EXIT STATUS"), "{name}");
    }
    let task = std::fs::read_to_string(dir.join("todo-task.1")).unwrap();
    assert!(task.contains("todo\\-task\\-add(1)"), "{task}");
}

#[test]
fn a_closed_pipe_is_success_and_never_a_panic() {
    // `todo completions bash | head -1`: the reader goes away early.
    let bin = assert_cmd::cargo::cargo_bin("todo");
    for args in ["completions bash", "man", "--help"] {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "\"$0\" {args} | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}"
            ))
            .arg(&bin)
            .output()
            .unwrap();
        let stderr = out.stderr();
        assert!(!stderr.contains("panicked"), "{args}: {stderr}");
        assert_eq!(out.stdout().trim(), "0", "{args}: {stderr}");
    }
}
