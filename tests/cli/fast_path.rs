//! The bulk-load fast path of `db restore` (`todo::db::fast_path`): into
//! plain tables it truncates them in its transaction and loads with
//! `COPY … FREEZE`; when truncating would touch anything else (another
//! table's foreign key, an `ON TRUNCATE` trigger, a publication) it does
//! not, and the restore is the same; the builds' memory follows the rows
//! and the server's settings.

use diesel::connection::Connection;
use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use todo::db::PgConn;

use crate::backup::rows;
use crate::migrate::dump;
use crate::support::{expect_code, Outcome, TempDir, TestDb};

/// A backup of a few users and tasks, and the rows it holds.
fn backed_up(dir: &TempDir) -> (std::path::PathBuf, String) {
    let source = TestDb::migrated();
    source
        .run([
            "db",
            "seed",
            "--users",
            "20",
            "--tasks-per-user",
            "10",
            "-q",
        ])
        .ok();
    let file = dir.join("b.todo");
    source
        .cmd()
        .args(["db", "backup", "-q", "-o"])
        .arg(&file)
        .expect(0);
    (file, rows(&source))
}

/// `db restore -v`: its log of statements.
fn restore_logged(db: &TestDb, file: &std::path::Path, extra: &[&str]) -> String {
    let out = db
        .cmd()
        .args(["db", "restore", "-v"])
        .arg(file)
        .args(extra)
        .output();
    expect_code(&out, 0);
    out.stderr()
}

/// Whether the log's statement re-adding `key` is the only one between
/// the merge-join setting and its reset (`fast_path::HASH_JOIN_OFF`).
fn checked_in_order(log: &str, key: &str) -> bool {
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("todo: sql")).collect();
    let add = format!("ADD CONSTRAINT {key} ");
    let Some(at) = lines.iter().position(|l| l.contains(&add)) else {
        panic!("no {add} in {log}");
    };
    at > 0
        && lines[at - 1].contains("set_config('enable_hashjoin', 'off', true)")
        && lines
            .get(at + 1)
            .is_some_and(|l| l.contains("SET LOCAL enable_hashjoin TO DEFAULT"))
}

#[test]
fn restore_truncates_plain_tables_and_loads_them_frozen() {
    let dir = TempDir::new("fastpath");
    let (file, source_rows) = backed_up(&dir);
    let target = TestDb::migrated();
    let reference = dump(&TestDb::migrated());

    let log = restore_logged(&target, &file, &[]);
    assert!(log.contains("TRUNCATE tasks, users"), "{log}");
    assert!(log.contains("WITH (FORMAT binary, FREEZE)"), "{log}");
    assert!(checked_in_order(&log, "tasks_user_id_fkey"), "{log}");
    assert_eq!(rows(&target), source_rows);
    assert_eq!(dump(&target), reference, "every index and key is back");
    let size = target.value("SELECT pg_relation_size('tasks')");

    // --replace deletes the rows, and the truncate drops their storage:
    // the table is no bigger than after the first restore.
    let log = restore_logged(&target, &file, &["--replace", "--yes"]);
    assert!(log.contains("TRUNCATE tasks, users"), "{log}");
    assert_eq!(rows(&target), source_rows);
    assert_eq!(target.value("SELECT pg_relation_size('tasks')"), size);
    assert_eq!(dump(&target), reference);
}

#[test]
fn what_a_truncate_would_touch_keeps_the_tables_untruncated() {
    let dir = TempDir::new("fastpath");
    let (file, source_rows) = backed_up(&dir);
    let cases = [
        "CREATE TABLE notes (user_id varchar(255) REFERENCES users (id))",
        "CREATE TABLE audit (what text);
         CREATE FUNCTION audit_truncate() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN INSERT INTO audit VALUES (TG_TABLE_NAME); RETURN NULL; END$$;
         CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
           FOR EACH STATEMENT EXECUTE FUNCTION audit_truncate()",
        // Subscribers would be sent the truncate.
        "CREATE PUBLICATION todo_tasks FOR TABLE tasks",
    ];
    for extra in cases {
        let target = TestDb::migrated();
        target.psql(extra);
        let reference = dump(&target);
        let log = restore_logged(&target, &file, &[]);
        assert!(!log.contains("TRUNCATE tasks, users"), "{extra}: {log}");
        assert!(!log.contains("FREEZE"), "{extra}: {log}");
        // Without frozen rows the heap is read anyway: the planner's plan.
        assert!(!log.contains("enable_hashjoin"), "{extra}: {log}");
        assert_eq!(rows(&target), source_rows, "{extra}");
        assert_eq!(dump(&target), reference, "{extra}");
    }
    // The trigger never fired.
    let target = TestDb::migrated();
    target.psql(cases[1]);
    restore_logged(&target, &file, &[]);
    assert_eq!(target.value("SELECT count(*) FROM audit"), "0");
}

/// A foreign key without an index on its column keeps the planner's plan
/// (a merge join would sort the rows first); the schema's own key is still
/// checked in index order, and every key is back.
#[test]
fn only_keys_indexed_on_both_sides_are_checked_in_index_order() {
    let dir = TempDir::new("fastpath");
    let (file, _) = backed_up(&dir);
    let target = TestDb::migrated();
    target.psql("ALTER TABLE tasks ADD COLUMN reviewer varchar(255) REFERENCES users (id)");
    let reference = dump(&target);
    let log = restore_logged(&target, &file, &[]);
    assert!(log.contains("TRUNCATE tasks, users"), "{log}");
    assert!(checked_in_order(&log, "tasks_user_id_fkey"), "{log}");
    assert!(!checked_in_order(&log, "tasks_reviewer_fkey"), "{log}");
    assert_eq!(
        target.value("SELECT count(*) FROM tasks WHERE reviewer IS NULL"),
        "200"
    );
    assert_eq!(dump(&target), reference);
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    workers: String,
    #[diesel(sql_type = Text)]
    memory: String,
}

/// The builds' settings for `rows` rows after the session's own
/// `maintenance_work_mem` and `max_parallel_maintenance_workers`.
fn sized(conn: &mut PgConn, memory: &str, workers: u32, rows: u64) -> (String, String) {
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        diesel::sql_query(format!("SET LOCAL maintenance_work_mem = '{memory}'")).execute(c)?;
        diesel::sql_query(format!(
            "SET LOCAL max_parallel_maintenance_workers = {workers}"
        ))
        .execute(c)?;
        todo::db::fast_path::size_builds(c, rows)?;
        let s: Setting = diesel::sql_query(
            "SELECT current_setting('max_parallel_maintenance_workers') AS workers,
                    current_setting('maintenance_work_mem') AS memory",
        )
        .get_result(c)?;
        Ok((s.workers, s.memory))
    })
    .unwrap()
}

#[test]
fn the_builds_memory_follows_the_rows_and_keeps_the_servers_workers() {
    let db = TestDb::migrated();
    let mut conn = PgConn::establish(&db.url()).unwrap();
    let mut check = |memory, workers, rows, expected: (&str, &str)| {
        let got = sized(&mut conn, memory, workers, rows);
        assert_eq!(
            (got.0.as_str(), got.1.as_str()),
            expected,
            "{memory}, {workers} workers, {rows} rows"
        );
    };
    // PostgreSQL's defaults: 64 MB gives one worker beside the leader
    // (32 MB each); 1 M rows get 128 bytes each.
    check("64MB", 2, 1_000_000, ("1", "125000kB"));
    // Never above four times the server's setting.
    check("64MB", 2, 10_000_000, ("1", "256MB"));
    // Never below it, and a DBA's larger budget keeps its workers.
    check("1GB", 4, 1_000_000, ("4", "1GB"));
    check("64MB", 2, 1_000, ("1", "64MB"));
    // No parallel builds stays none; too little memory for a worker, none.
    check("64MB", 0, 1_000_000, ("0", "125000kB"));
    check("16MB", 2, 1_000_000, ("0", "64MB"));
}

/// The foreign key's ordered check turns hash joins off only where merge
/// joins are on (a session without them would get a nested loop).
#[test]
fn the_ordered_check_leaves_a_session_without_merge_joins_alone() {
    let db = TestDb::migrated();
    let mut conn = PgConn::establish(&db.url()).unwrap();
    let mut hash_join_after = |merge_join: &str| {
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            diesel::sql_query(format!("SET LOCAL enable_mergejoin = {merge_join}")).execute(c)?;
            diesel::sql_query(todo::db::fast_path::HASH_JOIN_OFF).execute(c)?;
            #[derive(QueryableByName)]
            struct Hash {
                #[diesel(sql_type = Text)]
                enable_hashjoin: String,
            }
            let h: Hash = diesel::sql_query("SHOW enable_hashjoin").get_result(c)?;
            Ok(h.enable_hashjoin)
        })
        .unwrap()
    };
    assert_eq!(hash_join_after("on"), "off");
    assert_eq!(hash_join_after("off"), "on");
}

/// When another session holds `tasks`, the restore loads with the indexes
/// in place and says so (the reason it is slower); JSON stays the same.
#[test]
fn a_restore_beside_a_lock_holder_says_it_kept_the_indexes() {
    let dir = TempDir::new("fastpath");
    let (file, source_rows) = backed_up(&dir);
    let note = "note: another session held users or tasks, so the rows went in with their \
                indexes and keys in place";

    let target = TestDb::migrated();
    let out = target.cmd().args(["db", "restore"]).arg(&file).output();
    expect_code(&out, 0);
    assert!(!out.stderr().contains(note), "{}", out.stderr());

    for json in [false, true] {
        let target = TestDb::migrated();
        let holder = target.hold_tasks_reader();
        let flags: &[&str] = if json { &["--json"] } else { &[] };
        let out = target
            .cmd()
            .args(["db", "restore"])
            .arg(&file)
            .args(flags)
            .output();
        drop(holder);
        expect_code(&out, 0);
        assert_eq!(rows(&target), source_rows);
        if json {
            assert!(!out.stderr().contains(note), "{}", out.stderr());
            assert_eq!(out.value()["tasks"], 200);
        } else {
            assert!(out.stderr().contains(note), "{}", out.stderr());
        }
    }
}
