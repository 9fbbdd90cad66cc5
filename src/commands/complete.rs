//! Dynamic shell completion (SPEC §15): task ids with their titles, and
//! user emails for `--user`. Completion must never get in the way: it
//! answers within 300 ms or offers nothing, never prompts, never starts the
//! embedded database, and uses a 1 s connect timeout.
//!
//! It works in the setup the README teaches: the user from `--user`,
//! `$TODO_USER` or the config file, the database as a command would choose
//! it in interactive use (someone pressed TAB), so with nothing configured
//! the embedded database when it already runs. Bash shows no help beside a
//! candidate, so there a list of several ids is offered as `12 -- Buy milk`
//! (bash lists them and inserts their common prefix) and a single match as
//! the bare id, which bash inserts.

use crate::db::PgConn;
use std::ffi::OsStr;
use std::time::Duration;

use clap_complete::engine::CompletionCandidate;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use crate::commands::connect::{self, ConnectOptions, Target};
use crate::db::pool;
use crate::local::State;

/// How long completion may take.
const BUDGET: Duration = Duration::from_millis(300);

/// Runs `query` on a connection with the budget; nothing when it is late,
/// the database is unreachable, or anything fails.
fn within_budget(
    query: impl FnOnce(&mut PgConn) -> QueryResult<Vec<CompletionCandidate>> + Send + 'static,
) -> Vec<CompletionCandidate> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let opts = ConnectOptions {
            // As the command being completed reads it (TODO_LOCAL=false
            // is off).
            local: std::env::var_os("TODO_LOCAL").is_some_and(|v| crate::cli::env_is_on(&v)),
            connect_timeout: Some(1),
            interactive: true,
            ..ConnectOptions::default()
        };
        let url = match connect::resolve(&opts, &mut |_| {}) {
            Ok(Target::Url(url)) => url,
            // The embedded database only when it already runs.
            Ok(Target::Local(cluster, url)) if matches!(cluster.state(), Ok(State::Running)) => url,
            _ => return,
        };
        if let Ok(mut conn) = pool::establish(&url, None) {
            if let Ok(found) = query(&mut conn) {
                let _ = tx.send(found);
            }
        }
    });
    rx.recv_timeout(BUDGET).unwrap_or_default()
}

/// The `--user` given on the command line being completed, else `$TODO_USER`.
fn user_on_the_line() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let words = args.iter().skip_while(|a| *a != "--");
    let mut user = None;
    let mut words = words.peekable();
    while let Some(w) = words.next() {
        if w == "--user" || w == "-u" {
            user = words.peek().map(|s| s.to_string());
        } else if let Some(v) = w.strip_prefix("--user=") {
            user = Some(v.to_string());
        }
    }
    user.filter(|u| !u.is_empty())
        .or_else(|| std::env::var("TODO_USER").ok())
        .or_else(|| crate::config::current().user.clone())
}

/// The shell asking, noted before clap_complete removes its variable.
static SHELL: std::sync::OnceLock<Option<std::ffi::OsString>> = std::sync::OnceLock::new();

/// Notes which shell asks for completions (`$TODO_COMPLETE`), if any; call
/// before clap_complete answers.
pub fn note_shell() {
    let _ = SHELL.set(std::env::var_os(super::COMPLETE_VAR));
}

/// Whether bash asks (it shows values only, no help).
fn for_bash() -> bool {
    SHELL
        .get()
        .and_then(|shell| shell.as_deref())
        .is_some_and(|shell| shell == "bash")
}

/// Emails starting with what is typed.
pub fn users(current: &OsStr) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy().to_lowercase();
    within_budget(move |conn| {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            email: String,
        }
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT email FROM users WHERE lower(email) LIKE $1 || '%' ORDER BY email LIMIT 100",
        )
        .bind::<Text, _>(prefix)
        .load(conn)?;
        Ok(rows
            .into_iter()
            .filter(|r| safe_candidate(&r.email))
            .map(|r| CompletionCandidate::new(r.email))
            .collect())
    })
}

/// Whether a stored value may be offered as a candidate (SPEC §17): no
/// control character (an escape sequence would reach the terminal; a
/// vertical tab or newline is the shells' candidate separator and would
/// split it into extra candidates that the shell inserts) and no
/// whitespace (an email has none; a space would split the word).
fn safe_candidate(value: &str) -> bool {
    !value.is_empty()
        && !value
            .chars()
            .any(|c| crate::text::is_unsafe_on_terminal(c) || c.is_whitespace())
}

/// The user's task ids starting with what is typed, newest first, each
/// with its title as help.
pub fn task_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(user) = user_on_the_line() else {
        return Vec::new();
    };
    let prefix = current.to_string_lossy().into_owned();
    within_budget(move |conn| {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Integer)]
            id: i32,
            #[diesel(sql_type = Text)]
            title: String,
        }
        let rows: Vec<Row> = diesel::sql_query(concat!(
            "SELECT t.id, t.title FROM tasks t WHERE t.user_id = (SELECT min(id) FROM users WHERE ",
            crate::db::users::user_matches!(),
            ") AND t.id::text LIKE $2 || '%' ORDER BY t.id DESC LIMIT 100"
        ))
        .bind::<Text, _>(user.trim())
        .bind::<Text, _>(prefix)
        .load(conn)?;
        let several = rows.len() > 1;
        Ok(rows
            .into_iter()
            .map(|r| {
                let title = crate::text::terminal_safe(&r.title, false).into_owned();
                if for_bash() && several {
                    CompletionCandidate::new(format!("{} -- {title}", r.id))
                } else {
                    CompletionCandidate::new(r.id.to_string()).help(Some(title.into()))
                }
            })
            .collect())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn unsafe_candidates_are_skipped() {
        assert!(super::safe_candidate("bob@example.com"));
        assert!(super::safe_candidate("zoë@example.com"));
        for bad in [
            "",
            "a@b.c\u{1b}]0;owned\u{7}",
            "a@b.c\u{0b}$(touch x)",
            "a@b.c\n$(touch x)",
            "a b@c.d",
            "a@b.c\u{9b}31m",
            "a@b.c\u{202e}",
        ] {
            assert!(!super::safe_candidate(bad), "{bad:?}");
        }
    }
}
