//! Data written by other programs and odd input (hardening issue): escape
//! sequences never reach the terminal from tables, prompts or errors; case
//! folding is the server's, in one place; invisible and bidi characters are
//! refused in titles.

use crate::support::Outcome;
use crate::support::{expect_code, TestDb};

const ESC: char = '\u{1b}';

#[test]
fn tables_and_errors_show_escape_sequences_from_data_escaped() {
    let db = TestDb::migrated();
    let id = db.add_user("esc@example.com");
    // As the web app could have written them (SQL escapes, not ours).
    db.psql(&format!(
        "INSERT INTO tasks (title, description, user_id) VALUES
         (E'\\x1b[31mRED\\x1b[0m \\x1b]0;pwned\\x07 ok\\rmore\\u202eevil', E'clear\\x1b[2J\\nline 2', '{id}')"
    ));
    let task: i32 = db.value("SELECT max(id) FROM tasks").parse().unwrap();
    for args in [
        vec!["task", "list", "--format", "table"],
        vec!["task", "show", &task.to_string(), "--format", "table"],
    ] {
        let out = db.run(&args).env_user("esc@example.com").expect(0);
        let text = out.stdout();
        assert!(!text.contains(ESC), "{args:?}: {text:?}");
        assert!(!text.contains('\r'), "{args:?}: {text:?}");
        assert!(!text.contains('\u{202e}'), "{args:?}: {text:?}");
        assert!(text.contains("\\x1b[31mRED"), "{args:?}: {text}");
    }
    // Plain and JSON keep the exact characters, as specified.
    let out = db
        .run(["task", "show", &task.to_string(), "--json"])
        .env_user("esc@example.com")
        .output();
    assert!(out.value()["title"].as_str().unwrap().contains(ESC));
    let out = db
        .run(["task", "list", "--format", "plain"])
        .env_user("esc@example.com")
        .output();
    assert!(out.stdout().contains(ESC));

    // Input echoed in an error line.
    let out = db
        .cmd()
        .args(["user", "show", "\u{1b}]0;pwned\u{7}x@example.com"])
        .output();
    expect_code(&out, 3);
    assert!(!out.stderr().contains(ESC), "{:?}", out.stderr());
    assert!(out.stderr().contains("\\x1b]0;pwned"), "{}", out.stderr());
}

#[test]
fn emails_are_case_folded_by_the_server_only() {
    let db = TestDb::migrated();
    // Written by another program, in capitals Rust and PostgreSQL fold
    // differently (final sigma; dotted capital I).
    db.psql(
        "INSERT INTO users (id, email) VALUES ('greek', 'ΟΔΥΣΣΕΥΣ@ex.gr'), ('turk', 'KIZ@İSTANBUL.tr')",
    );
    for (email, id) in [("ΟΔΥΣΣΕΥΣ@ex.gr", "greek"), ("KIZ@İSTANBUL.tr", "turk")] {
        let out = db.run(["user", "show", email, "--json"]).output();
        assert_eq!(out.code(), Some(0), "{email}: {}", out.stderr());
        assert_eq!(out.value()["id"], id);
        let out = db.run(["user", "add", email]).output();
        assert_eq!(out.code(), Some(4), "{email}: {}", out.stderr());
    }
    assert_eq!(db.value("SELECT count(*) FROM users"), "2");
    // Stored lower-cased by the server.
    let out = db.run(["user", "add", "ΣΟΦΙΑ@EX.GR", "--json"]).expect(0);
    assert_eq!(
        out.value()["email"],
        db.value("SELECT lower('ΣΟΦΙΑ@EX.GR')")
    );
}

#[test]
fn invisible_only_and_bidi_titles_are_refused() {
    let db = TestDb::migrated();
    db.add_user("v@example.com");
    for title in [
        "\u{200b}\u{200b}",
        " \u{feff} \u{2060} ",
        "abc\u{202e}cba",
        "x\u{2066}y",
    ] {
        let out = db
            .run(["task", "add", title])
            .env_user("v@example.com")
            .output();
        assert_eq!(out.code(), Some(2), "{title:?}: {}", out.stderr());
    }
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}
