//! Editing a task in `$VISUAL` / `$EDITOR` (else `vi`), as `git commit`
//! does: the title on the first line, a blank line, then the description.

use std::io::IsTerminal;
use std::path::Path;

use crate::error::{Error, Result};

/// Whether an editor can be opened: stdin and stdout are a terminal.
pub fn available() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The text the editor shows for a task.
pub fn template(title: &str, description: Option<&str>) -> String {
    match description {
        Some(d) => format!("{title}\n\n{d}\n"),
        None => format!("{title}\n\n"),
    }
}

/// Title and description from the edited text: the first line, and what
/// follows the blank line (trailing newlines dropped; empty is none).
pub fn parse(text: &str) -> (String, Option<String>) {
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
/// git); the file is ours, in a private temporary directory.
pub fn edit(text: &str) -> Result<String> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let dir = std::env::temp_dir().join(format!("todo-edit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let file = dir.join("TASK_EDITMSG");
    let result = (|| {
        std::fs::write(&file, text).map_err(|e| io_error(&file, e))?;
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(&file)
            .status()
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

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::unexpected(format!("cannot use {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_back() {
        let t = template("Buy milk", Some("2 litres\noat"));
        assert_eq!(parse(&t), ("Buy milk".into(), Some("2 litres\noat".into())));
        assert_eq!(parse(&template("x", None)), ("x".into(), None));
        assert_eq!(parse("New\n\n\n"), ("New".into(), None));
        assert_eq!(parse(""), ("".into(), None));
    }
}
