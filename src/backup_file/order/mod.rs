//! The order `db backup` writes a table's rows in: users by id, and each
//! user's tasks together, newest first, which is the order of
//! `idx_tasks_user_created` (user, `created_at DESC NULLS LAST`, `id DESC`).
//!
//! A restore loads the rows in the file's order, so the tasks' heap comes
//! out clustered by user (one user's tasks on a few pages, as `CLUSTER`
//! would leave them), and the builds of the indexes that lead with the
//! user (`idx_tasks_user_id`, `idx_tasks_user_created`) and of the users'
//! key get their rows already sorted, which PostgreSQL's sort notices
//! (docs/performance.md). The ordering is the client's work: the server
//! backed up runs the same sequential scan. Each row's key is read as the
//! rows arrive (the client waits for the server then anyway), so what
//! follows the scan is one sort of fixed-size keys.
//!
//! Ids are compared as bytes, which is the order of a `C` or `C.UTF-8`
//! database (the embedded one); in another collation the rows are still
//! grouped by user, only not presorted for the builds. Nothing depends on
//! the order: a restore of a file in any order gives the same rows.

use std::io::{self, BufRead, Write};

use super::Section;

mod keys;
use keys::Keys;

/// How many bytes of memory a backup spends on ordering one table: its
/// rows (as COPY text) and their keys ([`keys::KEY_BYTES`] a row, and
/// [`keys::USER_BYTES`] a distinct user beside its id), about 1.7 M
/// tasks; a larger table is written in the order the server sends it, so
/// memory stays bounded at any size.
pub const BUDGET: usize = 256 << 20;

// Row offsets are kept as u32.
const _: () = assert!(BUDGET < u32::MAX as usize);

/// Which table's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By id.
    Users,
    /// By user, then newest first (see the module's doc).
    Tasks,
}

/// Copies a table's rows from COPY's output to `out`, counting and hashing
/// them, in `order` when they fit in [`BUDGET`]; a larger table's rows go
/// out in the order the server sent them (the part already held first).
/// `progress(rows)` is called as rows arrive, `before` added to the count.
pub fn copy(
    rows: &mut impl BufRead,
    out: &mut dyn Write,
    before: u64,
    progress: &dyn Fn(u64),
    order: Order,
) -> io::Result<Section> {
    copy_within(
        rows,
        out,
        before,
        progress,
        order,
        budget(crate::cgroup::memory_limit()),
    )
}

/// [`BUDGET`], or a quarter of the memory limit of the container the
/// backup runs in when that is smaller (a backup in a 512 MB container
/// orders at most 128 MB), so ordering never gets a backup killed for
/// memory where streaming would have finished.
fn budget(limit: Option<u64>) -> usize {
    limit.map_or(BUDGET, |limit| {
        BUDGET.min(usize::try_from(limit / 4).unwrap_or(usize::MAX))
    })
}

/// [`copy`] with the budget given (tests use a small one).
fn copy_within(
    rows: &mut impl BufRead,
    out: &mut dyn Write,
    before: u64,
    progress: &dyn Fn(u64),
    order: Order,
    budget: usize,
) -> io::Result<Section> {
    let mut held = Vec::new();
    let mut keys = Keys::new(order);
    loop {
        let chunk = rows.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        if held.len() + chunk.len() + keys.bytes() > budget {
            let mut section = Section::default();
            section.add(&held);
            out.write_all(&held)?;
            drop((held, keys));
            return stream(rows, out, before, progress, section);
        }
        let n = chunk.len();
        held.extend_from_slice(chunk);
        rows.consume(n);
        keys.lines(&held);
        progress(before + keys.count());
    }
    let mut section = Section::default();
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    for (start, end) in keys.ordered(&held) {
        batch.extend_from_slice(&held[start as usize..end as usize]);
        if batch.len() >= WRITE_BATCH {
            section.add(&batch);
            out.write_all(&batch)?;
            batch.clear();
        }
    }
    section.add(&batch);
    out.write_all(&batch)?;
    progress(before + section.rows);
    Ok(section)
}

/// How many bytes of ordered rows go to the compressor in one write.
const WRITE_BATCH: usize = 8 << 20;

/// Copies the rest of COPY's output to `out` as it comes, counting and
/// hashing it into `section`.
fn stream(
    rows: &mut impl BufRead,
    out: &mut dyn Write,
    before: u64,
    progress: &dyn Fn(u64),
    mut section: Section,
) -> io::Result<Section> {
    loop {
        let chunk = rows.fill_buf()?;
        if chunk.is_empty() {
            return Ok(section);
        }
        let n = chunk.len();
        section.add(chunk);
        out.write_all(chunk)?;
        rows.consume(n);
        progress(before + section.rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::parse_limit;

    /// What [`copy_within`] wrote, and its section's count and checksum
    /// against those of the same bytes.
    fn copied(rows: &str, budget: usize) -> String {
        let mut input = io::BufReader::with_capacity(16, rows.as_bytes());
        let mut out = Vec::new();
        let seen = std::cell::Cell::new(0);
        let section = copy_within(
            &mut input,
            &mut out,
            5,
            &|n| seen.set(n),
            Order::Users,
            budget,
        )
        .unwrap();
        let mut expected = Section::default();
        expected.add(&out);
        assert_eq!(section.rows, rows.lines().count() as u64);
        assert_eq!(seen.get(), 5 + section.rows);
        assert_eq!(section.sha256(), expected.sha256());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_within_the_budget_are_ordered_and_beyond_it_go_as_they_came() {
        // 16-byte chunks: the fourth line arrives in two of them. Before
        // the second, 16 bytes and the keys of 3 lines are held.
        let rows = "c\t33\nb\t2\na\t111\nd\t4\n";
        let sorted = "a\t111\nb\t2\nc\t33\nd\t4\n";
        let fits = rows.len() + 3 * keys::KEY_BYTES;
        assert_eq!(copied(rows, 1024), sorted);
        assert_eq!(copied(rows, fits), sorted);
        assert_eq!(copied(rows, fits - 1), rows);
        assert_eq!(copied(rows, 16), rows);
        assert_eq!(copied(rows, 0), rows);
        assert_eq!(copied("", 0), "");
    }

    #[test]
    fn a_containers_memory_limit_shrinks_the_budget() {
        assert_eq!(budget(None), BUDGET);
        assert_eq!(budget(parse_limit("max\n")), BUDGET);
        assert_eq!(budget(parse_limit("536870912\n")), 128 << 20);
        // cgroup v1's "unlimited" is a huge number.
        assert_eq!(budget(parse_limit("9223372036854771712\n")), BUDGET);
        assert_eq!(budget(Some(0)), 0);
    }
}
