//! Connection URLs: where the URL comes from (SPEC §2 precedence), how the
//! web backend's SQLAlchemy-style URLs become libpq URLs, and how a URL is
//! shown without its password.

use std::path::Path;

use crate::error::{Error, Result};

/// The environment keys read, in order of precedence.
pub const URL_KEYS: [&str; 2] = ["TODO_DATABASE_URL", "DATABASE_URL"];

/// Where the URL was found, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env(&'static str),
    DotEnv(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("--database-url"),
            Source::Env(key) => write!(f, "${key}"),
            Source::DotEnv(key) => write!(f, "{key} in ./.env"),
        }
    }
}

/// Finds the configured URL: `--database-url`, then the environment, then
/// `./.env` (only the two keys, never exported, no parent directories).
/// `Ok(None)` means nothing is configured.
pub fn configured(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    dotenv: &Path,
) -> Result<Option<(String, Source)>> {
    if let Some(url) = flag {
        return Ok(Some((url.to_string(), Source::Flag)));
    }
    for key in URL_KEYS {
        if let Some(url) = env(key).filter(|v| !v.is_empty()) {
            return Ok(Some((url, Source::Env(key))));
        }
    }
    let entries = match dotenvy::from_path_iter(dotenv) {
        Ok(entries) => entries,
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::usage(format!("cannot read ./.env: {e}"))),
    };
    let mut found: [Option<String>; 2] = [None, None];
    for entry in entries {
        let (key, value) = entry.map_err(|e| Error::usage(format!("cannot parse ./.env: {e}")))?;
        if let Some(i) = URL_KEYS.iter().position(|k| *k == key) {
            found[i] = Some(value).filter(|v| !v.is_empty());
        }
    }
    Ok(URL_KEYS
        .iter()
        .zip(found)
        .find_map(|(key, value)| value.map(|v| (v, Source::DotEnv(key)))))
}

/// A URL ready for libpq, with what is needed to keep its password secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    /// What libpq receives.
    libpq: String,
    /// `user@host:port/db`, safe to print.
    display: String,
    /// Strings that must never be printed (the password, raw and decoded).
    secrets: Vec<String>,
}

impl DbUrl {
    /// Normalises a URL as given by the user (SPEC §2): SQLAlchemy schemes
    /// become `postgresql://`, asyncpg's `ssl=` becomes `sslmode=`, and a
    /// `connect_timeout` is added unless the URL has one (or `timeout` is
    /// given explicitly, which wins).
    pub fn parse(raw: &str, timeout: Option<u64>, default_timeout: u64) -> Result<DbUrl> {
        let raw = raw.trim();
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| {
            Error::usage("the database URL must start with postgresql:// or postgres://")
        })?;
        match scheme {
            "postgres"
            | "postgresql"
            | "postgresql+psycopg"
            | "postgresql+psycopg2"
            | "postgresql+asyncpg" => {}
            other => {
                return Err(
                    Error::usage(format!("unsupported database URL scheme '{other}://'"))
                        .with_hint("use postgresql://user@host:port/dbname"),
                )
            }
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], &before_query[i + 1..]),
            None => (before_query, ""),
        };
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (Some(u), Some(p)),
                None => (Some(info), None),
            },
            None => (None, None),
        };

        let mut secrets = Vec::new();
        let mut add_secret = |s: &str| {
            if !s.is_empty() {
                secrets.push(s.to_string());
                let decoded = percent_decode(s);
                if decoded != s {
                    secrets.push(decoded);
                }
            }
        };
        if let Some(p) = password {
            add_secret(p);
        }

        let mut params: Vec<(String, String)> = Vec::new();
        let mut ssl_from_asyncpg = None;
        let mut host_param = None;
        let mut user_param = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "ssl" => {
                    ssl_from_asyncpg = Some(match value {
                        "true" | "require" => "require".to_string(),
                        "false" | "disable" => "disable".to_string(),
                        mode @ ("allow" | "prefer" | "verify-ca" | "verify-full") => {
                            mode.to_string()
                        }
                        other => {
                            return Err(Error::usage(format!(
                                "unsupported value ssl={other} in the database URL"
                            ))
                            .with_hint("use sslmode=require (or disable, verify-full, …)"))
                        }
                    });
                    continue;
                }
                "password" => add_secret(value),
                "host" => host_param = Some(percent_decode(value)),
                "user" => user_param = Some(percent_decode(value)),
                _ => {}
            }
            params.push((key.to_string(), value.to_string()));
        }
        if let Some(mode) = ssl_from_asyncpg {
            if let Some((_, existing)) = params.iter().find(|(k, _)| k == "sslmode") {
                if *existing != mode {
                    return Err(Error::usage(format!(
                        "the database URL sets both ssl={mode} and sslmode={existing}"
                    )));
                }
            } else {
                params.push(("sslmode".into(), mode));
            }
        }
        let has_timeout = params.iter().any(|(k, _)| k == "connect_timeout");
        match timeout {
            Some(secs) => {
                params.retain(|(k, _)| k != "connect_timeout");
                params.push(("connect_timeout".into(), secs.to_string()));
            }
            None if !has_timeout => {
                params.push(("connect_timeout".into(), default_timeout.to_string()))
            }
            None => {}
        }
        if !params.iter().any(|(k, _)| k == "fallback_application_name") {
            params.push(("fallback_application_name".into(), "todo".into()));
        }

        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let libpq = format!("postgresql://{before_query}?{}", query.join("&"));

        let user = user_param.or(user.map(percent_decode));
        let host = host_param.unwrap_or_else(|| percent_decode(hosts));
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            host
        };
        let db = percent_decode(path);
        let display = match user {
            Some(u) if !u.is_empty() => format!("{u}@{host}/{db}"),
            _ => format!("{host}/{db}"),
        };
        Ok(DbUrl {
            libpq,
            display,
            secrets,
        })
    }

    /// The string handed to libpq. Never print it: use [`DbUrl::display`].
    pub fn libpq(&self) -> &str {
        &self.libpq
    }

    /// `user@host:port/db`, without the password.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Removes every trace of the password from a message (libpq echoes
    /// connection strings in some errors).
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "****");
        }
        out
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> DbUrl {
        DbUrl::parse(raw, None, 5).unwrap()
    }

    #[test]
    fn sqlalchemy_schemes_become_postgresql() {
        for scheme in [
            "postgresql+psycopg",
            "postgresql+psycopg2",
            "postgresql+asyncpg",
        ] {
            let url = parse(&format!("{scheme}://u:pw@h:5432/db?sslmode=require"));
            assert_eq!(
                url.libpq(),
                "postgresql://u:pw@h:5432/db?sslmode=require&connect_timeout=5&fallback_application_name=todo"
            );
        }
    }

    #[test]
    fn asyncpg_ssl_becomes_sslmode() {
        let url = parse("postgresql+asyncpg://u@h/db?ssl=require");
        assert!(url.libpq().contains("?sslmode=require&"), "{}", url.libpq());
        assert!(!url.libpq().contains("ssl=require"));
        let url = parse("postgresql+asyncpg://u@h/db?ssl=true");
        assert!(url.libpq().contains("sslmode=require"));
        assert!(DbUrl::parse("postgresql://h/db?ssl=maybe", None, 5).is_err());
        assert!(DbUrl::parse("postgresql://h/db?ssl=true&sslmode=disable", None, 5).is_err());
    }

    #[test]
    fn other_parameters_are_kept() {
        let url =
            parse("postgresql://u@h/db?sslmode=require&channel_binding=require&options=-c%20x");
        assert!(url.libpq().starts_with(
            "postgresql://u@h/db?sslmode=require&channel_binding=require&options=-c%20x&"
        ));
    }

    #[test]
    fn connect_timeout_precedence() {
        assert!(parse("postgres://h/db")
            .libpq()
            .contains("connect_timeout=5"));
        assert!(parse("postgres://h/db?connect_timeout=9")
            .libpq()
            .contains("connect_timeout=9"));
        let url = DbUrl::parse("postgres://h/db?connect_timeout=9", Some(2), 5).unwrap();
        assert!(url.libpq().contains("connect_timeout=2"));
        assert!(!url.libpq().contains("connect_timeout=9"));
    }

    #[test]
    fn unknown_schemes_are_usage_errors() {
        let err = DbUrl::parse("mysql://h/db", None, 5).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage);
        assert!(DbUrl::parse("not a url", None, 5).is_err());
    }

    #[test]
    fn display_and_mask_hide_the_password() {
        let url = parse("postgresql://alice:s%40cret@db.example.com:6543/app");
        assert_eq!(url.display(), "alice@db.example.com:6543/app");
        assert_eq!(
            url.mask("bad: postgresql://alice:s%40cret@x and s@cret"),
            "bad: postgresql://alice:****@x and ****"
        );
        let url = parse("postgresql:///app?host=%2Ftmp%2Fs&user=bob&password=hunter22");
        assert_eq!(url.display(), "bob@/tmp/s/app");
        assert_eq!(url.mask("password=hunter22"), "password=****");
    }

    #[test]
    fn precedence_flag_env_dotenv() {
        let dir = std::env::temp_dir().join(format!("todo-url-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dotenv = dir.join(".env");
        std::fs::write(&dotenv, "OTHER=x\nDATABASE_URL=postgres://dotenv/db\n").unwrap();
        let none = |_: &str| None;
        let env = |k: &str| (k == "DATABASE_URL").then(|| "postgres://env/db".to_string());
        let todo_env = |k: &str| {
            Some(
                if k == "TODO_DATABASE_URL" {
                    "postgres://todo/db"
                } else {
                    "postgres://env/db"
                }
                .to_string(),
            )
        };

        let got = configured(Some("postgres://flag/db"), todo_env, &dotenv).unwrap();
        assert_eq!(got, Some(("postgres://flag/db".into(), Source::Flag)));
        let got = configured(None, todo_env, &dotenv).unwrap();
        assert_eq!(
            got,
            Some((
                "postgres://todo/db".into(),
                Source::Env("TODO_DATABASE_URL")
            ))
        );
        let got = configured(None, env, &dotenv).unwrap();
        assert_eq!(
            got,
            Some(("postgres://env/db".into(), Source::Env("DATABASE_URL")))
        );
        let got = configured(None, none, &dotenv).unwrap();
        assert_eq!(
            got,
            Some((
                "postgres://dotenv/db".into(),
                Source::DotEnv("DATABASE_URL")
            ))
        );
        std::fs::write(
            &dotenv,
            "DATABASE_URL=postgres://a/db\nTODO_DATABASE_URL=postgres://b/db\n",
        )
        .unwrap();
        let got = configured(None, none, &dotenv).unwrap();
        assert_eq!(
            got,
            Some((
                "postgres://b/db".into(),
                Source::DotEnv("TODO_DATABASE_URL")
            ))
        );
        assert_eq!(
            configured(None, none, &dir.join("missing.env")).unwrap(),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
