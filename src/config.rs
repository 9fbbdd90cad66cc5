//! The config file (SPEC §18): TOML at `$TODO_CONFIG`, else
//! `$XDG_CONFIG_HOME/todo/config.toml`, else `~/.config/todo/config.toml`.
//!
//! ```toml
//! user = "bob@example.com"        # default for --user, below $TODO_USER
//! database = "local"              # or a URL without a password
//! read_url = "postgresql://…"     # the read replica
//! pager = "less -FRX"
//! color = "auto"                  # auto, always, never
//!
//! [alias]
//! today = "task list --pending --limit 20"
//! ```
//!
//! Unknown keys are an error naming the key and its line, never a value
//! (a value may be a URL). A `database` or `read_url` holding a password
//! is refused unless the file is private (mode 0600), as libpq treats
//! `.pgpass`. `todo config set` and `unset` edit the file line by line, so
//! comments and the order of the rest are kept.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The top-level keys, in the order `config list` shows them.
pub const KEYS: [&str; 5] = ["user", "database", "read_url", "pager", "color"];

/// A parsed config file (empty when there is none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub user: Option<String>,
    pub database: Option<String>,
    pub read_url: Option<String>,
    pub pager: Option<String>,
    pub color: Option<String>,
    /// `[alias]`: name → command line, in file order.
    pub alias: Vec<(String, String)>,
}

static CURRENT: std::sync::OnceLock<Config> = std::sync::OnceLock::new();

/// The config of this invocation (loaded once at the start, see
/// [`crate::main`]; empty before).
pub fn current() -> &'static Config {
    CURRENT.get_or_init(Config::default)
}

/// Loads the config for this invocation; the first call wins.
pub fn install(config: Config) {
    let _ = CURRENT.set(config);
}

/// Expands an alias (SPEC §18, as git does): when the first argument names
/// an alias of the config, its command line (split like a shell splits
/// words, with quotes) replaces it, and again while the result starts with
/// another alias (`mine = "today --json"`, `today = "task list --pending"`);
/// an alias met twice is a loop, an error naming the chain, as git's
/// "alias loop detected". A built-in command is never shadowed (`todo
/// config set` refuses such names; one written by hand is ignored), nor an
/// option (`-v`): `builtin` tells a command's name or alias.
pub fn expand_alias(
    mut args: Vec<std::ffi::OsString>,
    config: &Config,
    builtin: impl Fn(&str) -> bool,
) -> Result<Vec<std::ffi::OsString>> {
    let mut chain: Vec<String> = Vec::new();
    loop {
        let Some(first) = args.get(1).and_then(|a| a.to_str()) else {
            return Ok(args);
        };
        let Some((name, command)) = config.alias.iter().find(|(name, _)| name == first) else {
            return Ok(args);
        };
        if !is_alias_name(name) || builtin(name) {
            return Ok(args);
        }
        if chain.contains(name) {
            chain.push(name.clone());
            return Err(
                Error::usage(format!("alias loop: {} does not end", chain.join(" → ")))
                    .with_hint("change one of them with: todo config set alias.NAME COMMAND"),
            );
        }
        chain.push(name.clone());
        let mut out = vec![args[0].clone()];
        // Checked when the file was read (`parse`).
        out.extend(
            split_words(command)
                .unwrap_or_default()
                .into_iter()
                .map(Into::into),
        );
        out.extend(args.into_iter().skip(2));
        args = out;
    }
}

/// A word that can name an alias: letters, digits, `-` and `_`, starting
/// with a letter or digit (so never an option such as `-v` or `--help`).
pub fn is_alias_name(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_alphanumeric)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// Words as a shell splits them: whitespace separates, single and double
/// quotes group, a backslash escapes the next character (outside single
/// quotes). Nothing is expanded. What a shell would refuse or wait on is
/// refused: a quote left open, a backslash with nothing after it; and a
/// last word that is empty (`task list --user ''`), which would take the
/// place of the words typed after the alias.
pub fn split_words(line: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                match chars.next() {
                    Some(n) => word.push(n),
                    None => return Err("it ends with a backslash"),
                }
                in_word = true;
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("a quote is not closed");
    }
    if in_word {
        if word.is_empty() {
            return Err("its last word is empty ('' or \"\")");
        }
        words.push(word);
    }
    Ok(words)
}

/// Where the config file is (it need not exist).
pub fn path() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(p) = var("TODO_CONFIG") {
        return Some(PathBuf::from(p));
    }
    // The XDG base directory spec: a relative path is invalid, ignored.
    if let Some(xdg) = var("XDG_CONFIG_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Some(PathBuf::from(xdg).join("todo/config.toml"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".config/todo/config.toml"))
}

/// Reads the config file: none is an empty config.
pub fn load() -> Result<Config> {
    let Some(path) = path() else {
        return Ok(Config::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => {
            return Err(Error::usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )))
        }
    };
    let config = parse(&text, &path)?;
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&path).ok();
    if let Some(meta) = meta.as_ref().filter(|m| m.is_file()) {
        check_owner(&path, meta)?;
    }
    let mode = meta.map_or(0o777, |m| m.permissions().mode() & 0o777);
    check_secrets(&config, &path, mode, false)?;
    Ok(config)
}

/// A config file that others may change is refused, as ssh refuses its
/// own: a regular file writable by its group or by others, or owned by
/// another user than the one running todo (or root). Its aliases and its
/// database choose what todo runs and where. (A device or FIFO, such as
/// `TODO_CONFIG=/dev/null` or a process substitution, is read as it is.)
fn check_owner(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let why = if meta.mode() & 0o022 != 0 {
        format!("others may change it (mode {:o})", meta.mode() & 0o777)
    } else if meta.uid() != me && meta.uid() != 0 {
        format!("it belongs to another user (uid {})", meta.uid())
    } else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "bad owner or permissions on {}: {why}",
        path.display()
    ))
    .with_hint(format!(
        "chmod go-w {0} (and chown it to yourself), or point TODO_CONFIG elsewhere",
        path.display()
    )))
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line where `key` is set (in `table`, or at the top level).
fn key_line(text: &str, table: Option<&str>, key: &str) -> usize {
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            continue;
        }
        let k = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if current.as_deref() == table && k == key {
            return i + 1;
        }
    }
    1
}

/// Parses the file's text; errors name the file and line, never a value.
pub fn parse(text: &str, path: &Path) -> Result<Config> {
    let at = |line: usize, what: String| {
        Error::usage(format!("{}, line {line}: {what}", path.display()))
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        at(line, "not valid TOML".into())
    })?;
    let mut config = Config::default();
    for (key, value) in &table {
        let line = key_line(text, None, key);
        if key == "alias" {
            let toml::Value::Table(aliases) = value else {
                return Err(at(line, "alias must be a table ([alias])".into()));
            };
            for (name, command) in aliases {
                let toml::Value::String(command) = command else {
                    return Err(at(
                        key_line(text, Some("alias"), name),
                        format!("alias {name} must be a string"),
                    ));
                };
                if let Err(why) = split_words(command) {
                    return Err(at(
                        key_line(text, Some("alias"), name),
                        format!("alias {name} cannot be split into words: {why}"),
                    ));
                }
                config.alias.push((name.clone(), command.clone()));
            }
            continue;
        }
        let toml::Value::String(value) = value else {
            return Err(at(line, format!("{key} must be a string")));
        };
        let slot = match key.as_str() {
            "user" => &mut config.user,
            "database" => &mut config.database,
            "read_url" => &mut config.read_url,
            "pager" => &mut config.pager,
            "color" => {
                if !["auto", "always", "never"].contains(&value.as_str()) {
                    return Err(at(line, "color must be auto, always or never".into()));
                }
                &mut config.color
            }
            other => {
                let unknown = at(
                    line,
                    format!(
                        "unknown key '{other}' (known: {}, [alias])",
                        KEYS.join(", ")
                    ),
                );
                return Err(if is_alias_name(other) {
                    unknown.with_hint(format!("remove it with: todo config unset {other}"))
                } else {
                    unknown
                });
            }
        };
        *slot = Some(value.clone());
    }
    Ok(config)
}

/// Whether a URL (or keyword/value string) carries a password.
pub fn has_password(url: &str) -> bool {
    if url.contains("password=") {
        return true;
    }
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(info, _)| info.contains(':'))
}

/// A password in the file (of permission bits `mode`) only when nobody
/// else may read it: checked when the file is read (`writing` false) and
/// before `config set` would write one into it (`writing` true).
pub fn check_secrets(config: &Config, path: &Path, mode: u32, writing: bool) -> Result<()> {
    let secret = [&config.database, &config.read_url]
        .into_iter()
        .flatten()
        .any(|u| has_password(u));
    if !secret || mode & 0o077 == 0 {
        return Ok(());
    }
    let what = if writing {
        "a password is not written into"
    } else {
        "a password is not kept in"
    };
    Err(Error::usage(format!(
        "{what} {}: others may read it (mode {mode:o})",
        path.display()
    ))
    .with_hint(format!(
        "chmod 600 {} (as libpq asks of ~/.pgpass), or keep the password in ~/.pgpass",
        path.display()
    )))
}

/// `alias.today` → (`Some("alias")`, `today`); `user` → (`None`, `user`).
fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('.') {
        Some((t, n)) => (Some(t), n),
        None => (None, key),
    }
}

/// Where a key's line is in a config file's lines.
struct Located {
    /// The line setting the key.
    found: Option<usize>,
    /// The key's table header (`[alias]`).
    table_start: Option<usize>,
    /// The first table header: top-level keys go above it.
    first_table: Option<usize>,
}

fn locate<S: AsRef<str>>(lines: &[S], table: Option<&str>, name: &str) -> Located {
    let mut current: Option<String> = None;
    let mut at = Located {
        found: None,
        table_start: None,
        first_table: None,
    };
    for (i, line) in lines.iter().enumerate() {
        let t = line.as_ref().trim();
        if let Some(n) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = Some(n.trim().to_string());
            at.first_table.get_or_insert(i);
            if current.as_deref() == table {
                at.table_start = Some(i);
            }
            continue;
        }
        let k = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if t.contains('=') && current.as_deref() == table && k == name {
            at.found = Some(i);
            break;
        }
    }
    at
}

/// Whether the file's text sets `key`, known to this version or not (so
/// that `config unset` can remove a misspelt key the file is refused for).
pub fn sets(text: &str, key: &str) -> bool {
    let (table, name) = split_key(key);
    let lines: Vec<&str> = text.lines().collect();
    locate(&lines, table, name).found.is_some()
}

/// The file's text with `key` (`user`, …, or `alias.NAME`) set to `value`
/// (or removed with `None`), every other line kept as it is.
pub fn edit(text: &str, key: &str, value: Option<&str>) -> String {
    let (table, name) = split_key(key);
    let new_line = value.map(|v| format!("{name} = {}", toml::Value::String(v.into())));
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let Located {
        found,
        table_start,
        first_table,
    } = locate(&lines, table, name);
    match (found, new_line) {
        (Some(i), Some(l)) => lines[i] = l,
        (Some(i), None) => {
            lines.remove(i);
        }
        (None, None) => {}
        (None, Some(l)) => match table {
            None => lines.insert(first_table.unwrap_or(lines.len()), l),
            Some(t) => match table_start {
                Some(start) => lines.insert(start + 1, l),
                None => {
                    if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                        lines.push(String::new());
                    }
                    lines.push(format!("[{t}]"));
                    lines.push(l);
                }
            },
        },
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("config.toml")
    }

    #[test]
    fn keys_aliases_and_errors_by_line_without_values() {
        let c = parse(
            "# mine\nuser = \"bob@example.com\"\ncolor = \"never\"\n\n[alias]\ntoday = \"task list --pending\"\n",
            p(),
        )
        .unwrap();
        assert_eq!(c.user.as_deref(), Some("bob@example.com"));
        assert_eq!(
            c.alias,
            vec![("today".into(), "task list --pending".into())]
        );
        let e = parse(
            "user = \"a\"\ndatabse = \"postgresql://u:Secr3t@h/db\"\n",
            p(),
        )
        .unwrap_err();
        assert!(
            e.message.contains("line 2") && e.message.contains("databse"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("Secr3t"));
        let e = parse("user = \"a\"\npassword = = \"Secr3t\"\n", p()).unwrap_err();
        assert!(
            e.message.contains("line 2: not valid TOML"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("Secr3t"));
        assert!(parse("color = \"pink\"\n", p()).is_err());
    }

    #[test]
    fn alias_command_lines_split_like_a_shell() {
        assert_eq!(
            split_words(r#"task add "Buy oat milk" -d 'two litres' a\ b"#).unwrap(),
            ["task", "add", "Buy oat milk", "-d", "two litres", "a b"]
        );
        // What a shell refuses or waits on, and a last word that is empty.
        assert_eq!(split_words("task list 'x"), Err("a quote is not closed"));
        assert_eq!(split_words("task list \"x"), Err("a quote is not closed"));
        assert_eq!(
            split_words("task list x\\"),
            Err("it ends with a backslash")
        );
        assert_eq!(
            split_words("task list --user ''"),
            Err("its last word is empty ('' or \"\")")
        );
        assert_eq!(
            split_words("task add '' -q").unwrap(),
            ["task", "add", "", "-q"]
        );
        let e = parse("[alias]\nbad = \"task list 'x\"\n", p()).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "{}, line 2: alias bad cannot be split into words: a quote is not closed",
                p().display()
            )
        );
        let config = Config {
            alias: vec![
                ("today".into(), "task list --pending".into()),
                ("task".into(), "user list".into()),
            ],
            ..Config::default()
        };
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let expand = |v: &[&str]| expand_alias(args(v), &config, |c| c == "task");
        assert_eq!(
            expand(&["todo", "today", "-n", "5"]).unwrap(),
            args(&["todo", "task", "list", "--pending", "-n", "5"])
        );
        // A built-in command is never shadowed.
        assert_eq!(
            expand(&["todo", "task", "stats"]).unwrap(),
            args(&["todo", "task", "stats"])
        );
        // An alias of an alias expands again; a loop is an error.
        let config = Config {
            alias: vec![
                ("mine".into(), "today --json".into()),
                ("today".into(), "task list --pending".into()),
                ("a".into(), "b -q".into()),
                ("b".into(), "a".into()),
            ],
            ..Config::default()
        };
        let expand = |v: &[&str]| expand_alias(args(v), &config, |c| c == "task");
        assert_eq!(
            expand(&["todo", "mine", "-n", "5"]).unwrap(),
            args(&["todo", "task", "list", "--pending", "--json", "-n", "5"])
        );
        let err = expand(&["todo", "a"]).unwrap_err();
        assert!(err.to_string().contains("a → b → a"), "{err}");
    }

    #[test]
    fn passwords_are_seen_in_urls_and_keyword_strings() {
        assert!(has_password("postgresql://u:pw@h/db"));
        assert!(has_password("host=h password=pw"));
        assert!(!has_password("postgresql://u@h/db?sslmode=require"));
        assert!(!has_password("local"));
    }

    #[test]
    fn edits_keep_comments_and_order() {
        let text = "# my settings\nuser = \"a@x.org\"\n\n[alias]\nls = \"task list\"\n";
        let set = edit(text, "user", Some("b@x.org"));
        assert_eq!(
            set,
            "# my settings\nuser = \"b@x.org\"\n\n[alias]\nls = \"task list\"\n"
        );
        let added = edit(text, "color", Some("never"));
        assert!(
            added.starts_with("# my settings\nuser = \"a@x.org\"\n\ncolor = \"never\"\n[alias]"),
            "{added}"
        );
        let alias = edit(text, "alias.today", Some("task list --pending"));
        assert!(
            alias.contains("[alias]\ntoday = \"task list --pending\"\nls ="),
            "{alias}"
        );
        let removed = edit(text, "alias.ls", None);
        assert!(!removed.contains("ls ="), "{removed}");
        let fresh = edit("", "alias.x", Some("task stats"));
        assert_eq!(fresh, "[alias]\nx = \"task stats\"\n");
        assert!(parse(&added, p()).is_ok());
    }
}
