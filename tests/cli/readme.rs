//! The README's examples are executable truth: every ```` ```sh ```` block
//! not marked `norun` runs, in order, as one bash script (`set -euo
//! pipefail`) on a fresh embedded database, with `todo` on `PATH`. The
//! first block's `cargo run --release -q --` is the built `todo`, and its
//! `bash scripts/test` (this very suite) is left out.

use crate::support::{command_in_test_env, expect_code, stdout, LocalHome};

const README: &str = include_str!("../../README.md");

/// The runnable blocks' lines, in order.
fn runnable(readme: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in readme.lines() {
        match (inside, line.trim_end()) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, l) if l.trim() == "bash scripts/test" => {}
            (true, l) => lines.push(l.replace("cargo run --release -q --", "todo")),
            _ => {}
        }
    }
    lines
}

#[test]
fn the_readme_examples_run_in_order_on_a_fresh_machine() {
    let lines = runnable(README);
    assert!(
        lines.iter().any(|l| l.contains("todo task done")) && lines.len() > 15,
        "the example blocks were not found: {lines:?}"
    );
    let home = LocalHome::new("readme");
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = command_in_test_env("bash", &std::env::temp_dir())
        .env("PATH", path)
        .env("TODO_HOME", &home.path)
        // What a terminal gives (`todo` without a URL uses the embedded
        // database there); the test runs without one.
        .env("TODO_LOCAL", "1")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{}", lines.join("\n")))
        .output()
        .unwrap();
    expect_code(&out, 0);
    let text = stdout(&out);
    for expected in [
        "\tseed-user-1\t",
        "Buy oat milk",
        "Write the quarterly report",
        "no such task",
    ] {
        assert!(text.contains(expected), "{expected} not in:\n{text}");
    }
    assert!(
        text.lines().any(|l| l.starts_with("20") && l.contains('T')),
        "no updated_at from jq in:\n{text}"
    );
    // `task stats` after the rm: two tasks, both pending.
    assert!(
        text.lines().any(|l| l == "2\t2\t0"),
        "no stats line in:\n{text}"
    );
}

/// The README links only to what the repository holds.
#[test]
fn the_readme_links_only_to_files_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for part in README.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or_default();
        if target.starts_with("http") {
            continue;
        }
        let file = target.split('#').next().unwrap_or_default();
        assert!(root.join(file).exists(), "the README links to {target}");
        checked += 1;
    }
    assert!(checked >= 2, "no local links found");
    assert!(
        !README.contains("../shared"),
        "a link outside the repository"
    );
}
