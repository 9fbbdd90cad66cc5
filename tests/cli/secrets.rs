//! Secrets never leak (SPEC §2, hardening issue): URLs that libpq would
//! split differently from us are refused before libpq sees them, masking is
//! contextual, `./.env` is read as python-dotenv reads it without ever
//! echoing its content, and bad connection parameters are usage errors.

use std::os::unix::ffi::OsStrExt;

use crate::connect::tempdir;
use crate::support::{expect_code, stderr, stdout, todo_cmd, TestDb};

/// Everything a command printed.
fn all(out: &std::process::Output) -> String {
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
        let runs: Vec<(&str, std::process::Output)> = vec![
            (
                "flag",
                todo_cmd(&dir)
                    .args(["db", "status", "--database-url", url])
                    .output()
                    .unwrap(),
            ),
            (
                "env",
                todo_cmd(&dir)
                    .args(["task", "list", "--user", "a@b.co"])
                    .env("DATABASE_URL", url)
                    .output()
                    .unwrap(),
            ),
            (
                "json",
                todo_cmd(&dir)
                    .args(["user", "list", "--json"])
                    .env("TODO_DATABASE_URL", url)
                    .output()
                    .unwrap(),
            ),
            (
                "health",
                todo_cmd(&dir)
                    .args(["db", "health"])
                    .env("DATABASE_URL", url)
                    .output()
                    .unwrap(),
            ),
        ];
        for (how, out) in runs {
            let text = all(&out);
            for secret in ["retPW", "TopSecretPart", "zzsecretPW"] {
                assert!(!text.contains(secret), "{how} {url}: {text}");
            }
            if how != "health" {
                assert_eq!(out.status.code(), Some(2), "{how} {url}: {text}");
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
        .output()
        .unwrap();
    expect_code(&out, 5);
    let err = stderr(&out);
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
    let out = todo_cmd(&db.dir).args(["db", "status"]).output().unwrap();
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("line 1 of ./.env"), "{err}");
    assert!(!err.contains("Secr3t"), "{err}");

    // A URL in ./.env that cannot be used: the error never shows the line.
    std::fs::write(
        db.dir.join(".env"),
        "DATABASE_URL=\"postgresql://app:Secr3tPW@h:5432/db\" oops\n",
    )
    .unwrap();
    let out = todo_cmd(&db.dir).args(["db", "status"]).output().unwrap();
    expect_code(&out, 5);
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
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{query}: {}", stderr(&out));
    }
    let out = todo_cmd(&db.dir)
        .args(["db", "status"])
        .env("DATABASE_URL", "postgresql://h:abc/db")
        .output()
        .unwrap();
    expect_code(&out, 2);
}

#[test]
fn connect_timeouts_out_of_range_are_usage_errors() {
    let dir = tempdir();
    for value in ["0", "99999999999", "-1", "abc"] {
        let out = todo_cmd(&dir)
            .args(["db", "status", "--connect-timeout", value])
            .env("DATABASE_URL", "postgresql://u@127.0.0.1:1/db")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{value}: {}", stderr(&out));
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
        .output()
        .unwrap();
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("$DATABASE_URL is not valid UTF-8"),
        "{}",
        stderr(&out)
    );
}
