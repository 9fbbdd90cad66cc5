//! A database shared with other programs (SPEC §22): tables todo does not
//! own that reference `users` or `tasks` (the auth service's accounts and
//! sessions, the backend's tables), found in the catalog whatever they are
//! called, are never changed silently.

use crate::support::Outcome;
use crate::support::{on_a_terminal, TempDir, TestDb};

/// Other programs' tables with foreign keys to users and tasks, under names
/// todo cannot know.
const OTHER_TABLES: &str = "
    CREATE TABLE account (id text PRIMARY KEY, user_id varchar(255) NOT NULL
        REFERENCES users(id) ON DELETE CASCADE, password text);
    CREATE TABLE web_sessions (token text PRIMARY KEY, owner varchar(255)
        REFERENCES users(id) ON DELETE CASCADE);
    CREATE TABLE task_notes (id serial PRIMARY KEY, task integer REFERENCES tasks(id)
        ON DELETE CASCADE, note text)";

fn shared_db() -> (TestDb, String) {
    let db = TestDb::migrated();
    let uid = db.add_user("a@example.com");
    let task = db.add_task("a@example.com", "one");
    db.add_task("a@example.com", "two");
    db.psql(OTHER_TABLES);
    db.psql(&format!(
        "INSERT INTO account VALUES ('acc1', '{uid}', 'hash');
         INSERT INTO web_sessions VALUES ('s1', '{uid}'), ('s2', NULL);
         INSERT INTO task_notes (task, note) VALUES ({task}, 'a'), ({task}, 'b')"
    ));
    (db, uid)
}

fn other_rows(db: &TestDb) -> String {
    db.psql(
        "SELECT (SELECT count(*) FROM account) || ' ' || (SELECT count(*) FROM web_sessions)
                || ' ' || (SELECT count(*) FROM task_notes)",
    )
}

/// `db restore --replace` deletes every user and task: where rows of other
/// tables reference them, it refuses (exit 4, each table with its rows),
/// before asking and in its transaction alike, and changes nothing.
#[test]
fn restore_replace_refuses_to_delete_rows_other_tables_reference() {
    let (db, _) = shared_db();
    let dir = TempDir::new("shared-restore");
    let file = dir.join("b.todo");
    db.cmd().args(["db", "backup", "-q", "-o"]).arg(&file).ok();
    let before = (other_rows(&db), db.psql("SELECT count(*) FROM tasks"));

    let out = db
        .cmd()
        .args(["db", "restore", "--replace", "--yes"])
        .arg(&file)
        .expect(4);
    assert_eq!(
        out.stderr(),
        "error: db restore --replace deletes every user and task, and rows of other tables \
         reference them: account (1 row), task_notes (2 rows), web_sessions (1 row); nothing \
         was changed\n\
         hint: those rows belong to other programs (the auth service's sessions and accounts, \
         the backend's tables): add the backup's rows with --append instead, or restore into \
         an empty database\n"
    );
    assert_eq!(
        (other_rows(&db), db.psql("SELECT count(*) FROM tasks")),
        before
    );

    // On a terminal: refused before the question is asked.
    let (code, screen) =
        on_a_terminal(&db, &format!("db restore --replace {}", file.display()), "");
    assert_eq!(code, Some(4), "{screen}");
    assert!(!screen.contains("[y/N]"), "{screen}");
    assert_eq!(other_rows(&db), before.0);

    // Tables that reference nothing any more do not stand in the way (and
    // their foreign keys survive the restore).
    db.psql("DELETE FROM account; DELETE FROM task_notes; UPDATE web_sessions SET owner = NULL");
    db.cmd()
        .args(["db", "restore", "--replace", "--yes", "-q"])
        .arg(&file)
        .ok();
    assert_eq!(db.psql("SELECT count(*) FROM tasks"), "2");
    assert_eq!(
        db.psql(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f'
               AND conrelid IN ('account'::regclass, 'web_sessions'::regclass, 'task_notes'::regclass)"
        ),
        "3"
    );
}
