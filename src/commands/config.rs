//! `todo config get|set|unset|list|path` (SPEC §18): the config file of
//! [`crate::config`].

use std::io::Write;

use clap::Subcommand;

use super::Context;
use crate::config::{self, KEYS};
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a setting (user, database, read_url, pager, color, alias.NAME)
    ///
    /// Example: todo config get user
    #[command(verbatim_doc_comment)]
    Get { key: String },
    /// Set a setting; the file is created (mode 0600) when missing
    ///
    /// Examples:
    ///   todo config set user bob@example.com
    ///   todo config set alias.today "task list --pending --limit 20"
    #[command(verbatim_doc_comment)]
    Set { key: String, value: String },
    /// Remove a setting (also a key this version does not know, such as a
    /// misspelt one the file is refused for)
    ///
    /// Example: todo config unset alias.today
    #[command(verbatim_doc_comment)]
    Unset { key: String },
    /// Every setting, one per line (key, tab, value); passwords masked
    ///
    /// Example: todo config list --json
    #[command(verbatim_doc_comment)]
    List,
    /// The config file's path ($TODO_CONFIG, else $XDG_CONFIG_HOME/todo/config.toml,
    /// else ~/.config/todo/config.toml)
    ///
    /// Example: $EDITOR "$(todo config path)"
    #[command(verbatim_doc_comment)]
    Path,
}

fn path() -> Result<std::path::PathBuf> {
    config::path().ok_or_else(|| {
        Error::usage("cannot find a place for the config file: set TODO_CONFIG or HOME")
    })
}

/// Checks a key: a known setting, or `alias.NAME` where NAME is not a
/// command of the tool (an alias never shadows one).
fn check_key(key: &str) -> Result<()> {
    if KEYS.contains(&key) {
        return Ok(());
    }
    if let Some(name) = key.strip_prefix("alias.") {
        if !config::is_alias_name(name) {
            return Err(Error::usage(format!("'{name}' cannot be an alias name"))
                .with_hint("an alias name is a word of letters, digits, '-' and '_' that starts with a letter or digit"));
        }
        if crate::cli::is_command(name) {
            return Err(Error::usage(format!(
                "'{name}' is a todo command: an alias cannot shadow it"
            )));
        }
        return Ok(());
    }
    Err(Error::usage(format!("unknown setting '{key}'"))
        .with_hint(format!("settings: {}, alias.NAME", KEYS.join(", "))))
}

fn entries(c: &config::Config) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        ("user", &c.user),
        ("database", &c.database),
        ("read_url", &c.read_url),
        ("pager", &c.pager),
        ("color", &c.color),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
    .collect();
    out.extend(
        c.alias
            .iter()
            .map(|(n, v)| (format!("alias.{n}"), v.clone())),
    );
    out
}

/// A setting as `config list` shows it: a URL's password masked
/// (`postgresql://app:****@db/app`), since a listing ends up on screens and
/// in logs; `config get` prints the value as stored, for scripts. A URL that
/// does not parse is shown only when it has no password.
fn listed(key: &str, value: String) -> String {
    if !matches!(key, "database" | "read_url") || value == "local" {
        return value;
    }
    match crate::url::DbUrl::parse(&value, None, 0) {
        Ok(url) => url.redacted(),
        Err(_) if config::has_password(&value) => "****".into(),
        Err(_) => value,
    }
}

pub fn run(ctx: &Context, cmd: ConfigCommand) -> Result<()> {
    let mut out = ctx.stdout();
    match cmd {
        ConfigCommand::Path => writeln!(out, "{}", path()?.display())?,
        ConfigCommand::Get { key } => {
            check_key(&key)?;
            let found = entries(&config::load()?)
                .into_iter()
                .find(|(k, _)| *k == key)
                .ok_or_else(|| Error::not_found(format!("{key} is not set")))?;
            writeln!(out, "{}", found.1)?;
        }
        ConfigCommand::List => {
            let loaded = config::load()?;
            // Aliases written by hand that never expand: said, on stderr.
            for (name, _) in &loaded.alias {
                let why = if !config::is_alias_name(name) {
                    Some("it is not a name an alias can have (letters, digits, - and _)")
                } else if crate::cli::is_command(name) {
                    Some("a built-in command of that name comes first")
                } else {
                    None
                };
                if let Some(why) = why {
                    eprintln!(
                        "note: alias.{} is ignored: {why}",
                        crate::text::terminal_safe(name, false)
                    );
                }
            }
            let all = entries(&loaded).into_iter().map(|(k, v)| {
                let v = listed(&k, v);
                (k, v)
            });
            if ctx.out.format == crate::output::Format::Json {
                let map: serde_json::Map<String, serde_json::Value> = all
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                crate::output::write_json(&mut out, ctx.out, serde_json::Value::Object(map))?;
            } else {
                for (k, v) in all {
                    writeln!(out, "{k}\t{}", crate::text::terminal_safe(&v, false))?;
                }
            }
        }
        ConfigCommand::Set { key, value } => {
            check_key(&key)?;
            if key == "color" && !["auto", "always", "never"].contains(&value.as_str()) {
                return Err(Error::usage("color must be auto, always or never"));
            }
            if let Some(name) = key.strip_prefix("alias.") {
                if let Err(why) = config::split_words(&value) {
                    return Err(Error::usage(format!(
                        "alias {name} cannot be split into words: {why}"
                    ))
                    .with_hint(
                        "quote as in a shell: todo config set alias.NAME \"task add 'two words'\"",
                    ));
                }
            }
            write(&key, Some(&value))?;
        }
        ConfigCommand::Unset { key } => {
            // A key the file sets is removed even when this version does
            // not know it: the file is refused for it, and this fixes it.
            let in_file = std::fs::read_to_string(through_symlinks(path()?))
                .is_ok_and(|text| config::sets(&text, &key));
            if !in_file {
                check_key(&key)?;
            }
            write(&key, None)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Edits the file (created 0600 when missing), keeping its mode; checks
/// the result parses, and holds a password only if the mode keeps it
/// private, before it replaces the file.
///
/// As git does with its config: the new text is written into `FILE.lock`,
/// created exclusively (`O_EXCL`), and renamed over the file; the file is
/// read only once the lock is held, so concurrent `config set`s each keep
/// the others' keys. A lock held by another `todo config` is waited for
/// (up to [`LOCK_WAIT`]); a lock left by a killed one is named in the
/// error. Only a regular file (or a symlink to one) is written: a device
/// or FIFO named by `$TODO_CONFIG` is refused, never replaced.
fn write(key: &str, value: Option<&str>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = through_symlinks(path()?);
    let io = |e: std::io::Error| Error::usage(format!("cannot write {}: {e}", path.display()));
    match std::fs::metadata(&path) {
        Ok(m) if !m.is_file() => {
            return Err(Error::usage(format!(
                "cannot write {}: it is not a regular file",
                path.display()
            ))
            .with_hint("point TODO_CONFIG at a file (the config is TOML text)"))
        }
        _ => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut lock = Lock::take(&path)?;
    let (text, mode) = match std::fs::read_to_string(&path) {
        Ok(t) => {
            let mode = std::fs::metadata(&path).map_err(io)?.permissions().mode() & 0o777;
            (t, mode)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), 0o600),
        Err(e) => return Err(io(e)),
    };
    let edited = config::edit(&text, key, value);
    // "Not written" only when this value is the password; setting another
    // key of a file that holds one already says the file's state.
    let writing_one = value.is_some_and(config::has_password);
    config::check_secrets(&config::parse(&edited, &path)?, &path, mode, writing_one)?;
    lock.commit(edited.as_bytes(), mode).map_err(io)
}

/// How long `config set` waits for another `todo config` to finish.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// `FILE.lock`, held: removed when dropped unless committed (also on
/// Ctrl-C), renamed over `FILE` by [`Lock::commit`].
struct Lock {
    path: std::path::PathBuf,
    target: std::path::PathBuf,
    file: Option<std::fs::File>,
    /// Removes the lock on Ctrl-C; given up just before the rename.
    cleanup: Option<crate::signals::CleanupGuard>,
    /// Renamed over the target: the path may be another's lock by now.
    committed: bool,
}

impl Lock {
    fn take(target: &std::path::Path) -> Result<Lock> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut name = target.as_os_str().to_owned();
        name.push(".lock");
        let path = std::path::PathBuf::from(name);
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            let cleanup = crate::signals::remove_on_signal(&path);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(Lock {
                        path,
                        target: target.to_path_buf(),
                        file: Some(file),
                        cleanup: Some(cleanup),
                        committed: false,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    drop(cleanup);
                    if started.elapsed() > LOCK_WAIT {
                        return Err(Error::usage(format!(
                            "cannot write {}: {} exists (another todo config is running, or \
                             one was killed)",
                            target.display(),
                            path.display()
                        ))
                        .with_hint(format!(
                            "if no other todo config is running, remove {}",
                            path.display()
                        )));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(Error::usage(format!(
                        "cannot write {}: {e}",
                        path.display()
                    )))
                }
            }
        }
    }

    /// Writes `text` into the lock file with `mode`, syncs it and renames
    /// it over the target.
    fn commit(&mut self, text: &[u8], mode: u32) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mut file = self
            .file
            .take()
            .ok_or_else(|| std::io::Error::other("written"))?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(text)?;
        file.sync_all()?;
        self.cleanup = None;
        std::fs::rename(&self.path, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Not committed (or the rename failed): give the lock up.
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The file a symlinked config path names (a dotfiles repository's, say),
/// so that an edit changes that file instead of replacing the link with a
/// copy, as git does with its config; a link that names no file yet
/// gives the path it names (created there). Up to 8 links are followed.
fn through_symlinks(mut path: std::path::PathBuf) -> std::path::PathBuf {
    for _ in 0..8 {
        match std::fs::read_link(&path) {
            Ok(target) => {
                path = match path.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                }
            }
            Err(_) => break,
        }
    }
    path
}
