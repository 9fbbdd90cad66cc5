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

use std::collections::HashMap;
use std::io::{self, BufRead, Write};

use super::{binary, Section};

/// How many bytes of memory a backup spends on ordering one table: its
/// rows (as COPY text) and their keys ([`KEY_BYTES`] a row, and
/// [`USER_BYTES`] a distinct user beside its id), about 1.7 M
/// tasks; a larger table is written in the order the server sends it, so
/// memory stays bounded at any size.
pub const BUDGET: usize = 256 << 20;

/// The memory of one row's key and offsets.
const KEY_BYTES: usize = std::mem::size_of::<(u128, u32, u32)>();

/// About the memory of one distinct user id in the tasks' map, beside
/// its bytes (the `Vec`, the number, the map's slot).
const USER_BYTES: usize = 64;

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
    copy_within(rows, out, before, progress, order, budget(memory_limit()))
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

/// The memory limit of the cgroup the backup runs in, when one is set:
/// the smallest of its own and its ancestors' (cgroup v2's `memory.max`,
/// v1's `memory.limit_in_bytes`), found through `/proc/self/cgroup`.
/// None without a limit, or on a system without cgroups.
fn memory_limit() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut files = Vec::new();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (root, file) = match controllers {
            "" => ("/sys/fs/cgroup", "memory.max"),
            c if c.split(',').any(|c| c == "memory") => {
                ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
            }
            _ => continue,
        };
        let mut dir = std::path::PathBuf::from(root);
        files.push(dir.join(file));
        for part in path.split('/').filter(|p| !p.is_empty()) {
            dir.push(part);
            files.push(dir.join(file));
        }
    }
    files
        .iter()
        .filter_map(|f| parse_limit(&std::fs::read_to_string(f).ok()?))
        .min()
}

/// A cgroup memory file's value: bytes, or "max" for none.
fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok()
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

/// How many bytes of ordered rows go to the compressor in one write (the
/// compressor splits larger writes between threads: `gzip::Writer`).
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

/// The keys of the lines held so far: [`Keys::lines`] after each chunk,
/// [`Keys::ordered`] once at the end.
struct Keys {
    order: Order,
    /// Where the next line starts (the end of the last whole line).
    start: usize,
    /// Users: the lines. Tasks: see [`Keys::task`].
    keyed: Vec<(u128, u32, u32)>,
    /// Tasks: each distinct user id's number, by first appearance.
    users: HashMap<Vec<u8>, u32, BuildFnv>,
    /// Tasks: the last line's user, as offsets, and its number.
    last_user: Option<(usize, usize, u32)>,
    /// Tasks: the memory of `users`, about.
    user_bytes: usize,
}

impl Keys {
    fn new(order: Order) -> Keys {
        Keys {
            order,
            start: 0,
            keyed: Vec::new(),
            users: HashMap::default(),
            last_user: None,
            user_bytes: 0,
        }
    }

    /// The memory the keys take, about (counted in [`BUDGET`]).
    fn bytes(&self) -> usize {
        self.keyed.len() * KEY_BYTES + self.user_bytes
    }

    fn count(&self) -> u64 {
        self.keyed.len() as u64
    }

    /// Keys the whole lines of `held` not keyed yet.
    fn lines(&mut self, held: &[u8]) {
        while let Some(nl) = memchr::memchr(b'\n', &held[self.start..]) {
            let end = self.start + nl + 1;
            self.line(held, self.start, end);
            self.start = end;
        }
    }

    fn line(&mut self, held: &[u8], start: usize, end: usize) {
        let key = match self.order {
            // Sorted by the id's bytes at the end.
            Order::Users => 0,
            Order::Tasks => self.task(held, start, end),
        };
        self.keyed.push((key, start as u32, end as u32));
    }

    /// All of `held`'s lines (a last one without its newline too), in order.
    fn ordered(mut self, held: &[u8]) -> Vec<(u32, u32)> {
        if self.start < held.len() {
            self.line(held, self.start, held.len());
        }
        match self.order {
            Order::Users => {
                // The id is the first field (the whole line, were there no tab).
                let id = |&(_, s, e): &(u128, u32, u32)| {
                    let line = &held[s as usize..e as usize];
                    &line[..memchr::memchr2(b'\t', b'\n', line).unwrap_or(line.len())]
                };
                self.keyed.sort_unstable_by(|a, b| id(a).cmp(id(b)));
            }
            Order::Tasks => {
                // Users ranked by their ids' bytes, in place of their numbers.
                let mut distinct: Vec<(Vec<u8>, u32)> = self.users.into_iter().collect();
                distinct.sort_unstable();
                let mut rank = vec![0u32; distinct.len()];
                for (r, (_, number)) in distinct.iter().enumerate() {
                    rank[*number as usize] = r as u32;
                }
                for (key, _, _) in &mut self.keyed {
                    if let Some(r) = rank.get((*key >> 96) as usize) {
                        *key = (u128::from(*r) << 96) | (*key & ((1u128 << 96) - 1));
                    }
                }
                self.keyed.sort_unstable_by_key(|k| k.0);
            }
        }
        self.keyed.into_iter().map(|(_, s, e)| (s, e)).collect()
    }

    /// A task line's key before ranking: its user's number, `created_at`
    /// descending with NULL last, and the id descending, in one u128. An
    /// unreadable line gets the largest key.
    fn task(&mut self, held: &[u8], start: usize, end: usize) -> u128 {
        let line = &held[start..end];
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        // The tabs that end fields 0 to TASK_CREATED.
        let mut tabs = [0usize; TASK_CREATED + 1];
        let mut found = 0;
        for (slot, tab) in tabs.iter_mut().zip(memchr::memchr_iter(b'\t', text)) {
            *slot = tab;
            found += 1;
        }
        if found <= TASK_CREATED {
            return u128::MAX;
        }
        let bounds = |n: usize| (if n == 0 { 0 } else { tabs[n - 1] + 1 }, tabs[n]);
        let field = |n: usize| {
            let (s, e) = bounds(n);
            &text[s..e]
        };
        let id = std::str::from_utf8(field(TASK_ID))
            .ok()
            .and_then(|id| id.parse::<i32>().ok());
        let Some(id) = id else {
            return u128::MAX;
        };
        // Order-preserving maps of the signed values to unsigned ones,
        // inverted for a descending order; NULL (or an unreadable
        // timestamp) after every time.
        let created = match field(TASK_CREATED) {
            b"\\N" => u64::MAX,
            t => binary::timestamp(t).map_or(u64::MAX, |t| !((t as u64) ^ (1 << 63))),
        };
        let id = !((id as u32) ^ (1 << 31));
        let (us, ue) = bounds(TASK_USER);
        let (us, ue) = (start + us, start + ue);
        let user = &held[us..ue];
        let number = match self.last_user {
            // A user's tasks often come together (a restored backup's do).
            Some((s, e, number)) if &held[s..e] == user => number,
            _ => {
                let next = self.users.len() as u32;
                let number = match self.users.get(user) {
                    Some(number) => *number,
                    None => {
                        self.users.insert(user.to_vec(), next);
                        self.user_bytes += user.len() + USER_BYTES;
                        next
                    }
                };
                self.last_user = Some((us, ue, number));
                number
            }
        };
        (u128::from(number) << 96) | (u128::from(created) << 32) | u128::from(id)
    }
}

/// The columns of a task line the order reads (backup_file::TASKS_COLUMNS).
const TASK_ID: usize = 0;
const TASK_USER: usize = 4;
const TASK_CREATED: usize = 5;

/// FNV-1a, for the map of user ids (short keys from the database itself,
/// so no defence against chosen collisions is needed, and SipHash costs a
/// tenth of a million-task ordering).
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type BuildFnv = std::hash::BuildHasherDefault<Fnv>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The row lines of `rows` (COPY text, each ending in a newline; at most
    /// [`BUDGET`] bytes), as `(start, end)` offsets in `order`. A line whose
    /// fields cannot be read (the server never sends one) goes last.
    fn ordered(rows: &[u8], order: Order) -> Vec<(u32, u32)> {
        let mut keys = Keys::new(order);
        keys.lines(rows);
        keys.ordered(rows)
    }

    fn in_order(rows: &str, order: Order) -> Vec<&str> {
        ordered(rows.as_bytes(), order)
            .into_iter()
            .map(|(s, e)| &rows[s as usize..e as usize])
            .collect()
    }

    #[test]
    fn tasks_by_user_then_newest_first_then_higher_id_first() {
        let rows = "\
1\ta\t\\N\tf\tbob\t2026-01-02 00:00:00\t2026-01-02 00:00:00
2\tb\t\\N\tf\talice\t2026-01-01 00:00:00\t2026-01-01 00:00:00
3\tc\t\\N\tt\tbob\t2026-03-01 00:00:00.5\t2026-03-01 00:00:00
4\td\t\\N\tf\talice\t\\N\t2026-01-01 00:00:00
5\te\t\\N\tf\talice\t2026-01-01 00:00:00\t2026-01-01 00:00:00
6\tf\t\\N\tf\tbob\t2026-03-01 00:00:00\t2026-03-01 00:00:00
7\tg\t\\N\tf\tbob\t1999-12-31 23:59:59 BC\t2026-03-01 00:00:00
";
        let ids: Vec<&str> = in_order(rows, Order::Tasks)
            .iter()
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        // alice: 5 and 2 at the same time (higher id first), NULL last;
        // bob: 3 (half a second later than 6), 6, 1, then 7 (BC).
        assert_eq!(ids, ["5", "2", "4", "3", "6", "1", "7"]);
    }

    #[test]
    fn users_by_id_bytes_and_every_line_kept_once() {
        let rows = "u10\tb@x\tB\n\
u2\ta@x\tA\n\
U9\tc@x\tC\n\
u1\td@x\tD";
        let got = in_order(rows, Order::Users);
        assert_eq!(
            got,
            [
                "U9\tc@x\tC\n",
                "u1\td@x\tD",
                "u10\tb@x\tB\n",
                "u2\ta@x\tA\n"
            ]
        );
        assert!(ordered(b"", Order::Users).is_empty());
        assert!(ordered(b"", Order::Tasks).is_empty());
    }

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
        let fits = rows.len() + 3 * KEY_BYTES;
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

    #[test]
    fn an_unreadable_task_line_goes_last_and_is_kept() {
        let rows = "x\tbroken\n2\tb\t\\N\tf\tann\t2026-01-01 00:00:00\t2026-01-01 00:00:00\n";
        let got = in_order(rows, Order::Tasks);
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with("2\t"), "{got:?}");
        assert_eq!(got[1], "x\tbroken\n");
    }
}
