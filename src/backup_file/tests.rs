//! Unit tests of the backup file format.
use super::*;

fn sample() -> Vec<u8> {
    let header = Header {
        format_version: FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        migrations: vec!["1".into()],
        server_version: "15".into(),
        taken_at: "2026-11-25T00:00:00Z".into(),
        kind: None,
    };
    let mut out = Vec::new();
    write_header(&mut out, &header).unwrap();
    let (mut u, mut t) = (Section::default(), Section::default());
    write_section_start(&mut out, "users", USERS_COLUMNS).unwrap();
    let row = b"u1\ta@b.co\t\\N\t\\N\t\\N\n";
    u.add(row);
    out.extend_from_slice(row);
    write_section_end(&mut out).unwrap();
    write_section_start(&mut out, "tasks", TASKS_COLUMNS).unwrap();
    write_section_end(&mut out).unwrap();
    let trailer = Trailer {
        users: u.rows,
        tasks: t.rows,
        sha256: Checksums {
            users: std::mem::take(&mut u).sha256(),
            tasks: std::mem::take(&mut t).sha256(),
        },
    };
    write_trailer(&mut out, &trailer).unwrap();
    out
}

fn read(bytes: &[u8]) -> Result<(), String> {
    let mut r = Reader::new(bytes);
    r.header().map_err(|e| e.message)?;
    r.section_start("users", USERS_COLUMNS)
        .map_err(|e| e.message)?;
    let mut sink = Vec::new();
    let users = r
        .copy_rows_binary(&mut sink, binary::USERS, &|_| {})
        .map_err(|e| format!("{e:?}"))?;
    r.section_start("tasks", TASKS_COLUMNS)
        .map_err(|e| e.message)?;
    let tasks = r
        .copy_rows_binary(&mut sink, binary::TASKS, &|_| {})
        .map_err(|e| format!("{e:?}"))?;
    let trailer = r.trailer().map_err(|e| e.message)?;
    check(&trailer, users, tasks).map_err(|e| e.message)
}

#[test]
fn a_written_backup_reads_back_and_changes_are_caught() {
    let good = sample();
    assert_eq!(read(&good), Ok(()));
    let truncated = &good[..good.len() - 10];
    assert!(read(truncated).unwrap_err().contains("truncated"));
    let tampered = String::from_utf8(good.clone())
        .unwrap()
        .replace("a@b.co", "x@b.co");
    assert!(read(tampered.as_bytes()).unwrap_err().contains("SHA-256"));
    assert!(read(b"PGDMP\n").unwrap_err().contains("not a todo backup"));
}
