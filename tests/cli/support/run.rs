//! The one way tests run `todo` and look at what it did:
//!
//! ```ignore
//! db.run(["task", "add", "Buy milk"]).user(u).expect(0).stdout_has("Buy milk");
//! let task = db.run(["task", "show", &id]).user(u).json().ok().value();
//! db.run(["task", "show", "999"]).user(u).expect(3).stderr_has("not found");
//! ```
//!
//! A failed expectation shows the command line, its exit code, stdout and
//! stderr, so a test failing says why.

use std::ffi::{OsStr, OsString};
use std::process::Output;

/// A `todo` command line being built.
pub struct Run {
    cmd: assert_cmd::Command,
    args: Vec<OsString>,
}

impl Run {
    /// `todo ARGS` on `cmd` (a test-environment command: see
    /// [`super::TestDb::run`]).
    pub fn new<I, S>(cmd: assert_cmd::Command, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut run = Run {
            cmd,
            args: Vec::new(),
        };
        run.args.extend(args.into_iter().map(Into::into));
        run
    }

    /// Acts as `user` (`--user USER`).
    pub fn user(mut self, user: &str) -> Run {
        self.args.push("--user".into());
        self.args.push(user.into());
        self
    }

    /// Acts as `user` through `$TODO_USER`.
    pub fn env_user(self, user: &str) -> Run {
        self.env("TODO_USER", user)
    }

    /// Asks for JSON output (`--json`).
    pub fn json(mut self) -> Run {
        self.args.push("--json".into());
        self
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Run {
        self.args.push(arg.into());
        self
    }

    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable for this run.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Run {
        self.cmd.env(key, value);
        self
    }

    /// Without this environment variable.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Run {
        self.cmd.env_remove(key);
        self
    }

    /// Kills it after `limit` (a hung command fails its test instead of
    /// hanging the suite).
    pub fn timeout(mut self, limit: std::time::Duration) -> Run {
        self.cmd.timeout(limit);
        self
    }

    /// Standard input for this run.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Run {
        self.cmd.write_stdin(input);
        self
    }

    /// Runs it, asserting nothing yet (for a test that looks at the exit
    /// code itself, e.g. a signal's).
    pub fn output(mut self) -> Done {
        let out = self.cmd.args(&self.args).output().expect("run todo");
        Done {
            line: self
                .args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            out,
        }
    }

    /// Runs it and asserts the exit code.
    #[track_caller]
    pub fn expect(self, code: i32) -> Done {
        let done = self.output();
        assert_eq!(
            done.out.status.code(),
            Some(code),
            "todo {}: exit code{}",
            done.line,
            done.shown()
        );
        done
    }

    /// Runs it and asserts success (exit 0).
    #[track_caller]
    pub fn ok(self) -> Done {
        self.expect(0)
    }
}

/// A finished run.
pub struct Done {
    line: String,
    pub out: Output,
}

impl Done {
    /// Asserts that stdout contains `text`.
    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Done {
        assert!(
            self.stdout().contains(text),
            "todo {}: no {text:?} on stdout{}",
            self.line,
            self.shown()
        );
        self
    }

    /// Asserts that stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Done {
        assert!(
            self.stderr().contains(text),
            "todo {}: no {text:?} on stderr{}",
            self.line,
            self.shown()
        );
        self
    }

    /// Asserts that stdout is exactly `text`.
    #[track_caller]
    pub fn stdout_is(self, text: &str) -> Done {
        assert_eq!(
            self.stdout(),
            text,
            "todo {}: stdout{}",
            self.line,
            self.shown()
        );
        self
    }

    fn shown(&self) -> String {
        format!(
            "\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout(),
            self.stderr()
        )
    }
}

/// What a finished command printed: for a [`Done`] and for a plain
/// `std::process::Output` alike.
pub trait Outcome {
    fn output(&self) -> &Output;

    /// The exit code (`None` when a signal ended it).
    fn code(&self) -> Option<i32> {
        self.output().status.code()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output().stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output().stderr).into_owned()
    }

    /// Stdout parsed as one JSON value.
    #[track_caller]
    fn value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output().stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\n--- stderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }
}

impl Outcome for Output {
    fn output(&self) -> &Output {
        self
    }
}

impl Outcome for Done {
    fn output(&self) -> &Output {
        &self.out
    }
}
