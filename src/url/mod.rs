//! Connection URLs as users give them: how the web backend's
//! SQLAlchemy-style URLs become libpq URLs, which URLs are refused before
//! libpq sees them (with what to change), and how a URL is shown without
//! its password. Where the URL comes from is policy:
//! [`crate::commands::connect`].

use crate::error::{Error, Result};

mod checks;
mod conninfo;
use checks::{asyncpg_ssl, check_direct_tls, check_ports, check_sslmode, valid_percent_escapes};

/// A URL ready for libpq, with what is needed to keep its password secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    /// What libpq receives.
    libpq: String,
    /// The URL as given, to recognise it if a message echoes it.
    raw: String,
    /// `user@host:port/db`, safe to print.
    display: String,
    /// The password, raw and decoded, masked where it appears as one.
    secrets: Vec<String>,
}

/// The hint for a URL whose password (or user name) holds a character that
/// splits it differently for us and for libpq.
const ENCODE_HINT: &str = "percent-encode special characters in the user name and password: \
                           / as %2F, ? as %3F, @ as %40, # as %23, : as %3A, % as %25";

impl DbUrl {
    /// Normalises a URL as given by the user (SPEC §2): SQLAlchemy schemes
    /// become `postgresql://`, asyncpg's `ssl=` becomes `sslmode=`, and a
    /// `connect_timeout` is added unless the URL has one (or `timeout` is
    /// given explicitly, which wins).
    ///
    /// libpq itself then parses the result (`PQconninfoParse`: its URI
    /// rules, its list of parameters), and the user, host, port, database
    /// and password shown or masked are the values it read. Checked here
    /// first, so that libpq never sees a URL it would split differently
    /// from what the user meant (and echo a password from in its error): an
    /// `@` outside the user:password part, a second `@`, a `#`, or a bad
    /// percent-escape is refused (exit 2) with a hint to percent-encode.
    /// Checked after, on libpq's values: a port or `sslmode` libpq would
    /// refuse only when connecting (in its own words, maybe not English).
    pub fn parse(raw: &str, timeout: Option<u64>, default_timeout: u64) -> Result<DbUrl> {
        let raw = raw.trim();
        if !raw.contains("://") && (raw.is_empty() || raw.contains('=')) {
            return DbUrl::keywords(raw, timeout, default_timeout);
        }
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
                return Err(Error::usage(format!(
                    "unsupported database URL scheme '{}://'",
                    other.chars().take(40).collect::<String>()
                ))
                .with_hint("use postgresql://user@host:port/dbname"))
            }
        }
        let ambiguous = |why: &str| {
            Error::usage(format!("the database URL is ambiguous: {why}")).with_hint(ENCODE_HINT)
        };
        if rest.contains('#') {
            return Err(ambiguous("it contains '#'"));
        }
        if !valid_percent_escapes(rest) {
            return Err(ambiguous("a '%' is not followed by two hex digits"));
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.matches('@').count() > 1 {
            return Err(ambiguous("it has more than one '@' before the host"));
        }
        if tail.contains('@') {
            return Err(ambiguous("it has an '@' after the host"));
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };

        let mut params: Vec<(String, String)> = Vec::new();
        let mut ssl_from_asyncpg = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key == "ssl" {
                ssl_from_asyncpg = Some(asyncpg_ssl(value)?);
            } else {
                params.push((key.to_string(), value.to_string()));
            }
        }
        if let Some(mode) = ssl_from_asyncpg {
            if let Some((_, existing)) = params.iter().find(|(k, _)| k == "sslmode") {
                if *existing != mode {
                    return Err(Error::usage(format!(
                        "the database URL sets both ssl={mode} and sslmode={existing}"
                    )));
                }
            } else {
                params.push(("sslmode".into(), mode.to_string()));
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
        // In the startup packet, so that no SET is needed; a
        // client_encoding of the user's own stays.
        if !params.iter().any(|(k, _)| k == "client_encoding") {
            params.push(("client_encoding".into(), "UTF8".into()));
        }
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let libpq = format!("postgresql://{before_query}?{}", query.join("&"));

        // The password as written (percent-encoded or not), to mask it in
        // messages even before libpq has read it.
        let mut secrets = Vec::new();
        let userinfo = authority.split_once('@').map(|(info, _)| info);
        if let Some((_, password)) = userinfo.and_then(|info| info.split_once(':')) {
            secrets.push(password.to_string());
        }
        secrets.extend(
            params
                .iter()
                .filter(|(k, v)| k == "password" && !v.is_empty())
                .map(|(_, v)| v.clone()),
        );
        secrets.retain(|s| !s.is_empty());
        let mut url = DbUrl {
            libpq,
            raw: raw.to_string(),
            display: String::new(),
            secrets,
        };
        let pairs = conninfo::parse(&url.libpq).map_err(|why| {
            Error::usage(format!("invalid database URL: {}", url.mask(&why)))
                .with_hint(refused_hint(
                &why,
                "check the URL's parameters: postgresql://user@host:port/dbname?sslmode=require",
            ))
        })?;
        let get = |k: &str| conninfo::value(&pairs, k);
        let default_host = default_socket_dir(&pairs);
        if let Some(dir) = default_host {
            url.libpq.push_str("&host=");
            url.libpq.push_str(dir);
        }
        if let Some(ports) = get("port") {
            check_ports(ports)?;
        }
        if let Some(mode) = get("sslmode") {
            check_sslmode(mode)?;
        }
        check_direct_tls(get("sslnegotiation"), get("sslmode"))?;
        if let Some(password) = get("password").filter(|p| !p.is_empty()) {
            if !url.secrets.iter().any(|s| s == password) {
                url.secrets.push(password.to_string());
            }
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        url.display = display(
            get("user"),
            get("host")
                .or(get("hostaddr"))
                .or(default_host)
                .map(str::to_string)
                .or_else(|| env("PGHOST"))
                .or_else(|| env("PGHOSTADDR"))
                .as_deref(),
            get("port"),
            get("dbname").unwrap_or_default(),
        );
        Ok(url)
    }

    /// A libpq keyword/value string (SPEC §18: `host=… dbname=… user=…`),
    /// validated by libpq; the empty string connects with libpq's
    /// environment, service file and `.pgpass`, as psql does. The same
    /// additions as for a URL: `connect_timeout` (unless given),
    /// `fallback_application_name`, `client_encoding=UTF8` (unless given).
    pub fn keywords(raw: &str, timeout: Option<u64>, default_timeout: u64) -> Result<DbUrl> {
        let pairs = conninfo::parse(raw).map_err(|why| {
            // libpq's message may quote the string: never its password.
            let masked = raw
                .split_whitespace()
                .map(|w| {
                    if w.starts_with("password=") {
                        "password=****"
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            let why = if why.contains(raw) {
                why.replace(raw, &masked)
            } else {
                why
            };
            Error::usage(format!("invalid connection string: {why}")).with_hint(refused_hint(
                &why,
                "write it as keyword=value pairs: host=db.example.com dbname=app user=app",
            ))
        })?;
        let get = |k: &str| conninfo::value(&pairs, k).map(str::to_string);
        check_direct_tls(get("sslnegotiation").as_deref(), get("sslmode").as_deref())?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut libpq = raw.to_string();
        let mut add = |key: &str, value: &str| {
            libpq.push(' ');
            libpq.push_str(key);
            libpq.push('=');
            libpq.push_str(&conninfo::quote(value));
        };
        match timeout {
            Some(secs) => add("connect_timeout", &secs.to_string()),
            None if get("connect_timeout").is_none() && env("PGCONNECT_TIMEOUT").is_none() => {
                add("connect_timeout", &default_timeout.to_string())
            }
            None => {}
        }
        if get("fallback_application_name").is_none() {
            add("fallback_application_name", "todo");
        }
        if get("client_encoding").is_none() {
            add("client_encoding", "UTF8");
        }
        let user = get("user").or_else(|| env("PGUSER"));
        let default_host = default_socket_dir(&pairs);
        if let Some(dir) = default_host {
            add("host", dir);
        }
        let host = get("host")
            .or_else(|| get("hostaddr"))
            .or_else(|| default_host.map(str::to_string))
            .or_else(|| env("PGHOST"))
            .or_else(|| env("PGHOSTADDR"));
        let service = get("service").or_else(|| env("PGSERVICE"));
        // A service names the place itself (its host is in the service
        // file): `app@service qa/db`, not `localhost/service qa`. Nothing
        // at all is libpq's default socket directory.
        let place = match (host, service) {
            (Some(host), _) => host,
            (None, Some(service)) => format!("service {service}"),
            (None, None) => "/tmp".to_string(),
        };
        let db = get("dbname")
            .or_else(|| env("PGDATABASE"))
            .map(|db| format!("/{db}"))
            .unwrap_or_default();
        let display = match user {
            Some(u) => format!("{u}@{place}{db}"),
            None => format!("{place}{db}"),
        };
        Ok(DbUrl {
            libpq,
            raw: raw.to_string(),
            display,
            secrets: get("password")
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect(),
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

    /// Removes the password from a message (libpq echoes connection
    /// strings in some errors): the whole URL becomes its display form, and
    /// the password is masked where it stands as a password (`:pw@`,
    /// `password=pw`), never as any substring (a short password would
    /// otherwise mangle the message and give itself away).
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.replace(&self.libpq, &self.display);
        if !self.raw.is_empty() {
            out = out.replace(&self.raw, &self.display);
        }
        self.mask_secrets(out)
    }

    /// The URL as given, its password masked (`postgresql://app:****@db/app`):
    /// for showing a stored setting whole (`todo config list`).
    pub fn redacted(&self) -> String {
        self.mask_secrets(self.raw.clone())
    }

    /// Masks the password where it stands as one (see [`DbUrl::mask`]).
    fn mask_secrets(&self, mut out: String) -> String {
        for secret in &self.secrets {
            for (before, after) in [(":", "@"), ("password=", "&"), ("password=", " ")] {
                out = out.replace(
                    &format!("{before}{secret}{after}"),
                    &format!("{before}****{after}"),
                );
            }
            for quote in ["'", "\""] {
                out = out.replace(
                    &format!("password={quote}{secret}{quote}"),
                    &format!("password={quote}****{quote}"),
                );
            }
            if let Some(stripped) = out.strip_suffix(&format!("password={secret}")) {
                out = format!("{stripped}password=****");
            }
        }
        out
    }
}

/// What to do when this build's libpq (major version `libpq`) does not
/// know `sslnegotiation`.
pub fn no_direct_tls_hint(libpq: i32) -> String {
    format!(
        "sslnegotiation needs libpq 17 or later, and this todo uses libpq {libpq} \
         (build it with the default feature \"bundled\"), or remove it from the URL"
    )
}

/// The hint for a URL or string libpq refused (`why`): the parameter this
/// libpq is too old for, else `otherwise`.
fn refused_hint(why: &str, otherwise: &str) -> String {
    if why.contains("sslnegotiation") {
        no_direct_tls_hint(conninfo::libpq_major())
    } else {
        otherwise.to_string()
    }
}

/// Where a connection goes when nothing names a host (no `host`,
/// `hostaddr` or `service` among libpq's `pairs`, no `$PGHOST`,
/// `$PGHOSTADDR` or `$PGSERVICE`): the platform's socket
/// directory, as the platform's psql would use, where it differs from the
/// libpq built into the tool (whose compiled-in default is `/tmp`):
/// Debian, Ubuntu and Fedora put the server's socket in
/// `/var/run/postgresql`. `None`: libpq's own default.
fn default_socket_dir(pairs: &[(String, String)]) -> Option<&'static str> {
    const PLATFORM: &str = "/var/run/postgresql";
    let env = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let given = ["host", "hostaddr", "service"]
        .iter()
        .any(|k| conninfo::value(pairs, k).is_some_and(|v| !v.is_empty()));
    if given || ["PGHOST", "PGHOSTADDR", "PGSERVICE"].iter().any(|k| env(k)) {
        return None;
    }
    std::path::Path::new(PLATFORM).is_dir().then_some(PLATFORM)
}

/// `user@host:port/db` from libpq's values (hosts and ports are
/// comma-separated lists for multi-host URLs; an IPv6 host is bracketed
/// when a port follows it; a socket directory is shown without the port;
/// no host is libpq's default, shown as `localhost`; no database, nothing).
fn display(user: Option<&str>, hosts: Option<&str>, ports: Option<&str>, db: &str) -> String {
    let hosts: Vec<&str> = hosts.unwrap_or_default().split(',').collect();
    let ports: Vec<&str> = ports.unwrap_or_default().split(',').collect();
    let place = hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let host = if host.is_empty() { "localhost" } else { host };
            // One port may serve every host, as libpq reads it.
            let port = ports.get(i).or(ports.first()).copied().unwrap_or_default();
            match (port, host.contains(':')) {
                // A socket directory: the port only names the socket file.
                _ if host.starts_with('/') => host.to_string(),
                ("", _) => host.to_string(),
                (port, true) => format!("[{host}]:{port}"),
                (port, false) => format!("{host}:{port}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    // No database named: libpq's default (the user's name), shown as
    // nothing rather than as an empty path (`/run/pg`, not `/run/pg/`).
    let db = if db.is_empty() {
        String::new()
    } else {
        format!("/{db}")
    };
    match user {
        Some(u) if !u.is_empty() => format!("{u}@{place}{db}"),
        _ => format!("{place}{db}"),
    }
}

#[cfg(test)]
mod tests;
