//! The one error type of the tool, its exit codes (SPEC §9) and how it is
//! printed on stderr (SPEC §5).

use std::fmt;
use std::io::Write;

use crate::text::terminal_safe;

/// What went wrong, in the terms a script branches on. Each kind has one
/// documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bug or an unclassified database error (exit 1).
    Unexpected,
    /// Invalid usage or input, or a prompt needed without a terminal (exit 2).
    Usage,
    /// A user or task does not exist (exit 3).
    NotFound,
    /// Email already registered, or an ambiguous user (exit 4).
    Conflict,
    /// Cannot connect, timeout, lost connection, no URL configured (exit 5).
    Unavailable,
    /// Schema missing, pending migrations under `--check`, baseline mismatch (exit 6).
    NotReady,
    /// `db health` found at least one failing check (exit 7).
    HealthFailed,
    /// `db verify`: the backup's rows or schema do not match its manifest (exit 7).
    VerifyFailed,
    /// The server refused a permission (SQLSTATE 42501) (exit 8).
    Forbidden,
    /// A write refused by a read-only server or transaction (SQLSTATE
    /// 25006) (exit 5).
    ReadOnly,
    /// The command did its work (and may have changed the database), then
    /// its `--jq` filter failed on the output (exit 9): retrying the
    /// command would do the work twice. A command that only reads gives
    /// [`Kind::Usage`] for the same failure.
    OutputFilter,
    /// Interrupted by the user (exit 130).
    Interrupted,
    /// The reader of stdout went away (`todo … | head`): the tool stops
    /// quietly and exits 0, as other Unix tools do.
    BrokenPipe,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Unexpected => 1,
            Kind::Usage => 2,
            Kind::NotFound => 3,
            Kind::Conflict => 4,
            Kind::Unavailable => 5,
            Kind::NotReady => 6,
            Kind::HealthFailed => 7,
            Kind::VerifyFailed => 7,
            Kind::Forbidden => 8,
            Kind::ReadOnly => 5,
            Kind::OutputFilter => 9,
            Kind::Interrupted => 130,
            Kind::BrokenPipe => 0,
        }
    }

    /// The stable name used in JSON errors.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Unexpected => "unexpected",
            Kind::Usage => "usage",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::Unavailable => "unavailable",
            Kind::NotReady => "not_ready",
            Kind::HealthFailed => "health_failed",
            Kind::VerifyFailed => "verify_failed",
            Kind::Forbidden => "forbidden",
            Kind::ReadOnly => "read_only",
            Kind::OutputFilter => "output_filter",
            Kind::Interrupted => "interrupted",
            Kind::BrokenPipe => "broken_pipe",
        }
    }
}

/// An error that reaches the user: a kind, a one-line message and an
/// optional hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Kind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(Kind::Conflict, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(Kind::Unavailable, message)
    }

    pub fn not_ready(message: impl Into<String>) -> Self {
        Error::new(Kind::NotReady, message)
    }

    pub fn unexpected(message: impl Into<String>) -> Self {
        Error::new(Kind::Unexpected, message)
    }

    /// The error a command returns when it needs confirmation but cannot ask.
    pub fn needs_yes(what: &str) -> Self {
        Error::usage(format!(
            "{what} needs confirmation, and stdin is not a terminal"
        ))
        .with_hint("pass --yes to confirm")
    }

    /// Prints the error on `out`: `error: …` and `hint: …` lines, or one JSON
    /// object when `json` is set.
    pub fn print(&self, out: &mut dyn Write, json: bool) {
        // Nothing useful can be done if stderr itself is gone.
        let _ = if json {
            let mut inner = serde_json::json!({
                "code": self.kind.exit_code(),
                "kind": self.kind.name(),
                "message": self.message,
            });
            if let Some(hint) = &self.hint {
                inner["hint"] = serde_json::Value::from(hint.as_str());
            }
            writeln!(out, "{}", serde_json::json!({ "error": inner }))
        } else {
            let line = |s: &str| terminal_safe(&one_line(s), false).into_owned();
            let mut text = format!("error: {}\n", line(&self.message));
            if let Some(hint) = &self.hint {
                text.push_str(&format!("hint: {}\n", line(hint)));
            }
            out.write_all(text.as_bytes())
        };
    }
}

/// Server and libpq messages may span lines; the error line stays one line.
pub fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            // Output piped into `head` and closed: not worth a message.
            return Error::new(Kind::BrokenPipe, "broken pipe");
        }
        Error::unexpected(format!("I/O error: {err}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::from(std::io::Error::from(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_errors_are_one_line_with_optional_hint() {
        let mut out = Vec::new();
        Error::not_found("task 7 not found\nsecond line")
            .with_hint("list tasks with: todo task list")
            .print(&mut out, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "error: task 7 not found; second line\nhint: list tasks with: todo task list\n"
        );
    }

    #[test]
    fn json_errors_have_code_kind_message_hint() {
        let mut out = Vec::new();
        Error::conflict("taken")
            .with_hint("h")
            .print(&mut out, true);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error":{"code":4,"kind":"conflict","message":"taken","hint":"h"}})
        );
    }
}
