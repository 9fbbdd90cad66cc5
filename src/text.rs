//! Text from the database or from input, made safe to show on a terminal.

use std::borrow::Cow;

/// Whether `c` can change what a terminal shows beyond printing itself: C0
/// controls (escape sequences, carriage return, backspace, …), DEL, C1
/// controls (`\u{9b}` is a one-byte CSI), and the bidirectional formatting
/// characters that reorder text (Trojan Source).
pub fn is_unsafe_on_terminal(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Unicode's explicit bidirectional formatting characters.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every character that could drive the terminal written as a
/// visible escape (`\x1b`, `\r`, `\u{202e}`); newlines are kept when
/// `keep_newlines` (multi-line cells). The bytes of plain and JSON output
/// are never changed: this is for tables, prompts and error lines only.
pub fn terminal_safe(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let needs = |c: char| is_unsafe_on_terminal(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// Appends `value` escaped as COPY's text format does (and `plain` output):
/// backslash, tab, newline and carriage return as `\\`, `\t`, `\n`, `\r`.
pub fn copy_escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// `n word` with the word's plural when `n` is not 1 (`1 task`, `2 tasks`).
/// `s` on one line: runs of whitespace (newlines included) become one
/// space, none at the ends (a statement in a message, a title in todo.txt).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn count(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A size as people read it: `512 bytes`, `7.8 MB` (units of 1024, as
/// PostgreSQL's `pg_size_pretty`), for `db health` and `db stats` alike.
pub fn human_bytes(bytes: i64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(8 * 1024 * 1024), "8.0 MB");
        assert_eq!(human_bytes(8_174_951), "7.8 MB");
    }

    #[test]
    fn escapes_what_drives_a_terminal_and_nothing_else() {
        assert_eq!(
            terminal_safe("\u{1b}[31mRED\u{1b}[0m \u{1b}]0;pwned\u{7}", false),
            "\\x1b[31mRED\\x1b[0m \\x1b]0;pwned\\x07"
        );
        assert_eq!(
            terminal_safe("a\rb\tc\u{7f}\u{9b}", false),
            "a\\rb\\tc\\x7f\\x9b"
        );
        assert_eq!(terminal_safe("abc\u{202e}def", false), "abc\\u{202e}def");
        assert_eq!(terminal_safe("two\nlines", true), "two\nlines");
        assert_eq!(terminal_safe("two\nlines", false), "two\\nlines");
        assert!(matches!(
            terminal_safe("café ✓ 日本", false),
            Cow::Borrowed(_)
        ));
    }
}
