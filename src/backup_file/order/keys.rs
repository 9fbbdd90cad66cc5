//! The keys [`super::copy`] orders a table's rows by, read line by line as
//! the rows arrive (see the parent module for the order).

use std::collections::HashMap;

use super::Order;
use crate::backup_file::binary;

/// The memory of one row's key and offsets.
pub(super) const KEY_BYTES: usize = std::mem::size_of::<(u128, u32, u32)>();

/// About the memory of one distinct user id in the tasks' map, beside
/// its bytes (the `Vec`, the number, the map's slot).
pub(super) const USER_BYTES: usize = 64;

/// The keys of the lines held so far: [`Keys::lines`] after each chunk,
/// [`Keys::ordered`] once at the end.
pub(super) struct Keys {
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
    pub(super) fn new(order: Order) -> Keys {
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
    pub(super) fn bytes(&self) -> usize {
        self.keyed.len() * KEY_BYTES + self.user_bytes
    }

    pub(super) fn count(&self) -> u64 {
        self.keyed.len() as u64
    }

    /// Keys the whole lines of `held` not keyed yet.
    pub(super) fn lines(&mut self, held: &[u8]) {
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
    pub(super) fn ordered(mut self, held: &[u8]) -> Vec<(u32, u32)> {
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
struct Fnv(u64);

impl Default for Fnv {
    /// FNV-1a's offset basis.
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
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

    #[test]
    fn an_unreadable_task_line_goes_last_and_is_kept() {
        let rows = "x\tbroken\n2\tb\t\\N\tf\tann\t2026-01-01 00:00:00\t2026-01-01 00:00:00\n";
        let got = in_order(rows, Order::Tasks);
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with("2\t"), "{got:?}");
        assert_eq!(got[1], "x\tbroken\n");
    }
}
