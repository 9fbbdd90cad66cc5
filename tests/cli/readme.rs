//! The README's and the docs' examples are executable truth: every ```` ```sh ````
//! block not marked `norun` runs, in order, as one bash script per file
//! (`set -euo pipefail`) on a fresh embedded database, with `todo` on
//! `PATH`, in a fresh directory that is also `$HOME`. The README's first
//! block's `cargo run --release -q --` is the built `todo`, and its `bash
//! scripts/test` (this very suite) is left out.

use std::path::{Path, PathBuf};

use crate::support::Outcome;
use crate::support::{command_in_test_env, expect_code, LocalHome};

const README: &str = include_str!("../../README.md");

/// Every Markdown file a reader is sent to: (path from the root, text).
const DOCS: [(&str, &str); 8] = [
    ("README.md", README),
    ("docs/reference.md", include_str!("../../docs/reference.md")),
    (
        "docs/connecting.md",
        include_str!("../../docs/connecting.md"),
    ),
    (
        "docs/operations.md",
        include_str!("../../docs/operations.md"),
    ),
    (
        "docs/performance.md",
        include_str!("../../docs/performance.md"),
    ),
    (
        "docs/architecture.md",
        include_str!("../../docs/architecture.md"),
    ),
    ("docs/core.md", include_str!("../../docs/core.md")),
    (
        "docs/backup-format.md",
        include_str!("../../docs/backup-format.md"),
    ),
];

/// The runnable blocks' lines, in order.
fn runnable(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in text.lines() {
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

/// Runs `lines` as one script on a fresh embedded database; returns stdout.
fn run_script(tag: &str, lines: &[String]) -> String {
    let home = LocalHome::new(tag);
    let dir = home.path.with_extension("cwd");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = command_in_test_env("bash", &dir)
        .env("PATH", path)
        .env("HOME", &dir)
        .env("TODO_HOME", &home.path)
        // What a terminal gives (`todo` without a URL uses the embedded
        // database there); the test runs without one.
        .env("TODO_LOCAL", "1")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{}", lines.join("\n")))
        .output()
        .unwrap();
    expect_code(&out, 0);
    let _ = std::fs::remove_dir_all(&dir);
    out.stdout()
}

#[test]
fn the_readme_examples_run_in_order_on_a_fresh_machine() {
    let lines = runnable(README);
    assert!(
        lines.iter().any(|l| l.contains("todo task done")) && lines.len() > 15,
        "the example blocks were not found: {lines:?}"
    );
    let text = run_script("readme", &lines);
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
        "no updated_at from --jq in:\n{text}"
    );
    // `--json id,title`: objects with those two keys only.
    assert!(
        text.lines()
            .any(|l| l.starts_with("[{\"id\":") && l.contains(",\"title\":\"Deploy\"}")),
        "no field selection in:\n{text}"
    );
    // `task stats` after the rm: two tasks, both pending.
    assert!(
        text.lines().any(|l| l == "2\t2\t0"),
        "no stats line in:\n{text}"
    );
    // The backup's report (plain: file, users, tasks, …): 11 users, 202 tasks.
    assert!(
        text.lines()
            .any(|l| l.starts_with("todo.backup\t11\t202\t")),
        "no backup report in:\n{text}"
    );
}

/// Each file of docs/ with runnable examples runs them on a database of
/// its own.
#[test]
fn the_docs_examples_run() {
    let mut ran = 0;
    for (name, text) in &DOCS[1..] {
        let lines = runnable(text);
        if lines.is_empty() {
            continue;
        }
        let tag = name.trim_start_matches("docs/").trim_end_matches(".md");
        let out = run_script(&format!("docs-{tag}"), &lines);
        if *name == "docs/connecting.md" {
            assert!(
                out.contains("user\tbob@example.com") && out.contains("config.toml"),
                "the config example printed:\n{out}"
            );
        }
        ran += 1;
    }
    assert!(ran >= 1, "no runnable block in docs/");
}

/// The README and the docs link only to what the repository holds.
#[test]
fn the_docs_link_only_to_files_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for (name, text) in DOCS {
        let base: PathBuf = root.join(name).parent().unwrap().to_path_buf();
        for part in text.split("](").skip(1) {
            let target = part.split(')').next().unwrap_or_default();
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            assert!(base.join(file).exists(), "{name} links to {target}");
            checked += 1;
        }
        assert!(
            !text.contains("../shared"),
            "{name} links outside the repository"
        );
    }
    assert!(checked >= 10, "no local links found");
}

/// A newcomer reads the README whole: it stays short (issue 27).
#[test]
fn the_readme_stays_short() {
    assert!(
        README.len() <= 12 * 1024,
        "README.md is {} bytes",
        README.len()
    );
}
