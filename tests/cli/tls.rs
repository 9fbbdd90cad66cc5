//! TLS + SCRAM (SPEC §2) against a local server that accepts nothing else,
//! with the web backend's URL forms, from the environment and from `.env`.

use std::time::{Duration, Instant};

use crate::support::servers::tls_server;
use crate::support::Outcome;
use crate::support::{expect_code, todo_cmd, PW_ROLE_PASSWORD};

/// A working directory of its own, removed at the end.
fn dir(tag: &str) -> crate::support::TempDir {
    crate::support::TempDir::new(&format!("tls-{tag}"))
}

#[test]
fn sslmode_require_with_channel_binding_works() {
    let tls = tls_server();
    let d = dir("ok");
    let email = format!("tls-{}@example.com", std::process::id());
    let _out = todo_cmd(&d)
        .args(["user", "add", &email, "--json"])
        .env("DATABASE_URL", tls.good_url())
        .expect(0);
    let _out = todo_cmd(&d)
        .args(["task", "add", "over TLS", "--user", &email, "-q"])
        .env("DATABASE_URL", tls.good_url())
        .expect(0);
    let out = todo_cmd(&d)
        .args(["user", "rm", &email, "--yes", "--json"])
        .env("DATABASE_URL", tls.good_url())
        .output();
    assert_eq!(out.value()["tasks_deleted"], 1);
}

#[test]
fn the_backends_url_forms_work_from_env_and_dotenv() {
    let tls = tls_server();
    let plain = tls.url(PW_ROLE_PASSWORD, "sslmode=require&channel_binding=require");
    let rest = plain.strip_prefix("postgresql://").unwrap();
    let base = rest.split('?').next().unwrap();
    let forms = [
        format!("postgresql+psycopg://{rest}"),
        format!("postgresql+psycopg2://{rest}"),
        format!("postgresql+asyncpg://{base}?ssl=require"),
    ];
    for (i, url) in forms.iter().enumerate() {
        let d = dir(&format!("form{i}"));
        let out = todo_cmd(&d)
            .args(["db", "status", "--check"])
            .env("DATABASE_URL", url)
            .output();
        assert_eq!(out.code(), Some(0), "{url}: {}", out.stderr());
        std::fs::write(
            d.join(".env"),
            format!("# the backend's .env\nSECRET_KEY=abc\nDATABASE_URL={url}\n"),
        )
        .unwrap();
        let out = todo_cmd(&d).args(["db", "status", "--check"]).output();
        assert_eq!(out.code(), Some(0), ".env {url}: {}", out.stderr());
    }
}

#[test]
fn a_wrong_password_fails_at_once_without_showing_it() {
    let tls = tls_server();
    let secret = "N0t-The-Password";
    let d = dir("wrong");
    let start = Instant::now();
    let out = todo_cmd(&d)
        .args(["db", "status", "--connect-timeout", "30"])
        .env(
            "DATABASE_URL",
            tls.url(secret, "sslmode=require&channel_binding=require"),
        )
        .output();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    expect_code(&out, 5);
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(all.contains("password authentication failed"), "{all}");
    assert!(!all.contains(secret), "{all}");
}

#[test]
fn a_plaintext_connection_is_refused_with_the_servers_reason() {
    let tls = tls_server();
    let d = dir("plain");
    let out = todo_cmd(&d)
        .args(["db", "status"])
        .env("DATABASE_URL", tls.url(PW_ROLE_PASSWORD, "sslmode=disable"))
        .expect(5);
    let err = out.stderr();
    assert!(
        err.contains("rejects connection") || err.contains("no encryption"),
        "{err}"
    );
    assert!(!err.contains(PW_ROLE_PASSWORD), "{err}");
}

/// Direct TLS negotiation against PostgreSQL < 17: one clear error with
/// what to change, exit 2, and `db wait` does not retry it (issue 24, 25).
/// Against 17 or later (`scripts/test --pg 18`) it connects.
#[test]
fn direct_ssl_negotiation_against_an_older_server_says_so_at_once() {
    let tls = tls_server();
    let url = tls.url(PW_ROLE_PASSWORD, "sslmode=require&sslnegotiation=direct");
    let d = dir("direct");
    if crate::support::server_major() >= 17 && cfg!(not(feature = "system-libpq")) {
        todo_cmd(&d)
            .args(["db", "status"])
            .env("DATABASE_URL", &url)
            .ok()
            .stdout_has("applied");
        return;
    }
    let out = todo_cmd(&d)
        .args(["user", "list"])
        .env("DATABASE_URL", &url)
        .expect(2);
    // libpq 17+ (the bundled one) tries and the server hangs up; an older
    // system libpq does not know the parameter: each says what to change.
    let err = out.stderr();
    assert!(
        err.contains("sslnegotiation=direct needs PostgreSQL 17")
            || err.contains("sslnegotiation needs libpq 17 or later"),
        "{err}"
    );
    assert!(!err.contains(PW_ROLE_PASSWORD));
    let start = Instant::now();
    let _out = todo_cmd(&d)
        .args(["db", "wait", "--timeout", "20"])
        .env("DATABASE_URL", &url)
        .expect(2);
    assert!(start.elapsed() < Duration::from_secs(10), "not retried");
}
