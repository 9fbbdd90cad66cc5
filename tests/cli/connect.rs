//! Connecting (SPEC §2): URL precedence, normalisation, masking, and the
//! exit codes of connection failures (SPEC §9).

use std::time::{Duration, Instant};

use crate::support::Outcome;
use crate::support::{
    expect_code, server, stdout, todo_cmd, TempDir, TestDb, PW_ROLE, PW_ROLE_PASSWORD,
};

/// A URL for the private server's socket with the given credentials.
fn socket_url(user_info: &str, db: &str) -> String {
    let dir = server()
        .socket_dir
        .clone()
        .expect("these tests need the private server (TEST_DATABASE_URL unset)");
    format!("postgresql://{user_info}@/{db}?host={}", dir.display())
}

#[test]
fn refused_port_exits_5() {
    let dir = tempdir();
    let out = todo_cmd(&dir)
        .args([
            "db",
            "status",
            "--database-url",
            "postgresql://nobody@127.0.0.1:1/none",
        ])
        .expect(5);
    let err = out.stderr();
    assert!(
        err.starts_with("error: cannot connect to nobody@127.0.0.1:1/none"),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn wrong_password_fails_at_once_with_the_reason_and_without_the_password() {
    let db = TestDb::migrated();
    let secret = "Wr0ng-Secret-42";
    let start = Instant::now();
    let out = todo_cmd(&db.dir)
        .args(["db", "status", "--connect-timeout", "30"])
        .env(
            "DATABASE_URL",
            socket_url(&format!("{PW_ROLE}:{secret}"), &db.name),
        )
        .output();
    // Far below the connect timeout: the failure is not retried.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    expect_code(&out, 5);
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(all.contains("password authentication failed"), "{all}");
    assert!(!all.contains(secret), "{all}");

    // The right password works (so the failure above was the password).
    db.psql(&format!(
        "GRANT SELECT ON __diesel_schema_migrations TO {PW_ROLE}"
    ));
    todo_cmd(&db.dir)
        .args(["db", "status"])
        .env(
            "DATABASE_URL",
            socket_url(&format!("{PW_ROLE}:{PW_ROLE_PASSWORD}"), &db.name),
        )
        .ok();
}

#[test]
fn unknown_database_fails_at_once_with_the_reason() {
    let dir = tempdir();
    let out = todo_cmd(&dir)
        .args(["db", "status", "--connect-timeout", "30"])
        .env(
            "DATABASE_URL",
            socket_url("postgres:some-pass", "no_such_db"),
        )
        .expect(5);
    let err = out.stderr();
    assert!(
        err.contains("database \"no_such_db\" does not exist"),
        "{err}"
    );
    assert!(!err.contains("some-pass"), "{err}");
}

/// A setting the server refuses at start-up, from `PGOPTIONS` or the URL's
/// `options`, is a usage error that says so; it is not called a bad URL.
#[test]
fn a_setting_the_server_refuses_is_named_and_exit_2() {
    let db = TestDb::migrated();
    let out = db
        .run(["user", "list"])
        .env("PGOPTIONS", "-c maintenance_work_mem=lots")
        .expect(2);
    let err = out.stderr();
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("refused a setting of the connection"), "{err}");
    assert!(
        err.contains("invalid value for parameter \"maintenance_work_mem\""),
        "{err}"
    );
    assert!(!err.contains("invalid database URL"), "{err}");
    assert!(err.contains("PGOPTIONS"), "the hint: {err}");
    // The same setting, accepted, reaches the server.
    let out = db
        .run(["user", "list", "--json"])
        .env("PGOPTIONS", "-c maintenance_work_mem=100MB")
        .expect(0);
    assert_eq!(out.value(), serde_json::json!([]));
    let url = db.url();
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}options=-c%20work_mem%3Dnone");
    let out = db.run(["user", "list", "--database-url", &url]).expect(2);
    assert!(
        out.stderr().contains("refused a setting of the connection"),
        "{}",
        out.stderr()
    );
}

#[test]
fn url_precedence_flag_then_env_then_dotenv() {
    let db = TestDb::migrated();
    let bad = "postgresql://nobody@127.0.0.1:1/none";
    let has_status = |out: &crate::support::Done| {
        out.code() == Some(0) && stdout(out).contains("20261124000001")
    };

    // --database-url beats both variables.
    let out = todo_cmd(&db.dir)
        .args(["db", "status", "--database-url", &db.url()])
        .env("TODO_DATABASE_URL", bad)
        .env("DATABASE_URL", bad)
        .output();
    assert!(has_status(&out), "{}", out.stderr());

    // TODO_DATABASE_URL beats DATABASE_URL.
    let out = todo_cmd(&db.dir)
        .args(["db", "status"])
        .env("TODO_DATABASE_URL", db.url())
        .env("DATABASE_URL", bad)
        .output();
    assert!(has_status(&out), "{}", out.stderr());
    let _out = todo_cmd(&db.dir)
        .args(["db", "status"])
        .env("TODO_DATABASE_URL", bad)
        .env("DATABASE_URL", db.url())
        .expect(5);

    // The environment beats ./.env.
    std::fs::write(db.dir.join(".env"), format!("DATABASE_URL={bad}\n")).unwrap();
    let out = todo_cmd(&db.dir)
        .args(["db", "status"])
        .env("DATABASE_URL", db.url())
        .output();
    assert!(has_status(&out), "{}", out.stderr());

    // ./.env alone; its TODO_DATABASE_URL beats its DATABASE_URL.
    std::fs::write(
        db.dir.join(".env"),
        format!("DATABASE_URL={bad}\nTODO_DATABASE_URL={}\n", db.url()),
    )
    .unwrap();
    let out = todo_cmd(&db.dir).args(["db", "status"]).output();
    assert!(has_status(&out), "{}", out.stderr());

    // Only ./.env: not one in a parent directory.
    let child = db.dir.join("sub");
    std::fs::create_dir_all(&child).unwrap();
    let out = todo_cmd(&child).args(["db", "status"]).expect(5);
    assert!(
        out.stderr().contains("no database configured"),
        "{}",
        out.stderr()
    );
}

#[test]
fn sqlalchemy_urls_are_normalised() {
    let db = TestDb::migrated();
    let base = db.url();
    let rest = base.strip_prefix("postgresql://").unwrap();
    for url in [
        format!("postgresql+psycopg://{rest}"),
        format!("postgresql+psycopg2://{rest}"),
        // libpq rejects `ssl`; it must arrive as sslmode (ignored on a socket).
        format!("postgresql+asyncpg://{rest}&ssl=require"),
        format!("postgres://{rest}"),
    ] {
        let out = todo_cmd(&db.dir)
            .args(["db", "status"])
            .env("DATABASE_URL", &url)
            .output();
        assert_eq!(out.code(), Some(0), "{url}: {}", out.stderr());
    }
    let out = todo_cmd(&db.dir)
        .args(["db", "status"])
        .env("DATABASE_URL", format!("mysql://{rest}"))
        .expect(2);
    assert!(
        out.stderr().contains("unsupported database URL scheme"),
        "{}",
        out.stderr()
    );
}

#[test]
fn no_url_without_a_terminal_exits_5_with_a_hint() {
    let dir = tempdir();
    let out = todo_cmd(&dir).args(["db", "status"]).expect(5);
    let err = out.stderr();
    assert!(err.starts_with("error: no database configured\n"), "{err}");
    assert!(err.contains("hint: set DATABASE_URL"), "{err}");
    // Every place a database can be named (SPEC §18), and --local.
    for place in ["./.env", "todo config set database", "PGHOST", "--local"] {
        assert!(err.contains(place), "{place}: {err}");
    }
}

#[test]
fn local_and_database_url_together_is_a_usage_error() {
    let dir = tempdir();
    let _out = todo_cmd(&dir)
        .args([
            "db",
            "status",
            "--local",
            "--database-url",
            "postgresql://h/db",
        ])
        .expect(2);
    let _out = todo_cmd(&dir)
        .args(["db", "status", "--database-url", "postgresql://h/db"])
        .env("TODO_LOCAL", "1")
        .expect(2);
}

#[test]
fn errors_are_one_json_object_under_json() {
    let dir = tempdir();
    let out = todo_cmd(&dir)
        .args([
            "--json",
            "db",
            "status",
            "--database-url",
            "postgresql://u:pw123456@127.0.0.1:1/x",
        ])
        .expect(5);
    assert_eq!(out.stdout(), "");
    let err = out.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("pw123456"));
    let v: serde_json::Value = serde_json::from_str(&err).unwrap();
    assert_eq!(v["error"]["code"], 5);
    assert_eq!(v["error"]["kind"], "unavailable");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("cannot connect to u@127.0.0.1:1/x"));

    // Usage errors too, when --json was asked for.
    let out = todo_cmd(&dir).args(["db", "nonsense", "--json"]).expect(2);
    let v: serde_json::Value = serde_json::from_str(&out.stderr()).unwrap();
    assert_eq!(v["error"]["kind"], "usage");
}

#[test]
fn global_flags_work_before_and_after_the_subcommand() {
    let db = TestDb::migrated();
    for args in [
        vec!["--format", "json", "db", "status"],
        vec!["db", "--format", "json", "status"],
        vec!["db", "status", "--format=json"],
    ] {
        let out = db.run(&args).output();
        assert_eq!(out.code(), Some(0), "{args:?}");
        assert_eq!(out.value()["pending"], serde_json::json!([]), "{args:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempdir();
    for args in [
        vec!["db", "frobnicate"],
        vec!["--format", "xml", "db", "status"],
        vec![],
    ] {
        let out = todo_cmd(&dir).args(&args).output();
        assert_eq!(out.code(), Some(2), "{args:?}");
    }
    // Like every error: one `error:` line and a `hint:` line.
    let out = todo_cmd(&dir).args(["task", "list"]).output();
    assert_eq!(
        out.stderr(),
        "error: the following required arguments were not provided: --user <USER>\n\
         hint: usage: todo task list --user <USER> (or set TODO_USER)\n"
    );
    todo_cmd(&dir).arg("--help").ok();
    todo_cmd(&dir).arg("--version").ok();
}

/// A working directory of its own, removed at the end of the test.
pub fn tempdir() -> TempDir {
    TempDir::new("dir")
}

#[test]
fn verbose_logs_statements_but_never_the_password() {
    let db = TestDb::migrated();
    db.psql(&format!(
        "GRANT SELECT ON __diesel_schema_migrations TO {PW_ROLE}"
    ));
    let out = todo_cmd(&db.dir)
        .args(["-v", "db", "status"])
        .env(
            "DATABASE_URL",
            socket_url(&format!("{PW_ROLE}:{PW_ROLE_PASSWORD}"), &db.name),
        )
        .expect(0);
    let err = out.stderr();
    assert!(
        err.contains(&format!("todo: connected to {PW_ROLE}@")),
        "{err}"
    );
    assert!(err.contains("todo: sql ("), "{err}");
    assert!(err.contains("__diesel_schema_migrations"), "{err}");
    assert!(!err.contains(PW_ROLE_PASSWORD), "{err}");
}

/// Every command ends its server session with a Terminate message, also
/// now that the message waits for the pools' threads (`pool::close`): the
/// server counts a session whose client vanished without one as
/// abandoned.
#[test]
fn commands_end_their_sessions_with_a_terminate() {
    let db = TestDb::migrated();
    db.add_user("bye@example.com");
    let _listed = db
        .run(["task", "list", "--user", "bye@example.com"])
        .expect(0);
    let _failed = db
        .run(["task", "show", "999", "--user", "bye@example.com"])
        .expect(3);
    // Statistics arrive when each session has ended.
    assert!(db.wait_until(
        "SELECT sessions >= 3 FROM pg_stat_database WHERE datname = current_database()"
    ));
    let abandoned = db.value(
        "SELECT sessions_abandoned FROM pg_stat_database WHERE datname = current_database()",
    );
    assert_eq!(abandoned, "0");
}

/// With no host anywhere (`PGDATABASE=app` only), a connection goes where
/// the platform's psql goes: Debian's socket directory
/// `/var/run/postgresql`, not the bundled libpq's `/tmp` (issue 43, SPEC
/// §23); messages name the socket directory, not `localhost`. The test
/// server is reached through a link in that directory, under a port of
/// its own.
#[test]
fn with_no_host_anywhere_the_platforms_socket_directory_is_used() {
    let platform = std::path::Path::new("/var/run/postgresql");
    assert!(
        platform.is_dir(),
        "the test needs /var/run/postgresql (Debian's postgresql-common makes it)"
    );
    let port = 50_000 + std::process::id() % 10_000;
    let link = platform.join(format!(".s.PGSQL.{port}"));
    let socket = server()
        .socket_dir
        .clone()
        .expect("the private server")
        .join(".s.PGSQL.5432");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&socket, &link)
        .expect("the test writes a link into /var/run/postgresql (run it as root)");
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _remove = Remove(link);
    let db = TestDb::migrated();
    let dir = TempDir::new("platform-socket");
    let run = |port: u32| {
        todo_cmd(&dir)
            .env("PGDATABASE", &db.name)
            .env("PGUSER", "postgres")
            .env("PGPORT", port.to_string())
            .args(["db", "status", "--json"])
            .output()
    };
    let out = run(port);
    expect_code(&out, 0);
    assert!(out.value()["applied"].is_array());
    // Nothing listens on the next port: the message names the directory.
    let out = run(port + 1);
    expect_code(&out, 5);
    assert!(
        out.stderr().contains("postgres@/var/run/postgresql/"),
        "{}",
        out.stderr()
    );
    assert!(!out.stderr().contains("localhost"), "{}", out.stderr());
}
