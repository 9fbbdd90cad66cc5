//! Reads `./.env` the way python-dotenv (the web backend's reader of the
//! same file) does, so both programs see the same `DATABASE_URL`:
//! `KEY=value`, `export KEY=value`, spaces around `=`, `# comments`,
//! single-quoted values taken literally (only `\\` and `\'` unescaped),
//! double-quoted values with backslash escapes, both possibly spanning
//! lines, unquoted values up to a ` #` comment, and `${VAR}` /
//! `${VAR:-default}` expanded in unquoted and double-quoted values (from the
//! environment first, then from keys earlier in the file).
//!
//! A line that cannot be parsed is skipped, as python-dotenv does; its
//! number is reported but never its content (it may hold a secret).
//! Nothing is exported into the process environment.

use std::collections::HashMap;

/// What a `.env` file holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DotEnv {
    /// Keys and values in file order (a later duplicate wins on lookup).
    pub values: Vec<(String, String)>,
    /// 1-based numbers of the lines that could not be parsed.
    pub bad_lines: Vec<usize>,
}

impl DotEnv {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the text of a `.env` file; `env` looks variables up for `${…}`.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> DotEnv {
    let mut out = DotEnv::default();
    let mut known: HashMap<String, String> = HashMap::new();
    let chars: Vec<char> = text.chars().collect();
    let mut p = Parser {
        chars: &chars,
        pos: 0,
        line: 1,
    };
    while !p.at_end() {
        let start_line = p.line;
        match p.binding() {
            Ok(Some((key, value, expand))) => {
                let value = if expand {
                    interpolate(&value, env, &known)
                } else {
                    value
                };
                known.insert(key.clone(), value.clone());
                out.values.push((key, value));
            }
            Ok(None) => {}
            Err(()) => {
                out.bad_lines.push(start_line);
                p.skip_line();
            }
        }
    }
    out
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    line: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    fn rest_of_line_is_comment(&mut self) -> Result<(), ()> {
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some('#') => {
                self.skip_line();
                Ok(())
            }
            Some('\r' | '\n') => {
                self.skip_line();
                Ok(())
            }
            Some(_) => Err(()),
        }
    }

    /// One statement: a blank or comment line (`None`), or `KEY=value`
    /// with whether `${…}` expands in it.
    fn binding(&mut self) -> Result<Option<(String, String, bool)>, ()> {
        while matches!(self.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            self.bump();
        }
        if self.at_end() {
            return Ok(None);
        }
        if self.peek() == Some('#') {
            self.skip_line();
            return Ok(None);
        }
        let mut key = self.key()?;
        if key == "export" && matches!(self.peek(), Some(' ' | '\t')) {
            self.skip_blanks();
            key = self.key()?;
        }
        self.skip_blanks();
        if self.peek() != Some('=') {
            // `KEY` alone: a key without a value, which python-dotenv
            // accepts and we have no use for.
            self.rest_of_line_is_comment()?;
            return Ok(None);
        }
        self.bump();
        self.skip_blanks();
        let (value, expand) = match self.peek() {
            Some('\'') => (self.quoted('\'')?, false),
            Some('"') => (self.quoted('"')?, true),
            _ => (self.unquoted(), true),
        };
        self.rest_of_line_is_comment()?;
        Ok(Some((key, value, expand)))
    }

    fn key(&mut self) -> Result<String, ()> {
        if self.peek() == Some('\'') {
            return self.quoted('\'');
        }
        let mut key = String::new();
        while let Some(c) = self.peek() {
            if c == '=' || c == '#' || c.is_whitespace() {
                break;
            }
            key.push(c);
            self.bump();
        }
        if key.is_empty() {
            Err(())
        } else {
            Ok(key)
        }
    }

    /// A quoted value; escapes as python-dotenv decodes them. Without a
    /// closing quote, nothing is consumed (the next lines still count).
    fn quoted(&mut self, quote: char) -> Result<String, ()> {
        let (pos, line) = (self.pos, self.line);
        self.bump();
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                (self.pos, self.line) = (pos, line);
                return Err(());
            };
            if c == quote {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(next) = self.peek() else {
                out.push(c);
                continue;
            };
            let decoded = match (quote, next) {
                ('\'', '\\' | '\'') => Some(next),
                ('"', '\\' | '\'' | '"') => Some(next),
                ('"', 'n') => Some('\n'),
                ('"', 't') => Some('\t'),
                ('"', 'r') => Some('\r'),
                ('"', 'a') => Some('\u{7}'),
                ('"', 'b') => Some('\u{8}'),
                ('"', 'f') => Some('\u{c}'),
                ('"', 'v') => Some('\u{b}'),
                _ => None,
            };
            match decoded {
                Some(d) => {
                    self.bump();
                    out.push(d);
                }
                None => out.push(c),
            }
        }
    }

    /// An unquoted value: the rest of the line, without a ` #` comment and
    /// trailing blanks.
    fn unquoted(&mut self) -> String {
        let mut raw = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            raw.push(c);
            self.bump();
        }
        let cut = raw
            .char_indices()
            .find(|&(i, c)| c == '#' && i > 0 && raw[..i].ends_with([' ', '\t']))
            .map_or(raw.len(), |(i, _)| i);
        raw[..cut].trim_end().to_string()
    }
}

/// Expands `${NAME}` and `${NAME:-default}`.
fn interpolate(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
    known: &HashMap<String, String>,
) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + len];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, d),
            None => (inner, ""),
        };
        let found = env(name).or_else(|| known.get(name).cloned());
        out.push_str(found.as_deref().unwrap_or(default));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> DotEnv {
        parse(text, &|k| (k == "HOME_ENV").then(|| "/home/x".to_string()))
    }

    #[test]
    fn forms_python_dotenv_accepts() {
        let env = values(
            "# comment\n\
             A=plain value # trailing comment\n\
             export B = 'single $x \\' quoted'\n\
             C=\"double\\nline ${HOME_ENV}\"\n\
             D=hash#inside\n\
             E='multi\nline'\n\
             F=${A}/more\n\
             G=${MISSING:-fallback}\n\
             KEYONLY\n\
             \n",
        );
        assert_eq!(env.get("A"), Some("plain value"));
        assert_eq!(env.get("B"), Some("single $x ' quoted"));
        assert_eq!(env.get("C"), Some("double\nline /home/x"));
        assert_eq!(env.get("D"), Some("hash#inside"));
        assert_eq!(env.get("E"), Some("multi\nline"));
        assert_eq!(env.get("F"), Some("plain value/more"));
        assert_eq!(env.get("G"), Some("fallback"));
        assert_eq!(env.get("KEYONLY"), None);
        assert!(env.bad_lines.is_empty(), "{:?}", env.bad_lines);
    }

    /// python-dotenv expands only `${VAR}`: a bare `$` stays as it is, so
    /// a password such as `pa$word` survives (dotenvy would expand `$word`
    /// to nothing, which is why this parser exists).
    #[test]
    fn a_bare_dollar_is_not_expanded() {
        let env = values(
            "DATABASE_URL=postgresql://app:pa$word@h/db\n\
             Q=\"pa$word\"\n",
        );
        assert_eq!(
            env.get("DATABASE_URL"),
            Some("postgresql://app:pa$word@h/db")
        );
        assert_eq!(env.get("Q"), Some("pa$word"));
    }

    #[test]
    fn a_bad_line_is_skipped_and_the_rest_is_read() {
        let env = values(
            "DATABASE_URL='postgresql://app:Secr3tPW@h/db' junk\n\
             =novalue\n\
             TODO_DATABASE_URL=postgresql://ok@h/db\n\
             X=\"never closed\n\
             Y=after\n",
        );
        assert_eq!(env.get("DATABASE_URL"), None);
        assert_eq!(env.get("TODO_DATABASE_URL"), Some("postgresql://ok@h/db"));
        assert_eq!(env.get("Y"), Some("after"));
        assert_eq!(env.bad_lines, vec![1, 2, 4]);
    }
}
