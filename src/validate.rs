//! Input validation (SPEC §8), done before any query. Each function returns
//! the normalised value or a usage error (exit 2).

use crate::error::{Error, Result};
use crate::model::UserRef;
use crate::text::is_bidi_control;

pub const MAX_EMAIL: usize = 255;
pub const MAX_TITLE: usize = 255;
pub const MAX_NAME: usize = 255;
pub const MAX_USER_ID: usize = 255;
pub const MAX_DESCRIPTION: usize = 1000;

/// Characters that show nothing: with only these (and spaces), a title is blank.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200b}'
                | '\u{200c}'
                | '\u{200d}'
                | '\u{2060}'
                | '\u{feff}'
                | '\u{180e}'
                | '\u{00ad}'
        )
}

/// Control characters, and the bidirectional formatting characters that
/// reorder how text is shown (counted as control characters here).
fn is_control(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Trimmed, ≤ 255 characters, `local@domain` with a dot inside the domain,
/// no whitespace or control characters. It is lower-cased by the server
/// (`lower()`), in one place with every lookup, so Rust's and PostgreSQL's
/// case rules never disagree (Greek final sigma, Turkish dotted I).
pub fn email(raw: &str) -> Result<String> {
    let email = raw.trim().to_string();
    let bad = |why: &str| Error::usage(format!("invalid email '{}': {why}", raw.trim()));
    if email.chars().count() > MAX_EMAIL {
        return Err(bad("longer than 255 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || is_control(c)) {
        return Err(bad("contains whitespace or control characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(bad("expected name@example.com"));
    };
    let dot_inside = domain
        .find('.')
        .is_some_and(|_| !domain.starts_with('.') && !domain.ends_with('.'));
    if local.is_empty() || domain.contains('@') || !dot_inside || domain.contains("..") {
        return Err(bad("expected name@example.com"));
    }
    Ok(email)
}

/// Trimmed, 1–255 characters, no control characters (bidi overrides
/// included); only invisible characters (zero-width spaces) is empty.
pub fn title(raw: &str) -> Result<String> {
    let title = raw.trim();
    if title.chars().all(is_invisible) {
        return Err(Error::usage("the title is empty"));
    }
    let n = title.chars().count();
    if n > MAX_TITLE {
        return Err(Error::usage(format!(
            "the title is {n} characters long; the limit is {MAX_TITLE}"
        )));
    }
    if title.chars().any(is_control) {
        return Err(Error::usage(
            "the title contains control characters (newline, tab, bidi override, …)",
        ));
    }
    Ok(title.to_string())
}

/// At most 1000 characters; newlines and tabs allowed, other control
/// characters not. An empty description means none.
pub fn description(raw: &str) -> Result<Option<String>> {
    let n = raw.chars().count();
    if n > MAX_DESCRIPTION {
        return Err(Error::usage(format!(
            "the description is {n} characters long; the limit is {MAX_DESCRIPTION}"
        )));
    }
    if raw
        .chars()
        .any(|c| is_control(c) && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::usage("the description contains control characters"));
    }
    Ok(Some(raw.to_string()).filter(|d| !d.trim().is_empty()))
}

/// A display name: trimmed, ≤ 255 characters, no control characters; empty
/// means none.
pub fn name(raw: &str) -> Result<Option<String>> {
    let name = raw.trim();
    if name.chars().count() > MAX_NAME {
        return Err(Error::usage(format!(
            "the name is longer than {MAX_NAME} characters"
        )));
    }
    if name.chars().any(is_control) {
        return Err(Error::usage("the name contains control characters"));
    }
    Ok(Some(name.to_string()).filter(|n| !n.is_empty()))
}

/// A user id for `user add --id`: 1–255 characters, no `@` (USER arguments
/// with `@` are emails), no whitespace or control characters.
pub fn user_id(raw: &str) -> Result<String> {
    let bad = |why: &str| Error::usage(format!("invalid user id '{raw}': {why}"));
    if raw.is_empty() {
        return Err(bad("it is empty"));
    }
    if raw.chars().count() > MAX_USER_ID {
        return Err(bad("longer than 255 characters"));
    }
    if raw.contains('@') {
        return Err(bad("it may not contain '@'"));
    }
    if raw.chars().any(|c| c.is_whitespace() || is_control(c)) {
        return Err(bad("contains whitespace or control characters"));
    }
    Ok(raw.to_string())
}

/// A task id: a positive integer that fits PostgreSQL's int4 (clap value
/// parser, so a bad id is a usage error before anything else happens).
pub fn task_id(raw: &str) -> std::result::Result<i32, String> {
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(n as i32),
        _ => Err(format!(
            "'{raw}' is not a task id (a positive integer up to {})",
            i32::MAX
        )),
    }
}

/// A `--limit`: a whole number, at least 1 (clap value parser).
pub fn limit(raw: &str) -> std::result::Result<i64, String> {
    match raw.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("the limit must be at least 1".to_string()),
        Err(_) => Err(format!("'{raw}' is not a number")),
    }
}

/// A USER argument: an email when it contains `@` (case is folded by the
/// server), else a user id.
pub fn user_ref(raw: &str) -> Result<UserRef> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            Error::usage("the user is empty").with_hint("pass --user EMAIL or set TODO_USER")
        );
    }
    Ok(if raw.contains('@') {
        UserRef::Email(raw.to_string())
    } else {
        UserRef::Id(raw.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("  Bob@Example.COM ").unwrap(), "Bob@Example.COM");
        for bad in [
            "bob",
            "bob@",
            "@x.com",
            "bob@localhost",
            "bob@x.",
            "a b@x.com",
            "a@b@c.com",
            "a@.com",
            "a@x..com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(244));
        assert_eq!(long.len(), 256);
        assert!(email(&long).is_err());
        assert!(email(&long[1..]).is_ok());
    }

    #[test]
    fn titles_count_characters_not_bytes() {
        assert_eq!(title("  hi  ").unwrap(), "hi");
        assert!(title("   ").is_err());
        assert!(title(&"é".repeat(255)).is_ok());
        assert!(title(&"é".repeat(256)).is_err());
        assert!(title("a\nb").is_err());
        assert!(title("a\tb").is_err());
        assert!(title("\u{200b}\u{200b} \u{feff}").is_err());
        assert!(title("abc\u{202e}def").is_err());
        assert!(title("a\u{200d}b").is_ok());
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            description("line1\nline2").unwrap().as_deref(),
            Some("line1\nline2")
        );
        assert_eq!(description("").unwrap(), None);
        assert!(description(&"x".repeat(1000)).is_ok());
        assert!(description(&"x".repeat(1001)).is_err());
        assert!(description("bell\u{7}").is_err());
    }

    #[test]
    fn task_ids_fit_int4() {
        assert_eq!(task_id("42"), Ok(42));
        assert_eq!(task_id("2147483647"), Ok(i32::MAX));
        for bad in ["0", "-1", "abc", "99999999999", "2147483648", ""] {
            assert!(task_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_refs_and_ids() {
        assert_eq!(
            user_ref(" Bob@X.com ").unwrap(),
            UserRef::Email("Bob@X.com".into())
        );
        assert_eq!(user_ref("abc-123").unwrap(), UserRef::Id("abc-123".into()));
        assert!(user_id("a@b").is_err());
        assert!(user_id("a b").is_err());
        assert!(user_id("").is_err());
        assert!(user_id("u-1").is_ok());
    }
}
