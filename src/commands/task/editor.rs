//! Editing a task in `$VISUAL` / `$EDITOR` (else `vi`), as `git commit`
//! does: the title on the first line, a blank line, then the description,
//! and below a scissors line (git's `commit --cleanup=scissors`) a comment
//! saying so. Everything from the scissors line on is dropped; lines
//! starting with `#` above it are kept, since a description may hold a
//! Markdown heading.

use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether an editor can be opened: stdin and stdout are a terminal.
pub fn available() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The line below which the buffer is a comment.
const SCISSORS: &str = "# ------------------------ >8 ------------------------";

/// The text the editor shows for task `id`.
pub fn template(id: i32, title: &str, description: Option<&str>) -> String {
    let body = match description {
        Some(d) => format!("{title}\n\n{d}\n"),
        None => format!("{title}\n\n"),
    };
    format!(
        "{body}\n{SCISSORS}\n\
         # Do not modify or remove the line above: everything below it is ignored.\n\
         # Task {id}: the first line is its title; after a blank line, its description\n\
         # (none when left empty). An empty title aborts; saving it unchanged changes nothing.\n"
    )
}

/// Title and description from the edited text: the first line, and what
/// follows the blank line, up to the scissors line (trailing newlines
/// dropped; empty is none).
pub fn parse(text: &str) -> (String, Option<String>) {
    let text = match text.find(SCISSORS) {
        Some(at) if at == 0 || text[..at].ends_with('\n') => &text[..at],
        _ => text,
    };
    let (title, rest) = text.split_once('\n').unwrap_or((text, ""));
    let description = rest
        .strip_prefix('\n')
        .unwrap_or(rest)
        .trim_end_matches(['\n', '\r']);
    (
        title.trim().to_string(),
        Some(description.to_string()).filter(|d| !d.trim().is_empty()),
    )
}

/// Opens the user's editor on `text` and returns what was saved. The
/// editor command goes through `sh -c` (so `EDITOR="code -w"` works, as in
/// git). The buffer holds the task's description (SPEC §17): it is created
/// 0600 in a new 0700 directory of ours, removed afterwards whatever the
/// editor does, and on SIGTERM; while the editor runs, Ctrl-C is left to
/// the editor (as git does).
pub fn edit(text: &str) -> Result<String> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let dir = private_dir()?;
    let _dir_guard = crate::signals::remove_on_signal(&dir);
    let file = dir.join("TASK_EDITMSG");
    let _file_guard = crate::signals::remove_on_signal(&file);
    let result = (|| {
        let mut buffer = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .map_err(|e| io_error(&file, e))?;
        buffer
            .write_all(text.as_bytes())
            .map_err(|e| io_error(&file, e))?;
        drop(buffer);
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(&file)
            .spawn()
            .map_err(|e| Error::unexpected(format!("cannot run the editor ({editor}): {e}")))?;
        let status = crate::signals::ignoring_interrupts(|| child.wait())
            .map_err(|e| Error::unexpected(format!("cannot run the editor ({editor}): {e}")))?;
        if !status.success() {
            return Err(Error::usage(format!(
                "the editor ({editor}) exited with {status}; nothing was changed"
            )));
        }
        std::fs::read_to_string(&file).map_err(|e| io_error(&file, e))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A new directory, mode 0700, under the temporary directory (never one
/// that exists: another user could have made it).
fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let pid = std::process::id();
    let mut last = None;
    for n in 0..100u32 {
        let dir = base.join(format!("todo-edit-{pid}-{n}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(io_error(&dir, e)),
        }
    }
    Err(io_error(
        &base,
        last.unwrap_or_else(|| std::io::Error::other("no free name")),
    ))
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::unexpected(format!("cannot use {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_back() {
        let t = template(7, "Buy milk", Some("2 litres\n# oat"));
        assert!(t.contains("Task 7: the first line is its title"), "{t}");
        assert_eq!(
            parse(&t),
            ("Buy milk".into(), Some("2 litres\n# oat".into()))
        );
        assert_eq!(parse(&template(7, "x", None)), ("x".into(), None));
        // The comment is dropped also when the editor left no blank line.
        assert_eq!(
            parse(&format!("T\n\nD\n{SCISSORS}\n# note\n")),
            ("T".into(), Some("D".into()))
        );
        assert_eq!(parse(&format!("{SCISSORS}\nT\n")), ("".into(), None));
        assert_eq!(parse("New\n\n\n"), ("New".into(), None));
        assert_eq!(parse(""), ("".into(), None));
    }
}
