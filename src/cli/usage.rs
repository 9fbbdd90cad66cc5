//! Clap's parse errors in the tool's words (exit 2): the message, and a
//! hint with the usage, a suggestion or the `--help` to read.

use super::Cli;

/// A clap parse error as the tool's usage error (exit 2): the message
/// built from the error's kind and context, the usage (or the help to read)
/// and any suggestion as the hint.
pub fn usage_error(err: &clap::Error, args: &[std::ffi::OsString]) -> crate::error::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let get = |kind: ContextKind| -> Vec<String> {
        match err.get(kind) {
            Some(ContextValue::String(s)) => vec![s.clone()],
            Some(ContextValue::Strings(v)) => v.clone(),
            Some(ContextValue::StyledStr(s)) => vec![s.to_string()],
            Some(ContextValue::StyledStrs(v)) => v.iter().map(|s| s.to_string()).collect(),
            Some(ContextValue::Number(n)) => vec![n.to_string()],
            _ => Vec::new(),
        }
    };
    let one = |kind: ContextKind| get(kind).join(" ");
    let arg = one(ContextKind::InvalidArg);
    let value = one(ContextKind::InvalidValue);
    let message = match err.kind() {
        ErrorKind::MissingRequiredArgument => format!(
            "the following required arguments were not provided: {}",
            get(ContextKind::InvalidArg).join(" ")
        ),
        ErrorKind::InvalidValue => {
            let valid = get(ContextKind::ValidValue);
            if valid.is_empty() {
                format!("invalid value '{value}' for '{arg}'")
            } else {
                format!(
                    "invalid value '{value}' for '{arg}' [possible values: {}]",
                    valid.join(", ")
                )
            }
        }
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(err)
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            format!("invalid value '{value}' for '{arg}'{why}")
        }
        ErrorKind::UnknownArgument => format!("unexpected argument '{arg}' found"),
        ErrorKind::InvalidSubcommand => format!(
            "unrecognized subcommand '{}'",
            one(ContextKind::InvalidSubcommand)
        ),
        ErrorKind::ArgumentConflict if get(ContextKind::PriorArg) == [arg.clone()] => {
            format!("the argument '{arg}' cannot be used multiple times")
        }
        ErrorKind::ArgumentConflict => format!(
            "the argument '{arg}' cannot be used with '{}'",
            get(ContextKind::PriorArg).join("', '")
        ),
        // Rarer kinds: clap's own sentence, its first paragraph.
        _ => {
            let rendered = err.render().to_string();
            let first = rendered.split("\n\n").next().unwrap_or_default();
            first
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
                .trim_start_matches("error: ")
                .to_string()
        }
    };
    let suggestions: Vec<String> = [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .flat_map(get)
    .collect();
    let path = command_path(args);
    let mut hint = match get(ContextKind::Usage).first() {
        Some(usage) => {
            let usage = usage.trim();
            format!("usage: {}", usage.strip_prefix("Usage: ").unwrap_or(usage))
        }
        None => format!("see `{path} --help`"),
    };
    if !suggestions.is_empty() {
        hint = format!("did you mean '{}'? {hint}", suggestions.join("' or '"));
    }
    if get(ContextKind::InvalidArg)
        .iter()
        .any(|a| a.starts_with("--user"))
        && !hint.contains("did you mean")
    {
        hint.push_str(" (or set TODO_USER)");
    }
    // `task list --json titel`: a word after --json that names no field
    // was taken as an argument.
    let after_json = args
        .windows(2)
        .find(|w| w[0] == "--json")
        .and_then(|w| w[1].to_str());
    if err.kind() == ErrorKind::UnknownArgument && after_json == Some(arg.as_str()) {
        hint = format!("to select fields, write --json={arg} (this names the available ones)");
    }
    crate::error::Error::usage(message).with_hint(hint)
}

/// `todo task list` for `todo task list --usr x`: the subcommands named on
/// the command line, for a hint pointing at the right `--help`.
pub(super) fn command_path(args: &[std::ffi::OsString]) -> String {
    let mut path = vec!["todo".to_string()];
    walk(args, |name| path.push(name.to_string()));
    path.join(" ")
}

/// Whether `word`, coming after `args` (the program name first), is a
/// command word there: `todo --json user export bob` names the command
/// `user`, not a field list (a command group or subcommand still expected,
/// and `word` one of its names or aliases).
pub(super) fn is_command_word(args: &[std::ffi::OsString], word: &str) -> bool {
    walk(args, |_| {}).is_some_and(|cmd| find(&cmd, word).is_some())
}

/// Follows the subcommands named in `args` (options skipped), calling
/// `named` with each; returns the last one reached, or `None` when a word
/// that names no subcommand came first (the command's own arguments).
fn walk(args: &[std::ffi::OsString], mut named: impl FnMut(&str)) -> Option<clap::Command> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    for arg in args.iter().skip(1).filter_map(|a| a.to_str()) {
        if arg.starts_with('-') {
            continue;
        }
        let sub = find(&cmd, arg)?;
        named(sub.get_name());
        cmd = sub;
    }
    Some(cmd)
}

/// `cmd`'s subcommand named or aliased `word`.
fn find(cmd: &clap::Command, word: &str) -> Option<clap::Command> {
    cmd.get_subcommands()
        .find(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn error_for(args: &[&str]) -> crate::error::Error {
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        let err = Cli::try_parse_from(&args).expect_err("a usage error");
        usage_error(&err, &args)
    }

    #[test]
    fn usage_errors_come_from_the_error_kind_and_context() {
        let err = error_for(&["todo", "task", "list"]);
        assert_eq!(
            err.message,
            "the following required arguments were not provided: --user <USER>"
        );
        assert_eq!(
            err.hint.as_deref(),
            Some("usage: todo task list --user <USER> (or set TODO_USER)")
        );
        let err = error_for(&["todo", "task", "lsit"]);
        assert_eq!(err.message, "unrecognized subcommand 'lsit'");
        assert!(err.hint.unwrap().contains("'list'"));
        let err = error_for(&["todo", "task", "list", "--user", "a", "--format", "xml"]);
        assert_eq!(err.hint.as_deref(), Some("see `todo task list --help`"));
        let err = error_for(&["todo", "task", "list", "--user", "a", "--json", "--json"]);
        assert_eq!(
            err.message,
            "the argument '--json[=<FIELDS>]' cannot be used multiple times"
        );
        let err = error_for(&["todo", "task", "list", "--user", "a", "--limit", "0"]);
        assert_eq!(
            err.message,
            "invalid value '0' for '--limit <N>': the limit must be at least 1"
        );
    }
}
