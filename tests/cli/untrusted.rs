//! Data written by other programs and odd input (hardening issue): escape
//! sequences never reach the terminal from tables, prompts or errors; case
//! folding is the server's, in one place; invisible and bidi characters are
//! refused in titles.

use crate::support::{expect_code, json, stderr, stdout, TestDb};

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
        let out = db.as_user("esc@example.com").args(&args).output().unwrap();
        expect_code(&out, 0);
        let text = stdout(&out);
        assert!(!text.contains(ESC), "{args:?}: {text:?}");
        assert!(!text.contains('\r'), "{args:?}: {text:?}");
        assert!(!text.contains('\u{202e}'), "{args:?}: {text:?}");
        assert!(text.contains("\\x1b[31mRED"), "{args:?}: {text}");
    }
    // Plain and JSON keep the exact characters, as specified.
    let out = db
        .as_user("esc@example.com")
        .args(["task", "show", &task.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(json(&out)["title"].as_str().unwrap().contains(ESC));
    let out = db
        .as_user("esc@example.com")
        .args(["task", "list", "--format", "plain"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains(ESC));

    // Input echoed in an error line.
    let out = db
        .cmd()
        .args(["user", "show", "\u{1b}]0;pwned\u{7}x@example.com"])
        .output()
        .unwrap();
    expect_code(&out, 3);
    assert!(!stderr(&out).contains(ESC), "{:?}", stderr(&out));
    assert!(stderr(&out).contains("\\x1b]0;pwned"), "{}", stderr(&out));
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
        let out = db
            .cmd()
            .args(["user", "show", email, "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{email}: {}", stderr(&out));
        assert_eq!(json(&out)["id"], id);
        let out = db.cmd().args(["user", "add", email]).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{email}: {}", stderr(&out));
    }
    assert_eq!(db.value("SELECT count(*) FROM users"), "2");
    // Stored lower-cased by the server.
    let out = db
        .cmd()
        .args(["user", "add", "ΣΟΦΙΑ@EX.GR", "--json"])
        .output()
        .unwrap();
    expect_code(&out, 0);
    assert_eq!(json(&out)["email"], db.value("SELECT lower('ΣΟΦΙΑ@EX.GR')"));
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
            .as_user("v@example.com")
            .args(["task", "add", title])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{title:?}: {}", stderr(&out));
    }
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}
