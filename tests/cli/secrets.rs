//! Secrets never leak (SPEC §2, hardening issue): URLs that libpq would
//! split differently from us are refused before libpq sees them, masking is
//! contextual, `./.env` is read as python-dotenv reads it without ever
//! echoing its content, and bad connection parameters are usage errors.

use std::os::unix::ffi::OsStrExt;

use crate::connect::tempdir;
use crate::support::Outcome;
use crate::support::{stderr, stdout, todo_cmd, TestDb};

/// Everything a command printed.
fn all(out: &impl Outcome) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn passwords_with_unencoded_separators_never_print_and_exit_2() {
    let dir = tempdir();
    let urls = [
        "postgresql://weird:Sec/retPW@127.0.0.1:5477/todo2",
        "postgresql://weird:abc@TopSecretPart@127.0.0.1:5477/todo2",
        "postgresql://weird:Sec?retPW@127.0.0.1:5477/todo2",
        "postgresql+asyncpg://weird:Sec/retPW@127.0.0.1:5477/todo2?ssl=require",
        "postgresql://bob:top%zzsecretPW@localhost/db",
    ];
    for url in urls {
        let runs: Vec<(&str, crate::support::Done)> = vec![
            (
                "flag",
                todo_cmd(&dir)
                    .args(["db", "status", "--database-url", url])
                    .output(),
            ),
            (
                "env",
                todo_cmd(&dir)
                    .args(["task", "list", "--user", "a@b.co"])
                    .env("DATABASE_URL", url)
                    .output(),
            ),
            (
                "json",
                todo_cmd(&dir)
                    .args(["user", "list", "--json"])
                    .env("TODO_DATABASE_URL", url)
                    .output(),
            ),
            (
                "health",
                todo_cmd(&dir)
                    .args(["db", "health"])
                    .env("DATABASE_URL", url)
                    .output(),
            ),
        ];
        for (how, out) in runs {
            let text = all(&out);
            for secret in ["retPW", "TopSecretPart", "zzsecretPW"] {
                assert!(!text.contains(secret), "{how} {url}: {text}");
            }
            if how != "health" {
                assert_eq!(out.code(), Some(2), "{how} {url}: {text}");
                assert!(text.contains("percent-encode"), "{how} {url}: {text}");
            }
        }
    }
}

#[test]
fn a_short_password_does_not_mangle_the_message() {
    let dir = tempdir();
    let out = todo_cmd(&dir)
        .args(["db", "status"])
        .env("DATABASE_URL", "postgresql://u:e@127.0.0.1:1/none")
        .expect(5);
    let err = out.stderr();
    assert!(err.contains("Connection refused"), "{err}");
    assert!(err.contains("server"), "{err}");
    assert!(!err.contains("****"), "{err}");
}

#[test]
fn a_bad_dotenv_line_is_skipped_with_a_warning_that_shows_no_content() {
    let db = TestDb::migrated();
    std::fs::write(
        db.dir.join(".env"),
        format!(
            "SECRET_KEY='abc' trailing-Secr3tJunk\nDATABASE_URL={}\n",
            db.url()
        ),
    )
    .unwrap();
    let out = todo_cmd(&db.dir).args(["db", "status"]).expect(0);
    let err = out.stderr();
    assert!(err.contains("line 1 of ./.env"), "{err}");
    assert!(!err.contains("Secr3t"), "{err}");

    // A URL in ./.env that cannot be used: the error never shows the line.
    std::fs::write(
        db.dir.join(".env"),
        "DATABASE_URL=\"postgresql://app:Secr3tPW@h:5432/db\" oops\n",
    )
    .unwrap();
    let out = todo_cmd(&db.dir).args(["db", "status"]).expect(5);
    assert!(!all(&out).contains("Secr3tPW"), "{}", all(&out));
}

#[test]
fn bad_connection_parameters_are_usage_errors() {
    let db = TestDb::migrated();
    for query in [
        "port=abc",
        "sslmode=bogus",
        "frobnicate=1",
        "connect_timeout=abc",
    ] {
        let url = if db.url().contains('?') {
            format!("{}&{query}", db.url())
        } else {
            format!("{}?{query}", db.url())
        };
        let out = todo_cmd(&db.dir)
            .args(["db", "status"])
            .env("DATABASE_URL", &url)
            .output();
        assert_eq!(out.code(), Some(2), "{query}: {}", out.stderr());
    }
    let _out = todo_cmd(&db.dir)
        .args(["db", "status"])
        .env("DATABASE_URL", "postgresql://h:abc/db")
        .expect(2);
}

#[test]
fn connect_timeouts_out_of_range_are_usage_errors() {
    let dir = tempdir();
    for value in ["0", "99999999999", "-1", "abc"] {
        let out = todo_cmd(&dir)
            .args(["db", "status", "--connect-timeout", value])
            .env("DATABASE_URL", "postgresql://u@127.0.0.1:1/db")
            .output();
        assert_eq!(out.code(), Some(2), "{value}: {}", out.stderr());
    }
}

#[test]
fn a_url_variable_that_is_not_utf8_is_an_error_not_ignored() {
    let db = TestDb::migrated();
    // ./.env holds a working URL: a silently ignored variable would use it.
    std::fs::write(db.dir.join(".env"), format!("DATABASE_URL={}\n", db.url())).unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"postgresql://u@h/\xff\xfe");
    let out = todo_cmd(&db.dir)
        .args(["db", "status"])
        .env("DATABASE_URL", bad)
        .expect(2);
    assert!(
        out.stderr().contains("$DATABASE_URL is not valid UTF-8"),
        "{}",
        out.stderr()
    );
}

/// Every substring of 4 or more characters of `secret`.
fn fragments(secret: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    let mut out = Vec::new();
    for len in 4..=chars.len() {
        for start in 0..=chars.len() - len {
            out.push(chars[start..start + len].iter().collect());
        }
    }
    out
}

#[test]
fn no_fragment_of_a_password_appears_on_any_failing_connection_path() {
    use crate::support::servers::{pgbouncer, tls_server};
    let db = TestDb::migrated();
    let dir = tempdir();
    let secret = "p@ss#w0rdZq";
    let encoded = "p%40ss%23w0rdZq";
    let socket = crate::support::server()
        .socket_dir
        .clone()
        .expect("the private server");
    let tls = tls_server();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        // Malformed: unencoded @ and # (libpq would read part as the host).
        (
            "malformed",
            format!("postgresql://app:{secret}@127.0.0.1:5432/db"),
            vec![],
        ),
        // A wrong password, encoded correctly, over the socket (SCRAM).
        (
            "wrong password",
            format!(
                "postgresql://{}:{encoded}@/{}?host={}",
                crate::support::PW_ROLE,
                db.name,
                socket.display()
            ),
            vec![],
        ),
        // TLS refused: the TLS-only server rejects a plain connection.
        ("tls refused", tls.url(encoded, "sslmode=disable"), vec![]),
        // TLS with a wrong password.
        (
            "tls wrong password",
            tls.url(encoded, "sslmode=require"),
            vec![],
        ),
        // Through the pooler, to a database that does not exist.
        (
            "pooler",
            pgbouncer()
                .url("no_such_database")
                .replace("postgres@", &format!("postgres:{encoded}@")),
            vec![],
        ),
        // With --verbose.
        (
            "verbose",
            format!("postgresql://app:{encoded}@127.0.0.1:1/db"),
            vec!["-v"],
        ),
        // An unknown parameter.
        (
            "bogus parameter",
            format!("postgresql://app:{encoded}@127.0.0.1:1/db?bogus=1"),
            vec![],
        ),
    ];
    for (name, url, extra) in cases {
        for args in [
            vec!["task", "list", "--user", "a@b.co"],
            vec!["db", "health", "--json"],
        ] {
            let out = todo_cmd(&dir)
                .args(&extra)
                .args(&args)
                .env("DATABASE_URL", &url)
                .output();
            assert_ne!(out.code(), Some(0), "{name}: it connected");
            let text = all(&out);
            for fragment in fragments(secret).iter().chain(fragments(encoded).iter()) {
                assert!(
                    !text.contains(fragment.as_str()),
                    "{name} {args:?}: '{fragment}' in {text}"
                );
            }
        }
    }
}
