//! `task import` (SPEC §15): each format from realistic files, all or
//! nothing, and a copy of one user's tasks to another through a pipe.

use crate::support::Outcome;
use crate::support::{expect_code, TempDir, TestDb};

/// `task export` of Taskwarrior 2.6, written by hand: pending, completed,
/// deleted, annotated, unicode.
const TASKWARRIOR: &str = r#"[
{"id":1,"description":"Buy oat milk","entry":"20251120T081500Z","modified":"20251120T081500Z","status":"pending","uuid":"3a8b0c4e-1d2f-4e5a-9b6c-7d8e9f0a1b2c","urgency":0},
{"id":0,"description":"File the tax return","end":"20251201T170000Z","entry":"20251101T090000Z","modified":"20251201T170000Z","status":"completed","uuid":"4b9c1d5f-2e3a-4f6b-8c7d-8e9f0a1b2c3d","annotations":[{"entry":"20251102T100000Z","description":"forms in the blue folder"},{"entry":"20251103T100000Z","description":"ask about the deduction"}],"urgency":0},
{"id":0,"description":"Old idea","entry":"20250101T000000Z","modified":"20250301T000000Z","status":"deleted","uuid":"5c0d2e6a-3f4b-4a7c-9d8e-9f0a1b2c3d4e","urgency":0},
{"id":2,"description":"Réserver le café ☕ für Müller","entry":"20251122T120000Z","modified":"20251123T120000Z","status":"waiting","uuid":"6d1e3f7b-4a5c-4b8d-8e9f-0a1b2c3d4e5f","urgency":0}
]"#;

const TODOTXT: &str = "x 2026-01-05 2026-01-02 Renew passport +admin
(A) 2026-01-03 Call the plumber @phone
Water the plants 🌱

x 2026-01-04 Send invoice +work
";

const CSV: &str = "title,description,completed,created_at
\"Plan trip, summer\",\"Flights
then hotel\",false,2026-01-01T10:00:00Z
Pay rent,,true,
";

fn import(db: &TestDb, file: &std::path::Path, extra: &[&str]) -> crate::support::Done {
    db.cmd()
        .args(["task", "import"])
        .arg(file)
        .args(["--user", "i@example.com", "--json"])
        .args(extra)
        .output()
}

#[test]
fn each_format_imports_with_completion_and_times() {
    let db = TestDb::migrated();
    db.add_user("i@example.com");
    let dir = TempDir::new("import");
    let tw = dir.join("export.data");
    std::fs::write(&tw, TASKWARRIOR).unwrap();
    let out = import(&db, &tw, &["--from", "taskwarrior"]);
    expect_code(&out, 0);
    assert_eq!(
        out.value(),
        serde_json::json!({"imported": 3, "skipped": 1})
    );
    assert_eq!(
        db.value("SELECT description FROM tasks WHERE title = 'File the tax return' AND completed"),
        "forms in the blue folder\nask about the deduction"
    );
    assert_eq!(
        db.value("SELECT created_at FROM tasks WHERE title = 'Buy oat milk'"),
        "2025-11-20 08:15:00"
    );
    assert_eq!(
        db.value(
            "SELECT count(*) FROM tasks WHERE title LIKE 'Réserver le café ☕%' AND NOT completed"
        ),
        "1"
    );

    let txt = dir.join("todo.txt");
    std::fs::write(&txt, TODOTXT).unwrap();
    let out = import(&db, &txt, &[]);
    expect_code(&out, 0);
    assert_eq!(out.value()["imported"], 4);
    assert_eq!(
        db.value("SELECT completed::text || ' ' || created_at::date || ' ' || updated_at::date FROM tasks WHERE title = 'Renew passport +admin'"),
        "true 2026-01-02 2026-01-05"
    );
    assert_eq!(
        db.value("SELECT completed FROM tasks WHERE title = 'Call the plumber @phone'"),
        "f"
    );

    let csv = dir.join("tasks.csv");
    std::fs::write(&csv, CSV).unwrap();
    let out = import(&db, &csv, &[]);
    expect_code(&out, 0);
    assert_eq!(out.value()["imported"], 2);
    assert_eq!(
        db.value("SELECT description FROM tasks WHERE title = 'Plan trip, summer'"),
        "Flights\nthen hotel"
    );
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "9");
}

#[test]
fn bad_records_are_all_reported_and_nothing_is_imported() {
    let db = TestDb::migrated();
    db.add_user("i@example.com");
    let dir = TempDir::new("import");
    let csv = dir.join("bad.csv");
    std::fs::write(
        &csv,
        format!(
            "title,completed\nfine,false\n,true\nok,maybe\n{},false\n",
            "x".repeat(300)
        ),
    )
    .unwrap();
    let out = import(&db, &csv, &[]);
    expect_code(&out, 2);
    let err = out.stderr();
    assert!(err.contains("3 invalid records"), "{err}");
    for n in ["line 3:", "line 4:", "line 5:"] {
        assert!(err.contains(n), "{n}: {err}");
    }
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
    // Input that is not JSON at all stops the import where it breaks.
    let out = db
        .cmd()
        .args(["task", "import", "-", "--user", "i@example.com"])
        .stdin("[{\"title\":\"a\"},\n{\"title\":")
        .expect(2);
    assert!(
        out.stderr().contains("stdin, line 2: not valid JSON"),
        "{}",
        out.stderr()
    );
    // A dry run counts and imports nothing.
    let txt = dir.join("todo.txt");
    std::fs::write(&txt, TODOTXT).unwrap();
    let out = import(&db, &txt, &["--dry-run"]);
    expect_code(&out, 0);
    assert_eq!(out.value()["imported"], 4);
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
    // An unknown extension needs --from.
    let odd = dir.join("tasks.dat");
    std::fs::write(&odd, "[]").unwrap();
    expect_code(&import(&db, &odd, &[]), 2);
}

#[test]
fn list_json_piped_into_import_copies_tasks_to_another_user() {
    let db = TestDb::migrated();
    db.add_user("from@example.com");
    db.add_user("i@example.com");
    for t in ["one", "two", "three"] {
        db.add_task("from@example.com", t);
    }
    db.run(["task", "done", "1", "--user", "from@example.com", "-q"])
        .ok();
    let listed = db
        .run(["task", "list", "--json", "--user", "from@example.com"])
        .expect(0);
    let out = db
        .cmd()
        .args(["task", "import", "-", "--user", "i@example.com", "--json"])
        .stdin(listed.out.stdout)
        .expect(0);
    assert_eq!(out.value()["imported"], 3);
    let copy = |email: &str| {
        db.value(&format!(
            "SELECT string_agg(t.title || ':' || t.completed || ':' || t.created_at || ':' || t.updated_at, ',' ORDER BY t.title)
             FROM tasks t JOIN users u ON u.id = t.user_id WHERE u.email = '{email}'"
        ))
    };
    assert_eq!(copy("i@example.com"), copy("from@example.com"));
}

/// 100 000 tasks (a 32 MB file) in one transaction with bounded memory
/// (less than the file, which is never held whole): the
/// whole-file reader this replaced peaked at 176 MB. A bad record after
/// rows went into the COPY still imports nothing.
#[test]
fn a_hundred_thousand_tasks_import_in_one_transaction_with_bounded_memory() {
    use std::io::Write;
    let db = TestDb::migrated();
    db.add_user("i@example.com");
    let dir = TempDir::new("import-big");
    let path = dir.join("big.json");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    write!(file, "[").unwrap();
    for i in 0..100_000 {
        writeln!(
            file,
            "{}{{\"id\":{i},\"user_id\":\"u\",\"title\":\"Task number {i} of the big import, with a title of some length\",\"description\":\"{}\",\"completed\":{},\"created_at\":\"2026-01-01T10:00:00.{:06}Z\",\"updated_at\":\"2026-01-02T10:00:00Z\"}}",
            if i == 0 { "" } else { "," },
            "a description line of realistic size ".repeat(3),
            i % 3 == 0,
            i % 1_000_000,
        )
        .unwrap();
    }
    write!(file, "]").unwrap();
    drop(file);
    assert!(std::fs::metadata(&path).unwrap().len() > 20_000_000);

    let (out, peak_kib) = run_measured(&db, &path);
    expect_code(&out, 0);
    assert_eq!(out.value()["imported"], 100_000);
    assert!(
        peak_kib > 1024 && peak_kib < 32 * 1024,
        "peak RSS {peak_kib} KiB"
    );
    assert_eq!(
        db.value("SELECT count(*) || ' ' || count(*) FILTER (WHERE completed) || ' ' || count(DISTINCT created_at) FROM tasks"),
        "100000 33334 100000"
    );

    // 3 000 of those rows (more than the COPY buffer holds, so rows were
    // sent to the server) and a bad last record: nothing is imported.
    let text = std::fs::read_to_string(&path).unwrap();
    let head: String = text.split_inclusive('\n').take(3_000).collect();
    std::fs::write(&path, format!("{head},{{\"title\":\"\"}}]")).unwrap();
    db.psql("DELETE FROM tasks");
    let (out, _) = run_measured(&db, &path);
    expect_code(&out, 2);
    let err = out.stderr();
    assert!(err.contains("record 3001: the title is empty"), "{err}");
    assert!(err.contains("1 invalid record in"), "{err}");
    assert_eq!(db.value("SELECT count(*) FROM tasks"), "0");
}

/// Runs `task import PATH`; returns its output and peak RSS in KiB: the
/// last `VmHWM` (the high-water mark of the process's own memory since its
/// exec, which only grows) read from /proc every few milliseconds while it
/// runs. (`wait4`'s `ru_maxrss` would include this test process's memory:
/// the child is spawned by vfork.)
fn run_measured(db: &TestDb, path: &std::path::Path) -> (std::process::Output, u64) {
    let dir = TempDir::new("import-out");
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = crate::support::todo_process(&db.dir)
        .env("TODO_DATABASE_URL", db.url())
        .args(["task", "import", "--user", "i@example.com", "--json"])
        .arg(path)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let hwm = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .unwrap_or(0);
        peak = peak.max(hwm);
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let out = std::process::Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (out, peak)
}
