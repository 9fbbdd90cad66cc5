//! Backups of millions of rows, read back by decoders todo did not write
//! (issue 43: a backup that `gzip -t` refused was reported as written,
//! exit 0, for a database of a million seeded tasks). Slow (about a
//! minute): the pg14/pg18 and system-libpq lanes of `.ci/run` skip it,
//! since nothing in it depends on the server's version or the libpq.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{TempDir, TestDb};

/// Checks `file` with `gzip -t`, `zcat` and Python's `gzip` module: each
/// reads the one member whole, the two decompressions agree byte for byte,
/// and the sections hold `users` and `tasks` rows, as the trailer says.
fn read_by_other_decoders(file: &Path, users: u64, tasks: u64) {
    // The three at once: each reads the whole file.
    let gzip = Command::new("gzip")
        .arg("-t")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let zcat = Command::new("sh")
        .arg("-c")
        .arg("zcat -- \"$1\" | sha256sum")
        .arg("sh")
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Python's own zlib-based reader: the whole text, its hash, and the
    // rows of each section counted and hashed as the trailer has them.
    let python = Command::new("python3")
        .arg("-c")
        .arg(PYTHON_CHECK)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let gzip = gzip.wait_with_output().unwrap();
    assert!(
        gzip.status.success(),
        "gzip -t {}: {}",
        file.display(),
        String::from_utf8_lossy(&gzip.stderr)
    );
    let zcat = zcat.wait_with_output().unwrap();
    assert!(zcat.status.success());
    let zcat_sum = String::from_utf8_lossy(&zcat.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let python = python.wait_with_output().unwrap();
    assert!(
        python.status.success(),
        "python3's gzip: {}",
        String::from_utf8_lossy(&python.stderr)
    );
    let text = String::from_utf8(python.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), zcat_sum, "zcat and Python agree");
    let counts: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(counts, serde_json::json!({"users": users, "tasks": tasks}));
}

/// Reads a backup with Python's `gzip` module: prints the SHA-256 of the
/// whole text, then each section's row count, after checking counts and
/// hashes against the trailer.
const PYTHON_CHECK: &str = r##"
import gzip, hashlib, json, sys
data = gzip.open(sys.argv[1]).read()
print(hashlib.sha256(data).hexdigest())
view = memoryview(data)
assert data.startswith(b"todo-backup 1\n")
at = data.index(b"\n", data.index(b"\n") + 1) + 1
out = {}
while data.startswith(b"#", at):
    name = bytes(view[at + 1:data.index(b" ", at)]).decode()
    start = data.index(b"\n", at) + 1
    end = data.index(b"\n\\.\n", start - 1) + 1
    out[name] = [data.count(b"\n", start, end), hashlib.sha256(view[start:end]).hexdigest()]
    at = end + 3
trailer = json.loads(data[at:])
assert data.endswith(b"}\n") and data.count(b"\n", at) == 1, "nothing after the trailer"
for name, (count, digest) in out.items():
    assert trailer[name] == count, (name, trailer[name], count)
    assert trailer["sha256"][name] == digest, name
print(json.dumps({name: count for name, (count, _) in out.items()}))
"##;

#[test]
fn backups_of_millions_of_rows_are_read_whole_by_gzip_zcat_and_python() {
    let db = TestDb::migrated();
    // The load is what takes time here, not the backup: without the
    // secondary indexes (a backup reads the heap only) it is a plain COPY.
    db.psql(
        "DROP INDEX idx_tasks_user_id, idx_tasks_completed, idx_tasks_user_completed,
                    idx_tasks_created_at, idx_tasks_updated_at, idx_tasks_user_created",
    );
    let dir = TempDir::new("scale");

    // 1 M seeded tasks: ordered in memory, written in large batches (the
    // database issue 43 found the corrupt stream on).
    db.run([
        "db",
        "seed",
        "--users",
        "500",
        "--tasks-per-user",
        "2000",
        "-q",
    ])
    .ok();
    let first = dir.join("1m.todo");
    db.cmd().args(["db", "backup", "-q", "-o"]).arg(&first).ok();
    read_by_other_decoders(&first, 500, 1_000_000);

    // 3 M: past the ordering budget, the held part then the stream. The
    // seeded rows twice more under new ids (no triggers, no foreign key
    // checks: they are the same users' rows).
    db.psql(
        "SET session_replication_role = replica;
         INSERT INTO tasks (title, description, completed, user_id, created_at, updated_at)
         SELECT title, description, NOT completed, user_id, created_at - interval '1 day', updated_at
         FROM tasks CROSS JOIN generate_series(1, 2)",
    );
    let out = dir.join("3m.todo");
    db.cmd().args(["db", "backup", "-q", "-o"]).arg(&out).ok();
    read_by_other_decoders(&out, 500, 3_000_000);
}
