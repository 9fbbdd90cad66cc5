//! Long lists on a terminal go through a pager, as git and gh do:
//! `$TODO_PAGER`, else the config file's `pager`, else `$PAGER`, else `less -FRX` (`-F` quits at once when
//! the list fits on one screen, so short lists look as if printed). Only
//! table output to a terminal is paged; `--no-pager`, an empty pager or
//! `cat` turn it off. Quitting the pager early ends the command quietly
//! (a closed pipe is success).

use std::io::{IsTerminal, Write};
use std::process::{Child, Command, Stdio};

use super::{Format, Output};

/// Where a list is written: the pager's stdin, or stdout.
pub struct ListOut {
    pager: Option<Child>,
    out: Box<dyn Write>,
}

impl Write for ListOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl ListOut {
    /// Flushes, then (on drop) closes the pager's input and waits for the
    /// reader to quit.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Drop for ListOut {
    fn drop(&mut self) {
        // Also after an error mid-list. Closing its stdin lets the pager see
        // the end of the list; waiting gives the terminal back in order.
        self.out = Box::new(std::io::sink());
        if let Some(mut pager) = self.pager.take() {
            let _ = pager.wait();
        }
    }
}

/// The pager command, if lists should be paged now.
fn pager_command(out: Output, no_pager: bool) -> Option<String> {
    if no_pager || out.quiet || out.format != Format::Table || !std::io::stdout().is_terminal() {
        return None;
    }
    let var = |k: &str| std::env::var(k).ok();
    let command = match var("TODO_PAGER")
        .or_else(|| crate::config::current().pager.clone())
        .or_else(|| var("PAGER"))
    {
        Some(command) => command,
        // The default only where it exists: a missing `less` must not eat
        // the output.
        None if on_path("less") => "less -FRX".to_string(),
        None => return None,
    };
    let trimmed = command.trim();
    (!trimmed.is_empty() && trimmed != "cat").then(|| trimmed.to_string())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The output of a list: through the pager when one applies and starts.
pub fn list_out(out: Output, no_pager: bool) -> ListOut {
    if let Some(command) = pager_command(out, no_pager) {
        let child = Command::new("sh")
            .args(["-c", &command])
            .env(
                "LESS",
                std::env::var("LESS").unwrap_or_else(|_| "FRX".into()),
            )
            .stdin(Stdio::piped())
            .spawn();
        if let Ok(mut child) = child {
            if let Some(stdin) = child.stdin.take() {
                return ListOut {
                    pager: Some(child),
                    out: Box::new(std::io::BufWriter::new(stdin)),
                };
            }
        }
    }
    ListOut {
        pager: None,
        out: Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    }
}
