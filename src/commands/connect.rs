//! Where a command connects (SPEC §2): `--local`, else the configured URL,
//! else the embedded database in interactive use, else exit 5; and the
//! command's pool, opened lazily. This is policy, so it lives with the
//! commands; the data layer only sees the URL.

use std::path::Path;
use std::time::Duration;

use crate::db::{migrate, pool, Pool, StatementLog};
use crate::error::{Error, Result};
use crate::local::Cluster;
use crate::url::DbUrl;

/// Seconds libpq waits for a connection unless told otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 5;

/// How the user asked to connect (global flags), and how the command runs.
#[derive(Clone, Default)]
pub struct ConnectOptions {
    pub database_url: Option<String>,
    pub local: bool,
    pub connect_timeout: Option<u64>,
    /// A person at a terminal ([`interactive`]): with no URL configured,
    /// the embedded database is used.
    pub interactive: bool,
    /// `--verbose`: where each statement is logged.
    pub log: Option<StatementLog>,
}

impl ConnectOptions {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(
            self.connect_timeout
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
                .max(1),
        )
    }
}

/// Where a command connects.
pub enum Target {
    Url(DbUrl),
    Local(Cluster, DbUrl),
}

impl Target {
    pub fn url(&self) -> &DbUrl {
        match self {
            Target::Url(url) | Target::Local(_, url) => url,
        }
    }
}

/// libpq's variables that say where to connect: when one is set and no URL
/// is configured, todo connects the way psql does (SPEC §18).
const LIBPQ_ENV: [&str; 4] = ["PGHOST", "PGHOSTADDR", "PGSERVICE", "PGDATABASE"];

/// Whether a person is at a terminal: any of stdin, stdout and stderr is
/// one and `CI` is unset (SPEC §18: redirecting one stream never changes
/// which database a command uses).
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    (std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal())
        && std::env::var_os("CI").is_none()
}

/// Applies SPEC §2 and §18: `--local`, else the configured URL (or libpq
/// keyword/value string), else libpq's environment when `PGHOST`,
/// `PGHOSTADDR`, `PGSERVICE` or `PGDATABASE` is set, else the embedded
/// database in interactive use ([`interactive`]), else an error (exit 5).
/// `notice` receives a warning for each line of `./.env` that could not be
/// parsed.
pub fn resolve(opts: &ConnectOptions, notice: &mut dyn FnMut(&str)) -> Result<Target> {
    if opts.local {
        return local_target(opts);
    }
    let found = configured(opts.database_url.as_deref(), url_var, Path::new(".env"))?;
    for line in &found.dotenv_bad_lines {
        notice(&format!(
            "warning: line {line} of ./.env cannot be parsed and was skipped"
        ));
    }
    match found.url {
        Some((raw, source)) => Ok(Target::Url(parse_url(
            &raw,
            &source.to_string(),
            opts.connect_timeout,
        )?)),
        // SPEC §18: the config file's database ("local" or a URL) ...
        None if crate::config::current().database.is_some() => {
            match crate::config::current().database.as_deref() {
                Some(raw) if raw != "local" => Ok(Target::Url(parse_url(
                    raw,
                    "database in the config file",
                    opts.connect_timeout,
                )?)),
                _ => local_target(opts),
            }
        }
        // ... then libpq's own environment, as psql connects.
        None if LIBPQ_ENV
            .iter()
            .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty())) =>
        {
            Ok(Target::Url(parse_url(
                "",
                "the PG* environment",
                opts.connect_timeout,
            )?))
        }
        None if opts.interactive => local_target(opts),
        None => Err(Error::unavailable("no database configured").with_hint(
            "set DATABASE_URL (or TODO_DATABASE_URL, or put it in ./.env, or \
             `todo config set database URL`, or PGHOST/PGSERVICE as for psql), \
             or pass --local to use the embedded database",
        )),
    }
}

/// An environment variable holding a URL (`None` when unset).
pub fn url_var(key: &str) -> Result<Option<String>> {
    match std::env::var(key) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::usage(format!("${key} is not valid UTF-8"))
                .with_hint("percent-encode non-ASCII characters in the URL"))
        }
    }
}

/// Parses a configured URL; its errors say where it came from.
pub fn parse_url(raw: &str, source: &str, connect_timeout: Option<u64>) -> Result<DbUrl> {
    DbUrl::parse(raw, connect_timeout, DEFAULT_CONNECT_TIMEOUT).map_err(|e| Error {
        message: format!("{} (from {source})", e.message),
        ..e
    })
}

fn local_target(opts: &ConnectOptions) -> Result<Target> {
    let cluster = Cluster::new(Cluster::default_home()?);
    let url = DbUrl::parse(
        &cluster.url(crate::local::DATABASE),
        opts.connect_timeout,
        DEFAULT_CONNECT_TIMEOUT,
    )?;
    Ok(Target::Local(cluster, url))
}

/// Opens the pool for a command (at most `size` connections). The embedded
/// database is created, migrated and started on demand; `notice` receives a
/// line when that happens.
pub fn open(opts: &ConnectOptions, size: u32, notice: &mut dyn FnMut(&str)) -> Result<Pool> {
    let open = |url: &DbUrl| Ok(Pool::open(url, size, opts.timeout(), opts.log.clone())?);
    match resolve(opts, notice)? {
        Target::Url(url) => open(&url),
        Target::Local(cluster, url) => match open(&url) {
            Ok(pool) => Ok(pool),
            Err(_) => {
                start_local(&cluster, notice)?;
                open(&url)
            }
        },
    }
}

/// Creates (and migrates) or starts the embedded cluster if needed.
pub fn start_local(cluster: &Cluster, notice: &mut dyn FnMut(&str)) -> Result<()> {
    let mut migrate = |raw: &str| -> Result<()> {
        let url = DbUrl::parse(raw, None, DEFAULT_CONNECT_TIMEOUT)?;
        let mut conn = pool::establish(&url, None)?;
        migrate::run(
            &mut conn,
            migrate::Limits::new(Duration::from_secs(10)),
            &mut |_| {},
        )
        .map(|_| ())
        .map_err(|e| Error::unexpected(format!("cannot migrate the local database: {e}")))
    };
    cluster.ensure_running(notice, &mut migrate)
}

/// The environment keys read, in order of precedence.
pub const URL_KEYS: [&str; 2] = ["TODO_DATABASE_URL", "DATABASE_URL"];

/// Where the URL was found, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlOrigin {
    Flag,
    Env(&'static str),
    DotEnv(&'static str),
}

impl std::fmt::Display for UrlOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlOrigin::Flag => f.write_str("--database-url"),
            UrlOrigin::Env(key) => write!(f, "${key}"),
            UrlOrigin::DotEnv(key) => write!(f, "{key} in ./.env"),
        }
    }
}

/// The configured URL, where it came from, and the numbers of `./.env`
/// lines that could not be parsed (for a warning; their text is never shown).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Configured {
    pub url: Option<(String, UrlOrigin)>,
    pub dotenv_bad_lines: Vec<usize>,
}

/// Finds the configured URL: `--database-url`, then the environment, then
/// `./.env` (only the two keys, never exported, no parent directories, read
/// as python-dotenv reads it). `env` fails for a variable that is set but
/// not UTF-8.
pub fn configured(
    flag: Option<&str>,
    env: impl Fn(&str) -> Result<Option<String>>,
    dotenv: &Path,
) -> Result<Configured> {
    if let Some(url) = flag {
        return Ok(Configured {
            url: Some((url.to_string(), UrlOrigin::Flag)),
            ..Configured::default()
        });
    }
    for key in URL_KEYS {
        if let Some(url) = env(key)?.filter(|v| !v.is_empty()) {
            return Ok(Configured {
                url: Some((url, UrlOrigin::Env(key))),
                ..Configured::default()
            });
        }
    }
    let text = match std::fs::read(dotenv) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Configured::default()),
        Err(e) => return Err(Error::usage(format!("cannot read ./.env: {e}"))),
    };
    let lookup = |key: &str| env(key).ok().flatten();
    let parsed = crate::dotenv::parse(&text, &lookup);
    let url = URL_KEYS.iter().find_map(|key| {
        parsed
            .get(key)
            .filter(|v| !v.is_empty())
            .map(|v| (v.to_string(), UrlOrigin::DotEnv(key)))
    });
    Ok(Configured {
        url,
        dotenv_bad_lines: parsed.bad_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn precedence_flag_env_dotenv() {
        let dir = std::env::temp_dir().join(format!("todo-url-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dotenv = dir.join(".env");
        std::fs::write(&dotenv, "OTHER=x\nDATABASE_URL=postgres://dotenv/db\n").unwrap();
        let none = |_: &str| Ok(None);
        let env = |k: &str| Ok((k == "DATABASE_URL").then(|| "postgres://env/db".to_string()));
        let todo_env = |k: &str| {
            Ok(Some(
                if k == "TODO_DATABASE_URL" {
                    "postgres://todo/db"
                } else {
                    "postgres://env/db"
                }
                .to_string(),
            ))
        };
        let url = |c: Configured| c.url;

        let got = configured(Some("postgres://flag/db"), todo_env, &dotenv).unwrap();
        assert_eq!(
            url(got),
            Some(("postgres://flag/db".into(), UrlOrigin::Flag))
        );
        let got = configured(None, todo_env, &dotenv).unwrap();
        assert_eq!(
            url(got),
            Some((
                "postgres://todo/db".into(),
                UrlOrigin::Env("TODO_DATABASE_URL")
            ))
        );
        let got = configured(None, env, &dotenv).unwrap();
        assert_eq!(
            url(got),
            Some(("postgres://env/db".into(), UrlOrigin::Env("DATABASE_URL")))
        );
        let got = configured(None, none, &dotenv).unwrap();
        assert_eq!(
            url(got),
            Some((
                "postgres://dotenv/db".into(),
                UrlOrigin::DotEnv("DATABASE_URL")
            ))
        );
        std::fs::write(
            &dotenv,
            "DATABASE_URL=postgres://a/db\nbroken line here\nTODO_DATABASE_URL=postgres://b/db\n",
        )
        .unwrap();
        let got = configured(None, none, &dotenv).unwrap();
        assert_eq!(got.dotenv_bad_lines, vec![2]);
        assert_eq!(
            url(got),
            Some((
                "postgres://b/db".into(),
                UrlOrigin::DotEnv("TODO_DATABASE_URL")
            ))
        );
        assert_eq!(
            configured(None, none, &dir.join("missing.env")).unwrap(),
            Configured::default()
        );
        let not_utf8 = |_: &str| Err(Error::usage("not UTF-8"));
        assert!(configured(None, not_utf8, &dotenv).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
